"""Credit assets end to end on a small simulated portfolio in a temp warehouse."""

import datetime as dt

import dagster as dg
import duckdb
import pytest

from fintech_dataops.defs.credit.assets import CREDIT_AUTOMATION, WEEKLY_REFIT, credit_assets
from fintech_dataops.lib.credit.sample import write_core_tables
from fintech_dataops.lib.credit.scorecard import champion_pointer
from fintech_dataops.lib.simulator.world import SimulationConfig, simulate

CUSTOMERS = 400


@pytest.fixture()
def warehouse_with_core(resources):
    sim = simulate(SimulationConfig(start=dt.date(2026, 9, 1), days=30, customers=CUSTOMERS, seed=11))
    with duckdb.connect(str(resources["warehouse"].path)) as con:
        write_core_tables(con, sim.feeds)
    return sim


def _run(resources, run_config=None):
    result = dg.materialize(credit_assets, resources=resources, run_config=run_config or {})
    assert result.success
    return result


def _metadata(result, key):
    (event,) = result.asset_materializations_for_node(key)
    return {k: v.value for k, v in event.metadata.items()}


def test_credit_assets_score_decide_and_validate_the_portfolio(resources, warehouse_with_core, data_dir):
    sim = warehouse_with_core
    result = _run(resources)
    with duckdb.connect(str(resources["warehouse"].path), read_only=True) as con:
        scores = con.execute("SELECT * FROM credit.scores").df()
        decisions = con.execute("SELECT * FROM credit.loan_decisions").df()
        validation = con.execute("SELECT * FROM credit.validation").df()
        population = con.execute("SELECT * FROM credit.scorable_population").df()
    assert len(scores) == CUSTOMERS and scores["customer_id"].is_unique
    scored = scores.dropna(subset=["score"])
    assert scored["score"].between(300, 850).all() and len(scored) >= 0.95 * CUSTOMERS
    # the champion scores: the fitted card once it beat the hand-set v2.0 formulas out of time, else v2.0
    champion = champion_pointer(resources["data_dir"].models_dir)["version"]
    assert scores["reasons"].map(len).max() <= 4 and (scores["model_version"] == champion).all()
    assert {"transaction_history", "spending_power", "academic", "loan_history", "utilities", "telco",
            "evidence", "scorable_traditional", "scorable_enhanced", "scored_at"} <= set(scores.columns)
    thin = set(sim.customer_truth.loc[sim.customer_truth["thin_file"], "customer_id"])
    thin_scores = scores[scores["customer_id"].isin(thin)]
    assert not thin_scores["scorable_traditional"].any() and thin_scores["scorable_enhanced"].mean() > 0.7

    assert len(decisions) == len(sim.feeds["loan_applications"])
    assert set(decisions["decision"]) <= {"approve", "decline", "manual_review"}
    approved = decisions[decisions["decision"] == "approve"]
    assert (approved["score"] >= 640).all() and approved["scorable_enhanced"].all()
    declined = decisions[decisions["decision"] == "decline"]
    assert (declined["score"] < 640 - 30).all()
    # issue 15: money stays exact and says its currency; the reporting twin comes from core (lib/money)
    with duckdb.connect(str(resources["warehouse"].path), read_only=True) as con:
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_schema = 'credit' AND table_name = 'loan_decisions'").fetchall())
        mismatched = con.execute("""
            SELECT count(*) FROM credit.loan_decisions d JOIN core.loan_applications a USING (application_id)
            WHERE d.currency IS DISTINCT FROM a.currency
               OR d.requested_amount_reporting IS DISTINCT FROM a.requested_amount_reporting""").fetchone()[0]
    assert types["requested_amount"].startswith("DECIMAL") and types["requested_amount_reporting"].startswith("DECIMAL")
    assert not any(t == "DOUBLE" for c, t in types.items() if "amount" in c)
    assert set(decisions["reporting_currency"]) == {"USD"} and decisions["currency"].notna().all()
    assert decisions["currency"].nunique() > 1 and mismatched == 0

    row = validation.set_index("name").loc["score"]
    assert row["n"] == len(sim.feeds["loan_outcomes"]) and 0 <= row["auc"] <= 1
    assert {"poor", "fair", "good", "very_good", "exceptional"} & set(validation["name"])
    meta = _metadata(result, "credit__validation")
    assert meta["roc_plot"].startswith("![ROC curve](data:image/svg+xml;base64,")
    assert (data_dir / "reports" / "credit_validation.html").stat().st_size > 10_000

    assert len(population) == 1
    p = population.iloc[0]
    assert p["customers"] == CUSTOMERS and p["scorable_enhanced"] >= p["scorable_traditional"]
    assert p["newly_scorable"] == p["scorable_enhanced"] - p["scorable_traditional"]
    assert _metadata(result, "credit__scorable_population")["uplift_pct"] == p["uplift_pct"]


def test_config_changes_cutoff_and_weights_and_each_run_appends_one_population_row(resources, warehouse_with_core):
    _run(resources)
    strict = {"ops": {name: {"config": {"approve_cutoff": 850, "weight_telco": 0.0}}
                      for name in ("credit__scores", "credit__loan_decisions")}}
    result = _run(resources, strict)
    with duckdb.connect(str(resources["warehouse"].path), read_only=True) as con:
        decisions = con.execute("SELECT decision, cutoff FROM credit.loan_decisions").df()
        runs = con.execute("SELECT count(*) FROM credit.scorable_population").fetchall()[0][0]
    assert "approve" not in set(decisions["decision"]) and (decisions["cutoff"] == 850).all()
    assert _metadata(result, "credit__scores")["weights"]["telco"] == 0.0
    assert runs == 2


def test_invalid_weights_fail_the_run_before_writing(resources, warehouse_with_core):
    zero = {f"weight_{c}": 0.0 for c in ("transaction_history", "spending_power", "academic", "loan_history",
                                          "utilities", "telco")}
    result = dg.materialize(credit_assets[:2], resources=resources, raise_on_error=False,
                            run_config={"ops": {"credit__scores": {"config": zero}}})
    assert not result.success
    with duckdb.connect(str(resources["warehouse"].path), read_only=True) as con:
        assert not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'scores'"
                               ).fetchall()[0][0]


def test_credit_assets_are_wired_for_automation():
    for asset in credit_assets:
        spec = next(iter(asset.specs))
        # the scorecard refits weekly (its one trigger); everything else recomputes when an input changes
        expected = WEEKLY_REFIT if spec.key == dg.AssetKey(["credit", "scorecard"]) else CREDIT_AUTOMATION
        assert spec.group_name == "credit" and spec.automation_condition == expected
        assert asset.op.pool == "warehouse_write"


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")  # raised inside dagster's own condition tester
def test_scores_are_requested_again_when_a_core_input_changes(resources):
    upstream_keys = {key for asset in credit_assets for key in asset.dependency_keys if key.path[0] != "credit"}

    @dg.multi_asset(specs=[dg.AssetSpec(key) for key in upstream_keys])
    def upstream_stub():
        pass

    features_key, scores_key = dg.AssetKey(["credit", "features"]), dg.AssetKey(["credit", "scores"])
    defs = dg.Definitions(assets=[*credit_assets, upstream_stub], resources=resources)
    instance = dg.DagsterInstance.ephemeral()
    for key in (*upstream_keys, features_key, scores_key):
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert quiet.get_num_requested(features_key) == 0       # nothing changed: no rescoring
    instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey(["core", "utility_payments"])))
    changed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
    assert changed.get_num_requested(features_key) == 1     # a new utility payment → features recomputed
    assert changed.get_num_requested(scores_key) == 1       # ... and the scores downstream, in the same tick
    for key in (features_key, scores_key):
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    settled = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=changed.cursor)
    assert settled.get_num_requested(scores_key) == 0 and settled.get_num_requested(features_key) == 0


def test_scorecard_is_fitted_promoted_and_monitored_by_checks(resources, data_dir):
    import json

    from fintech_dataops.defs.credit.assets import credit_checks, psi_check_result

    sim = simulate(SimulationConfig(start=dt.date(2026, 9, 1), days=30, customers=1500, seed=11,
                                    transactions_per_customer_day=0.3))
    with duckdb.connect(str(resources["warehouse"].path)) as con:
        write_core_tables(con, sim.feeds)
    result = dg.materialize([*credit_assets, *credit_checks], resources=resources)
    assert result.success
    meta = _metadata(result, "credit__scorecard")
    decision = meta["decision"]
    assert decision["champion"] == "credit-v2.0" and decision["out_of_time_outcomes"] > 200
    pointer = json.loads((data_dir / "models" / "credit" / "champion.json").read_text())
    if decision["promoted"]:   # the fitted card must beat the hand-set weights out of time to be used
        assert decision["challenger_auc"] >= decision["champion_auc"] + 0.005
        assert pointer["version"] == meta["challenger"]
        with duckdb.connect(str(resources["warehouse"].path), read_only=True) as con:
            versions = {r[0] for r in con.execute("SELECT DISTINCT model_version FROM credit.scores").fetchall()}
            stability = con.execute("SELECT variable, psi, severity FROM credit.stability").df()
        assert versions == {meta["challenger"]}
        assert set(stability["variable"]) == {"score", "transaction_history", "spending_power", "academic",
                                              "loan_history", "utilities", "telco"}
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert {"psi_score", "psi_telco", "default_rate_monotone_by_band", "thin_thick_parity"} <= set(checks)
    assert checks["psi_score"].passed      # the run scored the very portfolio the card was fitted beside
    # severities: WARN from 0.10, ERROR from 0.25
    assert psi_check_result("score", 0.05, "ok", "v").passed
    warn = psi_check_result("score", 0.12, "warn", "v")
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN and "0.120" in warn.description
    error = psi_check_result("score", 0.3, "error", "v")
    assert not error.passed and error.severity == dg.AssetCheckSeverity.ERROR
