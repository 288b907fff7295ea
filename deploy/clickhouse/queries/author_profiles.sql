-- Authors over the window, most posts first: one row per network and
-- handle with posts, first and last seen, reach (latest and highest), the
-- sentiment mix, and per post the brands, intents and CRM accounts named.
-- Reads `author_posts` (migration 021), the per-author aggregate the sink's
-- inserts feed: each post counts once, at its latest version, however
-- often it was redelivered or re-scored. `earshot authors` reads it.
-- Parameters: since, until (Unix seconds, UTC); source, handle (one author,
-- '' for all); brand ('' for all).
SELECT x_source AS source, x_handle AS author_handle, count() AS posts,
       toUInt32(min(x_time)) AS first_seen, toUInt32(max(x_time)) AS last_seen,
       argMax(tupleElement(x_latest, 1), (x_time, x_post)) AS reach_latest,
       max(tupleElement(x_latest, 1)) AS reach_max,
       countIf(tupleElement(x_latest, 2) = 1) AS positive,
       countIf(tupleElement(x_latest, 2) = 0) AS neutral,
       countIf(tupleElement(x_latest, 2) = -1) AS negative,
       groupArray(tupleElement(x_latest, 3)) AS entities,
       groupArray(tupleElement(x_latest, 4)) AS intents,
       groupArray(tupleElement(x_latest, 5)) AS customers
FROM (
    SELECT toString(source) AS x_source, author_handle AS x_handle, event_time AS x_time,
           post_id AS x_post, argMaxMerge(latest) AS x_latest
    FROM author_posts
    WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
      AND ({source:String} = '' OR source = {source:String})
      AND ({handle:String} = '' OR author_handle = {handle:String})
    GROUP BY source, author_handle, event_time, post_id)
WHERE {brand:String} = '' OR has(tupleElement(x_latest, 3), {brand:String})
GROUP BY x_source, x_handle
ORDER BY posts DESC, reach_max DESC, source, author_handle
LIMIT 1000
