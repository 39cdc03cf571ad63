"""The lean scorers (``isolation_score_samples``, ``gradient_boosting_proba``) are scikit-learn's, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest

from fintech_dataops.lib.fraud.forest_scoring import gradient_boosting_proba, isolation_score_samples


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


@pytest.mark.parametrize("threads", [1, 2])
def test_gradient_boosting_identical_to_scikit_learn_with_missing_values(threads):
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(4)
    train = rng.lognormal(size=(3_000, 6)) * rng.integers(1, 1_000, 6)
    train[rng.random(train.shape) < 0.1] = np.nan  # missing values: each node sends them left or right
    y = (np.nan_to_num(train[:, 0]) + rng.normal(0, 200, len(train)) > 600).astype(int)
    model = HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=15, random_state=0).fit(train, y)
    X = rng.lognormal(size=(257, 6)) * rng.integers(1, 1_000, 6)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[3] = np.inf
    with threadpool_limits(limits=threads):
        for rows in (X, X[:1], np.asfortranarray(X)):
            assert np.array_equal(gradient_boosting_proba(model, rows), model.predict_proba(rows))
        assert gradient_boosting_proba(model, X[:0]).shape == (0, 2)  # scikit-learn refuses an empty array


def test_gradient_boosting_falls_back_to_scikit_learn_when_it_cannot_take_the_lean_path():
    rng = np.random.default_rng(5)
    X = np.column_stack([rng.integers(0, 4, 400), rng.random(400)])
    y = (X[:, 0] == 2).astype(int)
    categorical = HistGradientBoostingClassifier(max_iter=10, categorical_features=[0]).fit(X, y)
    assert np.array_equal(gradient_boosting_proba(categorical, X[:20]), categorical.predict_proba(X[:20]))
    three = HistGradientBoostingClassifier(max_iter=10).fit(X, X[:, 0].astype(int) % 3)
    assert np.array_equal(gradient_boosting_proba(three, X[:20]), three.predict_proba(X[:20]))
    with pytest.raises(ValueError):
        gradient_boosting_proba(categorical, np.zeros((2, 3)))
