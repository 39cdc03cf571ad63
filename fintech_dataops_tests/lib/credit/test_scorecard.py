"""The fitted scorecard: monotone bins per factor, reason codes = points lost, promotion rule, PSI."""

import dataclasses
import datetime as dt
import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from fintech_dataops.lib.credit.components import FACTORS, factor_matrix
from fintech_dataops.lib.credit.config import COMPONENTS, DEFAULT_WEIGHTS, SCORE_MAX, SCORE_MIN
from fintech_dataops.lib.credit.features import build_features
from fintech_dataops.lib.credit.sample import write_core_tables
from fintech_dataops.lib.credit.scorecard import (
    BASELINE_VERSION, PSI_ERROR, PSI_WARN, Scorecard, champion_pointer, champion_vs_challenger, challenger_wins,
    fit_scorecard, load_champion, probability_of_default, promote, psi, psi_severity, raw_score, save_scorecard,
    THIN_FILE, row_calibration, split_out_of_time, stability, thin_file_rows, training_frame,
)
from fintech_dataops.lib.credit.scoring import score_portfolio
from fintech_dataops.lib.simulator.world import SimulationConfig, simulate


@pytest.fixture(scope="module")
def book():
    sim = simulate(SimulationConfig(start=dt.date(2026, 9, 1), days=30, customers=2500, seed=5,
                                    transactions_per_customer_day=0.3))
    con = duckdb.connect()
    write_core_tables(con, sim.feeds)
    features = build_features(con)
    con.execute("CREATE SCHEMA credit")
    con.register("f", features)
    con.execute("CREATE TABLE credit.features AS SELECT * FROM f")
    outcomes = training_frame(con)
    card = fit_scorecard(outcomes, trained_at=dt.datetime(2026, 10, 1), population=features)
    return sim, features, outcomes, card


def test_training_frame_joins_matured_outcomes_to_features(book):
    sim, features, outcomes, _ = book
    assert len(outcomes) == len(sim.feeds["loan_outcomes"])
    assert {"defaulted", "applied_time", "tenure_days", "academic_score"} <= set(outcomes.columns)
    assert "default_probability" not in outcomes.columns and "latent_risk" not in outcomes.columns


def test_out_of_time_split_holds_out_the_latest_vintages():
    applied = pd.Series(pd.date_range("2024-01-01", periods=24, freq="MS").repeat(10))
    oot = split_out_of_time(applied, 0.25)
    assert oot.sum() == 60 and applied[oot].min() > applied[~oot].max()


def test_every_factor_is_monotone_and_coefficients_non_negative(book):
    *_, card = book
    assert [f.code for f in card.factors] == [f.code for f in FACTORS]
    for fb in card.factors:
        assert np.all(np.diff(fb.woe) >= 0), fb.code          # a better factor value never has less WoE
        assert fb.coefficient >= 0, fb.code
        assert len(fb.woe) == len(fb.splits) + 1 and list(fb.splits) == sorted(fb.splits)
    # ... so raising any one factor value never lowers the score (all others held)
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, (200, len(FACTORS)))
    for j, factor in enumerate(FACTORS):
        low, high = base.copy(), base.copy()
        high[:, j] = np.minimum(low[:, j] + rng.uniform(0, 0.5, 200), 1.0)
        assert (raw_score(card, high)[0] >= raw_score(card, low)[0] - 1e-9).all(), factor.code


def test_readme_promises_hold_under_the_fitted_card(book):
    """One more on-time bill never lowers a score; a defaulted partner loan or a bankruptcy never raises it."""
    _, features, _, card = book
    before = score_portfolio(features, scorecard=card)["score"].astype("float64")
    for change, direction in (
        ({"utility_bills": features["utility_bills"] + 1}, 1),
        ({"telco_bills": features["telco_bills"] + 1}, 1),
        ({"tenure_days": features["tenure_days"] + 365}, 1),
        ({"bankruptcies": features["bankruptcies"].fillna(0) + 1}, -1),
        ({"utility_late": features["utility_late"] + (features["utility_bills"] > features["utility_late"])}, -1),
    ):
        after = score_portfolio(features.assign(**change), scorecard=card)["score"].astype("float64")
        both = before.notna() & after.notna()
        assert (direction * (after[both] - before[both]) >= 0).all(), change.keys()


def test_reason_codes_are_at_most_four_and_equal_points_lost_against_the_best_bin(book):
    _, features, _, card = book
    scored = score_portfolio(features, scorecard=card)
    assert (scored["model_version"] == card.version).all()
    raw, lost, _ = raw_score(card, factor_matrix(features))
    codes = [f.code for f in FACTORS]
    for i in range(0, len(features), 97):
        row = scored.iloc[i]
        reasons = [(row[f"reason_{k}"], row[f"reason_points_{k}"]) for k in range(1, 5)
                   if isinstance(row[f"reason_{k}"], str)]
        assert len(reasons) <= 4 and "reason_5" not in scored
        expected = sorted(((round(lost[i, j], 2), -j) for j in range(len(codes))), reverse=True)
        top = [(codes[-j], p) for p, j in expected if p >= 1.0][:4]
        assert [(c, round(p, 2)) for c, p in reasons] == top
        points = [p for _, p in reasons]
        assert points == sorted(points, reverse=True)
    # every point below the best attainable score (of the customer's calibration segment) is accounted for
    best = raw + lost.sum(axis=1)
    thin = thin_file_rows(factor_matrix(features))
    assert thin.any() and (~thin).any() and card.segments[THIN_FILE]["b"] > 0
    assert np.allclose(best[thin], best[thin][0]) and np.allclose(best[~thin], best[~thin][0])


def test_thin_files_get_their_own_calibration_so_a_score_means_the_same_risk(book):
    """Fitted on one calibration for all, thin files of a given risk scored lower than thick files (issue 17)."""
    _, features, outcomes, card = book
    factors = factor_matrix(outcomes)
    thin = thin_file_rows(factors)
    a, b = row_calibration(card, factors)
    assert (a[thin] == card.segments[THIN_FILE]["a"]).all() and (b[thin] == card.segments[THIN_FILE]["b"]).all()
    assert (a[~thin] == card.calibration["a"]).all() and (b[~thin] == card.calibration["b"]).all()
    # each segment's mean predicted PD matches its observed default rate (in sample, within 1.5 points)
    pd_hat = probability_of_default(card, raw_score(card, factors)[0])
    bad = outcomes["defaulted"].astype(bool).to_numpy()
    train = ~split_out_of_time(outcomes["applied_time"])
    for rows in (thin & train, ~thin & train):
        assert abs(pd_hat[rows].mean() - bad[rows].mean()) < 0.015
    # a card without segments (an older champion) scores everyone with its main calibration
    plain = dataclasses.replace(card, segments={})
    assert (row_calibration(plain, factors)[1] == card.calibration["b"]).all()


def test_scores_are_scaled_by_points_to_double_odds(book):
    *_, card = book
    pd1, pd2 = probability_of_default(card, [660.0, 700.0])
    odds1, odds2 = (1 - pd1) / pd1, (1 - pd2) / pd2
    assert odds2 / odds1 == pytest.approx(2.0, rel=1e-6)             # PDO 40
    assert (1 - pd2) / pd2 == pytest.approx(20.0, rel=1e-6)          # 700 at 20:1
    scored = score_portfolio(book[1], scorecard=card)["score"].dropna()
    assert scored.between(SCORE_MIN, SCORE_MAX).all()


def test_fitted_card_beats_the_hand_set_weights_out_of_time_and_is_calibrated(book):
    _, _, outcomes, card = book
    decision = champion_vs_challenger(card, None, outcomes)
    assert decision["champion"] == BASELINE_VERSION and decision["out_of_time_outcomes"] > 300
    assert decision["challenger_auc"] > decision["champion_auc"]
    assert card.weights == pytest.approx({c: DEFAULT_WEIGHTS[c] for c in COMPONENTS})
    assert card.validation["out_of_time"]["auc"] == decision["challenger_auc"]


def test_promotion_rule():
    assert challenger_wins(0.74, None)                 # nothing fitted yet: any fitted challenger
    assert challenger_wins(0.75, 0.74)
    assert not challenger_wins(0.742, 0.74)            # better by less than the minimum gain
    assert not challenger_wins(0.70, 0.74)
    assert not challenger_wins(None, 0.74)             # no out-of-time outcomes: no promotion


def test_a_worse_challenger_never_replaces_the_champion(book, tmp_path):
    _, _, outcomes, card = book
    assert champion_pointer(tmp_path)["version"] == BASELINE_VERSION and load_champion(tmp_path) is None
    save_scorecard(card, tmp_path)
    promote(tmp_path, card, {"decided_at": "2026-10-01", "promoted": True})
    assert load_champion(tmp_path).version == card.version
    shuffled = outcomes.assign(defaulted=np.random.default_rng(1).permutation(outcomes["defaulted"].to_numpy()))
    noise = fit_scorecard(shuffled, trained_at=dt.datetime(2026, 10, 8))
    decision = champion_vs_challenger(noise, load_champion(tmp_path), outcomes)
    assert not decision["promoted"] and decision["champion"] == card.version
    assert decision["challenger_auc"] < decision["champion_auc"]
    reloaded = Scorecard.from_dict(json.loads(card.as_json()))
    assert reloaded == dataclasses.replace(card)


def test_psi_severities():
    assert psi([0.25] * 4, [0.25] * 4) == 0.0
    assert psi_severity(0.0) == "ok" and psi_severity(PSI_WARN - 1e-9) == "ok"
    assert psi_severity(PSI_WARN) == "warn" and psi_severity(PSI_ERROR - 1e-9) == "warn"
    assert psi_severity(PSI_ERROR) == "error" and psi_severity(3.0) == "error"
    assert psi_severity(psi([0.5, 0.5], [0.35, 0.65])) == "ok"
    assert psi_severity(psi([0.5, 0.5], [0.3, 0.7])) == "warn"
    assert psi_severity(psi([0.5, 0.5], [0.2, 0.8])) == "error"
    assert np.isfinite(psi([0.5, 0.5, 0.0], [0.5, 0.4, 0.1]))       # an empty reference bin stays finite


def test_stability_of_a_scoring_run_against_the_development_portfolio(book):
    _, features, _, card = book
    scored = score_portfolio(features, scorecard=card)
    same = stability(card, scored)
    assert set(same) == {"score", *COMPONENTS} and max(same.values()) < 1e-6
    shifted = score_portfolio(features.assign(academic_score=features["academic_score"] * 0.6), scorecard=card)
    moved = stability(card, shifted)
    assert psi_severity(moved["academic"]) in ("warn", "error") and moved["telco"] < 1e-6


def test_a_reason_for_a_missing_source_says_the_data_is_missing(book):
    _, features, _, card = book
    scored = score_portfolio(features, scorecard=card)
    factors = factor_matrix(features)
    codes = [f.code for f in FACTORS]
    seen = 0
    for i in range(len(scored)):
        for k in range(1, 5):
            code = scored.at[i, f"reason_{k}"]
            if not isinstance(code, str):
                continue
            missing = np.isnan(factors[i, codes.index(code)])
            assert str(scored.at[i, f"reason_text_{k}"]).endswith("no data from this source") == missing
            seen += missing
    assert seen > 0


def test_monitor_report_shows_psi_per_scoring_run_and_auc_per_vintage(book, tmp_path):
    from fintech_dataops.lib.credit.scorecard import record_stability
    from fintech_dataops.lib.monitor.report import _sections

    _, features, _, card = book
    con = duckdb.connect()
    missing = {sid: reason for sid, _, reason, _ in _sections(con)}
    assert "credit.stability" in missing["credit-stability"]
    scored = score_portfolio(features, scorecard=card)
    record_stability(con, card, scored, dt.datetime(2026, 10, 1, 3))
    record_stability(con, card, scored, dt.datetime(2026, 10, 1, 3))        # a rerun replaces its rows
    record_stability(con, card, scored.assign(score=scored["score"] - 60), dt.datetime(2026, 10, 2, 3))
    assert con.execute("SELECT count(*) FROM credit.stability").fetchone()[0] == 2 * (1 + len(COMPONENTS))
    con.execute("CREATE TABLE credit.validation AS SELECT 'vintage' AS kind, '2024-05' AS name, 120 AS n, "
                "14 AS defaults, 0.7312 AS auc, 0.3514 AS ks UNION ALL SELECT 'model', 'score', 900, 99, 0.7, 0.3")
    rendered = {sid: (reason, body) for sid, _, reason, body in _sections(con)}
    reason, body = rendered["credit-stability"]
    assert reason is None and 'id="credit-stability-table"' in body and card.version in body
    assert body.index("2026-10-02") < body.index("2026-10-01")               # latest run first
    reason, body = rendered["credit-vintages"]
    assert reason is None and "2024-05" in body and "0.731" in body
