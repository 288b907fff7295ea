-- Time to first response per brand (issue 14): of the threads with a
-- customer post in the window that name the brand, how many there are, how
-- many were answered, the median and 90th percentile seconds from the first
-- customer post to the first answer (nearest rank, over answered threads),
-- and the negative threads nobody answered. The threads are those of
-- threads.sql (the newest 200,000), answered at the first own-account post
-- at or after `started` or at the first response recorded for any of their
-- posts, whichever comes first: the figures `earshot report` shows.
-- Parameters: since, until (Unix seconds, UTC); own (the brands' own
-- accounts, `network:handle` lowercase, comma-separated).
SELECT brand, threads, answered,
       if(answered > 0, toNullable(sorted[toUInt64(greatest(1, ceil(0.5 * answered)))]), NULL) AS p50_secs,
       if(answered > 0, toNullable(sorted[toUInt64(greatest(1, ceil(0.9 * answered)))]), NULL) AS p90_secs,
       unanswered_negative
FROM (
SELECT brand, count() AS threads, countIf(secs >= 0) AS answered,
       arraySort(groupArrayIf(secs, secs >= 0)) AS sorted,
       countIf(secs < 0 AND negative = 1) AS unanswered_negative
FROM (
    SELECT thread, negative, entities,
           arrayConcat(arrayFilter(x -> x >= started, own_times),
                       if(responded > 0, [greatest(responded, started)], emptyArrayUInt32())) AS answers,
           if(length(answers) > 0, toInt64(arrayReduce('min', answers)) - toInt64(started), -1) AS secs
    FROM (
        SELECT thread, toUInt32(minIf(t, own = 0)) AS started,
               toUInt8(maxIf(neg, own = 0)) AS negative, groupUniqArrayArray(x_entities) AS entities,
               arrayMap(x -> toUInt32(x), groupArrayIf(t, own = 1)) AS own_times,
               toUInt32(minIf(r_at, r_at > 0)) AS responded, countIf(own = 0) AS customer_posts
        FROM (
            SELECT post_id, if(x_thread != '', x_thread, if(x_reply != '', x_reply, post_id)) AS thread,
                   x_time AS t, toUInt8(has(splitByChar(',', {own:String}), lower(concat(x_source, ':', x_handle)))) AS own,
                   toUInt8(x_label = 'negative') AS neg, x_entities, x_named, r_at
            FROM (
                SELECT post_id, argMax(thread_id, version) AS x_thread, argMax(reply_to, version) AS x_reply,
                       argMax(event_time, version) AS x_time, toString(argMax(source, version)) AS x_source,
                       argMax(author_handle, version) AS x_handle,
                       toString(argMax(sentiment_label, version)) AS x_label,
                       argMax(arrayConcat(brands, competitors), version) AS x_entities,
                       argMax(toUInt8(notEmpty(brands) OR notEmpty(competitors) OR notEmpty(customers)), version) AS x_named
                FROM interactions
                WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
                GROUP BY post_id) AS p
            ANY LEFT JOIN (SELECT post_id, toUInt32(responded_at) AS r_at FROM responses) AS r USING (post_id))
        GROUP BY thread
        HAVING customer_posts > 0 AND max(x_named) = 1
        ORDER BY started DESC, thread
        LIMIT 200000))
ARRAY JOIN entities AS brand
GROUP BY brand)
ORDER BY brand
