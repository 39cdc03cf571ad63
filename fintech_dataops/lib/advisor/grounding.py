"""Every number and date in an answer must come from a tool result of the same turn.

The check is textual and deliberately strict: each number written in the answer (amounts, scores,
counts, percentages) and each ISO date or month must match a value found in the turn's tool results —
exactly, or as that value rounded to the decimals shown, or a fraction shown as a percentage. Identifiers
(``C0000042``, ``T0000000988``, ``credit-v2.0``) are not numbers. List markers (``1.`` at a line start)
are layout, not facts.

Credit answers also follow adverse-action style: they state what the data shows and promise nothing
(``PROMISE_RE``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

DATE_RE = re.compile(r"(?<![\w-])(\d{4})-(\d{2})(?:-(\d{2}))?(?:[T ][0-9:.]+)?(?![\w-])")
NUMBER_RE = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])(%?)")
LIST_MARKER_RE = re.compile(r"(?m)^\s*\d+[.)]\s")
PROMISE_RE = re.compile(
    r"\b(we guarantee|I guarantee|guaranteed (?:approval|to)|I promise|we promise"
    r"|you will (?:definitely |certainly |surely )?(?:be approved|get approved|qualify)"
    r"|will (?:definitely |certainly |surely )?(?:raise|increase|improve|boost) your (?:credit )?score)\b",
    re.IGNORECASE,
)


@dataclass
class GroundingReport:
    numbers_checked: int = 0
    dates_checked: int = 0
    ungrounded: list[str] = field(default_factory=list)
    promises: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.ungrounded and not self.promises

    def retry_message(self) -> str:
        parts = []
        if self.ungrounded:
            parts.append("these numbers/dates are not in any tool result of this turn: "
                         + ", ".join(self.ungrounded) + ". Use only figures returned by the tools, or call a tool.")
        if self.promises:
            parts.append("do not promise outcomes (" + ", ".join(self.promises) + "): state what the data shows "
                         "and which factors weigh on the result, adverse-action style.")
        return " ".join(parts)


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _strip_dates(text: str) -> tuple[str, list[tuple[str, str, str | None]]]:
    dates = [m.groups() for m in DATE_RE.finditer(text)]
    return DATE_RE.sub(" ", text), dates


def evidence_values(tool_results: list) -> tuple[set[Decimal], set[str]]:
    """All numbers and ISO dates/months found anywhere in the tool results (values and text fields)."""
    text = " ".join(json.dumps(r, default=str, ensure_ascii=False) for r in tool_results)
    rest, dates = _strip_dates(text)
    numbers: set[Decimal] = set()
    iso: set[str] = set()
    for year, month, day in dates:
        iso.add(f"{year}-{month}")
        numbers.update({Decimal(year), Decimal(int(month))})
        if day:
            iso.add(f"{year}-{month}-{day}")
            numbers.add(Decimal(int(day)))
    for m in NUMBER_RE.finditer(rest):
        value = _decimal(m.group(0).rstrip("%"))
        if value is not None:
            numbers.add(value)
            numbers.add(abs(value))
    return numbers, iso


def _matches(shown: Decimal, percent: bool, evidence: set[Decimal]) -> bool:
    exponent = shown.as_tuple().exponent
    quantum = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    candidates = [shown, abs(shown)]
    for value in evidence:
        for v in (value, value * 100) if percent else (value,):
            if v in candidates:
                return True
            if v.quantize(quantum, rounding=ROUND_HALF_UP) in candidates:
                return True
    return False


def check_answer(answer: str, tool_results: list) -> GroundingReport:
    evidence, iso = evidence_values(tool_results)
    report = GroundingReport()
    text = LIST_MARKER_RE.sub(" ", answer)
    rest, dates = _strip_dates(text)
    for year, month, day in dates:
        report.dates_checked += 1
        shown = f"{year}-{month}" + (f"-{day}" if day else "")
        if shown not in iso:
            report.ungrounded.append(shown)
    for m in NUMBER_RE.finditer(rest):
        token = m.group(0)
        value = _decimal(token.rstrip("%"))
        if value is None:
            continue
        report.numbers_checked += 1
        if not _matches(value, token.endswith("%"), evidence):
            report.ungrounded.append(token)
    report.promises = [m.group(0) for m in PROMISE_RE.finditer(answer)]
    return report
