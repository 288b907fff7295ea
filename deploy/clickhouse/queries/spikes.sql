-- Spike detection: mentions of each brand and competitor in the last hour
-- [until - 1h, until) against the 12 hours before it. A spike is
-- last_hour > mean + k * stddev, with the mean and the population standard
-- deviation taken over the 12 hourly counts (hours without mentions count as 0).
-- Reads the per-minute aggregate `mention_posts_minute` (distinct posts per
-- hour: uniqExactMerge, so redelivered rows do not inflate the counts).
-- Parameters: until (Unix seconds, UTC); brand ('' for all); k (e.g. 3).
SELECT
    entity_id,
    toUInt64(sumIf(n, h = 12)) AS last_hour,
    sumIf(n, h < 12) / 12 AS mean,
    sqrt(greatest(sumIf(n * n, h < 12) / 12 - pow(sumIf(n, h < 12) / 12, 2), 0)) AS stddev,
    mean + {k:Float64} * stddev AS threshold,
    toUInt8(last_hour > threshold) AS spike
FROM (
    SELECT
        entity_id,
        intDiv(toInt64(toUInt32(minute)) - (toInt64({until:UInt32}) - 46800), 3600) AS h,
        toUInt64(uniqExactMerge(posts)) AS n
    FROM mention_posts_minute
    WHERE minute >= toDateTime(toInt64({until:UInt32}) - 46800) AND minute < toDateTime({until:UInt32})
      AND entity_kind IN ('brand', 'competitor')
      AND ({brand:String} = '' OR entity_id = {brand:String})
    GROUP BY entity_id, h
)
GROUP BY entity_id
ORDER BY spike DESC, last_hour DESC, entity_id
