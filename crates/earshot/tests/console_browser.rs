//! `earshot console` in a real browser (issue 15): headless Chromium,
//! driven over the DevTools protocol (tests/browser), loads the overview on
//! the store `earshot run` seeded and shows the report's figures; marks a
//! post answered through the queue's form and sees it leave the queue (and
//! the report's); a forged form from another page is refused; a user signs
//! in and out. Every page is checked for one `h1`, labelled fields and its
//! charts, and screenshotted at phone and laptop widths, the PNGs kept in
//! `$CARGO_TARGET_TMPDIR/console-screenshots` (and copied to
//! `EARSHOT_SCREENSHOT_DIR` when set). tests/harness/start.sh installs
//! Chromium; without it the tests are skipped, except under CI where they
//! fail.

mod browser;
mod console_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use browser::{chromium, Browser};
use console_common::*;
use serde_json::Value;

/// Where the screenshots stay after the run.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots of the current page at 390 and 1366 px: real PNGs that wide.
async fn screenshots(b: &mut Browser, name: &str) {
    for (size, w, h) in [("phone", 390, 844), ("laptop", 1366, 900)] {
        let png = b.screenshot(w, h).await;
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}: not a PNG");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(width, w, "{name}: screenshot width");
        let file = format!("console-{name}-{size}.png");
        std::fs::write(screenshot_dir().join(&file), &png).unwrap();
        if let Ok(keep) = std::env::var("EARSHOT_SCREENSHOT_DIR") {
            std::fs::write(Path::new(&keep).join(&file), &png).unwrap();
        }
    }
}

/// The page's structure as the browser built it: one `h1` with `heading`,
/// at least `charts` SVG charts, and a label for every visible field.
async fn check_structure(b: &mut Browser, path: &str, heading: &str, charts: u64) {
    let facts = b
        .eval(
            "(() => ({
                h1: Array.from(document.querySelectorAll('h1')).map(h => h.textContent.trim()),
                charts: document.querySelectorAll('svg').length,
                unlabelled: Array.from(document.querySelectorAll('input:not([type=hidden]), select'))
                    .filter(i => !i.id || !document.querySelector('label[for=\"' + i.id + '\"]'))
                    .map(i => i.outerHTML),
            }))()",
        )
        .await;
    assert_eq!(facts["h1"], serde_json::json!([heading]), "{path}");
    assert!(
        facts["charts"].as_u64().unwrap() >= charts,
        "{path}: fewer than {charts} charts"
    );
    assert_eq!(facts["unlabelled"], serde_json::json!([]), "{path}");
}

/// `entity → (mentions, share)` of the report's "Share of voice (report window)".
fn report_share_of_voice(dir: &Path) -> BTreeMap<String, (String, String)> {
    let text = ok(&earshot(dir, None, &["report", "--since", "30d"]));
    let start = text
        .find("Share of voice (report window)")
        .expect("a share of voice section");
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    text[start..end]
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .split(['│', '┆'])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            (cells.len() == 4 && cells[2].parse::<u64>().is_ok()).then(|| {
                (
                    cells[0].to_string(),
                    (cells[2].to_string(), cells[3].to_string()),
                )
            })
        })
        .collect()
}

/// `entity → (mentions, share)` of the overview's table, as the browser shows it.
async fn shown_share_of_voice(b: &mut Browser) -> BTreeMap<String, (String, String)> {
    let rows = b
        .eval(
            "(() => {
                const t = Array.from(document.querySelectorAll('main table'))
                    .find(t => t.tHead && t.tHead.textContent.includes('Entity'));
                return t ? Array.from(t.tBodies[0].rows)
                    .map(r => Array.from(r.cells).map(c => c.textContent.trim())) : null;
            })()",
        )
        .await;
    assert!(!rows.is_null(), "no table of brands and competitors");
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cell = |i: usize| r[i].as_str().unwrap().to_string();
            (cell(0), (cell(2), cell(3)))
        })
        .collect()
}

/// The post ids queued on the current page, in order.
async fn queued(b: &mut Browser) -> Vec<String> {
    let ids: Value = b
        .eval(
            "Array.from(document.querySelectorAll('form[action^=\"/queue/answer\"] input[name=post_id]')).map(i => i.value)",
        )
        .await;
    serde_json::from_value(ids).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_console_driven_in_headless_chromium() {
    let Some(bin) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    ok(&earshot(dir.path(), None, &["run"]));
    let c = Console::start(dir.path(), None, None);
    let mut b = Browser::launch(&bin, &dir.path().join("profile")).await;

    // The overview shows the report's figures.
    b.goto(&c.url("/?window=30d")).await;
    check_structure(&mut b, "/", "Overview: all brands", 4).await;
    let shown = shown_share_of_voice(&mut b).await;
    assert!(shown.len() >= 2, "{shown:?}");
    assert_eq!(shown, report_share_of_voice(dir.path()));
    screenshots(&mut b, "overview").await;
    // A brand, reached by its link.
    let html = b
        .navigating("document.querySelector('nav.brands a[href*=\"brand=acme\"]').click()")
        .await;
    assert!(html.contains("Overview: acme"));
    check_structure(&mut b, "/?brand=acme", "Overview: acme", 4).await;

    // The work queue: answer the first post through its form.
    b.goto(&c.url("/queue?window=30d")).await;
    check_structure(&mut b, "/queue", "Work queue", 0).await;
    screenshots(&mut b, "queue").await;
    let before = queued(&mut b).await;
    assert!(before.len() >= 2, "{before:?}");
    let first = before[0].clone();
    b.type_into("form[action^=\"/queue/answer\"] input[name=agent]", "ann")
        .await;
    b.type_into(
        "form[action^=\"/queue/answer\"] input[name=note]",
        "called back",
    )
    .await;
    b.navigating("document.querySelector('form[action^=\"/queue/answer\"] button').click()")
        .await;
    let after = queued(&mut b).await;
    assert!(!after.contains(&first), "{first} still queued: {after:?}");
    assert_eq!(after[0], before[1]);
    let conn = rusqlite::Connection::open(dir.path().join(".earshot/earshot.db")).unwrap();
    let (by, channel): (String, String) = conn
        .query_row(
            "SELECT responder, channel FROM responses WHERE post_id = ?1",
            [&first],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((by.as_str(), channel.as_str()), ("ann", "console"));

    // A forged form: another page posting to the console without its token.
    let target = after[0].clone();
    let forged = format!(
        "data:text/html,<form method=post action=\"{}\"><input name=post_id value=\"{target}\"><input name=agent value=eve><input name=csrf value=forged><button>go</button></form>",
        c.url("/queue/answer")
    );
    b.goto(&forged).await;
    let refused = b
        .navigating("document.querySelector('button').click()")
        .await;
    assert!(refused.contains("<h1"), "{refused}");
    let status = b
        .eval("performance.getEntriesByType('navigation')[0].responseStatus")
        .await;
    assert_eq!(status, serde_json::json!(403), "{refused}");
    b.goto(&c.url("/queue?window=30d")).await;
    assert!(
        queued(&mut b).await.contains(&target),
        "{target} was answered"
    );

    // The thread and author pages, by the queue's links.
    let html = b
        .navigating("document.querySelector('main a[href^=\"/thread/\"]').click()")
        .await;
    assert!(html.contains("post(s)"));
    let heading = b.eval("document.querySelector('h1').textContent").await;
    check_structure(&mut b, "/thread", heading.as_str().unwrap(), 0).await;
    screenshots(&mut b, "thread").await;
    b.goto(&c.url("/queue?window=30d")).await;
    let html = b
        .navigating("document.querySelector('main a[href^=\"/author/\"]').click()")
        .await;
    assert!(html.contains("Sentiment by week") && html.contains("CRM accounts"));
    let heading = b.eval("document.querySelector('h1').textContent").await;
    check_structure(&mut b, "/author", heading.as_str().unwrap(), 0).await;
    screenshots(&mut b, "author").await;
    b.goto(&c.url("/alerts")).await;
    check_structure(&mut b, "/alerts", "Alerts", 0).await;
    screenshots(&mut b, "alerts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_console_sign_in_and_out_in_headless_chromium() {
    let Some(bin) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    ok(&earshot(dir.path(), None, &["run"]));
    let config = dir.path().join("earshot.toml");
    std::fs::write(
        &config,
        format!(
            "[sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \".earshot/earshot.db\"\n\
             [console]\nauth = \"users\"\n\
             [[console.users]]\nname = \"ann\"\npassword_hash = \"{}\"\nrole = \"editor\"\n",
            hash(dir.path(), "ann's secret")
        ),
    )
    .unwrap();
    let c = Console::start(dir.path(), Some(&config), None);
    let mut b = Browser::launch(&bin, &dir.path().join("profile")).await;

    // Not signed in: the queue sends to the sign-in page.
    b.goto(&c.url("/queue?window=30d")).await;
    assert!(b
        .eval("location.pathname")
        .await
        .as_str()
        .unwrap()
        .ends_with("/login"));
    check_structure(&mut b, "/login", "Sign in", 0).await;
    screenshots(&mut b, "login").await;
    // A wrong password is refused.
    b.type_into("#name", "ann").await;
    b.type_into("#password", "guess").await;
    let html = b
        .navigating("document.querySelector('main button').click()")
        .await;
    assert!(html.contains("Wrong name or password."), "{html}");

    // Signed in, back to the queue, the name in the header.
    b.goto(&c.url("/queue?window=30d")).await;
    b.type_into("#name", "ann").await;
    b.type_into("#password", "ann's secret").await;
    let html = b
        .navigating("document.querySelector('main button').click()")
        .await;
    assert!(html.contains("<h1>Work queue</h1>"), "{html}");
    assert!(html.contains("Signed in as ann"), "{html}");
    assert!(!queued(&mut b).await.is_empty());

    // Signed out: the session is gone, the queue asks to sign in again.
    let html = b
        .navigating("document.querySelector('form.signout button').click()")
        .await;
    assert!(html.contains("<h1>Sign in</h1>"), "{html}");
    b.goto(&c.url("/queue?window=30d")).await;
    assert!(b
        .eval("location.pathname")
        .await
        .as_str()
        .unwrap()
        .ends_with("/login"));
}
