//! Talking to a daemon's ops endpoints (`/metrics`, `/health`, `/ready`)
//! over loopback, as a scraper or a load balancer would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::process::Daemon;

/// `GET path` over a fresh connection: status and body.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read answer");
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|a| a.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The value of the Prometheus sample `name` whose labels include every one
/// of `labels` (summed over the samples that do), `None` when there is none.
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        if metric != name {
            continue;
        }
        let rest = rest.trim_end_matches('}');
        if labels
            .iter()
            .all(|(k, v)| rest.split(',').any(|kv| kv == format!("{k}=\"{v}\"")))
        {
            *found.get_or_insert(0.0) += value.parse::<f64>().expect("a number");
        }
    }
    found
}

/// Polls `/metrics` until `done` holds on it; returns that text.
pub fn wait_for_metrics(
    daemon: &mut Daemon,
    addr: SocketAddr,
    timeout: Duration,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let (status, body) = get(addr, "/metrics");
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(daemon.running(), "daemon exited: {}", daemon.log());
        assert!(
            Instant::now() < deadline,
            "{what} not reached in {timeout:?}; metrics:\n{body}\nlog:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Polls `/ready` until it answers 200; returns every earlier answer.
pub fn wait_ready(daemon: &mut Daemon, addr: SocketAddr, timeout: Duration) -> Vec<(u16, String)> {
    let deadline = Instant::now() + timeout;
    let mut before = Vec::new();
    loop {
        let (status, body) = get(addr, "/ready");
        if status == 200 {
            assert!(body.contains(r#""ready":true"#), "{body}");
            return before;
        }
        assert_eq!(status, 503, "{body}");
        before.push((status, body));
        assert!(daemon.running(), "daemon exited: {}", daemon.log());
        assert!(
            Instant::now() < deadline,
            "not ready in {timeout:?}: {:?}\n{}",
            before.last(),
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
