//! The embedded store's schema: the same logical tables as ClickHouse
//! (arrays as JSON text), as numbered migrations.

/// `(version, name, statements)`, in order; each statement is idempotent.
pub(crate) const MIGRATIONS: &[(u32, &str, &str)] = &[
    (
        1,
        "interactions",
        "CREATE TABLE IF NOT EXISTS interactions (
            post_id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            event_time INTEGER NOT NULL,
            published_at INTEGER,
            fetched_at INTEGER,
            scored_at INTEGER NOT NULL,
            url TEXT NOT NULL,
            author_handle TEXT NOT NULL,
            author_name TEXT NOT NULL,
            author_reach INTEGER NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            lang TEXT NOT NULL,
            brands TEXT NOT NULL,
            competitors TEXT NOT NULL,
            customers TEXT NOT NULL,
            intents TEXT NOT NULL,
            route TEXT NOT NULL,
            priority INTEGER NOT NULL,
            priority_reasons TEXT NOT NULL,
            sentiment_label TEXT NOT NULL,
            sentiment_compound REAL NOT NULL,
            likes INTEGER NOT NULL,
            replies INTEGER NOT NULL,
            reposts INTEGER NOT NULL,
            reply_to TEXT NOT NULL,
            thread_id TEXT NOT NULL,
            watchlist_version TEXT NOT NULL,
            version INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS interactions_event_time ON interactions (event_time);",
    ),
    (
        2,
        "mentions",
        "CREATE TABLE IF NOT EXISTS mentions (
            entity_id TEXT NOT NULL,
            entity_kind TEXT NOT NULL,
            event_time INTEGER NOT NULL,
            post_id TEXT NOT NULL,
            source TEXT NOT NULL,
            sentiment_label TEXT NOT NULL,
            sentiment_compound REAL NOT NULL,
            author_reach INTEGER NOT NULL,
            priority INTEGER NOT NULL,
            route TEXT NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (post_id, entity_id, entity_kind)
        );
        CREATE INDEX IF NOT EXISTS mentions_entity_time ON mentions (entity_id, event_time);
        CREATE INDEX IF NOT EXISTS mentions_event_time ON mentions (event_time);",
    ),
    (
        4,
        "sink_dead_letters",
        "CREATE TABLE IF NOT EXISTS sink_dead_letters (
            at INTEGER NOT NULL,
            target_table TEXT NOT NULL,
            error_code INTEGER NOT NULL,
            error TEXT NOT NULL,
            src_topic TEXT NOT NULL,
            src_partition INTEGER NOT NULL,
            src_offset INTEGER NOT NULL,
            post_id TEXT NOT NULL,
            payload TEXT NOT NULL
        );",
    ),
    (
        5,
        "responses",
        "CREATE TABLE IF NOT EXISTS responses (
            post_id TEXT PRIMARY KEY,
            responded_at INTEGER NOT NULL,
            responder TEXT NOT NULL,
            channel TEXT NOT NULL
        );",
    ),
    (
        12,
        "clamped_values",
        // SQLite integers are signed 64-bit: counts beyond i64::MAX are stored
        // as i64::MAX, and this column names each field that was clamped, so a
        // stored value is never silently different from the post's.
        "ALTER TABLE interactions ADD COLUMN clamped TEXT NOT NULL DEFAULT '';",
    ),
    (
        13,
        "alerts",
        // `earshot alert`: one row per alert sent (its key is the primary key,
        // so a spike alerts once), and each channel's delivery state.
        "CREATE TABLE IF NOT EXISTS alerts (
            brand TEXT NOT NULL,
            rule TEXT NOT NULL,
            window_start INTEGER NOT NULL,
            window_end INTEGER NOT NULL,
            fired_at INTEGER NOT NULL,
            observed REAL NOT NULL,
            threshold REAL NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (brand, rule, window_start)
        );
        CREATE INDEX IF NOT EXISTS alerts_brand_rule_fired ON alerts (brand, rule, fired_at);
        CREATE TABLE IF NOT EXISTS alert_deliveries (
            brand TEXT NOT NULL,
            rule TEXT NOT NULL,
            window_start INTEGER NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            last_error TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (brand, rule, window_start, channel)
        );",
    ),
    (
        14,
        "response_log",
        // Every respond action (agent, channel, note), once each; the
        // answer itself is the post's first row in `responses`.
        "CREATE TABLE IF NOT EXISTS response_log (
            post_id TEXT NOT NULL,
            responded_at INTEGER NOT NULL,
            responder TEXT NOT NULL,
            channel TEXT NOT NULL,
            note TEXT NOT NULL,
            PRIMARY KEY (post_id, responder, channel, note)
        );",
    ),
    (
        15,
        "assignments",
        // The console's "assign": who a post is assigned to (the latest
        // assignment wins; one row per post).
        "CREATE TABLE IF NOT EXISTS assignments (
            post_id TEXT PRIMARY KEY,
            assignee TEXT NOT NULL,
            assigned_by TEXT NOT NULL,
            assigned_at INTEGER NOT NULL
        );",
    ),
    (
        16,
        "match_feedback",
        // Analysts' feedback on matches ("this brand match is wrong"), once
        // per post, entity and analyst, for tuning the watchlists.
        "CREATE TABLE IF NOT EXISTS match_feedback (
            post_id TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            verdict TEXT NOT NULL,
            analyst TEXT NOT NULL,
            note TEXT NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (post_id, entity_id, analyst)
        );",
    ),
    (
        17,
        "cases",
        // The CRM case maker's durable record: one row per post sent (or
        // failed every attempt), at the priority it was sent with.
        "CREATE TABLE IF NOT EXISTS cases (
            post_id TEXT PRIMARY KEY,
            priority INTEGER NOT NULL,
            route TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            last_error TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        );",
    ),
    (
        18,
        "forgotten",
        // `earshot forget`: what was forgotten and when. An author here is
        // never stored again (the sink drops a redelivered post of theirs).
        "CREATE TABLE IF NOT EXISTS forgotten (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            at INTEGER NOT NULL,
            posts INTEGER NOT NULL,
            PRIMARY KEY (kind, key)
        );",
    ),
    (
        19,
        "console_read_paths",
        // The console's overview at millions of posts: hourly counts kept by
        // the sink in each batch's own transaction (sqlite/rollup.rs: exact
        // under re-scoring, a replaced post subtracts its stored version),
        // so a 30-day page reads thousands of rows instead of millions.
        // `mention_hours` is the embedded store's `mention_posts_minute`;
        // `post_hours` counts posts per source and intent, for all
        // (`entity_id = ''`) and per brand or competitor (`intent = ''`: the
        // post itself). The backfill counts what is stored already. `interactions_queue`: the work
        // queue read in priority order, stopping at its page size, over
        // routed posts only (a partial index: unrouted posts cost nothing);
        // `mentions_routed`: a brand's routed posts, for a brand filter
        // that few queued posts match.
        // Write cost measured in benches/RESULTS.md, "Console".
        "CREATE TABLE IF NOT EXISTS mention_hours (
            entity_id TEXT NOT NULL, entity_kind TEXT NOT NULL, hour INTEGER NOT NULL,
            sentiment_label TEXT NOT NULL, posts INTEGER NOT NULL,
            PRIMARY KEY (hour, entity_id, entity_kind, sentiment_label)
        ) WITHOUT ROWID;
        INSERT OR REPLACE INTO mention_hours (entity_id, entity_kind, hour, sentiment_label, posts)
        SELECT entity_id, entity_kind, (event_time / 3600) * 3600, sentiment_label, COUNT(*)
        FROM mentions GROUP BY 1, 2, 3, 4;
        CREATE TABLE IF NOT EXISTS post_hours (
            entity_id TEXT NOT NULL, hour INTEGER NOT NULL, source TEXT NOT NULL, intent TEXT NOT NULL,
            posts INTEGER NOT NULL,
            PRIMARY KEY (hour, entity_id, source, intent)
        ) WITHOUT ROWID;
        INSERT OR REPLACE INTO post_hours (entity_id, hour, source, intent, posts)
        SELECT pe.e, pe.h, pe.s, pi.it, COUNT(*) FROM (
            SELECT p.post_id, '' AS e, (p.event_time / 3600) * 3600 AS h, p.source AS s FROM interactions p
            UNION ALL SELECT DISTINCT p.post_id, b.value, (p.event_time / 3600) * 3600, p.source
                FROM interactions p, json_each(p.brands) b
            UNION ALL SELECT DISTINCT p.post_id, c.value, (p.event_time / 3600) * 3600, p.source
                FROM interactions p, json_each(p.competitors) c
        ) pe JOIN (
            SELECT post_id, '' AS it FROM interactions
            UNION ALL SELECT DISTINCT p.post_id, j.value FROM interactions p, json_each(p.intents) j
        ) pi ON pi.post_id = pe.post_id
        GROUP BY 1, 2, 3, 4;
        CREATE INDEX IF NOT EXISTS interactions_queue
            ON interactions (priority DESC, author_reach DESC, event_time DESC) WHERE route != 'none';
        CREATE INDEX IF NOT EXISTS mentions_routed
            ON mentions (entity_id, event_time) WHERE route != 'none';",
    ),
    (
        20,
        "dead_letters",
        // The embedded mode's dead-letter topic lives in RAM: what reaches it
        // (bad payloads, poison records, refused posts) is kept here, with
        // the reason and the stage, once per record of that topic.
        "CREATE TABLE IF NOT EXISTS dead_letters (
            dlq_partition INTEGER NOT NULL,
            dlq_offset INTEGER NOT NULL,
            at INTEGER NOT NULL,
            stage TEXT NOT NULL,
            reason TEXT NOT NULL,
            key TEXT NOT NULL,
            payload BLOB NOT NULL,
            PRIMARY KEY (dlq_partition, dlq_offset)
        );",
    ),
    (
        21,
        "crm_standings",
        // The CRM-facing advocates and detractors: each refresh replaces a
        // period's rows in one transaction. `crm_standings_current` is the
        // name the CRM reads in either store (ClickHouse keeps older
        // refreshes until its deletes apply).
        "CREATE TABLE IF NOT EXISTS crm_standings (
            period TEXT NOT NULL,
            window_start INTEGER NOT NULL,
            window_end INTEGER NOT NULL,
            brand TEXT NOT NULL,
            standing TEXT NOT NULL,
            source TEXT NOT NULL,
            author_handle TEXT NOT NULL,
            posts INTEGER NOT NULL,
            reach INTEGER NOT NULL,
            latest_post TEXT NOT NULL,
            post_ids TEXT NOT NULL,
            customer_ids TEXT NOT NULL,
            account_owners TEXT NOT NULL,
            refreshed_at INTEGER NOT NULL,
            refresh INTEGER NOT NULL,
            PRIMARY KEY (period, brand, standing, source, author_handle)
        );
        CREATE VIEW IF NOT EXISTS crm_standings_current AS SELECT * FROM crm_standings;",
    ),
    (
        22,
        "post_hours_matched_only",
        // Issue 16: posts about no brand, competitor or customer are out of
        // every figure; the all-brands rows of `post_hours` (entity '')
        // counted them. Recount those rows from matched posts only.
        "DELETE FROM post_hours WHERE entity_id = '';
        INSERT OR REPLACE INTO post_hours (entity_id, hour, source, intent, posts)
        SELECT '', pe.h, pe.s, pi.it, COUNT(*) FROM (
            SELECT p.post_id, (p.event_time / 3600) * 3600 AS h, p.source AS s FROM interactions p
            WHERE json_array_length(p.brands) > 0 OR json_array_length(p.competitors) > 0
               OR json_array_length(p.customers) > 0
        ) pe JOIN (
            SELECT post_id, '' AS it FROM interactions
            UNION ALL SELECT DISTINCT p.post_id, j.value FROM interactions p, json_each(p.intents) j
        ) pi ON pi.post_id = pe.post_id
        GROUP BY 2, 3, 4;",
    ),
    (
        23,
        "dead_letters_run",
        // Issue 12 (found by the fault campaign): the in-memory topic's
        // offsets start at 0 again in every process run, so keyed by offset
        // alone a restarted process's dead letters were ignored as
        // "redelivered". The run that read them is part of the key now.
        "CREATE TABLE IF NOT EXISTS dead_letters_by_run (
            run INTEGER NOT NULL,
            dlq_partition INTEGER NOT NULL,
            dlq_offset INTEGER NOT NULL,
            at INTEGER NOT NULL,
            stage TEXT NOT NULL,
            reason TEXT NOT NULL,
            key TEXT NOT NULL,
            payload BLOB NOT NULL,
            PRIMARY KEY (run, dlq_partition, dlq_offset)
        );
        INSERT OR IGNORE INTO dead_letters_by_run
            SELECT 0, dlq_partition, dlq_offset, at, stage, reason, key, payload FROM dead_letters;
        DROP TABLE dead_letters;
        ALTER TABLE dead_letters_by_run RENAME TO dead_letters;",
    ),
    (
        24,
        "noise",
        // Issue 16: near-duplicate clusters and bot-like authors. A post
        // whose `cluster_id` is set repeats that earlier post: it stays
        // stored and queryable, and the figures count its cluster once
        // (through the first post). The rollups never counted such posts
        // (none existed before this migration).
        "ALTER TABLE interactions ADD COLUMN cluster_id TEXT NOT NULL DEFAULT '';
        ALTER TABLE interactions ADD COLUMN cluster_size INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE interactions ADD COLUMN near_duplicate INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE interactions ADD COLUMN bot_like INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE interactions ADD COLUMN bot_reasons TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE mentions ADD COLUMN cluster_id TEXT NOT NULL DEFAULT '';
        CREATE INDEX IF NOT EXISTS interactions_cluster ON interactions (cluster_id) WHERE cluster_id != '';",
    ),
    (
        25,
        "named_and_routed",
        // Issue 11: the report's intents, sources, top negative posts and
        // threads are about posts naming a brand, competitor or customer,
        // and its work queue about routed posts. Read through the time index,
        // each scanned every post of the window (most of `earshot report`'s
        // CPU on a store where few posts name anything); these partial
        // indexes hold only the posts concerned, so unnamed, unrouted posts
        // cost nothing to write either. A query uses one only if its WHERE
        // has the index's condition word for word (report.rs, sqlite_threads.rs).
        "CREATE INDEX IF NOT EXISTS interactions_named ON interactions (event_time)
            WHERE brands != '[]' OR competitors != '[]' OR customers != '[]';
        CREATE INDEX IF NOT EXISTS interactions_routed ON interactions (event_time) WHERE route != 'none';",
    ),
];

/// Table recording applied migrations.
pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)";
