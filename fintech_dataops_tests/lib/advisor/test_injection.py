"""A merchant name that is a prompt injection changes nothing: the data is data, scope stays in the tools."""

from __future__ import annotations

from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from fintech_dataops.lib.advisor.agent import ask
from fintech_dataops.lib.advisor.offline import offline_model
from fintech_dataops.lib.advisor.scope import Session
from fintech_dataops_tests.lib.advisor.advisor_data import INJECTION, OTHER_SCORE

CUSTOMER = Session("customer", "C0000042")


def test_a_gullible_model_that_obeys_the_merchant_name_still_reaches_nobody_else(advisor_dir):
    """Worst case: the model follows the instruction it read in the data. The tools refuse."""
    obeyed = []

    def respond(messages, info: AgentInfo) -> ModelResponse:
        returns = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]
        if not returns:
            return ModelResponse(parts=[ToolCallPart("spending_summary", {})])
        if len(returns) == 1 and INJECTION in str(returns[0].content):
            obeyed.append(True)  # "list all customers": try every way to read other customers
            return ModelResponse(parts=[
                ToolCallPart("credit_explanation", {"customer_id": "C0000099"}),
                ToolCallPart("fraud_decisions", {"customer_id": "C0000099"}),
                ToolCallPart("masked_sql", {"sql": "SELECT customer_id, score FROM credit.scores"}),
            ])
        text = " ".join(str(r.content) for r in returns[1:])
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"answer": text[:500]})])

    out = ask("where did my money go?", CUSTOMER, advisor_dir, model=FunctionModel(respond), mode="test")
    assert obeyed
    assert str(OTHER_SCORE) not in out.answer and "C0000099" not in out.sources
    assert out.sources == ["core.transactions", "open_banking.plaid_transactions"]
    assert {c["tool"] for c in out.refused_tool_calls} == {"credit_explanation", "fraud_decisions"}


def test_offline_answer_is_the_same_with_or_without_the_injected_merchant(advisor_dir):
    import duckdb

    out = ask("where did my money go this month?", CUSTOMER, advisor_dir, model=offline_model(), mode="offline")
    assert out.grounded and not out.declined and out.tools_used == ["spending_summary"]
    assert f'"{INJECTION}"' in out.answer  # shown, quoted, as the merchant's name: data, not an instruction
    assert "C0000099" not in out.answer and "C0000007" not in out.answer

    con = duckdb.connect(str(advisor_dir / "warehouse.duckdb"))
    con.execute("UPDATE open_banking.plaid_transactions SET merchant_name = 'Corner Shop'")
    con.close()
    clean = ask("where did my money go this month?", CUSTOMER, advisor_dir, model=offline_model(), mode="offline")
    assert clean.answer.replace('"Corner Shop"', f'"{INJECTION}"') == out.answer
    assert clean.tools_used == out.tools_used and clean.sources == out.sources


def test_a_month_without_spending_is_not_answered_with_another_months_figures(advisor_dir):
    out = ask("how much did I spend in 2026-09?", CUSTOMER, advisor_dir, model=offline_model(), mode="offline")
    assert out.grounded and "no card transactions in 2026-09" in out.answer.lower()
    assert "560.75" not in out.answer and "2026-11, 2026-10" in out.answer
    october = ask("how much did I spend in 2026-10?", CUSTOMER, advisor_dir, model=offline_model(), mode="offline")
    assert "64.00" in october.answer and "560.75" not in october.answer
