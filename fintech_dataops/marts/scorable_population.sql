-- Scorable population: customers a traditional bureau model can score versus the enhanced model
-- (alternative data: academic, utility and telco payments). `uplift_pct_points` is the North Star's credit lever.
SELECT
    count(*)                                                                 AS customers,
    count(*) FILTER (WHERE scorable_traditional)                             AS scorable_traditional,
    count(*) FILTER (WHERE scorable_enhanced)                                AS scorable_enhanced,
    count(*) FILTER (WHERE scorable_enhanced AND NOT scorable_traditional)   AS newly_scorable,
    round(100.0 * count(*) FILTER (WHERE scorable_traditional) / nullif(count(*), 0), 2) AS scorable_traditional_pct,
    round(100.0 * count(*) FILTER (WHERE scorable_enhanced) / nullif(count(*), 0), 2)    AS scorable_enhanced_pct,
    round(100.0 * (count(*) FILTER (WHERE scorable_enhanced) - count(*) FILTER (WHERE scorable_traditional))
          / nullif(count(*), 0), 2)                                          AS uplift_pct_points,
    max(scored_at)                                                           AS scored_at
FROM credit.scores
