import pytest

from fintech_dataops.lib.advisor.scope import OutOfScope, Session


def test_customer_session_reads_only_its_own_id():
    s = Session("customer", "C0000042")
    assert s.resolve_customer("credit_explanation", None) == "C0000042"
    assert s.resolve_customer("credit_explanation", "C0000042") == "C0000042"
    with pytest.raises(OutOfScope):
        s.resolve_customer("credit_explanation", "C0000099")
    with pytest.raises(OutOfScope):
        s.require_tool("masked_sql")


@pytest.mark.parametrize(("role", "allowed", "refused"), [
    ("risk", {"fraud_decisions", "masked_sql"}, {"credit_explanation", "loan_status", "spending_summary"}),
    ("credit", {"credit_explanation", "loan_status", "masked_sql"}, {"fraud_decisions", "spending_summary"}),
    ("pm", {"masked_sql"}, {"credit_explanation", "loan_status", "fraud_decisions", "spending_summary"}),
])
def test_staff_roles(role, allowed, refused):
    s = Session(role)
    assert {t for t in allowed | refused if s.may_use(t)} == allowed
    for tool in refused:
        with pytest.raises(OutOfScope):
            s.resolve_customer(tool, "C0000042")


def test_staff_must_name_a_well_formed_customer_and_sessions_are_well_formed():
    with pytest.raises(OutOfScope):
        Session("risk").resolve_customer("fraud_decisions", None)
    with pytest.raises(OutOfScope):
        Session("risk").resolve_customer("fraud_decisions", "' OR 1=1 --")
    with pytest.raises(ValueError):
        Session("customer")
    with pytest.raises(ValueError):
        Session("risk", "C0000042")
    with pytest.raises(ValueError):
        Session("admin")
