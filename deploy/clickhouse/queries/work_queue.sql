-- The CRM work queue: posts routed to a team (route other than 'none') and not
-- yet answered, highest priority first, then by author reach. Deduplicated by
-- post id (the latest scoring wins).
-- A post repeating a near-duplicate cluster (cluster_id set) is left out:
-- its cluster counts once, through its first post (issue 16).
-- Parameters: since, until (Unix seconds, UTC); brand ('' for all).
SELECT
    post_id,
    x_source AS source,
    x_author_handle AS author_handle,
    x_author_reach AS author_reach,
    x_priority AS priority,
    x_route AS route,
    x_sentiment_compound AS sentiment_compound,
    x_intents AS intents,
    x_entities AS entities,
    x_url AS url,
    x_text AS text,
    x_event_time AS event_time
FROM (
    SELECT
        post_id,
        toString(argMax(source, version)) AS x_source,
        argMax(author_handle, version) AS x_author_handle,
        argMax(author_reach, version) AS x_author_reach,
        argMax(priority, version) AS x_priority,
        toString(argMax(route, version)) AS x_route,
        argMax(sentiment_compound, version) AS x_sentiment_compound,
        arrayMap(x -> toString(x), argMax(intents, version)) AS x_intents,
        argMax(arrayConcat(brands, competitors, customers), version) AS x_entities,
        argMax(url, version) AS x_url,
        substringUTF8(argMax(text, version), 1, 280) AS x_text,
        toUInt32(argMax(event_time, version)) AS x_event_time,
        argMax(cluster_id, version) AS x_cluster
    FROM interactions
    WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
    GROUP BY post_id
)
WHERE x_route != 'none'
  AND x_cluster = ''
  AND ({brand:String} = '' OR has(x_entities, {brand:String}))
  AND post_id NOT IN (SELECT post_id FROM responses)
ORDER BY x_priority DESC, x_author_reach DESC, x_event_time DESC, post_id
LIMIT 50
