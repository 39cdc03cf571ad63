"""The asset graph, checks, jobs, schedules and sensors, compared with a committed snapshot.

A change to the graph (an asset, a dependency, a group, a trigger, a check, a job's selection) is then
a reviewed diff of ``snapshots/definitions.txt``, as in dagster-open-platform. After an intended change,
regenerate it and commit it with the change:

    FINTECH_UPDATE_SNAPSHOT=1 python -m pytest fintech_dataops_tests/defs/test_graph_snapshot.py -q
"""

import os
from pathlib import Path

import dagster as dg

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.txt"


def describe(defs: dg.Definitions) -> str:
    graph = defs.resolve_asset_graph()
    repo = defs.get_repository_def()
    lines = ["# assets: key | group | partitions | trigger condition | freshness | kinds <- parents"]
    for key in sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = type(node.partitions_def).__name__ if node.partitions_def else "-"
        condition = node.automation_condition.get_label() if node.automation_condition else "-"
        freshness = "freshness" if node.freshness_policy else "-"
        parents = ", ".join(sorted(p.to_user_string() for p in node.parent_keys)) or "-"
        lines.append(f"{key.to_user_string()} | {node.group_name} | {partitions} | {condition} | {freshness} | "
                     f"{','.join(sorted(node.kinds))} <- {parents}")
    lines.append("# reported, not materialized (external specs whose writer reports them): key | group <- parents")
    for key in sorted(set(graph.get_all_asset_keys()) - set(graph.materializable_asset_keys),
                      key=lambda k: k.to_user_string()):
        node = graph.get(key)
        parents = ", ".join(sorted(p.to_user_string() for p in node.parent_keys)) or "-"
        lines.append(f"{key.to_user_string()} | {node.group_name} <- {parents}")
    lines.append("# checks: asset:check | blocking")
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        lines.append(f"{check_key.asset_key.to_user_string()}:{check_key.name} | "
                     f"{'blocking' if spec.blocking else '-'}")
    lines.append("# jobs: name <- asset (one line each; all_assets runs every asset above)")
    for job in sorted(repo.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        keys = sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys)
        if job.name == "all_assets":
            lines.append(f"{job.name} <- {len(keys)} assets")
            continue
        lines += [f"{job.name} <- {key}" for key in keys] or [f"{job.name} <- -"]
    lines.append("# schedules: name | cron | job | default status")
    for schedule in sorted(repo.schedule_defs, key=lambda s: s.name):
        lines.append(f"{schedule.name} | {schedule.cron_schedule} | {schedule.job_name} | {schedule.default_status.value}")
    lines.append("# sensors: name | type | job | default status | minimum interval (s)")
    for sensor in sorted(repo.sensor_defs, key=lambda s: s.name):
        job = sensor.job_name if sensor.has_jobs else "-"
        lines.append(f"{sensor.name} | {sensor.sensor_type.value} | {job} | {sensor.default_status.value} | "
                     f"{sensor.minimum_interval_seconds}")
    return "\n".join(lines) + "\n"


def test_definitions_match_the_committed_snapshot():
    from fintech_dataops.defs import build_defs

    current = describe(build_defs())
    if os.environ.get("FINTECH_UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current)
    expected = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    assert current == expected, (
        "the Dagster definitions changed; if intended, regenerate the snapshot and commit it:\n"
        "  FINTECH_UPDATE_SNAPSHOT=1 python -m pytest fintech_dataops_tests/defs/test_graph_snapshot.py -q"
    )
