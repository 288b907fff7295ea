//! The ops HTTP server every long-running command serves: `GET /metrics`
//! (Prometheus text), `GET /health` (200 while the process runs) and
//! `GET /ready` (200 once every readiness check passes, 503 naming the
//! failing ones otherwise).
//!
//! Stages record metrics through the `metrics` facade and readiness through
//! [`earshot_transport::readiness`]; this module only installs the Prometheus
//! recorder and serves both, so it knows nothing about any stage.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use earshot_transport::{readiness, ready};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;

use crate::config::Config;

/// Where (and whether) to serve the ops endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAddr {
    /// Not served.
    Off,
    /// Served on this address (port 0: any free port, logged at start).
    At(SocketAddr),
}

impl FromStr for MetricsAddr {
    type Err = String;

    /// `off`, `HOST:PORT` with an IP address, `[::1]:PORT`, or a bare port
    /// (`9464` or `:9464`), which means 127.0.0.1.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") {
            return Ok(MetricsAddr::Off);
        }
        let port = s.strip_prefix(':').unwrap_or(s);
        if let Ok(port) = port.parse::<u16>() {
            return Ok(MetricsAddr::At(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                port,
            )));
        }
        if let Some(port) = s.strip_prefix("localhost:") {
            if let Ok(port) = port.parse::<u16>() {
                return Ok(MetricsAddr::At(SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    port,
                )));
            }
        }
        s.parse::<SocketAddr>().map(MetricsAddr::At).map_err(|_| {
            format!(
                "`{s}`: expected an address like 127.0.0.1:9464 or 0.0.0.0:9464, \
                 a port (9464 or :9464, meaning 127.0.0.1), or `off`"
            )
        })
    }
}

impl fmt::Display for MetricsAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsAddr::Off => f.write_str("off"),
            MetricsAddr::At(a) => write!(f, "{a}"),
        }
    }
}

/// `[ops]` section of `earshot.toml`: operating the daemons.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// Address of the ops HTTP server (`/metrics`, `/health`, `/ready`):
    /// `HOST:PORT`, a bare port (`9464` or `:9464`, meaning 127.0.0.1), or
    /// `"off"`. Default: each daemon's own port on 127.0.0.1 (run 9460,
    /// connect 9461, match 9462, sink 9463, alert 9464). The same file
    /// usually serves several daemons, so on one host give each its own
    /// `--metrics-addr` instead. `--metrics-addr` (or `EARSHOT_METRICS_ADDR`)
    /// wins over this key.
    #[serde(default)]
    pub metrics_addr: Option<String>,
}

impl OpsConfig {
    /// Problems as `(key, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        match self.metrics_addr.as_deref().map(MetricsAddr::from_str) {
            Some(Err(e)) => vec![("ops.metrics_addr".into(), e)],
            _ => Vec::new(),
        }
    }

    /// The configured address, if any (validated before use).
    fn addr(&self) -> Option<MetricsAddr> {
        self.metrics_addr.as_deref().and_then(|a| a.parse().ok())
    }
}

/// `--metrics-addr`, shared by every long-running subcommand.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OpsArgs {
    /// Serve /metrics, /health and /ready on ADDR (`127.0.0.1:9464`, a bare
    /// port meaning 127.0.0.1, port 0 for any free port, or `off`). Wins over
    /// `[ops] metrics_addr`. Default: the command's own port on 127.0.0.1
    /// (run --follow 9460, connect 9461, match 9462, sink 9463, alert 9464,
    /// cases 9465).
    #[arg(long, value_name = "ADDR", env = "EARSHOT_METRICS_ADDR")]
    pub metrics_addr: Option<MetricsAddr>,
}

/// A command that serves the ops endpoints, with its default port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// `earshot run` (served by default with `--follow` only).
    Run,
    /// `earshot connect`.
    Connect,
    /// `earshot match`.
    Match,
    /// `earshot sink`.
    Sink,
    /// `earshot alert` (served by default as a daemon, not with `--once`).
    Alert,
    /// `earshot cases`.
    Cases,
}

impl Daemon {
    /// The port served on 127.0.0.1 when nothing else is configured.
    pub fn default_port(self) -> u16 {
        match self {
            Daemon::Run => 9460,
            Daemon::Connect => 9461,
            Daemon::Match => 9462,
            Daemon::Sink => 9463,
            Daemon::Alert => 9464,
            Daemon::Cases => 9465,
        }
    }
}

/// Where to serve: the flag (or its environment variable), else the config
/// key, else the command's default port when `on_by_default`.
pub fn resolve(
    daemon: Daemon,
    on_by_default: bool,
    flag: Option<MetricsAddr>,
    config: &OpsConfig,
) -> MetricsAddr {
    match (flag, config.addr(), on_by_default) {
        (Some(a), _, _) => a,
        (None, Some(a), true) => a,
        (None, _, true) => MetricsAddr::At(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            daemon.default_port(),
        )),
        (None, _, false) => MetricsAddr::Off,
    }
}

/// The process's Prometheus recorder, installed on first use.
fn recorder() -> anyhow::Result<&'static PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("earshot_sink_insert_seconds".into()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ],
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("earshot_sink_batch_rows".into()),
                &[
                    1.0, 10.0, 50.0, 100.0, 500.0, 1_000.0, 5_000.0, 10_000.0, 50_000.0, 100_000.0,
                ],
            )
        })
        .context("configuring the Prometheus recorder")?
        .install_recorder()
        .context("installing the Prometheus recorder")?;
    Ok(HANDLE.get_or_init(|| handle))
}

/// Starts the ops server for `daemon` if `addr` says so: installs the
/// metrics recorder, declares the readiness checks `required` (besides
/// `config`, which passes now: the config was loaded and validated), binds
/// and serves in the background. A bind failure is an error naming the
/// address and how to change it. Returns the bound address (the real port
/// when 0 was asked for), or `None` when serving is off.
pub async fn start(
    addr: MetricsAddr,
    config: &Config,
    required: &[String],
) -> anyhow::Result<Option<SocketAddr>> {
    let MetricsAddr::At(addr) = addr else {
        return Ok(None);
    };
    let handle = recorder()?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot serve /metrics, /health and /ready on {addr}: {e}; choose another address with \
             --metrics-addr ADDR (or EARSHOT_METRICS_ADDR, or [ops] metrics_addr in {}), or turn it off with `off`",
            config.name
        )
    })?;
    let bound = listener.local_addr()?;
    let ready = readiness();
    ready.pass(ready::CONFIG);
    for check in required {
        ready.require(check, "not checked yet: starting");
    }
    metrics::gauge!("earshot_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let metrics = handle.clone();
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let body = metrics.render();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        body,
                    )
                }
            }),
        )
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready_response));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "ops server stopped");
        }
    });
    // Histograms keep raw samples until upkeep folds them into buckets.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    tracing::info!(addr = %bound, "ops server listening: /metrics, /health, /ready");
    Ok(Some(bound))
}

/// `/ready`: 200 or 503 with every check and its state as JSON, e.g.
/// `{"ready":false,"checks":{"broker":"not checked yet: starting","config":"ok"}}`.
async fn ready_response() -> impl IntoResponse {
    let r = readiness();
    let checks: serde_json::Map<String, serde_json::Value> = r
        .checks()
        .into_iter()
        .map(|(name, outcome)| (name, outcome.err().unwrap_or_else(|| "ok".into()).into()))
        .collect();
    let ready = r.is_ready();
    let body = serde_json::json!({ "ready": ready, "checks": checks });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{body}\n"),
    )
}

/// Publishes `earshot_watchlist_info{version}`: 1 for the running
/// watchlists, 0 for the ones `previous` replaced.
pub fn watchlist_loaded(previous: Option<&str>, version: &str) {
    if let Some(old) = previous.filter(|o| *o != version) {
        metrics::gauge!("earshot_watchlist_info", "version" => old.to_string()).set(0.0);
    }
    metrics::gauge!("earshot_watchlist_info", "version" => version.to_string()).set(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_in_every_documented_form() {
        let local = |p| MetricsAddr::At(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p));
        assert_eq!("9464".parse(), Ok(local(9464)));
        assert_eq!(":9464".parse(), Ok(local(9464)));
        assert_eq!("localhost:9464".parse(), Ok(local(9464)));
        assert_eq!("127.0.0.1:0".parse(), Ok(local(0)));
        assert_eq!("OFF".parse::<MetricsAddr>(), Ok(MetricsAddr::Off));
        assert_eq!(
            "0.0.0.0:9464".parse::<MetricsAddr>().unwrap().to_string(),
            "0.0.0.0:9464"
        );
        assert_eq!(
            "[::1]:9464".parse::<MetricsAddr>().unwrap().to_string(),
            "[::1]:9464"
        );
        for bad in [
            "",
            "nine",
            "127.0.0.1",
            "127.0.0.1:99999",
            "example.com:9464",
        ] {
            let e = bad.parse::<MetricsAddr>().unwrap_err();
            assert!(e.contains("expected an address"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_flag_wins_over_the_config_which_wins_over_the_default() {
        let config = OpsConfig {
            metrics_addr: Some("127.0.0.1:9999".into()),
        };
        let none = OpsConfig::default();
        let at = |s: &str| s.parse::<MetricsAddr>().unwrap();
        assert_eq!(
            resolve(Daemon::Match, true, Some(at("off")), &config),
            MetricsAddr::Off
        );
        assert_eq!(resolve(Daemon::Match, true, None, &config), at("9999"));
        assert_eq!(resolve(Daemon::Match, true, None, &none), at("9462"));
        assert_eq!(resolve(Daemon::Sink, true, None, &none), at("9463"));
        // `run` without --follow: only an explicit flag turns it on.
        assert_eq!(resolve(Daemon::Run, false, None, &config), MetricsAddr::Off);
        assert_eq!(resolve(Daemon::Run, false, Some(at("0")), &none), at("0"));
        assert_eq!(
            OpsConfig {
                metrics_addr: Some("nope".into())
            }
            .validate()[0]
                .0,
            "ops.metrics_addr"
        );
    }
}
