-- Threads with a customer post in the window that name a brand, competitor
-- or customer (posts naming none stay out of the dashboards): when the
-- first customer post came, how many posts, whether a customer post is
-- negative, the brands named, the times the brands' own accounts posted,
-- and the first response recorded in `responses`. A post's thread is its thread_id, else the post
-- it replies to, else itself; each post counts once, at its latest version.
-- Time to first response = the first own post or response at or after
-- `started` (earshot_sink::conversations computes it and the percentiles).
-- Parameters: since, until (Unix seconds, UTC); own (the brands' own
-- accounts, `network:handle` lowercase, comma-separated).
SELECT thread, toUInt32(minIf(t, own = 0)) AS started, count() AS posts,
       toUInt8(maxIf(neg, own = 0)) AS negative, groupUniqArrayArray(entities) AS entities,
       arraySort(arrayMap(x -> toUInt32(x), groupArrayIf(t, own = 1))) AS own_times,
       toUInt32(minIf(r_at, r_at > 0)) AS responded, countIf(own = 0) AS customer_posts
FROM (
    SELECT post_id, if(x_thread != '', x_thread, if(x_reply != '', x_reply, post_id)) AS thread,
           x_time AS t, toUInt8(has(splitByChar(',', {own:String}), lower(concat(x_source, ':', x_handle)))) AS own,
           toUInt8(x_label = 'negative') AS neg, x_entities AS entities, x_named AS named, r_at
    FROM (
        SELECT post_id, argMax(thread_id, version) AS x_thread, argMax(reply_to, version) AS x_reply,
               argMax(event_time, version) AS x_time, toString(argMax(source, version)) AS x_source,
               argMax(author_handle, version) AS x_handle,
               toString(argMax(sentiment_label, version)) AS x_label,
               arraySort(argMax(arrayConcat(brands, competitors), version)) AS x_entities,
               argMax(toUInt8(notEmpty(brands) OR notEmpty(competitors) OR notEmpty(customers)), version) AS x_named
        FROM interactions
        WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
        GROUP BY post_id) AS p
    -- One row per answered post (its first response), so ANY keeps the row
    -- count and needs no aggregate inside the join.
    ANY LEFT JOIN (SELECT post_id, toUInt32(responded_at) AS r_at FROM responses) AS r USING (post_id))
GROUP BY thread
HAVING customer_posts > 0 AND max(named) = 1
ORDER BY started DESC, thread
LIMIT 200000
