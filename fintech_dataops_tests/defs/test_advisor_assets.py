"""Advisor assets through Dagster: conversations landing → raw → core (+ checks), and the evaluation table."""

from __future__ import annotations

import dagster as dg
import duckdb

from fintech_dataops_tests.lib.advisor.advisor_data import build_advisor_warehouse


def test_conversations_flow_to_core_and_evaluation_becomes_a_table(resources, data_dir, monkeypatch):
    from fintech_dataops.defs.advisor.assets import advisor_assets
    from fintech_dataops.defs.advisor.resources import AdvisorModelResource
    from fintech_dataops.lib.advisor.scope import Session
    from fintech_dataops.lib.advisor.service import Advisor, Conversation

    for name in ("FINTECH_LLM_BASE_URL", "FINTECH_LLM_MODEL", "FINTECH_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    build_advisor_warehouse(data_dir)
    advisor = Advisor(data_dir)
    chat = Conversation(Session("customer", "C0000042"))
    advisor.ask(chat, "My e-mail is ada@example.com: what is my credit score?")
    advisor.ask(chat, "and where did my money go?")
    bad = data_dir / "landing" / "advisor_conversations" / "date=2026-11-30" / "bad.jsonl"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"turn_id": "V1-1", "role": "customer"}\n')

    result = dg.materialize(advisor_assets, resources={**resources, "advisor_llm": AdvisorModelResource()})
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        turns = con.execute("SELECT turn, question, tools_used, grounded FROM core.advisor_conversations "
                            "ORDER BY turn").fetchall()
        quarantined = con.execute("SELECT count(*) FROM quarantine.advisor_conversations").fetchone()[0]
        evaluation = con.execute("SELECT count(*), sum(correct::INT), sum(scope_leak::INT), "
                                 "count(DISTINCT run_id) FROM advisor.evaluation").fetchone()
    assert [(t[0], t[2], t[3]) for t in turns] == [(1, "credit_explanation", True), (2, "spending_summary", True)]
    assert "ada@example.com" not in turns[0][1] and "[redacted]" in turns[0][1]
    assert quarantined == 1  # the malformed line is visible, with its reason, not dropped
    assert evaluation[0] >= 30 and evaluation[1] == evaluation[0] and evaluation[2] == 0 and evaluation[3] == 1
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        from fintech_dataops.lib.analytics.run_summary import platform_summary

        summary = platform_summary(con)
    assert f"Advisor (offline mode): evaluation of {evaluation[0]} questions: {evaluation[0]} correct" in summary
    assert "0 scope leaks" in summary and "advisor ask --customer C0000007" in summary
    meta = result.asset_materializations_for_node("advisor__evaluation")[0].metadata
    assert meta["scope_leaks"].value == 0 and meta["questions"].value == evaluation[0]
