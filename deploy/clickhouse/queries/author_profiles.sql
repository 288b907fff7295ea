-- Authors over the window, most posts first: one row per network and
-- handle with posts, first and last seen, reach (latest and highest), the
-- sentiment mix, and per post the brands, intents and CRM accounts named.
-- Each post counts once, at its latest version. `earshot authors` reads it.
-- Parameters: since, until (Unix seconds, UTC); source, handle (one author,
-- '' for all); brand ('' for all).
SELECT x_source AS source, x_handle AS author_handle, count() AS posts,
       toUInt32(min(x_time)) AS first_seen, toUInt32(max(x_time)) AS last_seen,
       argMax(x_reach, x_time) AS reach_latest, max(x_reach) AS reach_max,
       countIf(x_label = 'positive') AS positive, countIf(x_label = 'neutral') AS neutral,
       countIf(x_label = 'negative') AS negative,
       groupArray(x_entities) AS entities, groupArray(x_intents) AS intents,
       groupArray(x_customers) AS customers
FROM (
    SELECT post_id, toString(argMax(source, version)) AS x_source,
           argMax(author_handle, version) AS x_handle,
           argMax(author_reach, version) AS x_reach, argMax(event_time, version) AS x_time,
           toString(argMax(sentiment_label, version)) AS x_label,
           argMax(arrayConcat(brands, competitors), version) AS x_entities,
           arrayMap(x -> toString(x), argMax(intents, version)) AS x_intents,
           argMax(customers, version) AS x_customers
    FROM interactions
    WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
    GROUP BY post_id)
WHERE x_handle != '' AND ({source:String} = '' OR x_source = {source:String})
  AND ({handle:String} = '' OR x_handle = {handle:String})
  AND ({brand:String} = '' OR has(x_entities, {brand:String}))
GROUP BY x_source, x_handle
ORDER BY posts DESC, reach_max DESC, source, author_handle
LIMIT 1000
