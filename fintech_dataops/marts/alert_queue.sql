-- Alert queue for risk analysts, newest first: what was flagged, the decision, the scores and the reasons.
-- `confirmed_fraud` is true once a chargeback label confirms it (NULL while no label has arrived).
WITH labels AS (
    SELECT transaction_id, bool_or(is_fraud) AS is_fraud FROM core.fraud_labels GROUP BY transaction_id
)
SELECT
    a.alerted_at,
    a.event_time,
    a.transaction_id,
    a.customer_id,
    a.merchant_id,
    a.amount,
    a.currency,
    a.amount_reporting,                     -- in the reporting currency (default USD); NULL = no rate
    a.decision,
    round(a.risk_score, 4)                  AS risk_score,
    round(a.model_score, 4)                 AS model_score,
    array_to_string(a.reasons, '; ')        AS reasons,
    a.rule_ids,
    l.is_fraud                              AS confirmed_fraud,
    a.partition_date
FROM fraud.alerts AS a
LEFT JOIN labels AS l USING (transaction_id)
ORDER BY a.alerted_at DESC, a.event_time DESC, a.transaction_id
