-- Top negative posts awaiting a response, by author reach: the latest scoring
-- of each post (deduplicated by post id with argMax on the version column),
-- negative overall, not yet in `responses`.
-- Parameters: since, until (Unix seconds, UTC); brand ('' for all).
SELECT
    post_id, source, author_handle, author_reach, priority, route, sentiment_compound,
    intents, entities, url, text, event_time
FROM (
    SELECT
        post_id,
        toString(argMax(source, version)) AS source,
        argMax(author_handle, version) AS author_handle,
        argMax(author_reach, version) AS author_reach,
        argMax(priority, version) AS priority,
        toString(argMax(route, version)) AS route,
        argMax(sentiment_compound, version) AS sentiment_compound,
        argMax(sentiment_label, version) AS label,
        arrayMap(x -> toString(x), argMax(intents, version)) AS intents,
        argMax(arrayConcat(brands, competitors), version) AS entities,
        argMax(url, version) AS url,
        substringUTF8(argMax(text, version), 1, 280) AS text,
        toUInt32(argMax(event_time, version)) AS event_time
    FROM interactions
    WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
    GROUP BY post_id
)
WHERE label = 'negative'
  AND ({brand:String} = '' OR has(entities, {brand:String}))
  AND post_id NOT IN (SELECT post_id FROM responses)
ORDER BY author_reach DESC, priority DESC, post_id
LIMIT 50
