-- Credit portfolio by score band: customers, score range, how many only alternative data makes scorable,
-- and the loan decisions taken in each band. Amounts are summed in the reporting currency only
-- (requested_amount_reporting, converted by lib/money); an approved amount without a reference rate is
-- counted in approved_unconverted, never added as if it were in the reporting currency.
WITH customers AS (
    SELECT
        band,
        count(*)                                                          AS customers,
        round(avg(score), 1)                                              AS avg_score,
        min(score)                                                        AS min_score,
        max(score)                                                        AS max_score,
        count(*) FILTER (WHERE scorable_traditional)                      AS scorable_traditional,
        count(*) FILTER (WHERE scorable_enhanced AND NOT scorable_traditional) AS scorable_only_with_alternative_data
    FROM credit.scores
    GROUP BY band
),
loans AS (
    SELECT
        band,
        count(*)                                                          AS applications,
        count(*) FILTER (WHERE decision = 'approve')                      AS approved,
        count(*) FILTER (WHERE decision = 'decline')                      AS declined,
        count(*) FILTER (WHERE decision = 'manual_review')                AS manual_review,
        coalesce(sum(requested_amount_reporting) FILTER (WHERE decision = 'approve'), 0) AS approved_amount,
        count(*) FILTER (WHERE decision = 'approve' AND requested_amount_reporting IS NULL) AS approved_unconverted,
        max(reporting_currency)                                           AS reporting_currency
    FROM credit.loan_decisions
    GROUP BY band
)
SELECT
    coalesce(c.band, l.band)                                              AS band,
    coalesce(c.customers, 0)                                              AS customers,
    c.avg_score, c.min_score, c.max_score,
    coalesce(c.scorable_traditional, 0)                                   AS scorable_traditional,
    coalesce(c.scorable_only_with_alternative_data, 0)                    AS scorable_only_with_alternative_data,
    coalesce(l.applications, 0)                                           AS applications,
    coalesce(l.approved, 0)                                               AS approved,
    coalesce(l.declined, 0)                                               AS declined,
    coalesce(l.manual_review, 0)                                          AS manual_review,
    coalesce(l.approved_amount, 0)                                        AS approved_amount,
    coalesce(l.approved_unconverted, 0)                                   AS approved_unconverted,
    l.reporting_currency,
    round(100.0 * l.approved / nullif(l.applications, 0), 2)              AS approval_rate_pct
FROM customers AS c
FULL OUTER JOIN loans AS l USING (band)
ORDER BY c.min_score NULLS LAST, band
