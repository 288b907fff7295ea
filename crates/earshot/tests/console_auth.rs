//! Who may use the console (issue 15): users with argon2 passwords and
//! sessions, viewers who read but cannot act, a forged form refused, an
//! authenticating proxy's header, and `auth = "none"` refused off loopback.
//! Everything over real HTTP against `earshot console`.

mod console_common;

use std::path::Path;

use console_common::{client, earshot, field, hash, ok, Console};

/// A config over the store `earshot run` left in `dir`, with `console`.
fn config(dir: &Path, console: &str) -> std::path::PathBuf {
    let bundled = ok(&earshot(dir, None, &["check"]));
    assert!(bundled.contains("OK"));
    let path = dir.join("earshot.toml");
    std::fs::write(
        &path,
        format!(
            "[sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \".earshot/earshot.db\"\n{console}"
        ),
    )
    .unwrap();
    path
}

/// POSTs `fields` as a form to `url`, with the session cookie `cookie`.
async fn post(
    http: &reqwest::Client,
    url: String,
    cookie: &str,
    fields: &[(&str, &str)],
) -> reqwest::StatusCode {
    http.post(url)
        .header("cookie", cookie)
        .form(fields)
        .send()
        .await
        .unwrap()
        .status()
}

fn session(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("earshot_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_console_users_sign_in_viewers_read_forged_forms_refused() {
    let dir = tempfile::tempdir().unwrap();
    ok(&earshot(dir.path(), None, &["run"]));
    let (ann, bob) = (hash(dir.path(), "ann's secret"), hash(dir.path(), "bob pw"));
    let cfg = config(
        dir.path(),
        &format!(
            "[console]\nauth = \"users\"\n\
             [[console.users]]\nname = \"ann\"\npassword_hash = \"{ann}\"\nrole = \"editor\"\n\
             [[console.users]]\nname = \"bob\"\npassword_hash = \"{bob}\"\n"
        ),
    );
    let c = Console::start(dir.path(), Some(&cfg), None);
    let http = client();

    // Not signed in: pages send to the sign-in page, actions are refused.
    let r = http.get(c.url("/queue?window=7d")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/login?next=%2Fqueue%3Fwindow%3D7d"
    );
    let r = http
        .post(c.url("/queue/answer"))
        .form(&[("post_id", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let login = http
        .get(c.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("<label for=\"password\">"));
    let csrf = field(&login, "csrf");
    let sign_in = |name: &'static str, password: &'static str, csrf: String| {
        let http = http.clone();
        let url = c.url("/login");
        async move {
            http.post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("next", "/queue?window=7d"),
                    ("name", name),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(sign_in("ann", "wrong", csrf.clone()).await.status(), 401);
    assert_eq!(
        sign_in("mallory", "ann's secret", csrf.clone())
            .await
            .status(),
        401
    );
    assert_eq!(
        sign_in("ann", "ann's secret", "forged".into())
            .await
            .status(),
        403
    );
    let r = sign_in("ann", "ann's secret", csrf.clone()).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/queue?window=7d");
    let ann_cookie = session(&r).expect("a session cookie");
    let set = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );

    // Signed in: the queue, and an answer under ann's own name.
    let queue = http
        .get(c.url("/queue?window=7d"))
        .header("cookie", &ann_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let post_id = field(&queue, "post_id");
    let page_csrf = field(&queue, "csrf");
    // A form from elsewhere (no token) is refused even with the session.
    assert_eq!(
        post(
            &http,
            c.url("/queue/answer"),
            &ann_cookie,
            &[("post_id", post_id.as_str()), ("agent", "x"), ("csrf", "0")]
        )
        .await,
        403
    );
    assert_eq!(
        post(
            &http,
            c.url("/queue/answer"),
            &ann_cookie,
            &[
                ("post_id", post_id.as_str()),
                ("agent", "someone else"),
                ("csrf", page_csrf.as_str()),
            ]
        )
        .await,
        303
    );
    let conn = rusqlite::Connection::open(dir.path().join(".earshot/earshot.db")).unwrap();
    let by: String = conn
        .query_row(
            "SELECT responder FROM responses WHERE post_id = ?1",
            [&post_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(by, "ann");

    // Bob is a viewer: he reads, he cannot act.
    let r = sign_in("bob", "bob pw", csrf.clone()).await;
    let bob_cookie = session(&r).unwrap();
    let read = http
        .get(c.url("/alerts"))
        .header("cookie", &bob_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(
        post(
            &http,
            c.url("/queue/assign"),
            &bob_cookie,
            &[
                ("post_id", post_id.as_str()),
                ("assignee", "x"),
                ("csrf", page_csrf.as_str()),
            ]
        )
        .await,
        403
    );

    // Signing out ends the session.
    let out = http
        .post(c.url("/logout"))
        .header("cookie", &ann_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let after = http
        .get(c.url("/"))
        .header("cookie", &ann_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_console_behind_an_authenticating_proxy() {
    let dir = tempfile::tempdir().unwrap();
    ok(&earshot(dir.path(), None, &["run"]));
    let cfg = config(
        dir.path(),
        "[console]\nauth = \"proxy\"\nproxy_header = \"X-Remote-User\"\n[[console.users]]\nname = \"ann\"\nrole = \"editor\"\n",
    );
    let c = Console::start(dir.path(), Some(&cfg), None);
    let http = client();
    let get = |user: Option<&'static str>| {
        let mut r = http.get(c.url("/"));
        if let Some(u) = user {
            r = r.header("X-Remote-User", u);
        }
        r.send()
    };
    assert_eq!(get(Some("ann")).await.unwrap().status(), 200);
    assert_eq!(get(None).await.unwrap().status(), 401);
    assert_eq!(get(Some("mallory")).await.unwrap().status(), 403);
}

#[test]
fn issue_15_console_without_auth_is_refused_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "[console]\naddr = \"0.0.0.0:8080\"\n");
    let out = earshot(dir.path(), Some(&cfg), &["check"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("console.auth"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // `--addr` beyond loopback is refused at start too.
    let cfg = config(dir.path(), "");
    let out = earshot(dir.path(), Some(&cfg), &["console", "--addr", "0.0.0.0:0"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("beyond loopback"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A users entry without a valid hash is a configuration error naming it.
    let cfg = config(dir.path(), "[console]\nauth = \"users\"\n[[console.users]]\nname = \"ann\"\npassword_hash = \"hunter2\"\n");
    let out = earshot(dir.path(), Some(&cfg), &["check"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("console.users[0].password_hash"));
}
