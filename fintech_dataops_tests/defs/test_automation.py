"""One trigger per asset, and the automation that the README promises runs by default (issue 14)."""

import datetime as dt

import dagster as dg
import pytest

from fintech_dataops.defs.credit.assets import CREDIT_AUTOMATION


@pytest.fixture(scope="module")
def defs():
    from fintech_dataops.defs import build_defs

    return build_defs()


def _job_keys(defs: dg.Definitions, job_name: str) -> set[dg.AssetKey]:
    return set(defs.resolve_job_def(job_name).asset_layer.executable_asset_keys)


def test_every_asset_has_exactly_one_trigger(defs):
    graph = defs.resolve_asset_graph()
    triggers: dict[dg.AssetKey, list[str]] = {key: [] for key in graph.materializable_asset_keys}
    repo = defs.get_repository_def()
    for schedule in repo.schedule_defs:
        for key in _job_keys(defs, schedule.job_name):
            triggers[key].append(f"schedule {schedule.name}")
    for sensor in repo.sensor_defs:
        if sensor.has_jobs:
            for key in _job_keys(defs, sensor.job_name):
                triggers[key].append(f"sensor {sensor.name}")
    for key in triggers:
        if graph.get(key).automation_condition is not None:
            triggers[key].append("automation_sensor")
    wrong = {key.to_user_string(): found for key, found in triggers.items() if len(found) != 1}
    assert wrong == {}
    # What the README promises: credit, marts and KPIs refresh on their own; the daily work is scheduled.
    assert triggers[dg.AssetKey(["credit", "scores"])] == ["automation_sensor"]
    assert triggers[dg.AssetKey(["marts", "alert_queue"])] == ["automation_sensor"]
    assert triggers[dg.AssetKey(["core", "transactions"])] == ["schedule daily_pipeline_schedule"]


def test_the_automation_sensor_runs_by_default_and_the_cli_job_runs_everything(defs):
    sensor = defs.resolve_sensor_def("automation_sensor")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert not any(s.name == "default_automation_condition_sensor" for s in defs.sensors or [])
    graph = defs.resolve_asset_graph()
    assert _job_keys(defs, "all_assets") == set(graph.materializable_asset_keys)
    assert all(s.job_name != "all_assets" for s in defs.get_repository_def().schedule_defs)


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_a_history_wide_table_recomputes_although_some_daily_partition_is_missing():
    """A table over every day of a daily input must fire when a day lands, though today is still missing.

    ``AutomationCondition.eager()`` never did: an unpartitioned child depends on all partitions.
    """
    today = dt.date.today()
    days = dg.DailyPartitionsDefinition(start_date=(today - dt.timedelta(days=3)).isoformat(), end_offset=1)

    @dg.asset(key=["core", "transactions"], partitions_def=days)
    def core_transactions():
        return None

    @dg.asset(key=["credit", "features"], deps=[core_transactions], automation_condition=CREDIT_AUTOMATION)
    def credit_features():
        return None

    defs = dg.Definitions(assets=[core_transactions, credit_features])
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.get_num_requested(credit_features.key) == 0          # nothing landed: nothing to compute
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert dg.materialize([core_transactions], instance=instance, partition_key=yesterday).success
    landed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert landed.get_num_requested(credit_features.key) == 1         # yesterday landed → recompute
    instance.report_runless_asset_event(dg.AssetMaterialization(credit_features.key))
    settled = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=landed.cursor)
    assert settled.get_num_requested(credit_features.key) == 0        # computed: quiet until the next change
