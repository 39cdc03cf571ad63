-- Data quality by feed and day: rows received, valid and quarantined, the DQ score (target 99.9 %),
-- and any row that is neither valid nor quarantined (must be 0: nothing is silently dropped).
SELECT
    partition_date,
    feed,
    raw_rows,
    valid_rows,
    quarantined_rows,
    raw_rows - valid_rows - quarantined_rows          AS unaccounted_rows,
    round(dq_score, 3)                                AS dq_score,
    dq_score >= 99.9                                  AS meets_target,
    computed_at
FROM quality.dq_scores
ORDER BY partition_date, feed
