-- Share of voice: each brand's and competitor's share of all brand and
-- competitor mentions in [since, until). Run it for the last 24 hours and the
-- last 7 days. Reads the per-minute aggregate, so it stays fast at any volume.
-- Parameters: since, until (Unix seconds, UTC).
SELECT
    entity_id,
    toString(entity_kind) AS kind,
    toUInt64(sum(mentions)) AS n,
    toFloat64(sum(mentions) / (
        SELECT sum(mentions)
        FROM mentions_minute
        WHERE minute >= toDateTime({since:UInt32}) AND minute < toDateTime({until:UInt32})
          AND entity_kind IN ('brand', 'competitor')
    )) AS share
FROM mentions_minute
WHERE minute >= toDateTime({since:UInt32}) AND minute < toDateTime({until:UInt32})
  AND entity_kind IN ('brand', 'competitor')
GROUP BY entity_id, entity_kind
ORDER BY n DESC, entity_id
