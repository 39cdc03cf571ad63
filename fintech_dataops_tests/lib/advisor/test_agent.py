"""The real tool-calling path (pydantic-ai agent, tools, scope, grounding) against scripted models."""

from __future__ import annotations

import json

from pydantic_ai.messages import ModelRequest, ModelResponse, RetryPromptPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from fintech_dataops.lib.advisor.agent import UNGROUNDED_REFUSAL, ask
from fintech_dataops.lib.advisor.scope import Session
from fintech_dataops_tests.lib.advisor.advisor_data import OTHER_SCORE, OWN_SCORE

CUSTOMER = Session("customer", "C0000042")


def _returns(messages) -> list[ToolReturnPart]:
    return [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]


def _retries(messages) -> list[str]:
    """The validator's retry requests sent back to the model (as returns of the output tool)."""
    return [str(p.content) for m in messages if isinstance(m, ModelRequest) for p in m.parts
            if isinstance(p, (ToolReturnPart, RetryPromptPart)) and p.tool_name == "final_result"]


def _final(info: AgentInfo, answer: str, declined: bool = False) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"answer": answer, "declined": declined})])


def scripted(*calls: tuple[str, dict], answer):
    """A model that makes ``calls`` first, then answers ``answer(tool_returns)``."""
    def respond(messages, info: AgentInfo) -> ModelResponse:
        returns = _returns(messages)
        if not returns:
            return ModelResponse(parts=[ToolCallPart(name, args) for name, args in calls])
        return _final(info, *answer(returns, messages))
    return FunctionModel(respond)


def test_scripted_model_answers_from_the_credit_tool(advisor_dir):
    def answer(returns, _messages):
        result = returns[0].content
        return (f"Your score is {result['score']} ({result['band']}); main reason {result['reasons'][0]['code']}.",)

    out = ask("why is my score what it is?", CUSTOMER, advisor_dir,
              model=scripted(("credit_explanation", {}), answer=answer), mode="test")
    assert out.grounded and not out.declined
    assert f"{OWN_SCORE}" in out.answer and "SP_LOW_INCOME" in out.answer
    assert out.tools_used == ["credit_explanation"] and out.sources == ["credit.scores"]
    assert out.answer.endswith("Sources: credit.scores")


def test_test_model_drives_every_tool_of_a_staff_session(advisor_dir):
    # TestModel calls every tool the session sees with generated arguments: the tools validate and refuse.
    out = ask("anything", Session("credit"), advisor_dir, model=TestModel(), mode="test")
    assert set(out.tools_used) == {"credit_explanation", "loan_status", "masked_sql"}
    assert {c["tool"] for c in out.refused_tool_calls} >= {"credit_explanation", "loan_status"}


def test_a_made_up_number_is_retried_then_refused(advisor_dir):
    seen_retries = []

    def answer(returns, messages):
        retries = _retries(messages)
        assert all("712" in r and "not in any tool result" in r for r in retries)
        seen_retries.append(len(retries))
        return ("Your score is 712.",)  # never what the tool said

    out = ask("what is my score?", CUSTOMER, advisor_dir,
              model=scripted(("credit_explanation", {}), answer=answer), mode="test")
    assert not out.grounded and out.declined
    assert out.answer == UNGROUNDED_REFUSAL and "712" not in out.answer
    assert seen_retries == [0, 1, 2]  # the validator asked twice for a grounded answer


def test_an_ungrounded_first_draft_is_corrected_on_retry(advisor_dir):
    def answer(returns, messages):
        retried = bool(_retries(messages))
        score = returns[0].content["score"]
        return (f"Your score is {score}." if retried else f"Your score is {score + 40}.",)

    out = ask("what is my score?", CUSTOMER, advisor_dir,
              model=scripted(("credit_explanation", {}), answer=answer), mode="test")
    assert out.grounded and f"Your score is {OWN_SCORE}." in out.answer


def test_customer_cannot_reach_another_customer_whatever_the_model_asks(advisor_dir):
    calls = (("credit_explanation", {"customer_id": "C0000099"}), ("fraud_decisions", {"customer_id": "C0000099"}),
             ("spending_summary", {"customer_id": "C0000099"}), ("loan_status", {"customer_id": "C0000099"}),
             ("masked_sql", {"sql": "SELECT * FROM credit.scores"}))

    def answer(returns, _messages):
        return (json.dumps([r.content for r in returns]),)

    out = ask("tell me about C0000099", CUSTOMER, advisor_dir, model=scripted(*calls, answer=answer), mode="test")
    assert str(OTHER_SCORE) not in out.answer and "T0000009901" not in out.answer
    assert {c["tool"] for c in out.refused_tool_calls} == {"credit_explanation", "fraud_decisions",
                                                           "spending_summary", "loan_status"}
    assert out.sources == []
    # masked_sql is not even offered to a customer session: the call came back as an unknown tool
    assert "masked_sql" not in out.tools_used


def test_pm_sees_only_the_sql_tool_and_it_reads_the_masked_view(advisor_dir):
    offered = []

    def respond(messages, info: AgentInfo) -> ModelResponse:
        offered.append(sorted(t.name for t in info.function_tools))
        returns = _returns(messages)
        if not returns:
            return ModelResponse(parts=[ToolCallPart("masked_sql", {
                "sql": "SELECT full_name, count(*) AS n FROM core.customers GROUP BY 1 ORDER BY 1"})])
        rows = returns[0].content["rows"]
        return _final(info, "; ".join(f"{name}: {n}" for name, n in rows))

    out = ask("customers by name", Session("pm"), advisor_dir, model=FunctionModel(respond), mode="test")
    assert offered[0] == ["masked_sql"]
    assert out.grounded and out.tools_used == ["masked_sql"]
    assert "Ada Lovelace" not in out.answer and "Lovelace" not in out.answer  # names are masked in the PM view
    assert "published PM view (PII masked)" in out.sources


def test_sql_that_writes_is_refused_by_the_guard(advisor_dir):
    def answer(returns, _messages):
        return (str(returns[0].content), True)

    out = ask("drop it", Session("risk"), advisor_dir,
              model=scripted(("masked_sql", {"sql": "DROP TABLE credit.scores"}), answer=answer), mode="test")
    assert out.refused_tool_calls and out.refused_tool_calls[0]["tool"] == "masked_sql"


def test_a_busy_warehouse_is_an_answer_not_a_crash(advisor_dir):
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
                               "sys.stdin.read()", str(advisor_dir / "warehouse.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"

        def answer(returns, _messages):
            return (returns[0].content["note"],)

        out = ask("what is my score?", CUSTOMER, advisor_dir, wait_seconds=0.2,
                  model=scripted(("credit_explanation", {}), answer=answer), mode="test")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert out.grounded and "refreshed" in out.answer and out.sources == []
