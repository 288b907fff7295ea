-- The CRM work queue: posts routed to a team (route other than 'none') and not
-- yet answered, highest priority first, then by author reach. Deduplicated by
-- post id (the latest scoring wins).
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
        arrayMap(x -> toString(x), argMax(intents, version)) AS intents,
        argMax(arrayConcat(brands, competitors, customers), version) AS entities,
        argMax(url, version) AS url,
        substringUTF8(argMax(text, version), 1, 280) AS text,
        toUInt32(argMax(event_time, version)) AS event_time
    FROM interactions
    WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
    GROUP BY post_id
)
WHERE route != 'none'
  AND ({brand:String} = '' OR has(entities, {brand:String}))
  AND post_id NOT IN (SELECT post_id FROM responses)
ORDER BY priority DESC, author_reach DESC, event_time DESC, post_id
LIMIT 50
