#!/usr/bin/env python3
"""Regenerates dashboards/earshot.json from ../clickhouse/queries/*.sql.

The dashboard runs the same SQL as `earshot report`, with the query
parameters replaced by Grafana's macros: {since} -> $__fromTime,
{until} -> $__toTime, {brand} -> the `brand` variable, {k} -> the `k` variable.
Run it after editing a query:  python3 deploy/grafana/gen_dashboard.py
"""
import json
import os
import re

here = os.path.dirname(os.path.abspath(__file__))
queries = os.path.join(here, "..", "clickhouse", "queries")


def sql(name, fixed=None):
    """The query with Grafana's macros; `fixed` gives other parameters a value."""
    text = open(os.path.join(queries, name + ".sql")).read()
    for param, value in (fixed or {}).items():
        text = re.sub(r"\{" + param + r":\w+\}", value, text)
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
    body = body.replace("toInt64({until:UInt32})", "toInt64(toUInt32($__toTime))")
    body = body.replace("toDateTime({since:UInt32})", "$__fromTime").replace("toDateTime({until:UInt32})", "$__toTime")
    body = body.replace("{until:UInt32}", "toUInt32($__toTime)")
    body = body.replace("{brand:String}", "'${brand}'").replace("{k:Float64}", "${k}")
    assert not re.search(r"\{\w+:\w+\}", body), body
    return body


DS = {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"}


def panel(pid, title, rawsql, x, y, w, h, kind="table", time_from=None, fmt=1, description=""):
    p = {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [{"refId": "A", "datasource": DS, "editorType": "sql", "queryType": "table" if fmt == 1 else "timeseries", "format": fmt, "rawSql": rawsql}],
        "options": {},
        "fieldConfig": {"defaults": {}, "overrides": []},
    }
    if time_from:
        p["timeFrom"] = time_from
    return p


# Distinct posts per label and hour first (uniqExactMerge: redelivered rows count
# once), then the net figure per hour.
net_ts = """SELECT
    hour AS time,
    entity_id,
    (toFloat64(sumIf(n, sentiment_label = 'positive')) - toFloat64(sumIf(n, sentiment_label = 'negative')))
      / greatest(toFloat64(sumIf(n, sentiment_label IN ('positive', 'negative'))), 1) AS net
FROM (
    SELECT toStartOfHour(minute) AS hour, entity_id, sentiment_label, uniqExactMerge(posts) AS n
    FROM mention_posts_minute
    WHERE minute >= $__fromTime AND minute < $__toTime
      AND entity_kind IN ('brand', 'competitor')
      AND ('${brand}' = '' OR entity_id = '${brand}')
    GROUP BY hour, entity_id, sentiment_label
)
GROUP BY time, entity_id
ORDER BY time"""

panels = [
    panel(1, "Share of voice (24 h)", sql("share_of_voice"), 0, 0, 8, 9, "piechart", "24h", description="share_of_voice.sql over the last 24 hours"),
    panel(2, "Share of voice (7 d)", sql("share_of_voice"), 8, 0, 8, 9, "piechart", "7d", description="share_of_voice.sql over the last 7 days"),
    panel(3, "Spikes (last hour vs mean + k·σ of the 12 before)", sql("spikes"), 16, 0, 8, 9, description="spikes.sql"),
    panel(4, "Net sentiment per hour", net_ts, 0, 9, 24, 9, "timeseries", fmt=0, description="The time-series form of net_sentiment_hourly.sql"),
    panel(5, "Net sentiment per brand per hour (table)", sql("net_sentiment_hourly"), 0, 18, 12, 9, description="net_sentiment_hourly.sql"),
    panel(6, "Intents", sql("intent_breakdown"), 12, 18, 6, 9, "barchart", description="intent_breakdown.sql"),
    panel(7, "Sources", sql("source_breakdown"), 18, 18, 6, 9, "barchart", description="source_breakdown.sql"),
    panel(8, "Top negative posts awaiting a response", sql("top_negative_awaiting"), 0, 27, 24, 10, description="top_negative_awaiting.sql"),
    panel(9, "CRM work queue", sql("work_queue"), 0, 37, 24, 10, description="work_queue.sql"),
    panel(10, "Advocates (2+ positive posts about a brand)", sql("author_standings", {"label": "'positive'", "min_posts": "2", "min_reach": "0"}), 0, 47, 12, 10, description="author_standings.sql with label = 'positive'"),
    panel(11, "Detractors (2+ negative posts about a brand)", sql("author_standings", {"label": "'negative'", "min_posts": "2", "min_reach": "0"}), 12, 47, 12, 10, description="author_standings.sql with label = 'negative'"),
    panel(12, "Authors by posts", sql("author_profiles", {"source": "''", "handle": "''"}), 0, 57, 24, 10, description="author_profiles.sql: one row per network and handle"),
    panel(13, "Threads (time to first response: first own_times entry or responded after started)", sql("threads", {"own": "'${own}'"}), 0, 67, 24, 10, description="threads.sql; set the own variable to the brands' own accounts (network:handle, comma-separated)"),
    panel(14, "Time to first response per brand (p50, p90)", sql("response_times", {"own": "'${own}'"}), 0, 77, 24, 10, "barchart", description="response_times.sql: per brand, the median and 90th percentile seconds from a thread's first customer post to the first answer (an own account's post or a recorded response); threads, answered and unanswered negative threads beside them"),
    panel(15, "Routes (routed posts per team)", sql("route_breakdown"), 0, 87, 24, 9, "barchart", description="route_breakdown.sql: distinct routed posts per route, by name (routes.toml's routes; none left out)"),
]
# The percentiles in seconds, as durations; the counts stay plain.
panels[13]["fieldConfig"]["overrides"] = [
    {"matcher": {"id": "byRegexp", "options": "p\\d+_secs"}, "properties": [{"id": "unit", "value": "s"}]},
]
panels[13]["options"] = {"xField": "brand", "orientation": "horizontal"}

dashboard = {
    "uid": "earshot-pr",
    "title": "Earshot: PR dashboards",
    "tags": ["earshot"],
    "timezone": "utc",
    "schemaVersion": 39,
    "version": 1,
    "refresh": "1m",
    "time": {"from": "now-24h", "to": "now"},
    "templating": {
        "list": [
            {"name": "datasource", "type": "datasource", "query": "grafana-clickhouse-datasource", "label": "ClickHouse"},
            {
                "name": "brand",
                "label": "Brand",
                "type": "query",
                "datasource": DS,
                "query": "SELECT '' UNION ALL SELECT DISTINCT entity_id FROM mention_posts_minute WHERE entity_kind IN ('brand', 'competitor')",
                "refresh": 2,
                "includeAll": False,
                "current": {"text": "", "value": ""},
            },
            {"name": "k", "label": "Spike k", "type": "custom", "query": "2,3,4", "current": {"text": "3", "value": "3"}},
            {"name": "own", "label": "Own accounts (network:handle, comma-separated)", "type": "textbox", "query": "", "current": {"text": "", "value": ""}},
        ]
    },
    "panels": panels,
}

with open(os.path.join(here, "dashboards", "earshot.json"), "w") as f:
    json.dump(dashboard, f, indent=2, ensure_ascii=False)
    f.write("\n")
