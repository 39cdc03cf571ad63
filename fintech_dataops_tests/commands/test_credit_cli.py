"""``fintech-dataops credit score``: JSON from the warehouse, explain, live, errors, light imports."""

import datetime as dt
import json
import subprocess
import sys

import duckdb
import pytest

from fintech_dataops.cli import main
from fintech_dataops.lib.credit.features import default_as_of, features_sql
from fintech_dataops.lib.credit.sample import write_core_tables
from fintech_dataops.lib.credit.scoring import score_portfolio, scores_select
from fintech_dataops.lib.simulator.world import SimulationConfig, simulate
from fintech_dataops.lib.warehouse import replace_table


@pytest.fixture()
def scored_warehouse(data_dir):
    sim = simulate(SimulationConfig(start=dt.date(2026, 9, 1), days=30, customers=200, seed=5))
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        write_core_tables(con, sim.feeds)
        replace_table(con, "credit.features", features_sql(con), {"as_of": default_as_of(con), "customer_id": None})
        con.register("scored", score_portfolio(con.execute("SELECT * FROM credit.features").df()))
        sql, params = scores_select("scored", dt.datetime(2026, 10, 2))
        replace_table(con, "credit.scores", sql, params)
    thin = sim.customer_truth.loc[sim.customer_truth["thin_file"], "customer_id"].iloc[0]
    return data_dir, thin


def run_cli(capsys, data_dir, *args) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), "credit", "score", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_score_prints_the_stored_score_as_json(scored_warehouse, capsys):
    data_dir, thin = scored_warehouse
    code, out, _ = run_cli(capsys, data_dir, thin)
    assert code == 0
    result = json.loads(out)
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        stored = con.execute("SELECT score, band FROM credit.scores WHERE customer_id = ?", [thin]).fetchall()[0]
    assert (result["score"], result["band"]) == stored
    assert set(result["components"]) == {"transaction_history", "spending_power", "academic", "loan_history",
                                         "utilities", "telco"}
    assert result["components"]["transaction_history"] is None  # thin file: no transactions, not a zero
    assert result["scorable_traditional"] is False and len(result["reasons"]) <= 4
    assert all({"code", "text", "points_lost"} <= set(r) for r in result["reasons"])


def test_explain_shows_each_component_and_live_agrees_with_stored(scored_warehouse, capsys):
    data_dir, thin = scored_warehouse
    _, out, _ = run_cli(capsys, data_dir, thin, "--explain")
    result = json.loads(out)
    explain = result["explain"]["components"]
    assert explain["transaction_history"]["present"] is False and "note" in explain["transaction_history"]
    utilities = explain["utilities"]
    assert utilities["present"] and utilities["factors"][0]["code"] == "UT_LATE_OR_UNPAID"
    assert "utility_bills" in utilities["factors"][0]["inputs"]
    assert sum(c["effective_weight"] for c in explain.values()) == pytest.approx(1.0, abs=1e-3)
    assert round(result["explain"]["unrounded_score"]) == result["score"]
    _, live_out, _ = run_cli(capsys, data_dir, thin, "--live")
    live = json.loads(live_out)
    assert live["source"].startswith("live") and live["score"] == result["score"]
    assert [r["code"] for r in live["reasons"]] == [r["code"] for r in result["reasons"]]


def test_unknown_customer_and_missing_warehouse_are_clear_errors(scored_warehouse, capsys, tmp_path):
    data_dir, _ = scored_warehouse
    code, out, err = run_cli(capsys, data_dir, "C9999999")
    assert code == 1 and out == "" and "not found" in err
    code, _, err = run_cli(capsys, tmp_path / "empty", "C0000001")
    assert code == 1 and "no warehouse" in err


def test_lookup_path_imports_neither_dagster_nor_sklearn_nor_pandas(scored_warehouse):
    data_dir, thin = scored_warehouse
    probe = (
        "import sys, json; from fintech_dataops.cli import main; "
        f"rc = main(['--data-dir', {str(data_dir)!r}, 'credit', 'score', {thin!r}]); "
        "heavy = [m for m in ('dagster', 'sklearn', 'pandas', 'plotly') if m in sys.modules]; "
        "print(json.dumps({'rc': rc, 'heavy': heavy}), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report == {"rc": 0, "heavy": []}
    assert json.loads(result.stdout)["customer_id"] == thin


@pytest.fixture()
def validated_warehouse(data_dir):
    """A warehouse scored by a promoted, fitted scorecard, with the simulator's truth beside it."""
    from fintech_dataops.lib.credit.scorecard import fit_scorecard, promote, save_scorecard, training_frame
    from fintech_dataops.lib.credit.validation import write_truth

    sim = simulate(SimulationConfig(start=dt.date(2026, 9, 1), days=30, customers=1500, seed=8,
                                    transactions_per_customer_day=0.3))
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        write_core_tables(con, sim.feeds)
        replace_table(con, "credit.features", features_sql(con), {"as_of": default_as_of(con), "customer_id": None})
        card = fit_scorecard(training_frame(con), trained_at=dt.datetime(2026, 10, 1))
        save_scorecard(card, data_dir / "models")
        promote(data_dir / "models", card, {"decided_at": "2026-10-01", "promoted": True})
        con.register("scored", score_portfolio(con.execute("SELECT * FROM credit.features").df(), scorecard=card))
        sql, params = scores_select("scored", dt.datetime(2026, 10, 2))
        replace_table(con, "credit.scores", sql, params)
    write_truth(data_dir, sim.loan_truth)
    return data_dir, sim, card


def test_validate_json_reports_discrimination_oracle_calibration_and_parity(validated_warehouse, capsys):
    data_dir, sim, card = validated_warehouse
    code = main(["--data-dir", str(data_dir), "credit", "validate", "--json"])
    result = json.loads(capsys.readouterr().out)
    outcomes = sim.feeds["loan_outcomes"]
    assert result["outcomes"] + result["unscored_outcomes"] == len(outcomes)   # no data at all: no score
    assert result["unscored_outcomes"] < 0.01 * len(outcomes)
    assert 0 < result["defaults"] <= int(outcomes["defaulted"].sum())
    assert result["champion"] == card.version == result["model_version"]
    assert 0.5 < result["auc"] <= 1 and result["gini"] == pytest.approx(2 * result["auc"] - 1, abs=1e-4)
    assert 0 < result["ks"] < 1
    assert 0.5 < result["oracle_auc"] < 1 and result["auc_to_oracle"] == pytest.approx(
        result["auc"] / result["oracle_auc"], abs=1e-3)
    oot = result["out_of_time"]
    assert 0 < oot["outcomes"] < result["outcomes"] and oot["applied_after"] == card.training_window["applied_to"]
    assert oot["auc"] == card.validation["out_of_time"]["auc"]          # the same held-out vintages
    bands = [r["band"] for r in result["calibration_by_band"]]
    assert bands == ["poor", "fair", "good", "very_good", "exceptional"]
    for r in result["calibration_by_band"]:
        assert set(r) == {"band", "outcomes", "defaults", "default_rate", "ci_low", "ci_high", "predicted_pd"}
        if r["outcomes"]:
            assert r["ci_low"] <= r["default_rate"] <= r["ci_high"] and 0 < r["predicted_pd"] < 1
    assert sum(r["outcomes"] for r in result["calibration_by_band"]) == result["outcomes"]
    for r in result["thin_thick_parity"]:
        assert r["thin_outcomes"] + r["thick_outcomes"] == next(
            b["outcomes"] for b in result["calibration_by_band"] if b["band"] == r["band"])
        assert r["agree"] in (True, False, None)
    assert result["by_vintage"] and all(v["vintage"] < "2025-09" for v in result["by_vintage"])
    assert sum(v["outcomes"] for v in result["by_vintage"]) == result["outcomes"]
    ok = result["default_rate_monotone"] and result["thin_thick_parity_ok"]
    assert code == (0 if ok else 1)
    # the text form says the same
    main(["--data-dir", str(data_dir), "credit", "validate"])
    text = capsys.readouterr().out
    assert f"AUC {result['auc']:.3f}" in text and "thin vs thick" in text


def test_validate_without_scores_is_a_clear_error(data_dir, capsys):
    duckdb.connect(str(data_dir / "warehouse.duckdb")).close()
    assert main(["--data-dir", str(data_dir), "credit", "validate"]) == 1
    assert "credit.scores" in capsys.readouterr().err
