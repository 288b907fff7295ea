-- Advocates (label = 'positive') or detractors ('negative') of each brand:
-- authors with at least min_posts distinct posts about it with that
-- entity sentiment and a reach of at least min_reach, most posts first.
-- Each mention row is read once however often it was redelivered (DISTINCT),
-- each post's author from its latest version (argMax).
-- Parameters: since, until (Unix seconds, UTC); brand ('' for all); label;
-- min_posts; min_reach.
SELECT entity_id, source, author_handle, uniqExact(post_id) AS posts, max(author_reach) AS reach,
       argMax(post_id, event_time) AS latest
FROM (
    SELECT m.entity_id AS entity_id, m.post_id AS post_id, m.event_time AS event_time,
           i.source AS source, i.author_handle AS author_handle, i.author_reach AS author_reach
    FROM (SELECT DISTINCT entity_id, post_id, event_time FROM mentions
          WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
            AND entity_kind IN ('brand', 'competitor') AND toString(sentiment_label) = {label:String}
            AND ({brand:String} = '' OR entity_id = {brand:String})) AS m
    ALL INNER JOIN (
        SELECT post_id, toString(argMax(source, version)) AS source,
               argMax(author_handle, version) AS author_handle,
               argMax(author_reach, version) AS author_reach
        FROM interactions
        WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
        GROUP BY post_id) AS i USING (post_id)
    WHERE author_handle != '')
GROUP BY entity_id, source, author_handle
HAVING posts >= {min_posts:UInt32} AND reach >= {min_reach:UInt64}
ORDER BY posts DESC, reach DESC, entity_id, author_handle
LIMIT 50
