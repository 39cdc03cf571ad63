"""What a product manager may read in clear: deny by default.

Every column published to the PM view (``lib/self_service/pm_view.py``), and every key inside the JSON lines
kept by raw and quarantine tables (``record``), is **masked unless declared safe here**. A new
column, a new feed or a new key in a Stripe or Plaid object is therefore masked until someone
decides it is safe and adds it below, with the reason in its group's comment.

A name is safe when it is:
1. in :data:`SAFE_NAMES` (pseudonymous ids, money, categories, times, flags, pipeline facts), or
2. a numeric / boolean / date-time column named like a measure (:data:`SAFE_MEASURE_NAMES`, or a
   suffix of :data:`SAFE_MEASURE_SUFFIXES`: ``_rows``, ``_count``, ``_rate``, ``_score``, ``_amount``, …);
   such a column holds a computed figure, never a name or an address;
and it is **not** in :data:`ALWAYS_PII` (names, emails, phones, addresses, tax ids, account owners,
birth dates, card and account numbers), which wins over both rules. Two coarser declarations: in the
schemas the platform computes (:data:`COMPUTED_SCHEMAS`: fraud, credit, marts, kpis, quality,
realtime) every numeric / boolean / temporal column is a computed figure and safe; and
:data:`SAFE_TABLE_COLUMNS` declares one column of one table.

How a value is masked: text keeps its first character (``A***``; e-mails keep their domain,
``a***@example.com``), other types become NULL, and a JSON line is rewritten key by key (objects and
arrays are walked, a value under a key that is not safe is masked the same way). A line that is not
valid JSON cannot be walked, so it is replaced whole. In quarantine tables the ``reason`` text can
quote a failing value: every value the line holds under a key that is not safe is cut out of it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable

import orjson

from fintech_dataops.schemas.registry import declared_pii_fields

# --------------------------------------------------------------------------- declarations

# Each safe name has a kind. In a column the contract already typed the value; inside a received
# JSON line nothing has been validated (a quarantined line is one that broke its contract), so a value
# under a safe key is kept only when it has the shape of its kind (see ``_SHAPES``): a name typed into
# an ``event_time`` or an e-mail into a ``customer_id`` is masked like any other text.
_IDS = (
    # Pseudonymous ids: platform, partner, Plaid and Stripe object ids (they name no person).
    "id", "transaction_id", "customer_id", "merchant_id", "device_id", "event_id", "record_id",
    "report_id", "loan_id", "partner_id", "payment_id", "application_id", "label_id", "snapshot_id",
    "item_id", "account_id", "change_id", "charge_id", "stripe_customer", "customer", "payment_intent_id",
    "payment_intent", "latest_charge_id", "latest_charge", "charge", "balance_transaction_id",
    "balance_transaction", "source_id", "dispute_id", "object_id", "institution_id",
    "pending_transaction_id", "payment_method", "refund_id", "batch_id", "run_id", "model_version",
    "rule_id", "rule_ids", "api_version", "request_id", "batch_key", "source_file", "merchant_entity_id",
    "category_id", "transaction_code", "rate_id",
)
_NUMBERS = (
    # Money, balances, scores and small counts (not identifying).
    "amount", "amount_captured", "amount_refunded", "amount_received", "amount_capturable", "amount_paid",
    "amount_authorized", "bill_amount", "principal", "outstanding", "requested_amount", "fee", "net",
    "available_balance", "current_balance", "credit_limit", "available", "current", "limit",
    "declared_monthly_income", "risk_score", "model_score", "score", "line_number", "term_months",
    "days_past_due", "months_observed", "bankruptcies", "academic_score", "graduation_year", "rows", "records",
    "size_bytes", "original_bytes", "tables", "exp_month", "exp_year", "cutoff", "rate", "minor_units",
    "pulls_that_day", "submission_count", "maximum_amount_capturable",
)
_CODES = (
    # Categories, codes and statuses: short tokens from a vocabulary.
    "object", "source", "feed", "currency", "iso_currency_code", "unofficial_currency_code", "channel",
    "merchant_category", "country", "card_country", "ip_country", "event_type", "event_types",
    "education_level", "status", "provider", "plan_type", "purpose", "fraud_type", "segment", "account_type",
    "account_subtype", "type", "subtype", "change_type", "payment_channel", "category", "primary", "detailed",
    "confidence_level", "reporting_category", "txn_type", "reason", "decision", "band", "brand", "network",
    "funding", "network_status", "risk_level", "fraud_report", "user_report", "stripe_report", "object_type",
    "failure_code", "case_type", "rule", "kpi", "unit", "check_name", "failed_checks", "failed_columns",
    "ingest_issue", "entry_type", "mode", "confidence", "strategy", "scope", "kind", "last_change",
    "merchant_name", "base_currency", "reporting_currency", "balance_type", "capture_method",
    "confirmation_method", "payment_method_types", "enhanced_eligibility_types", "network_reason_code",
    "cvc_check", "code", "variable", "severity", "feature", "metric", "component", "vintage",
)
_TIMES = (
    # Times of events (not of people: birth dates are PII, see ALWAYS_PII).
    "event_time", "signup_time", "as_of_time", "reported_time", "observed_time", "received_time",
    "due_date", "paid_date", "opened_date", "transaction_date", "authorized_date", "date", "datetime",
    "authorized_datetime", "available_time", "available_on", "created", "partition_date", "day",
    "ingested_at", "quarantined_at", "computed_at", "published_at", "decided_at", "detected_at",
    "modified_at", "scored_at", "landed_at", "as_of", "due_by", "source_modified_at", "rate_date",
    "published_time",
)
_FLAGS = (
    "is_fraud", "defaulted", "is_pending", "is_refunded", "is_disputed", "refunded", "disputed", "paid",
    "captured", "livemode", "has_more", "met", "higher_is_better", "pending", "has_evidence", "past_due",
    "is_charge_refundable", "enabled", "used",
)
_TEXTS = (
    # Free text the platform writes itself (rule reasons, KPI notes and details): no shape to check.
    "reasons", "details", "note",
)
SAFE_KINDS: dict[str, str] = {
    **{n: "id" for n in _IDS}, **{n: "number" for n in _NUMBERS}, **{n: "code" for n in _CODES},
    **{n: "time" for n in _TIMES}, **{n: "flag" for n in _FLAGS}, **{n: "text" for n in _TEXTS},
}
SAFE_NAMES: frozenset[str] = frozenset(SAFE_KINDS)

_SHAPES = {
    "id": re.compile(r"[A-Za-z0-9][A-Za-z0-9_:.#/=-]{0,127}"),
    "number": re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,12})?"),
    "code": re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/&+-]{0,63}"),
    "time": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?"),
    "flag": re.compile(r"true|false|0|1"),
}

# Schemas the platform computes (features, scores, evaluations, marts, KPIs, DQ figures), as opposed
# to copies of what partners and APIs sent (raw, core, quarantine, open_banking): there a number, a
# flag or a time is a computed figure, so every numeric / boolean / temporal column is safe; text
# columns still need a declaration.
COMPUTED_SCHEMAS: frozenset[str] = frozenset({"fraud", "credit", "marts", "kpis", "quality", "realtime"})

# Declared safe for one table only (wins over ALWAYS_PII, being the more specific declaration).
SAFE_TABLE_COLUMNS: dict[str, frozenset[str]] = {
    "credit.validation": frozenset({"name"}),  # the name of a model / segment, not of a person
    "quality.unroutable_files": frozenset({"path", "detail"}),  # landing paths (batch ids) and our own text
}

# Safe only as typed numeric columns (a KPI's ``value``): as JSON keys they can hold anything
# (a tax id object is ``{"type": ..., "value": "DE123..."}``).
SAFE_MEASURE_NAMES: frozenset[str] = frozenset({"value", "target", "threshold", "weight", "auc", "psi", "iv"})

SAFE_MEASURE_SUFFIXES: tuple[str, ...] = (
    "_rows", "_count", "_counts", "_rate", "_ratio", "_pct", "_share", "_score", "_scores", "_amount",
    "_amounts", "_total", "_sum", "_mean", "_avg", "_std", "_min", "_max", "_p50", "_p95", "_p99", "_ms",
    "_seconds", "_s", "_days", "_hours", "_per_second", "_usd", "_auc", "_psi", "_woe", "_iv", "_points",
    "_at", "_time", "_date", "_flag", "_prob", "_probability", "_threshold", "_weight", "_volume",
    "_velocity", "_n", "_num", "_value", "_band", "_limit", "_balance", "_income", "_months", "_year",
    "_reporting", "_rate_used",
)
_MEASURE_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL", "BOOLEAN", "DATE", "TIMESTAMP", "TIME",
                  "INTERVAL")

# Never safe, whatever the rules above say (names, contact details, addresses, tax ids, owners,
# birth dates, card / account numbers, network addresses, secrets).
ALWAYS_PII: frozenset[str] = frozenset({
    "name", "names", "full_name", "first_name", "last_name", "middle_name", "legal_name", "account_owner",
    "owner", "owners", "account_holder", "email", "emails", "email_address", "receipt_email", "phone",
    "phones", "phone_number", "phone_numbers", "mobile", "address", "addresses", "line1", "line2", "street",
    "city", "postal_code", "zip", "zip_code", "region", "tax_id", "tax_ids", "ssn", "national_id",
    "passport", "birth_date", "date_of_birth", "dob", "birth_year", "account_number", "iban", "routing",
    "routing_number", "wire_routing", "card_number", "pan", "last4", "mask", "fingerprint", "ip",
    "ip_address", "client_secret", "account_name", "official_name", "billing_details", "shipping",
    "description", "statement_descriptor", "receipt_url", "metadata", "data",
})

# VARCHAR columns that hold one received JSON line: masked key by key, not as one text.
JSON_LINE_COLUMNS: frozenset[str] = frozenset({"record"})
# A quarantine ``reason`` quotes failing values: cut out the values of the line's non-safe keys.
QUOTING_COLUMNS: frozenset[str] = frozenset({"reason"})
QUOTING_SCHEMAS: frozenset[str] = frozenset({"quarantine"})

MASK = "***"
UNREADABLE_LINE = "*** line masked: not valid JSON ***"
_MIN_QUOTED_VALUE = 3  # shorter values cannot identify anyone and would garble the reason text


# --------------------------------------------------------------------------- policy


def never_safe() -> frozenset[str]:
    """``ALWAYS_PII`` plus every column a feed declaration gives a PII class (``Column.pii``), any feed."""
    return ALWAYS_PII | declared_pii_fields()


def is_safe(name: str, column_type: str | None = None) -> bool:
    """Whether a column (with its DuckDB type) or a JSON key (type None) is published in clear."""
    key = name.lower()
    if key in never_safe():
        return False
    if key in SAFE_NAMES:
        return True
    if column_type is not None and column_type.upper().startswith(_MEASURE_TYPES):
        return key in SAFE_MEASURE_NAMES or key.endswith(SAFE_MEASURE_SUFFIXES)
    return False


def column_treatment(schema: str, name: str, column_type: str, table: str = "") -> str:
    """``keep`` | ``json`` (mask key by key) | ``reason`` (cut quoted values) | ``mask``."""
    key, upper = name.lower(), column_type.upper()
    if upper == "VARCHAR" and key in QUOTING_COLUMNS and schema in QUOTING_SCHEMAS:
        return "reason"
    if key in SAFE_TABLE_COLUMNS.get(f"{schema}.{table}".lower(), ()) or (
            key not in JSON_LINE_COLUMNS and is_safe(name, column_type)):
        return "keep"
    if upper == "JSON" or (upper == "VARCHAR" and key in JSON_LINE_COLUMNS):
        return "json"
    if schema.lower() in COMPUTED_SCHEMAS and key not in never_safe() and upper.startswith(_MEASURE_TYPES):
        return "keep"
    return "keep" if is_safe(name, column_type) else "mask"


# --------------------------------------------------------------------------- masking values


# Only a value that is one e-mail address keeps its domain; any other text keeps its first character.
EMAIL_SHAPE = r"[^@\s]+@[^@\s]+"


def mask_text(value: str | None) -> str | None:
    if value is None:
        return None
    if re.fullmatch(EMAIL_SHAPE, value):
        return f"{value[0]}{MASK}@{value.split('@', 1)[1]}"
    return f"{value[0]}{MASK}" if value else value


def _mask_scalar(value):
    if value is None:
        return None
    if isinstance(value, str):
        return mask_text(value)
    return None  # numbers and booleans under a key nobody declared safe


def _keep_in_line(key: str | None, value) -> bool:
    """Whether a scalar of a received JSON line stays in clear: a safe key, and the shape of its kind."""
    if key is None or not is_safe(key):
        return False
    kind = SAFE_KINDS.get(key.lower(), "text")
    if value is None or kind == "text":
        return True
    if isinstance(value, bool):
        return kind == "flag"
    if isinstance(value, (int, float)):
        return kind in ("number", "time", "id", "code", "flag")
    return bool(_SHAPES[kind].fullmatch(str(value))) if kind in _SHAPES else False


def mask_json_value(value, key: str | None = None):
    """Walk a parsed JSON value: objects by key, arrays inherit their key, unsafe scalars masked."""
    if isinstance(value, dict):
        return {k: mask_json_value(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json_value(v, key) for v in value]
    if _keep_in_line(key, value):
        return value
    return _mask_scalar(value)


_JSON_NUMBER = r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"
_JSON_STRING_ANY = r'"([^"\\]|\\.)*"'


def _json_string(shape: str) -> str:
    return f'"({shape})"'


@functools.lru_cache(maxsize=1)
def flat_safe_line_pattern() -> str:
    """An RE2 pattern a JSON line matches only when ``mask_json_line`` would leave every value as is.

    A flat object whose keys are all safe, each value ``null``, a number, a boolean where allowed,
    or a string of its kind's shape (no escapes). The publisher tests it in DuckDB first, vectorised,
    and calls the Python masker only for the other lines (nested API objects, extra or unknown keys):
    most raw lines are flat simulator records. Conservative by construction: anything it does not
    recognise goes to the masker.
    """
    by_kind: dict[str, list[str]] = {}
    for key, kind in SAFE_KINDS.items():
        if is_safe(key) and re.fullmatch(r"[a-z0-9_]+", key):
            by_kind.setdefault(kind, []).append(key)
    members = []
    for kind, keys in sorted(by_kind.items()):
        values = ["null"]
        if kind == "text":
            values.append(_JSON_STRING_ANY)
        else:
            values.append(_JSON_NUMBER)
            if kind == "flag":
                values += ["true", "false"]
            values.append(_json_string(_SHAPES[kind].pattern))
        names = "|".join(sorted(keys))
        members.append(f'"({names})"\\s*:\\s*({"|".join(values)})')
    member = "(" + "|".join(members) + ")"
    return rf"\s*\{{\s*({member}(\s*,\s*{member})*)?\s*\}}\s*"


def _parse(line: str):
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)  # NaN / Infinity / huge integers: what DuckDB's reader also accepts


def mask_json_line(line: str | None) -> str | None:
    if line is None:
        return None
    try:
        value = _parse(line)
    except (ValueError, RecursionError):
        return UNREADABLE_LINE if line.strip() else line
    masked = mask_json_value(value)
    try:
        return orjson.dumps(masked).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(masked, ensure_ascii=False, separators=(",", ":"))


def unsafe_values(value, key: str | None = None) -> Iterable[str]:
    """The clear text of every scalar of a parsed JSON value that ``mask_json_value`` masks."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from unsafe_values(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from unsafe_values(v, key)
    elif value is not None and not _keep_in_line(key, value):
        yield str(value)


def mask_quoted_values(text: str | None, line: str | None) -> str | None:
    """``text`` with every non-safe value of the JSON ``line`` (and its first 60 characters) cut out."""
    if text is None or line is None:
        return text
    try:
        value = _parse(line)
    except (ValueError, RecursionError):
        # Not JSON: the reason cannot quote a field of it, only say it is not JSON. Keep the words.
        return text
    needles = set()
    for clear in unsafe_values(value):
        escaped = repr(clear)[1:-1]  # how a Python-formatted reason quotes it
        for candidate in (clear, clear[:60], escaped, escaped[:60]):
            if len(candidate) >= _MIN_QUOTED_VALUE:
                needles.add(candidate)
    if not needles:
        return text
    pattern = re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    return pattern.sub(MASK, text)
