"""Advisor assets: the conversation feed (landing → raw → core) and the evaluation figures.

Turns are landed by whoever serves the advisor (CLI, the service's /advisor page) into
``landing/advisor_conversations``; these assets reload every landed day (atomic per-day replaces,
so reruns never duplicate). ``advisor/evaluation`` runs the evaluation set against the current
warehouse and stores one row per question in ``advisor.evaluation`` (the monitor reads it).
"""

from __future__ import annotations

import time

import dagster as dg

from fintech_dataops.defs import catalog
from fintech_dataops.defs.advisor.resources import AdvisorModelResource
from fintech_dataops.defs.ingestion.assets import build_feed_assets
from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.schemas.advisor import ADVISOR_CONVERSATIONS

GROUP = "advisor"
FEED = ADVISOR_CONVERSATIONS.name
RAW_KEY, CORE_KEY = dg.AssetKey(["raw", FEED]), dg.AssetKey(["core", FEED])
EVALUATION_KEY = dg.AssetKey(["advisor", "evaluation"])
# What the evaluation questions read (the tools' tables).
EVALUATION_READS = [catalog.CREDIT_SCORES, catalog.LOAN_DECISIONS, catalog.FRAUD_ALERTS, catalog.CORE_TRANSACTIONS,
                    catalog.PLAID_TRANSACTIONS]


@dg.asset(
    key=EVALUATION_KEY, deps=EVALUATION_READS, group_name=GROUP, kinds={"duckdb", "pandas"},
    pool=WAREHOUSE_WRITE_POOL,
    description="The advisor's evaluation set run on the current warehouse: one row per question (correct, "
                "grounded, declined, scope leak). Summary figures in the metadata.",
    metadata={"dagster/table_name": "advisor.evaluation"},
)
def advisor_evaluation(data_dir: DataDirResource, warehouse: WarehouseResource, advisor_llm: AdvisorModelResource):
    from fintech_dataops.lib.advisor.evaluation import evaluation_frame, run_evaluation
    from fintech_dataops.lib.warehouse import replace_table

    started = time.perf_counter()
    # Read-only look-ups first; the write connection is opened only afterwards (one process, one mode).
    report = run_evaluation(data_dir.root, advisor_llm.settings())
    frame = evaluation_frame(report)
    with warehouse.get_connection() as con:
        con.register("advisor_evaluation_frame", frame)
        rows = replace_table(con, "advisor.evaluation", "SELECT * FROM advisor_evaluation_frame")
        con.unregister("advisor_evaluation_frame")
    s = report["summary"]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "mode": s["mode"], "questions": s["questions"],
        "correctness_pct": s["correctness_pct"], "groundedness_pct": s["groundedness_pct"],
        "refusal_recall_pct": s["refusal_recall_pct"], "unexpected_refusals": s["refused_when_not_expected"],
        "scope_leaks": s["scope_leaks"], "skipped": s["skipped"], "seconds": round(time.perf_counter() - started, 1),
        "preview": dg.MetadataValue.md(frame[["id", "category", "correct", "grounded", "declined"]]
                                       .to_markdown(index=False) if len(frame) else "no questions evaluated"),
    })


advisor_assets = [*build_feed_assets(ADVISOR_CONVERSATIONS, GROUP), advisor_evaluation]
