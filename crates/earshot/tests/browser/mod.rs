//! A minimal Chrome DevTools Protocol client for the console's browser
//! tests: headless Chromium (Debian's `chromium`, installed by
//! tests/harness/start.sh) started with a DevTools port, one page driven
//! over the protocol's websocket (tokio-tungstenite, already a dependency of
//! the connectors): navigate, type, click, read the DOM, screenshot.
//! Evaluating through DevTools is not subject to the page's
//! Content-Security-Policy, so the console itself stays without scripts.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The `chromium` binary, or `None` (with a message) when it is not
/// installed; under CI its absence fails the test.
pub fn chromium() -> Option<String> {
    let found = Command::new("sh")
        .args(["-c", "command -v chromium"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if found.is_none() {
        assert!(
            !earshot_tests::under_ci(),
            "chromium is not installed but CI=true: tests/harness/start.sh installs it"
        );
        eprintln!("SKIPPED: chromium is not installed (tests/harness/start.sh installs it)");
    }
    found
}

/// One headless Chromium with one page; the browser is killed when dropped.
pub struct Browser {
    child: Child,
    socket: Socket,
    session: String,
    next_id: u64,
}

impl Browser {
    /// Starts `bin` with a fresh profile under `profile` and opens a blank page.
    pub async fn launch(bin: &str, profile: &Path) -> Browser {
        let mut child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(at) = line.find("ws://") {
                        let _ = tx.send(line[at..].trim().to_string());
                        sent = true;
                    }
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium printed no DevTools address within 30 s");
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect to chromium's DevTools");
        let mut b = Browser {
            child,
            socket,
            session: String::new(),
            next_id: 0,
        };
        let target = b
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = b
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b.call("Page.enable", json!({})).await;
        b
    }

    /// Sends a command (to the page's session once attached) and returns its result.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let answer = self.send(method, params).await;
        assert!(
            answer.get("error").is_none(),
            "{method}: {}",
            answer["error"]
        );
        answer["result"].clone()
    }

    /// Sends a command and returns the whole answer (`result` or `error`).
    async fn send(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::text(msg.to_string()))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(left, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("{method}: no answer within 30 s"))
                .expect("DevTools closed")
                .unwrap();
            let Message::Text(text) = next else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id {
                return v;
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    pub async fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .await
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// As [`eval`](Self::eval), the failure as text (a page being replaced
    /// by the next one has no context to evaluate in).
    async fn try_eval(&mut self, expression: &str) -> Result<Value, String> {
        let answer = self
            .send(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        if let Some(e) = answer.get("error") {
            return Err(e.to_string());
        }
        let r = &answer["result"];
        match r.get("exceptionDetails") {
            Some(e) => Err(e.to_string()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// Runs `action` (which navigates: a link, a form) and waits for the next
    /// document to finish loading; returns its HTML.
    pub async fn navigating(&mut self, action: &str) -> String {
        self.eval("window.__earshot_before = true").await;
        // The action may replace the document before it answers.
        let _ = self.try_eval(action).await;
        self.wait_for("!window.__earshot_before && document.readyState === 'complete'")
            .await;
        self.html().await
    }

    /// Loads `url`, as typed into the address bar (so a `data:` page may be
    /// opened too), and returns the page's HTML once loaded.
    pub async fn goto(&mut self, url: &str) -> String {
        self.eval("window.__earshot_before = true").await;
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_for("!window.__earshot_before && document.readyState === 'complete'")
            .await;
        self.html().await
    }

    /// Waits up to 15 s for `condition` (JavaScript) to be true.
    pub async fn wait_for(&mut self, condition: &str) {
        let start = Instant::now();
        while self.try_eval(&format!("!!({condition})")).await != Ok(json!(true)) {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "not within 15 s: {condition}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The current document's HTML.
    pub async fn html(&mut self) -> String {
        self.eval("document.documentElement.outerHTML")
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Focuses the element `selector` and types `text` into it, as a keyboard would.
    pub async fn type_into(&mut self, selector: &str, text: &str) {
        let found = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); if (!e) return false; e.focus(); e.value = ''; return true; }})()",
                json!(selector)
            ))
            .await;
        assert_eq!(found, json!(true), "no element {selector}");
        self.call("Input.insertText", json!({"text": text})).await;
    }

    /// A screenshot of the page at `width` × `height` CSS pixels, as PNG.
    pub async fn screenshot(&mut self, width: u32, height: u32) -> Vec<u8> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 700}),
        )
        .await;
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
