-- Route breakdown: distinct routed posts per route, by name (issue 16: routes
-- are names from routes.toml, so an analyst's own route shows as it is).
-- Posts routed nowhere ('none') are left out, as are posts repeating a
-- near-duplicate cluster (their cluster counts once, through its first post).
-- The latest scoring of a post wins (argMax by version), so a re-scored post
-- counts under its current route only.
-- Parameters: since, until (Unix seconds, UTC); brand ('' for all).
SELECT
    x_route AS key,
    toUInt64(count()) AS posts
FROM (
    SELECT
        post_id,
        toString(argMax(route, version)) AS x_route,
        argMax(cluster_id, version) AS x_cluster
    FROM interactions
    WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
      AND ({brand:String} = '' OR has(brands, {brand:String}) OR has(competitors, {brand:String}))
    GROUP BY post_id
)
WHERE x_route != 'none' AND x_cluster = ''
GROUP BY key
ORDER BY posts DESC, key
