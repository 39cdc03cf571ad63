from fintech_dataops.lib.advisor.grounding import check_answer

EVIDENCE = [{"score": 657, "confidence": 0.9827, "as_of": "2026-11-29T23:59:59", "total": "1061.10",
             "reasons": ["MODEL: score 0.3871 >= review threshold 0.0760"], "customer_id": "C0000042"}]


def test_figures_from_the_tools_pass_in_any_usual_spelling():
    report = check_answer("Your score is 657 as of 2026-11-29 (confidence 98.3%); you spent $1,061.10, "
                          "about 1061.1; risk 0.39 above 0.076. Customer C0000042, model credit-v2.0.", EVIDENCE)
    assert report.ok, report
    assert report.numbers_checked >= 5 and report.dates_checked == 1


def test_a_made_up_number_is_caught():
    report = check_answer("Your score is 700, and it will rise to 720 next month.", EVIDENCE)
    assert not report.ok
    assert report.ungrounded == ["700", "720"]
    assert "700" in report.retry_message()


def test_a_made_up_date_or_amount_is_caught():
    assert check_answer("as of 2026-11-30", EVIDENCE).ungrounded == ["2026-11-30"]
    assert check_answer("you spent 1,061.20", EVIDENCE).ungrounded == ["1,061.20"]
    assert check_answer("confidence 97%", EVIDENCE).ungrounded == ["97%"]


def test_list_markers_are_layout_and_promises_are_refused():
    assert check_answer("1. Your score is 657\n2. Band fair", EVIDENCE).ok
    report = check_answer("Pay on time and we guarantee you will be approved.", EVIDENCE)
    assert not report.ok and report.promises
    assert check_answer("This is not a promise of any future decision.", EVIDENCE).ok
