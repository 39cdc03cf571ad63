import json

import numpy as np
import pytest

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.features import FEATURE_COLUMNS
from fintech_dataops.lib.fraud.model import (
    ModelConfig,
    _threshold_for_budget,
    calibrate_thresholds,
    current_version,
    list_versions,
    load_model,
    read_manifest,
    save_model,
)


def test_model_trains_saves_and_reloads_by_version(tmp_path, month_split, trained_model):
    _, test, _, _ = month_split
    path = save_model(trained_model, tmp_path / "models")
    assert path.name == trained_model.version
    assert current_version(tmp_path / "models") == trained_model.version
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["version"] == trained_model.version
    assert manifest["features"] == list(FEATURE_COLUMNS)
    assert {"start", "end", "validation_start"} <= set(manifest["training_window"])
    assert manifest["thresholds"]["review"] <= manifest["thresholds"]["block"]
    assert manifest["evaluation"]["chosen"] == trained_model.kind
    reloaded = load_model(tmp_path / "models", trained_model.version)
    features = FraudEngine(model=trained_model).features(test)
    np.testing.assert_array_equal(reloaded.score(features), trained_model.score(features))
    assert read_manifest(tmp_path / "models") == manifest
    assert FraudEngine.from_models_dir(tmp_path / "models").model_version == trained_model.version


def test_versions_are_kept_side_by_side_and_unknown_versions_fail_cleanly(tmp_path, trained_model):
    save_model(trained_model, tmp_path / "models")
    assert list_versions(tmp_path / "models") == [trained_model.version]
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "models", "20000101-missing")
    with pytest.raises(ValueError):
        load_model(tmp_path / "models", "../escape")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "empty")


def test_the_supervised_candidates_beat_chance_and_the_chosen_one_is_the_best(trained_model):
    candidates = trained_model.evaluation["candidates"]
    assert {"isolation_forest", "supervised", "stacked"} <= set(candidates)
    best = max(candidates, key=lambda k: candidates[k]["model_only"]["average_precision"] or -1)
    assert trained_model.kind == best
    assert candidates["isolation_forest"]["model_only"]["auc_roc"] is not None


def test_calibrated_thresholds_keep_validation_fpr_within_budget(trained_model):
    from fintech_dataops_tests.lib.fraud.conftest import MODEL_CONFIG as config

    chosen = trained_model.evaluation["candidates"][trained_model.kind]
    assert chosen["model_only"]["false_positive_rate"] <= config.target_fpr * config.calibration_margin
    assert chosen["combined"]["false_positive_rate_discretionary"] <= config.target_fpr * config.calibration_margin


def test_threshold_for_budget_admits_at_most_the_budget():
    scores = np.array([0.1, 0.5, 0.9, 0.9, 0.95])
    assert (scores >= _threshold_for_budget(scores, 1)).sum() == 1
    assert (scores >= _threshold_for_budget(scores, 2)).sum() == 1  # a tie at 0.9 cannot be split
    assert (scores >= _threshold_for_budget(scores, 3)).sum() == 3
    assert _threshold_for_budget(scores, -1) == float("inf")
    y = np.array([False, False, False, False, True])
    none = np.zeros(5, dtype=bool)
    review, block = calibrate_thresholds(scores, y, none, none, ModelConfig(target_fpr=0.5, calibration_margin=1.0,
                                                                               calibration_confidence=0.0))
    assert review == pytest.approx(np.nextafter(0.5, 1)) and block >= review
