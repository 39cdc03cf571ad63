"""``isolation_score_samples`` is scikit-learn's ``IsolationForest.score_samples``, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from fintech_dataops.lib.fraud.forest_scoring import isolation_score_samples


@pytest.mark.parametrize("max_features", [1.0, 0.6])
def test_identical_to_scikit_learn_including_nan_and_float32_ties(max_features):
    rng = np.random.default_rng(3)
    train = rng.lognormal(size=(2_000, 9)) * rng.integers(1, 10_000, 9)
    forest = IsolationForest(n_estimators=40, max_samples=256, max_features=max_features, random_state=0,
                             n_jobs=1).fit(train)
    X = np.vstack([rng.lognormal(size=(300, 9)) * rng.integers(1, 10_000, 9), train[:50]])
    X[5, 2] = np.nan
    X[7] = X[7].astype(np.float32).astype(np.float64) + 1e-9  # differs from its float32 only below float32 precision
    assert np.array_equal(isolation_score_samples(forest, X), forest.score_samples(X))
    one = X[:1]
    assert np.array_equal(isolation_score_samples(forest, one), forest.score_samples(one))
    empty = np.zeros((0, 9))
    assert isolation_score_samples(forest, empty).shape == (0,)


def test_a_forest_without_the_fitted_attributes_is_scored_by_scikit_learn():
    class Plain:
        def score_samples(self, X):
            return np.full(len(X), -0.5)

    assert isolation_score_samples(Plain(), np.zeros((3, 2))).tolist() == [-0.5, -0.5, -0.5]


def test_a_wrong_width_is_refused_as_scikit_learn_refuses_it():
    forest = IsolationForest(n_estimators=5, random_state=0).fit(np.random.default_rng(0).random((100, 4)))
    with pytest.raises(ValueError):
        isolation_score_samples(forest, np.zeros((2, 3)))
