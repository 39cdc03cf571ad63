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


def _amount_world(seed: int, n: int = 40_000):
    """Features of a world where fraud is exactly "amount over a line in the top 0.3 % of amounts"
    (the independent generator's first scenario) and every other feature is noise."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    amount = np.round(rng.lognormal(np.log(40), 0.7, n), 2)
    line = float(np.quantile(amount, 0.997))
    frame = pd.DataFrame({name: rng.random(n) for name in FEATURE_COLUMNS})
    frame["amount"] = amount
    frame["transaction_id"] = [f"T{i}" for i in range(n)]
    frame["event_time"] = pd.Timestamp("2026-10-01") + pd.to_timedelta(np.sort(rng.uniform(0, 28 * 86_400, n)), unit="s")
    return frame, amount > line, line


def test_amounts_just_over_a_line_in_the_top_of_the_distribution_are_learnable():
    """Issue 16: the amount's 255 quantile bins put the top 0.4 % of amounts in one bin, so the model
    gave legitimate amounts just under the independent generator's 220 line the scores of fraudulent
    ones over it (recall 6-25 % on that scenario). The tail column gives the top 1 % bins of its own."""
    from fintech_dataops.lib.fraud.model import train_model

    features, is_fraud, line = _amount_world(1)
    config = dict(kind="supervised", min_fraud_labels=5, calibration_confidence=0, target_fpr=0.01)
    with_tail = train_model(features, is_fraud, config=ModelConfig(**config))
    without = train_model(features, is_fraud, config=ModelConfig(amount_tail_quantile=0, **config))
    assert with_tail.amount_tail_from is not None and with_tail.amount_tail_from < line
    assert without.amount_tail_from is None

    test, truth, _ = _amount_world(2)
    test["amount"] = np.where(truth, line * 1.02, line * 0.98)  # a frontier case per row: just over / under
    scores_with, scores_without = with_tail.score(test), without.score(test)
    # With the tail column every row just over the line outranks every row just under it ...
    assert scores_with[truth].min() > scores_with[~truth].max()
    # ... which one shared top bin cannot do (the separation the column adds is real).
    assert scores_without[truth].min() <= scores_without[~truth].max()
    # Saved models record where the tail starts; models saved before it existed score as before.
    assert with_tail.manifest()["amount_tail_from"] == with_tail.amount_tail_from
    del without.__dict__["amount_tail_from"]
    np.testing.assert_array_equal(without.score(test), scores_without)


def test_the_model_check_names_what_makes_a_saved_model_unfit_to_serve(tmp_path, trained_model):
    """The `current_model_fit_to_serve` asset check reads these from the CURRENT manifest."""
    from fintech_dataops.lib.fraud.model import model_problems

    save_model(trained_model, tmp_path / "models")
    manifest = read_manifest(tmp_path / "models")
    from fintech_dataops_tests.lib.fraud.conftest import MODEL_CONFIG

    assert manifest["evaluation"]["target_fpr"] == MODEL_CONFIG.target_fpr
    assert model_problems(manifest) == []
    stale = {**manifest, "features": manifest["features"][:-1]}
    assert model_problems(stale) == ["its features are not the ones this code computes (retrain it)"]
    swapped = {**manifest, "thresholds": {"review": 0.9, "block": 0.5}}
    assert "thresholds out of order" in model_problems(swapped)[0]
    chosen = manifest["evaluation"]["chosen"]
    over = json.loads(json.dumps(manifest))
    over["evaluation"]["target_fpr"] = 0.001
    over["evaluation"]["candidates"][chosen]["combined"]["false_positive_rate_discretionary"] = 0.0025
    assert model_problems(over) == ["discretionary FPR 0.2500% on its validation days, over the target 0.1000%"]
