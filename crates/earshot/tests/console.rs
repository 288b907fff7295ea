//! `earshot console` (issue 15) and its respond API (issue 14 item 4), black
//! box: the real binary on a loopback port, over the embedded store seeded by
//! `earshot run` on the bundled samples, and over ClickHouse
//! (`EARSHOT_TEST_CLICKHOUSE`).

mod console_common;

use std::path::Path;

use console_common::*;

/// The work queue section of `earshot report --since 7d` (cells joined, as in respond.rs).
fn report_queue(dir: &Path, config: Option<&Path>) -> String {
    let text = ok(&earshot(dir, config, &["report", "--since", "7d"]));
    let start = text.find("Work queue").expect("a work queue section");
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    text[start..end]
        .lines()
        .filter_map(|l| l.rsplit('┆').next().filter(|_| l.contains('┆')))
        .flat_map(|cell| cell.chars().filter(|c| !c.is_whitespace() && *c != '│'))
        .collect()
}

/// The first queued post on the page: (post id, how the report shows it).
fn first_queued(html: &str) -> (String, String) {
    let id = field(html, "post_id");
    let at = html.find(&format!("<code>{id}</code>")).unwrap();
    let article = &html[html[..at].rfind("<article").unwrap()..at];
    let shown = article
        .find("href=\"http")
        .map(|h| article[h + 6..].split('"').next().unwrap().to_string())
        .unwrap_or_else(|| id.clone());
    (id, shown)
}

/// The thread and author pages, reached by the queue's links (issue 15).
async fn check_people(c: &Console) {
    let queue = page(&c.url("/queue")).await;
    let link = |prefix: &str| {
        let at = queue
            .find(&format!("href=\"{prefix}"))
            .unwrap_or_else(|| panic!("no {prefix} link"));
        queue[at + 6..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&")
    };
    let author = page(&c.url(&link("/author/"))).await;
    for want in ["Sentiment by week", "Posts", "CRM accounts", "<h1"] {
        assert!(author.contains(want), "author page lacks {want}");
    }
    let thread = page(&c.url(&link("/thread/"))).await;
    assert!(thread.contains("<h1>Thread "), "{thread}");
    assert!(thread.contains("post(s)"));
    let missing = client()
        .get(c.url("/thread/x%3Anope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

async fn check_pages(c: &Console) {
    check_people(c).await;
    let all = page(&c.url("/?window=7d")).await;
    for want in [
        "<html lang=\"en\"",
        "Overview: all brands",
        "Share of voice",
        "Mention volume",
        "Net sentiment",
        "Intents",
        "Sources",
        "acme",
        "globex",
        "<svg",
    ] {
        assert!(all.contains(want), "overview lacks {want}");
    }
    assert_eq!(all.matches("<h1").count(), 1);
    let acme = page(&c.url("/?window=30d&brand=acme")).await;
    assert!(acme.contains("Overview: acme"));
    // Competitors beside the brand: the table lists them.
    assert!(acme.contains("competitor") && acme.contains("initrode"));
    let custom = page(&c.url("/?since=2026-01-01&until=2026-01-02")).await;
    assert!(
        custom.contains("0</strong> mentions"),
        "custom window not applied"
    );
    let bad = client().get(c.url("/?window=1y")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("window: `1y`"));
    let r = client().get(c.url("/")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let css = client().get(c.url("/style.css")).send().await.unwrap();
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let alerts = page(&c.url("/alerts")).await;
    assert!(alerts.contains("<h1>Alerts</h1>") && alerts.contains("alert(s) sent"));
}

/// Answer, assign and mark-wrong through the forms; returns the answered post.
async fn check_actions(c: &Console, dir: &Path, config: Option<&Path>) -> String {
    let queue = page(&c.url("/queue")).await;
    assert!(queue.contains("<h1>Work queue</h1>") && queue.contains("Why this priority"));
    let (id, shown) = first_queued(&queue);
    assert!(
        report_queue(dir, config).contains(&shown),
        "{shown} not in the report's queue"
    );
    let csrf = field(&queue, "csrf");

    // A forged form (no or wrong token) is refused and changes nothing.
    let forged = client()
        .post(c.url("/queue/answer"))
        .form(&[("post_id", id.as_str()), ("agent", "eve"), ("csrf", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(page(&c.url("/queue"))
        .await
        .contains(&format!("<code>{id}</code>")));

    let r = client()
        .post(c.url("/queue/answer?window=7d&route="))
        .form(&[
            ("post_id", id.as_str()),
            ("agent", "ann"),
            ("note", "called back"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to.starts_with("/queue?window=7d") && to.contains("done=answered"),
        "{to}"
    );
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("earshot_agent=ann;"), "{cookie}");
    let after = client()
        .get(c.url(&to))
        .header("cookie", "earshot_agent=ann")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(after.contains("the post left the queue"));
    assert!(
        !after.contains(&format!("<code>{id}</code>")),
        "{id} still queued"
    );
    // The agent is remembered.
    assert!(after.contains("name=\"agent\" value=\"ann\""));
    assert!(
        !report_queue(dir, config).contains(&shown),
        "{shown} still in the report"
    );

    // Assign and mark a match wrong on the next post.
    let (next, _) = first_queued(&after);
    let entity = {
        let at = after.find(&format!("<code>{next}</code>")).unwrap();
        let rest = &after[at..];
        let sel = rest.find("name=\"entity\"").unwrap();
        rest[sel..]
            .split("<option value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    for (path, form) in [
        ("/queue/assign", vec![("assignee", "team-b")]),
        ("/queue/wrong-match", vec![("entity", entity.as_str())]),
    ] {
        let mut f = vec![
            ("post_id", next.as_str()),
            ("agent", "ann"),
            ("csrf", csrf.as_str()),
        ];
        f.extend(form);
        let r = client().post(c.url(path)).form(&f).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}: {}", r.text().await.unwrap());
    }
    let q = page(&c.url("/queue")).await;
    assert!(
        q.contains("Assigned to <strong>team-b</strong>"),
        "assignment not shown"
    );
    assert!(
        q.contains(&format!("Marked wrong: {entity} (by ann)")),
        "feedback not shown"
    );
    let unknown = client()
        .post(c.url("/queue/assign"))
        .form(&[
            ("post_id", "x:nope"),
            ("assignee", "b"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let not_matched = client()
        .post(c.url("/queue/wrong-match"))
        .form(&[
            ("post_id", next.as_str()),
            ("entity", "no-such-brand"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(not_matched.status(), 400);
    id
}

/// The API: token checks, 201 then 200, 404, 400, body limit.
async fn check_api(c: &Console, answered: &str, fresh: &str) {
    let post = |token: Option<&str>, body: String| {
        let mut r = client()
            .post(c.url("/api/responses"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.send()
    };
    let body = |id: &str| {
        serde_json::json!({"post_id": id, "by": "crm-bot", "channel": "crm", "note": "ticket 42"})
            .to_string()
    };
    let r = post(None, body(fresh)).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("\"error\""));
    assert_eq!(
        post(Some("wrong"), body(fresh)).await.unwrap().status(),
        401
    );

    let r = post(Some("s3cret"), body(fresh)).await.unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["answered_by"].as_str()),
        (Some("answered"), Some("crm-bot"))
    );
    let r = post(Some("s3cret"), body(fresh)).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = post(Some("s3cret"), body(answered)).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (v["status"].as_str(), v["answered_by"].as_str()),
        (Some("already_answered"), Some("ann"))
    );

    let r = post(Some("s3cret"), body("x:nope")).await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("no post `x:nope`"));
    let r = post(Some("s3cret"), "{\"post_id\": 1}".into())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = post(
        Some("s3cret"),
        serde_json::json!({"post_id": fresh, "by": ""}).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("by: must not be empty"));
    let big =
        serde_json::json!({"post_id": fresh, "by": "x", "note": "n".repeat(200_000)}).to_string();
    assert_eq!(post(Some("s3cret"), big).await.unwrap().status(), 413);
    assert!(!page(&c.url("/queue"))
        .await
        .contains(&format!("<code>{fresh}</code>")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_console_pages_and_actions_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    ok(&earshot(dir.path(), None, &["run"]));
    let c = Console::start(dir.path(), None, Some("s3cret"));
    check_pages(&c).await;
    let answered = check_actions(&c, dir.path(), None).await;
    let fresh = first_queued(&page(&c.url("/queue")).await).0;
    check_api(&c, &answered, &fresh).await;
    assert!(c.log().contains("console listening on http://127.0.0.1:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_14_console_api_is_off_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    ok(&earshot(dir.path(), None, &["run"]));
    let c = Console::start(dir.path(), None, None);
    let r = client()
        .post(c.url("/api/responses"))
        .header("authorization", "Bearer anything")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("EARSHOT_CONSOLE_TOKEN"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_console_pages_and_actions_on_clickhouse() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = earshot_tests::clickhouse_database("console");
    let config = clickhouse_config(dir.path(), &url, &db);
    ok(&earshot(dir.path(), Some(&config), &["migrate"]));
    ok(&earshot(dir.path(), Some(&config), &["run"]));
    let c = Console::start(dir.path(), Some(&config), Some("s3cret"));
    check_pages(&c).await;
    let answered = check_actions(&c, dir.path(), Some(&config)).await;
    let fresh = first_queued(&page(&c.url("/queue")).await).0;
    check_api(&c, &answered, &fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_run_follow_serves_the_console_while_it_ingests() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("earshot.toml");
    std::fs::write(
        &config,
        r#"
[sink]
kind = "sqlite"
[sink.sqlite]
path = ".earshot/earshot.db"
[cursors]
path = ".earshot/cursors.db"
[[connectors]]
name = "samples"
kind = "file"
paths = [".earshot/samples/posts.jsonl"]
one_shot = true
[console]
addr = "127.0.0.1:0"
"#,
    )
    .unwrap();
    let mut c = Console::spawn(
        dir.path(),
        Some(&config),
        &["run", "--follow", "--console"],
        None,
    );
    // The samples arrive while the console serves.
    let started = std::time::Instant::now();
    loop {
        let html = page(&c.url("/?window=7d")).await;
        if html.contains("globex") && html.contains("initrode") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the samples never showed:\n{}",
            c.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(page(&c.url("/queue")).await.contains("Why this priority"));
    let status = c.terminate();
    assert!(status.success(), "{status}: {}", c.log());

    // Without --follow, --console is refused (the run would end at once).
    let out = earshot(dir.path(), Some(&config), &["run", "--console"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--follow"));
}
