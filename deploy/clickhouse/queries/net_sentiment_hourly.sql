-- Net sentiment per brand per hour: (positive - negative) / (positive + negative)
-- over distinct posts mentioning each brand and competitor; NaN when an hour
-- has neither. Reads the per-minute aggregate `mention_posts_minute`
-- (uniqExactMerge: a redelivered post is counted once).
-- Parameters: since, until (Unix seconds, UTC); brand ('' for all).
SELECT
    entity_id,
    hour,
    toUInt64(sumIf(n, sentiment_label = 'positive')) AS positive,
    toUInt64(sumIf(n, sentiment_label = 'neutral')) AS neutral,
    toUInt64(sumIf(n, sentiment_label = 'negative')) AS negative,
    if(positive + negative = 0, nan,
       (toFloat64(positive) - toFloat64(negative)) / toFloat64(positive + negative)) AS net
FROM (
    SELECT
        entity_id,
        toUInt32(toStartOfHour(minute)) AS hour,
        sentiment_label,
        uniqExactMerge(posts) AS n
    FROM mention_posts_minute
    WHERE minute >= toDateTime({since:UInt32}) AND minute < toDateTime({until:UInt32})
      AND entity_kind IN ('brand', 'competitor')
      AND ({brand:String} = '' OR entity_id = {brand:String})
    GROUP BY entity_id, hour, sentiment_label
)
GROUP BY entity_id, hour
ORDER BY entity_id, hour
