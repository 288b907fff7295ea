//! Talking to Earshot's webhook connector as a real sender does: signed
//! HTTP/1.1 POSTs over loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `X-Earshot-Signature` value for `body` sent at Unix second `ts`.
pub fn sign(secret: &[u8], ts: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `body` to `path`, signed now with `secret`; the status code, or
/// `None` when the connection failed (the receiver is down or died
/// mid-request).
pub fn post(addr: SocketAddr, path: &str, secret: &[u8], body: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    // Signed when sent, as a sender retrying after an outage would.
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-Earshot-Timestamp: {ts}\r\nX-Earshot-Signature: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        sign(secret, ts, body),
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a loopback port")
        .port()
}

/// Waits until something accepts connections on `addr`; panics with
/// `daemon`'s log if it exits or a minute passes first.
pub fn wait_listening(addr: SocketAddr, daemon: &mut crate::process::Daemon) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(daemon.running(), "the daemon exited: {}", daemon.log());
        assert!(
            Instant::now() < deadline,
            "nothing listened on {addr}: {}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes `dir/earshot.toml` for the embedded mode with a webhook connector
/// on 127.0.0.1:`port` (path `/ingest`, secret in `secret_env`), the SQLite
/// store at `dir/store.db`, and `extra` (a `[matcher]` section, say) first.
/// Returns the config's path.
pub fn embedded_webhook_config(
    dir: &std::path::Path,
    port: u16,
    secret_env: &str,
    extra: &str,
) -> std::path::PathBuf {
    let config = dir.join("earshot.toml");
    std::fs::write(
        &config,
        format!(
            "{extra}\n[sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"{db}\"\n\
             [cursors]\npath = \"{cursors}\"\n\
             [[connectors]]\nname = \"hook\"\nkind = \"webhook\"\nlisten = \"127.0.0.1:{port}\"\n\
             path = \"/ingest\"\nsecret_env = \"{secret_env}\"\n",
            db = dir.join("store.db").display(),
            cursors = dir.join("cursors.db").display(),
        ),
    )
    .expect("writing the config");
    config
}
