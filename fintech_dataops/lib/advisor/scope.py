"""Who is asking and what they may read: enforced in each tool, whatever the model asks for.

A *customer* session is bound to one ``customer_id`` when it is created (from the authenticated channel,
never from the question); every tool it calls reads that customer's rows only, and a request for any
other customer is refused by the tool. *Staff* sessions have a role:

- ``risk``   (risk analyst): fraud decisions and alerts of any customer, guarded SQL;
- ``credit`` (credit officer): credit explanations and loan decisions of any customer, guarded SQL;
- ``pm``     (product manager): guarded SQL on the PII-masked published view only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CUSTOMER = "customer"
STAFF_ROLES = ("risk", "credit", "pm")
ROLES = (CUSTOMER, *STAFF_ROLES)

# Tool name → roles allowed to call it.
TOOL_ROLES: dict[str, frozenset[str]] = {
    "credit_explanation": frozenset({CUSTOMER, "credit"}),
    "loan_status": frozenset({CUSTOMER, "credit"}),
    "spending_summary": frozenset({CUSTOMER}),
    "fraud_decisions": frozenset({CUSTOMER, "risk"}),
    "masked_sql": frozenset(STAFF_ROLES),
}

CUSTOMER_ID_RE = re.compile(r"\bC\d{7}\b")


class OutOfScope(PermissionError):
    """A tool call the session may not make (another customer's data, a tool not for this role)."""


@dataclass(frozen=True)
class Session:
    role: str
    customer_id: str | None = None

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; expected one of {', '.join(ROLES)}")
        if self.role == CUSTOMER and not self.customer_id:
            raise ValueError("a customer session needs its customer_id")
        if self.role != CUSTOMER and self.customer_id:
            raise ValueError("staff sessions are not bound to a customer")

    @property
    def is_customer(self) -> bool:
        return self.role == CUSTOMER

    def may_use(self, tool: str) -> bool:
        return self.role in TOOL_ROLES.get(tool, frozenset())

    def require_tool(self, tool: str) -> None:
        if not self.may_use(tool):
            raise OutOfScope(f"the {tool} tool is not available to a {self.role} session")

    def resolve_customer(self, tool: str, requested: str | None) -> str:
        """The customer a tool call may read: a customer session always reads its own id."""
        self.require_tool(tool)
        if self.is_customer:
            if requested and requested.strip() != self.customer_id:
                raise OutOfScope("a customer session can only read its own data")
            return self.customer_id
        if not requested or not CUSTOMER_ID_RE.fullmatch(requested.strip()):
            raise OutOfScope("name the customer id (e.g. C0000042) to look up")
        return requested.strip()
