-- Daily fraud summary: volume, decisions, value blocked and how much of it labels confirm as fraud.
-- One row per day (partition_date). Labels arrive late, so recent days' confirmed figures still grow.
-- Money is in the reporting currency (default USD) at each day's ECB reference rate, summed exactly;
-- a transaction without a reference rate is counted in without_reference_rate, never summed.
WITH confirmed AS (
    SELECT DISTINCT transaction_id FROM core.fraud_labels WHERE is_fraud
)
SELECT
    s.partition_date,
    count(*)                                                           AS transactions,
    round(sum(s.amount_reporting), 2)                                            AS total_amount,
    count(*) FILTER (WHERE s.amount_reporting IS NULL)                 AS without_reference_rate,
    count(*) FILTER (WHERE s.decision = 'review')                      AS reviewed,
    count(*) FILTER (WHERE s.decision = 'block')                       AS blocked,
    round(100.0 * count(*) FILTER (WHERE s.decision <> 'approve') / count(*), 3) AS alert_rate_pct,
    round(coalesce(sum(s.amount_reporting) FILTER (WHERE s.decision = 'block'), 0), 2)     AS blocked_amount,
    count(c.transaction_id)                                            AS confirmed_fraud,
    count(c.transaction_id) FILTER (WHERE s.decision <> 'approve')     AS confirmed_fraud_alerted,
    round(coalesce(sum(s.amount_reporting) FILTER (WHERE s.decision = 'block' AND c.transaction_id IS NOT NULL), 0), 2)
                                                                       AS confirmed_fraud_blocked_amount,
    count(*) FILTER (WHERE s.decision <> 'approve' AND c.transaction_id IS NULL) AS alerts_not_confirmed,
    round(avg(s.model_score), 4)                                       AS avg_model_score
FROM fraud.scored_transactions AS s
LEFT JOIN confirmed AS c USING (transaction_id)
GROUP BY s.partition_date
ORDER BY s.partition_date
