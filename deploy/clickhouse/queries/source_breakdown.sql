-- Source breakdown: distinct posts per source.
-- Posts about no brand, competitor or customer are left out (they stay stored).
-- A post repeating a near-duplicate cluster (cluster_id set) is left out:
-- its cluster counts once, through its first post (issue 16).
-- Parameters: since, until (Unix seconds, UTC); brand ('' for all).
SELECT
    toString(source) AS key,
    toUInt64(uniqExact(post_id)) AS posts
FROM interactions
WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
  AND ({brand:String} = '' OR has(brands, {brand:String}) OR has(competitors, {brand:String}))
  AND (notEmpty(brands) OR notEmpty(competitors) OR notEmpty(customers))
  AND cluster_id = ''
GROUP BY key
ORDER BY posts DESC, key
