-- Advocates (label = 'positive') or detractors ('negative') of each brand:
-- authors with at least min_posts distinct posts about it with that
-- entity sentiment and a reach of at least min_reach, most posts first,
-- with their ten latest such posts (newest first).
-- Each mention row is read once however often it was redelivered (DISTINCT),
-- each post's author and reach from `author_posts` (migration 021) at the
-- post's latest version.
-- Parameters: since, until (Unix seconds, UTC); brand ('' for all); label;
-- min_posts; min_reach.
SELECT entity_id, source, author_handle, uniqExact(post_id) AS posts, max(author_reach) AS reach,
       argMax(post_id, (event_time, post_id)) AS latest,
       arraySlice(arrayMap(x -> tupleElement(x, 2), arrayReverseSort(groupArray((event_time, post_id)))), 1, 10) AS post_ids
FROM (
    SELECT m.entity_id AS entity_id, m.post_id AS post_id, m.event_time AS event_time,
           i.a_source AS source, i.a_handle AS author_handle, i.a_reach AS author_reach
    FROM (SELECT DISTINCT entity_id, post_id, event_time FROM mentions
          WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
            AND entity_kind IN ('brand', 'competitor') AND toString(sentiment_label) = {label:String}
            AND ({brand:String} = '' OR entity_id = {brand:String})) AS m
    ALL INNER JOIN (
        SELECT post_id, toString(source) AS a_source, author_handle AS a_handle,
               tupleElement(argMaxMerge(latest), 1) AS a_reach
        FROM author_posts
        WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
        GROUP BY source, author_handle, event_time, post_id) AS i USING (post_id))
GROUP BY entity_id, source, author_handle
HAVING posts >= {min_posts:UInt32} AND reach >= {min_reach:UInt64}
ORDER BY posts DESC, reach DESC, entity_id, author_handle
LIMIT 1000
