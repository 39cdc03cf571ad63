"""The offline advisor: a deterministic model that answers the supported questions from the same tools.

With no LLM endpoint configured, this stands in for the model inside the *same* pydantic-ai agent
(``FunctionModel``): it picks tools by keyword among those the session may use, lets the tools enforce
scope, and writes its answer only from what the tools returned — so the grounding validator, the scope
checks and the JSON contract are exercised exactly as with a real model. Every answer says it comes from
the offline mode.
"""

from __future__ import annotations

import re

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from fintech_dataops.lib.advisor.scope import CUSTOMER_ID_RE

OFFLINE_LABEL = "[offline mode: answered from the platform's data without a language model]"
TRANSACTION_ID_RE = re.compile(r"\bT\d{6,}\b")
SQL_RE = re.compile(r"^\s*(select|with|from|describe|summarize|show\s+(?:all\s+)?tables)\b", re.IGNORECASE)
OUT_OF_SCOPE_RE = re.compile(
    r"\b(invest\w*|stocks?|shares|crypto\w*|bitcoin|etfs?|mutual funds?|index funds?|tax advice|legal advice"
    r"|lottery|gambl\w*|which (?:fund|stock|coin))\b", re.IGNORECASE)
EVERYONE_RE = re.compile(r"\b(all|every|other|another) (?:the )?(customers?|users?|clients?|people|accounts?)\b"
                         r"|\bsomeone else'?s?\b|\bmy (?:neighbou?r|friend|wife|husband)'?s\b", re.IGNORECASE)
INTENTS = (  # (tool, pattern): the order is the order of the sections in the answer
    ("credit_explanation", re.compile(
        r"credit|score|rating|raise|improve|reasons?\b|applicant|summari[sz]e", re.IGNORECASE)),
    ("loan_status", re.compile(r"\bloans?\b|application|applied|borrow|applicant|summari[sz]e", re.IGNORECASE)),
    ("spending_summary", re.compile(
        r"spen[dt]|money go|where did my money|categor|merchant|budget|expens|purchases", re.IGNORECASE)),
    ("fraud_decisions", re.compile(
        r"fraud|block|alert|suspicious|flagged|review|declined (?:payment|transaction|card)|card (?:was )?declined"
        r"|payment (?:was )?(?:stopped|declined|held)", re.IGNORECASE)),
)
MONTH_RE = re.compile(r"\b(20\d{2}-\d{2})\b")

DECLINE_INVESTMENT = ("I'm sorry, I can't recommend investments, securities or other financial products, and "
                      "I can't give tax or legal advice. I can explain your credit score, your spending, your "
                      "loan applications and payments our fraud checks reviewed or blocked.")
DECLINE_OTHERS = ("I'm sorry, I can only discuss the data of the account you are signed in with; I can't "
                  "share anything about other customers.")
HELP = ("I can answer questions about your credit score and what affects it, your spending by month, "
        "category and merchant, payments our fraud checks reviewed or blocked, and your loan applications.")
STAFF_HELP = {
    "risk": "As a risk analyst you can ask why a customer's transactions were reviewed or blocked (name the "
            "customer id, e.g. C0000042, and optionally the transaction id), or send read-only SQL.",
    "credit": "As a credit officer you can ask for a customer's score explanation or loan decisions (name the "
              "customer id, e.g. C0000042), or send read-only SQL.",
    "pm": "As a product manager you can send read-only SQL (SELECT ...) on the PII-masked published view.",
}


def _this_turn(messages: list[ModelMessage]) -> tuple[str, list[tuple[str, object]]]:
    """The latest user question and the tool results returned since it was asked."""
    question, returns = "", []
    for message in messages:
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, UserPromptPart):
                question, returns = part.content if isinstance(part.content, str) else str(part.content), []
            elif isinstance(part, ToolReturnPart):
                returns.append((part.tool_name, part.content))
    return question, returns


def _role_of(info: AgentInfo) -> str:
    tools = {t.name for t in info.function_tools}
    if "spending_summary" in tools:
        return "customer"
    if "fraud_decisions" in tools:
        return "risk"
    if "credit_explanation" in tools:
        return "credit"
    return "pm"


def plan(question: str, info: AgentInfo) -> list[tuple[str, dict]] | str:
    """The tool calls for ``question``, or a decline/help text when no tool applies."""
    available = {t.name for t in info.function_tools}
    role = _role_of(info)
    if OUT_OF_SCOPE_RE.search(question):
        return DECLINE_INVESTMENT
    if role == "customer" and EVERYONE_RE.search(question):
        return DECLINE_OTHERS
    if SQL_RE.match(question) and "masked_sql" in available:
        return [("masked_sql", {"sql": question.strip().rstrip(";")})]
    named = CUSTOMER_ID_RE.findall(question)
    transaction = TRANSACTION_ID_RE.search(question)
    month = MONTH_RE.search(question)
    calls = []
    for tool, pattern in INTENTS:
        if tool not in available or not (pattern.search(question) or (tool == "fraud_decisions" and transaction)):
            continue
        args: dict = {"customer_id": named[0]} if named else {}
        if tool == "fraud_decisions" and transaction:
            args["transaction_id"] = transaction.group(0)
        if tool == "spending_summary" and month:
            args["month"] = month.group(1)
        calls.append((tool, args))
    if calls:
        return calls
    return HELP if role == "customer" else STAFF_HELP[role]


def _credit(r: dict, you: bool) -> str:
    if not r.get("available"):
        return r.get("note", "There is no stored credit score.")
    owner = "Your" if you else f"Customer {r['customer_id']}'s"
    lines = [f"{owner} stored credit score is {r['score']} ({r['band']} band, on a scale of "
             f"{r['score_range'][0]}-{r['score_range'][1]}), computed on data as of {str(r['as_of'])[:10]}."]
    if r["reasons"]:
        lines.append("The main factors that lowered it, most important first:")
        for reason in r["reasons"]:
            lines.append(f"- {reason['code']}: \"{reason['untrusted_text']}\" ({reason['points_lost']} points)")
        helps = list(dict.fromkeys(x["what_would_help"] for x in r["reasons"] if x["what_would_help"]))
        if helps:
            lines.append("Factors that could improve it over time: " + "; ".join(helps) + ".")
    lines.append("This explains the current score; it is not a promise of any future score or credit decision.")
    return "\n".join(lines)


def _loans(r: dict, you: bool) -> str:
    if "applications" not in r:
        return r.get("note", "")
    if not r["applications"]:
        return ("You have" if you else "This customer has") + " no loan applications on record."
    lines = ["Loan applications:"]
    for a in r["applications"]:
        reasons = ", ".join(a["reason_codes"] or []) or "none recorded"
        lines.append(f"- {a['application_id']} on {a['applied_on']} for {a['requested_amount']}: {a['decision']} "
                     f"(score {a['score']}, cutoff {a['cutoff']}; principal reasons: {reasons})")
    return "\n".join(lines)


def _spending(r: dict, you: bool) -> str:
    if "total_spent" not in r:
        months = r.get("months_with_spending") or []
        note = r.get("note", "No card transactions on record.")
        return note[0].upper() + note[1:] + "." + (f" Months with card spending: {', '.join(months)}." if months else "")
    total = r["total_spent"]
    lines = [f"In {r['month']}, {'you' if you else 'the customer'} spent {total['amount']} (reporting currency) "
             f"across {total['transactions']} card transactions."]
    if r["by_category"]:
        lines.append("By category: " + "; ".join(
            f"{c['category']} {c['amount']} ({c['transactions']})" for c in r["by_category"]) + ".")
    if r["top_merchants"]:
        lines.append("Largest merchants: " + "; ".join(
            f"{m['merchant_id']} {m['amount']}" for m in r["top_merchants"]) + ".")
    if r.get("linked_bank_merchants"):
        lines.append("From your linked bank account: " + "; ".join(
            f"\"{m['untrusted_merchant_name']}\" {m['amount']}" for m in r["linked_bank_merchants"]) + ".")
    return "\n".join(lines)


def _fraud(r: dict, you: bool) -> str:
    if "alerts" not in r:
        return r.get("note", "")
    if not r["alerts"]:
        return r.get("note") or ("None of " + ("your" if you else "this customer's")
                                 + " transactions were reviewed or blocked by our fraud checks.")
    lines = ["Transactions our fraud checks reviewed or blocked:"]
    for a in r["alerts"]:
        why = "; ".join(a["untrusted_reasons"] or []) or "no reason recorded"
        lines.append(f"- {a['transaction_id']} on {a['day']} at merchant {a['merchant_id']}, {a['amount']} "
                     f"{a['currency']}: {a['decision']} (risk score {a['risk_score']}) because: {why}")
    return "\n".join(lines)


def _sql(r: dict, you: bool) -> str:
    if "error" in r:
        return f"The query failed: {r['error']}"
    shown = r["rows"][:10]
    lines = [f"The query returned {r['row_count']} row(s)" + (" (truncated)" if r["truncated"] else "") + ":",
             " | ".join(r["columns"])]
    lines += [" | ".join("" if v is None else str(v) for v in row) for row in shown]
    return "\n".join(lines)


COMPOSERS = {"credit_explanation": _credit, "loan_status": _loans, "spending_summary": _spending,
             "fraud_decisions": _fraud, "masked_sql": _sql}


def compose(returns: list[tuple[str, object]], role: str) -> tuple[str, bool]:
    """The answer text written from this turn's tool results only, and whether the request was declined."""
    you = role == "customer"
    order = [tool for tool, _ in INTENTS]
    returns = sorted(returns, key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    refusals = [c["refused"] for _, c in returns if isinstance(c, dict) and "refused" in c]
    sections = [COMPOSERS[name](content, you) for name, content in returns
                if isinstance(content, dict) and "refused" not in content and name in COMPOSERS]
    if not sections:
        if you:
            return DECLINE_OTHERS, True
        return "I'm sorry, I can't do that: " + "; ".join(refusals) + ".", True
    return "\n\n".join(s for s in sections if s), False


def offline_respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    question, returns = _this_turn(messages)
    output_tool = info.output_tools[0].name
    if not returns:
        planned = plan(question, info)
        if isinstance(planned, str):
            return _final(output_tool, planned, declined=True)
        return ModelResponse(parts=[ToolCallPart(tool, args) for tool, args in planned])
    text, declined = compose(returns, _role_of(info))
    return _final(output_tool, text, declined)


def _final(output_tool: str, text: str, declined: bool) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(output_tool, {"answer": f"{OFFLINE_LABEL}\n{text}", "declined": declined})])


def offline_model() -> FunctionModel:
    return FunctionModel(offline_respond, model_name="fintech-offline")
