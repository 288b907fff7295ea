-- Share of voice: each brand's and competitor's share of all brand and
-- competitor mentions in [since, until). Run it for the last 24 hours and the
-- last 7 days. Reads the per-minute aggregate `mention_posts_minute`, whose
-- states are sets of post ids: uniqExactMerge counts each post once per entity
-- however often it was delivered (and across sentiment labels and sources).
-- One pass: the per-entity counts are collected, summed, then unfolded.
-- Parameters: since, until (Unix seconds, UTC).
SELECT
    e.1 AS entity_id,
    e.2 AS kind,
    e.3 AS n,
    toFloat64(e.3 / total) AS share
FROM (
    SELECT groupArray((entity_id, kind, n)) AS entities, sum(n) AS total
    FROM (
        SELECT
            entity_id,
            toString(entity_kind) AS kind,
            toUInt64(uniqExactMerge(posts)) AS n
        FROM mention_posts_minute
        WHERE minute >= toDateTime({since:UInt32}) AND minute < toDateTime({until:UInt32})
          AND entity_kind IN ('brand', 'competitor')
        GROUP BY entity_id, entity_kind
    )
)
ARRAY JOIN entities AS e
ORDER BY n DESC, entity_id
