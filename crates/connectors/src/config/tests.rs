//! Parsing and validation of `[[connectors]]`, every kind at once.

use super::*;

#[test]
fn parses_every_kind_and_validates_clean() {
    let cfg: ConnectConfig = toml::from_str(
        r#"
        [cursors]
        path = "/tmp/c.db"
        [connect]
        per_host_requests_per_second = 2
        [[connectors]]
        name = "blogs"
        kind = "rss"
        poll_interval_secs = 600
        feeds = ["https://example.com/feed.xml", { url = "https://example.org/atom", poll_interval_secs = 60 }]
        [[connectors]]
        name = "hn"
        kind = "hn"
        query = "acme"
        keep_raw = true
        [[connectors]]
        name = "reddit"
        kind = "reddit"
        subreddits = ["rust"]
        searches = ["acme"]
        user_agent = "linux:earshot:0.1 (by /u/acme)"
        [[connectors]]
        name = "masto"
        kind = "mastodon"
        instance = "https://mastodon.social"
        hashtags = ["acme"]
        [[connectors]]
        name = "bsky"
        kind = "bluesky"
        keywords = ["acme"]
        [[connectors]]
        name = "hook"
        kind = "webhook"
        [[connectors]]
        name = "backfill"
        kind = "file"
        paths = ["data/sample.jsonl"]
        one_shot = true
        [[connectors]]
        name = "x"
        kind = "x"
        query = "acme"
        [[connectors]]
        name = "yt"
        kind = "youtube"
        video_ids = ["dQw4w9WgXcQ"]
        "#,
    )
    .unwrap();
    assert_eq!(cfg.connectors.len(), 9);
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    assert!(cfg.connectors[1].keep_raw);
    let kinds: Vec<_> = cfg.connectors.iter().map(|c| c.source.kind()).collect();
    assert_eq!(
        kinds,
        ["rss", "hn", "reddit", "mastodon", "bluesky", "webhook", "file", "x", "youtube"]
    );
}

#[test]
fn unknown_keys_and_kinds_are_refused_with_the_connector_named() {
    let e = toml::from_str::<ConnectConfig>(
        "[[connectors]]\nname = \"a\"\nkind = \"rss\"\nfeeds = []\nfead = 1\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("connector `a`") && e.contains("fead"), "{e}");
    let e = toml::from_str::<ConnectConfig>("[[connectors]]\nname = \"a\"\nkind = \"rsss\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown kind `rsss`"), "{e}");
}

#[test]
fn validation_names_each_bad_key() {
    let cfg: ConnectConfig = toml::from_str(
        r#"
        [[connectors]]
        name = "a"
        kind = "rss"
        feeds = ["ftp://x"]
        [[connectors]]
        name = "a"
        kind = "webhook"
        listen = "nowhere"
        "#,
    )
    .unwrap();
    let keys: Vec<_> = cfg.validate().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "connectors[0].feeds[0]",
            "connectors[1].name",
            "connectors[1].listen"
        ]
    );
}

/// The defaults of every kind, pinned: they are user-visible, and the
/// functions that give them moved next to each source (issue 17).
#[test]
fn issue_17_every_default_is_unchanged() {
    let cfg: ConnectConfig = toml::from_str(
        r#"
        [[connectors]]
        name = "a"
        kind = "rss"
        feeds = ["https://example.com/feed.xml"]
        [[connectors]]
        name = "b"
        kind = "hn"
        query = "acme"
        [[connectors]]
        name = "c"
        kind = "reddit"
        subreddits = ["rust"]
        user_agent = "linux:earshot:0.1 (by /u/acme)"
        [[connectors]]
        name = "d"
        kind = "mastodon"
        instance = "https://mastodon.social"
        public = true
        [[connectors]]
        name = "e"
        kind = "bluesky"
        [[connectors]]
        name = "f"
        kind = "webhook"
        [[connectors]]
        name = "g"
        kind = "file"
        paths = ["x.jsonl"]
        [[connectors]]
        name = "h"
        kind = "x"
        query = "acme"
        [[connectors]]
        name = "i"
        kind = "youtube"
        video_ids = ["v"]
        "#,
    )
    .unwrap();
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    let c = &cfg.connectors[0];
    assert!(c.enabled && !c.keep_raw);
    assert_eq!(c.timeout_secs, 30.0);
    assert_eq!(c.max_body_bytes, 10 << 20);
    assert_eq!(c.max_retries, 5);
    assert_eq!((c.backoff_initial_secs, c.backoff_max_secs), (1.0, 300.0));
    assert_eq!(
        (c.requests_per_minute, c.dedup_retention_secs),
        (None, None)
    );
    assert_eq!(c.dedup_retention(), Duration::from_secs(7 * 24 * 3600));
    assert_eq!(
        cfg.connectors[4].dedup_retention(),
        Duration::from_secs(3600)
    );
    let d = ConnectorConfig::new("n", cfg.connectors[0].source.clone());
    assert_eq!(
        (d.timeout_secs, d.max_body_bytes, d.max_retries),
        (30.0, 10 << 20, 5)
    );
    assert_eq!((d.backoff_initial_secs, d.backoff_max_secs), (1.0, 300.0));
    for (i, c) in cfg.connectors.iter().enumerate() {
        match &c.source {
            SourceConfig::Rss(r) => {
                assert_eq!(r.poll_interval_secs, 300.0);
                assert!(!r.one_shot);
            }
            SourceConfig::Hn(h) => {
                assert_eq!(h.tags, ["story", "comment"]);
                assert_eq!(h.base_url, "https://hn.algolia.com/api/v1");
                assert_eq!(h.poll_interval_secs, 60.0);
                assert_eq!((h.hits_per_page, h.max_pages), (100, 10));
                assert_eq!((h.initial_lookback_secs, h.overlap_secs), (3600, 60));
            }
            SourceConfig::Reddit(r) => {
                assert!(r.searches.is_empty());
                assert_eq!(r.base_url, "https://www.reddit.com");
                assert_eq!(r.oauth_base_url, "https://oauth.reddit.com");
                assert_eq!(r.token_env, "EARSHOT_REDDIT_TOKEN");
                assert_eq!((r.poll_interval_secs, r.max_pages), (60.0, 10));
            }
            SourceConfig::Mastodon(m) => {
                assert!(!m.local_only && m.hashtags.is_empty());
                assert_eq!(m.token_env, "EARSHOT_MASTODON_TOKEN");
                assert_eq!(m.poll_interval_secs, 60.0);
                assert_eq!((m.limit, m.max_pages), (40, 10));
            }
            SourceConfig::Bluesky(b) => {
                assert_eq!(b.url, "wss://jetstream2.us-east.bsky.network/subscribe");
                assert!(b.keywords.is_empty());
                assert_eq!((b.rewind_secs, b.batch_size), (5.0, 500));
                assert_eq!((b.batch_interval_secs, b.reconnect_secs), (1.0, 1.0));
            }
            SourceConfig::Webhook(w) => {
                assert_eq!(
                    (w.listen.as_str(), w.path.as_str()),
                    ("127.0.0.1:8088", "/ingest")
                );
                assert_eq!(w.secret_env, "EARSHOT_WEBHOOK_SECRET");
                assert_eq!(w.signature_header, "X-Earshot-Signature");
                assert_eq!(w.timestamp_header, "X-Earshot-Timestamp");
                assert_eq!((w.tolerance_secs, w.max_connections), (300, 256));
            }
            SourceConfig::File(f) => {
                assert!(!f.one_shot && f.progress);
                assert_eq!((f.batch_size, f.poll_interval_secs), (1000, 5.0));
                assert_eq!(f.source, "file");
            }
            SourceConfig::X(x) => {
                assert_eq!(x.base_url, "https://api.x.com/2");
                assert_eq!(x.token_env, "EARSHOT_X_BEARER_TOKEN");
                assert_eq!(x.poll_interval_secs, 60.0);
                assert_eq!((x.max_results, x.max_pages), (100, 10));
                assert_eq!(x.initial_lookback_secs, 3600);
            }
            SourceConfig::Youtube(y) => {
                assert_eq!(y.base_url, "https://www.googleapis.com/youtube/v3");
                assert_eq!(y.key_env, "EARSHOT_YOUTUBE_API_KEY");
                assert_eq!((y.poll_interval_secs, y.max_pages), (300.0, 10));
            }
        }
        assert_eq!(
            c.source.kind(),
            ["rss", "hn", "reddit", "mastodon", "bluesky", "webhook", "file", "x", "youtube"][i]
        );
    }
    let s = &cfg.connect;
    assert_eq!(
        (
            s.max_concurrent_requests,
            s.per_host_requests_per_second,
            s.per_host_burst
        ),
        (32, 5.0, 10)
    );
    assert_eq!(s.dead_letter_max_bytes, 1 << 20);
    assert!(s.user_agent.starts_with("earshot/"));
    assert_eq!(cfg.cursors.path, PathBuf::from(".earshot/cursors.db"));
}
