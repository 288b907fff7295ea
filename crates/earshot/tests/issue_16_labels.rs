//! Issue 16 item 3: intents and routes are names an analyst defines. The
//! bundled configuration, copied, with an own `feature_request` intent in
//! `intents.toml` and a `product` route in `routes.toml`: `earshot run` on
//! the bundled samples stores them in SQLite, the console's queue offers and
//! filters them; `earshot check` refuses a route condition on an intent no
//! rule produces, an invalid name, and cases naming an unknown route; and a
//! scored record carrying an invalid intent dead-letters with the reason.

mod console_common;

use std::path::{Path, PathBuf};

use console_common::*;

const FEATURE_REQUEST: &str = r#"
[[intent]]
intent = "feature_request"
query = 'changelog OR "please add" OR "feature request"'
"#;

const PRODUCT: &str = r#"[[rule]]
name = "ideas"
intents = ["feature_request"]
route = "product"
priority = 35

"#;

/// The bundled config in `dir`, with `intents` appended to its intents
/// file and `routes` put before its first routing rule.
fn setup(intents: &str, routes: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    earshot_tests::copy_dir(&config, dir.path());
    let path = |f: &str| dir.path().join(f);
    let mut text = std::fs::read_to_string(path("intents.toml")).unwrap();
    text.push_str(intents);
    std::fs::write(path("intents.toml"), text).unwrap();
    let text = std::fs::read_to_string(path("routes.toml")).unwrap();
    let first = text.find("\n[[rule]]\n").unwrap() + 1;
    let text = format!("{}{routes}{}", &text[..first], &text[first..]);
    std::fs::write(path("routes.toml"), text).unwrap();
    let toml = path("earshot.toml");
    (dir, toml)
}

fn fails(o: &std::process::Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_own_intent_and_route_through_run_sqlite_and_console() {
    let (dir, config) = setup(FEATURE_REQUEST, PRODUCT);
    let dir = dir.path();
    let checked = ok(&earshot(dir, Some(&config), &["check"]));
    assert!(
        checked.contains(
            "  intents: complaint, question, purchase_intent, churn_risk, praise, pr_risk, feature_request\n"
        ) && checked.contains("  routes: product, pr, support, sales, marketing, none\n"),
        "{checked}"
    );
    ok(&earshot(dir, Some(&config), &["run"]));

    // What landed in SQLite: the own intent and route, beside the bundled ones.
    let db = rusqlite::Connection::open(dir.join(".earshot/earshot.db")).unwrap();
    let product: Vec<(String, String, u8)> = db
        .prepare("SELECT post_id, intents, priority FROM interactions WHERE route = 'product' ORDER BY post_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(product.len() >= 3, "{product:?}");
    for (id, intents, priority) in &product {
        assert!(intents.contains("\"feature_request\""), "{id}: {intents}");
        assert!(*priority >= 35, "{id}: {priority}");
    }
    let routes: Vec<String> = db
        .prepare("SELECT DISTINCT route FROM interactions ORDER BY route")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for want in ["none", "product", "support"] {
        assert!(routes.iter().any(|r| r == want), "{want} not in {routes:?}");
    }

    // The console's queue offers the configured names and filters on them.
    let c = Console::start(dir, Some(&config), None);
    let all = page(&c.url("/queue?window=30d")).await;
    for want in [
        "<option value=\"product\">product</option>",
        "<option value=\"support\">support</option>",
        "<option value=\"feature_request\">feature_request</option>",
        "<option value=\"pr_risk\">pr_risk</option>",
    ] {
        assert!(all.contains(want), "queue lacks {want}");
    }
    assert!(
        !all.contains("<option value=\"none\""),
        "none is nobody's work"
    );
    let shown = |html: &str| -> Vec<String> {
        html.split("<code>")
            .skip(1)
            .filter_map(|s| s.split("</code>").next())
            .filter(|s| s.contains(':'))
            .map(str::to_string)
            .collect()
    };
    let products = page(&c.url("/queue?window=30d&route=product")).await;
    assert!(products.contains("<option value=\"product\" selected>product</option>"));
    let listed = shown(&products);
    assert!(!listed.is_empty(), "{products}");
    for id in &listed {
        assert!(
            product.iter().any(|(p, _, _)| p == id),
            "{id} is not routed to product"
        );
    }
    assert!(products.contains("Intents: feature_request"), "{products}");
    let by_intent = shown(&page(&c.url("/queue?window=30d&intent=feature_request")).await);
    assert!(
        listed.iter().all(|id| by_intent.contains(id)),
        "{by_intent:?}"
    );
    let bad = client()
        .get(c.url("/queue?route=Product%3B"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("no route name"));
    // The overview counts the own intent by name.
    let overview = page(&c.url("/?window=30d")).await;
    assert!(
        overview.contains("feature_request"),
        "overview lacks the intent"
    );
}

/// The console of `earshot run --follow --console` read the intents and
/// routes once, at start: an intent added to the running config was
/// matched at once but offered as a queue filter only after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_a_reloaded_intent_shows_in_the_running_console() {
    let (dir, config) = setup("", "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[console]\naddr = \"127.0.0.1:0\"\n");
    std::fs::write(&config, text).unwrap();
    let mut c = Console::spawn(
        dir.path(),
        Some(&config),
        &["run", "--follow", "--console"],
        None,
    );
    let offered = "<option value=\"feature_request\">feature_request</option>";
    let before = page(&c.url("/queue?window=30d")).await;
    assert!(
        before.contains("<option value=\"complaint\">complaint</option>"),
        "{before}"
    );
    assert!(!before.contains(offered));
    // The running process watches its files and reloads the matcher.
    let intents = dir.path().join("intents.toml");
    let mut text = std::fs::read_to_string(&intents).unwrap();
    text.push_str(FEATURE_REQUEST);
    std::fs::write(&intents, text).unwrap();
    let started = std::time::Instant::now();
    while !page(&c.url("/queue?window=30d")).await.contains(offered) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the reloaded intent never showed:\n{}",
            c.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let status = c.terminate();
    assert!(status.success(), "{status}: {}", c.log());
}

#[test]
fn issue_16_config_names_are_checked() {
    // A route condition on an intent no intents rule produces (a typo).
    let (dir, config) = setup(
        FEATURE_REQUEST,
        &PRODUCT.replace("[\"feature_request\"]", "[\"feature_requets\"]"),
    );
    let err = fails(&earshot(dir.path(), Some(&config), &["check"]));
    assert!(
        err.contains("routes.toml")
            && err.contains("rule ideas")
            && err.contains("`feature_requets` is produced by no rule of the intents file")
            && err.contains("feature_request"),
        "{err}"
    );
    // An invalid name.
    let (dir, config) = setup(
        &FEATURE_REQUEST.replace("feature_request", "Feature-Request"),
        "",
    );
    let err = fails(&earshot(dir.path(), Some(&config), &["check"]));
    assert!(
        err.contains("intents.toml") && err.contains("`Feature-Request` is no valid intent name"),
        "{err}"
    );
    // Cases and alerts naming what the matcher never produces.
    let (dir, config) = setup(FEATURE_REQUEST, PRODUCT);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[cases]\nroutes = [\"product\", \"legal\"]\nintents = [\"feature_request\"]\n\n[alert]\npr_risk_intents = [\"pr_risk\", \"boycott\"]\n",
    );
    std::fs::write(&config, text).unwrap();
    let err = fails(&earshot(dir.path(), Some(&config), &["check"]));
    assert!(
        err.contains("cases.routes[1]: `legal`: no rule of routes.toml produces this route")
            && err.contains(
                "alert.pr_risk_intents[1]: `boycott`: no rule of intents.toml produces this intent"
            ),
        "{err}"
    );
    assert!(
        !err.contains("cases.routes[0]") && !err.contains("cases.intents"),
        "{err}"
    );
}
