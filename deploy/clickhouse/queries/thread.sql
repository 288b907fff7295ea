-- The posts of one thread in order (`earshot thread`), each at its latest
-- version, with the time it was marked answered (0: not). A post's thread is
-- its thread_id, else the post it replies to, else itself.
-- Parameters: thread (a thread's or post's id).
SELECT post_id, x_source AS source, x_handle AS author, x_time AS event_time, x_reply AS reply_to,
       x_compound AS compound, x_url AS url, x_text AS text, r_at AS responded
FROM (
    SELECT post_id, toString(argMax(source, version)) AS x_source, argMax(author_handle, version) AS x_handle,
           toUInt32(argMax(event_time, version)) AS x_time, argMax(reply_to, version) AS x_reply,
           argMax(thread_id, version) AS x_thread, argMax(sentiment_compound, version) AS x_compound,
           argMax(url, version) AS x_url, substringUTF8(argMax(text, version), 1, 280) AS x_text
    FROM interactions
    WHERE post_id = {thread:String} OR thread_id = {thread:String} OR reply_to = {thread:String}
    GROUP BY post_id) AS p
ANY LEFT JOIN (SELECT post_id, toUInt32(responded_at) AS r_at FROM responses) AS r USING (post_id)
WHERE post_id = {thread:String} OR if(x_thread != '', x_thread, if(x_reply != '', x_reply, post_id)) = {thread:String}
ORDER BY event_time, post_id
LIMIT 1000
