"""The pandera contracts of the landing-zone feeds: one ``DataFrameModel`` per feed.

A model describes the typed frame of ``core.<feed>`` (the feed's fields, typed
by ``Feed.core_types``): pandas dtypes, nullability, ranges, allowed values and
id uniqueness. Lineage columns are not part of the contract (``strict=False``).
Field descriptions become the Dagster column schema of the core table.
Parsing (valid JSON, required field present, JSON type) happens before the
frame exists, in ``lib.quality.core_gate``; these models judge the values.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from fintech_dataops.schemas import vocabulary as v
from fintech_dataops.schemas.columns import COLUMN_DESCRIPTIONS as D
from fintech_dataops.schemas.transaction_contract import OPTIONAL_FIELDS as TX_OPTIONAL
from fintech_dataops.schemas.transaction_contract import iso_country_codes


def not_in_future(series: pd.Series) -> pd.Series:
    """True where a naive-UTC timestamp is not ahead of the wall clock by more than the allowed skew."""
    limit = pd.Timestamp.now(tz="UTC").tz_localize(None) + v.FUTURE_SKEW
    return series <= limit


def iso_country(series: pd.Series) -> pd.Series:
    """True where the value is an assigned ISO 3166-1 alpha-2 code (``ZZ`` is not)."""
    return series.isin(iso_country_codes())


class FeedModel(pa.DataFrameModel):
    """Settings every feed contract shares."""

    class Config:
        strict = False  # lineage columns ride along
        coerce = False  # the frame is already typed by DuckDB; a wrong dtype is a contract failure


class CustomersSchema(FeedModel):
    customer_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64}, description=D["customers"]["customer_id"])
    full_name: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 200}, description=D["customers"]["full_name"])
    email: Series[str] = pa.Field(str_matches=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description=D["customers"]["email"])
    country: Series[str] = pa.Field(description=D["customers"]["country"])
    birth_year: Series[pd.Int32Dtype] = pa.Field(ge=1900, description=D["customers"]["birth_year"])
    signup_time: Series[pa.typing.DateTime] = pa.Field(description=D["customers"]["signup_time"])
    declared_monthly_income: Series[float] = pa.Field(ge=0, le=v.MAX_MONTHLY_INCOME, description=D["customers"]["declared_monthly_income"])
    segment: Series[str] = pa.Field(isin=v.SEGMENTS, description=D["customers"]["segment"])

    @pa.check("country", name="iso_country")
    def _country(cls, s: Series[str]) -> Series[bool]:
        return iso_country(s)

    @pa.check("birth_year", name="not_in_future")
    def _birth_year(cls, s: Series[pd.Int32Dtype]) -> Series[bool]:
        return s <= pd.Timestamp.now(tz="UTC").year

    @pa.check("signup_time", name="not_in_future")
    def _signup_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


class TransactionsSchema(FeedModel):
    """The stored table; which fields are optional comes from ``transaction_contract`` (one place)."""

    transaction_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64}, description=D["transactions"]["transaction_id"])
    customer_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["transactions"]["customer_id"])
    merchant_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["transactions"]["merchant_id"])
    amount: Series[float] = pa.Field(gt=0, le=v.MAX_TRANSACTION_AMOUNT, description=D["transactions"]["amount"])
    currency: Series[str] = pa.Field(isin=v.CURRENCY_CODES, description=D["transactions"]["currency"])
    event_time: Series[pa.typing.DateTime] = pa.Field(description=D["transactions"]["event_time"])
    channel: Series[str] = pa.Field(nullable="channel" in TX_OPTIONAL, isin=v.CHANNELS, description=D["transactions"]["channel"])
    merchant_category: Series[str] = pa.Field(nullable="merchant_category" in TX_OPTIONAL, description=D["transactions"]["merchant_category"])
    country: Series[str] = pa.Field(nullable="country" in TX_OPTIONAL, description=D["transactions"]["country"])
    device_id: Series[str] = pa.Field(nullable="device_id" in TX_OPTIONAL, description=D["transactions"]["device_id"])

    @pa.check("country", name="iso_country")
    def _country(cls, s: Series[str]) -> Series[bool]:
        return iso_country(s)

    @pa.check("event_time", name="not_in_future")
    def _event_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


class ConsumerEventsSchema(FeedModel):
    event_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64}, description=D["consumer_events"]["event_id"])
    customer_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["consumer_events"]["customer_id"])
    event_type: Series[str] = pa.Field(isin=v.EVENT_TYPES, description=D["consumer_events"]["event_type"])
    event_time: Series[pa.typing.DateTime] = pa.Field(description=D["consumer_events"]["event_time"])
    device_id: Series[str] = pa.Field(nullable=True, description=D["consumer_events"]["device_id"])
    ip_country: Series[str] = pa.Field(nullable=True, description=D["consumer_events"]["ip_country"])

    @pa.check("ip_country", name="iso_country")
    def _ip_country(cls, s: Series[str]) -> Series[bool]:
        return iso_country(s)

    @pa.check("event_time", name="not_in_future")
    def _event_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


class PublicRecordsSchema(FeedModel):
    record_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64}, description=D["public_records"]["record_id"])
    customer_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["public_records"]["customer_id"])
    academic_score: Series[float] = pa.Field(in_range={"min_value": 0, "max_value": 100}, description=D["public_records"]["academic_score"])
    education_level: Series[str] = pa.Field(isin=v.EDUCATION_LEVELS, description=D["public_records"]["education_level"])
    graduation_year: Series[pd.Int32Dtype] = pa.Field(nullable=True, in_range={"min_value": 1900, "max_value": 2100}, description=D["public_records"]["graduation_year"])
    bankruptcies: Series[pd.Int32Dtype] = pa.Field(in_range={"min_value": 0, "max_value": 50}, description=D["public_records"]["bankruptcies"])
    as_of_time: Series[pa.typing.DateTime] = pa.Field(description=D["public_records"]["as_of_time"])

    @pa.check("as_of_time", name="not_in_future")
    def _as_of_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


class PartnerLoansSchema(FeedModel):
    report_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64}, description=D["partner_loans"]["report_id"])
    loan_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["partner_loans"]["loan_id"])
    customer_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["partner_loans"]["customer_id"])
    partner_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["partner_loans"]["partner_id"])
    principal: Series[float] = pa.Field(gt=0, le=v.MAX_LOAN_AMOUNT, description=D["partner_loans"]["principal"])
    currency: Series[str] = pa.Field(isin=v.CURRENCY_CODES, description=D["partner_loans"]["currency"])
    opened_date: Series[pa.typing.DateTime] = pa.Field(description=D["partner_loans"]["opened_date"])
    term_months: Series[pd.Int32Dtype] = pa.Field(in_range={"min_value": 1, "max_value": v.MAX_TERM_MONTHS}, description=D["partner_loans"]["term_months"])
    status: Series[str] = pa.Field(isin=v.LOAN_STATUSES, description=D["partner_loans"]["status"])
    days_past_due: Series[pd.Int32Dtype] = pa.Field(ge=0, description=D["partner_loans"]["days_past_due"])
    outstanding: Series[float] = pa.Field(ge=0, le=v.MAX_LOAN_AMOUNT, description=D["partner_loans"]["outstanding"])
    reported_time: Series[pa.typing.DateTime] = pa.Field(description=D["partner_loans"]["reported_time"])

    @pa.check("reported_time", name="not_in_future")
    def _reported_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


class UtilityPaymentsSchema(FeedModel):
    payment_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64}, description=D["utility_payments"]["payment_id"])
    customer_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["utility_payments"]["customer_id"])
    provider: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 100}, description=D["utility_payments"]["provider"])
    bill_amount: Series[float] = pa.Field(ge=0, le=v.MAX_BILL_AMOUNT, description=D["utility_payments"]["bill_amount"])
    amount_paid: Series[float] = pa.Field(ge=0, le=v.MAX_BILL_AMOUNT, description=D["utility_payments"]["amount_paid"])
    currency: Series[str] = pa.Field(isin=v.CURRENCY_CODES, description=D["utility_payments"]["currency"])
    due_date: Series[pa.typing.DateTime] = pa.Field(description=D["utility_payments"]["due_date"])
    paid_date: Series[pa.typing.DateTime] = pa.Field(nullable=True, description=D["utility_payments"]["paid_date"])
    event_time: Series[pa.typing.DateTime] = pa.Field(description=D["utility_payments"]["event_time"])

    @pa.check("event_time", name="not_in_future")
    def _event_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


class TelcoPaymentsSchema(UtilityPaymentsSchema):
    plan_type: Series[str] = pa.Field(isin=v.PLAN_TYPES, description=D["telco_payments"]["plan_type"])
    provider: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 100}, description=D["telco_payments"]["provider"])


class LoanApplicationsSchema(FeedModel):
    application_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64}, description=D["loan_applications"]["application_id"])
    customer_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["loan_applications"]["customer_id"])
    requested_amount: Series[float] = pa.Field(gt=0, le=v.MAX_LOAN_AMOUNT, description=D["loan_applications"]["requested_amount"])
    currency: Series[str] = pa.Field(isin=v.CURRENCY_CODES, description=D["loan_applications"]["currency"])
    term_months: Series[pd.Int32Dtype] = pa.Field(in_range={"min_value": 1, "max_value": v.MAX_TERM_MONTHS}, description=D["loan_applications"]["term_months"])
    purpose: Series[str] = pa.Field(isin=v.LOAN_PURPOSES, description=D["loan_applications"]["purpose"])
    declared_monthly_income: Series[float] = pa.Field(nullable=True, ge=0, le=v.MAX_MONTHLY_INCOME, description=D["loan_applications"]["declared_monthly_income"])
    event_time: Series[pa.typing.DateTime] = pa.Field(description=D["loan_applications"]["event_time"])

    @pa.check("event_time", name="not_in_future")
    def _event_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


class FraudLabelsSchema(FeedModel):
    label_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64}, description=D["fraud_labels"]["label_id"])
    transaction_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["fraud_labels"]["transaction_id"])
    customer_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["fraud_labels"]["customer_id"])
    is_fraud: Series[pd.BooleanDtype] = pa.Field(description=D["fraud_labels"]["is_fraud"])
    fraud_type: Series[str] = pa.Field(nullable=True, description=D["fraud_labels"]["fraud_type"])
    amount: Series[float] = pa.Field(gt=0, le=v.MAX_TRANSACTION_AMOUNT, description=D["fraud_labels"]["amount"])
    reported_time: Series[pa.typing.DateTime] = pa.Field(description=D["fraud_labels"]["reported_time"])

    @pa.check("reported_time", name="not_in_future")
    def _reported_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


class LoanOutcomesSchema(FeedModel):
    application_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64}, description=D["loan_outcomes"]["application_id"])
    customer_id: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 64}, description=D["loan_outcomes"]["customer_id"])
    defaulted: Series[pd.BooleanDtype] = pa.Field(description=D["loan_outcomes"]["defaulted"])
    months_observed: Series[pd.Int32Dtype] = pa.Field(in_range={"min_value": 0, "max_value": 600}, description=D["loan_outcomes"]["months_observed"])
    applied_time: Series[pa.typing.DateTime] = pa.Field(description=D["loan_outcomes"]["applied_time"])
    observed_time: Series[pa.typing.DateTime] = pa.Field(description=D["loan_outcomes"]["observed_time"])

    @pa.check("observed_time", name="not_in_future")
    def _observed_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


FEED_SCHEMAS: dict[str, type[FeedModel]] = {
    "customers": CustomersSchema,
    "transactions": TransactionsSchema,
    "consumer_events": ConsumerEventsSchema,
    "public_records": PublicRecordsSchema,
    "partner_loans": PartnerLoansSchema,
    "utility_payments": UtilityPaymentsSchema,
    "telco_payments": TelcoPaymentsSchema,
    "loan_applications": LoanApplicationsSchema,
    "fraud_labels": FraudLabelsSchema,
    "loan_outcomes": LoanOutcomesSchema,
}
