"""``fintech-dataops advisor ask|chat|eval`` offline (no endpoint configured): JSON contract, scope, recording."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fintech_dataops.cli import main
from fintech_dataops_tests.lib.advisor.advisor_data import build_advisor_warehouse


@pytest.fixture()
def advisor_dir(data_dir, monkeypatch):
    for name in ("FINTECH_LLM_BASE_URL", "FINTECH_LLM_MODEL", "FINTECH_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    build_advisor_warehouse(data_dir)
    return data_dir


def test_offline_ask_returns_the_stored_score_and_reason_codes(advisor_dir, capsys):
    code = main(["--data-dir", str(advisor_dir), "advisor", "ask", "--customer", "C0000042",
                 "why is my credit score what it is?"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(out) >= {"answer", "tools_used", "sources", "grounded"}
    assert out["grounded"] is True and out["mode"] == "offline" and "[offline mode" in out["answer"]
    assert "657" in out["answer"] and "fair" in out["answer"]
    for reason in ("SP_LOW_INCOME", "AC_EDUCATION_LEVEL", "UT_LATE_OR_UNPAID"):
        assert reason in out["answer"]
    assert out["tools_used"] == ["credit_explanation"] and out["sources"] == ["credit.scores"]
    assert "promise" in out["answer"] and "guarantee" not in out["answer"]  # adverse-action style, no promise


def test_the_turn_lands_in_the_conversation_feed_pii_redacted(advisor_dir, capsys):
    main(["--data-dir", str(advisor_dir), "advisor", "ask", "--customer", "C0000042",
          "I'm Ada Lovelace (ada@example.com, card 4111 1111 1111 1111): how much did I spend?"])
    capsys.readouterr()
    files = list((advisor_dir / "landing" / "advisor_conversations").glob("date=*/*.jsonl"))
    assert len(files) == 1
    record = json.loads(files[0].read_text())
    assert record["customer_id"] == "C0000042" and record["role"] == "customer" and record["grounded"] is True
    assert record["tools_used"] == "spending_summary" and "560.75" in record["answer"]
    for secret in ("Ada Lovelace", "ada@example.com", "4111"):
        assert secret not in files[0].read_text()


def test_staff_role_and_refusals(advisor_dir, capsys):
    main(["--data-dir", str(advisor_dir), "advisor", "ask", "--no-record", "--role", "risk",
          "why was T0000000701 of C0000007 blocked?"])
    out = json.loads(capsys.readouterr().out)
    assert "T0000000701" in out["answer"] and "block" in out["answer"] and out["sources"] == ["fraud.alerts"]
    main(["--data-dir", str(advisor_dir), "advisor", "ask", "--no-record", "--customer", "C0000042",
          "what is the credit score of C0000099?"])
    out = json.loads(capsys.readouterr().out)
    assert out["declined"] and "802" not in out["answer"] and out["refused_tool_calls"]
    assert not (advisor_dir / "landing").exists()


def test_chat_keeps_a_conversation_over_stdin(advisor_dir):
    done = subprocess.run(
        [sys.executable, "-m", "fintech_dataops.cli", "--data-dir", str(advisor_dir), "advisor", "chat",
         "--customer", "C0000042", "--no-record"],
        input="what is my credit score?\nand my loan application?\n\\q\n", capture_output=True, text=True,
        timeout=120, env={**__import__("os").environ, "FINTECH_LLM_BASE_URL": ""})
    assert done.returncode == 0, done.stderr
    assert "657" in done.stdout and "A00000042" in done.stdout and "decline" in done.stdout


def test_eval_reports_correctness_groundedness_refusals(advisor_dir, capsys):
    code = main(["--data-dir", str(advisor_dir), "advisor", "eval", "--json"])
    report = json.loads(capsys.readouterr().out)
    s = report["summary"]
    assert code == 0 and s["questions"] >= 30 and len(report["results"]) == s["questions"]
    assert s["scope_leaks"] == 0
    assert s["correct"] == s["questions"], [r for r in report["results"] if not r["correct"]]
    assert s["refused_when_expected"] == s["expected_refusals"] >= 10 and s["refused_when_not_expected"] == 0
    assert s["groundedness_pct"] == 100.0
