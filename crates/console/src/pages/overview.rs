//! `GET /`: share of voice, mention volume with spikes marked, net sentiment
//! over time, intents and sources, for all brands or one (`?brand=`), with
//! the competitors beside it. Data: `earshot_sink::overview` (whole hours).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use earshot_sink::overview::Overview;
use earshot_sink::NetSentiment;
use maud::html;
use serde::Deserialize;

use crate::layout::{error_page, query_string, shell, store_error, window_picker, Nav};
use crate::svg::{self, Bar, Point};
use crate::window::{Window, WindowQuery};
use crate::ConsoleState;

/// Query string of the overview.
#[derive(Debug, Deserialize)]
pub struct OverviewQuery {
    #[serde(flatten)]
    window: WindowQuery,
    #[serde(default)]
    brand: String,
}

/// Spike factor of the volume chart's marks (as `earshot report`'s default).
const SPIKE_K: f64 = 3.0;

/// `GET /`.
async fn page_handler(state: ConsoleState, q: OverviewQuery) -> Response {
    let w = match q.window.resolve(Utc::now()) {
        Ok(w) => w,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Bad window", &e),
    };
    let brand = q.brand.trim();
    if brand.len() > 200 {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Bad brand",
            "brand: longer than 200 bytes",
        );
    }
    let report = match state.inner.overview.overview(w.since, w.until, brand).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    // The figures cover whole hours: show the window they are for.
    let w = Window {
        since: report.since,
        until: report.until,
        label: w.label,
    };
    render(&w, brand, &report).into_response()
}

/// Axum entry point.
pub async fn page(State(state): State<ConsoleState>, Query(q): Query<OverviewQuery>) -> Response {
    page_handler(state, q).await
}

/// Bucket length: hours up to a week, days beyond.
fn bucket_secs(w: &Window) -> i64 {
    if w.until - w.since > chrono::Duration::days(7) {
        86_400
    } else {
        3_600
    }
}

/// Per bucket: (positive, neutral, negative), summed over the entities shown.
fn series(w: &Window, rows: &[NetSentiment]) -> Vec<(DateTime<Utc>, [u64; 3])> {
    let step = bucket_secs(w);
    let start = w.since.timestamp().div_euclid(step) * step;
    let end = w.until.timestamp();
    let mut buckets: BTreeMap<i64, [u64; 3]> = BTreeMap::new();
    let mut t = start;
    while t < end {
        buckets.insert(t, [0; 3]);
        t += step;
    }
    for r in rows {
        let b = r.hour.timestamp().div_euclid(step) * step;
        let e = buckets.entry(b).or_insert([0; 3]);
        e[0] += r.positive;
        e[1] += r.neutral;
        e[2] += r.negative;
    }
    buckets
        .into_iter()
        .map(|(t, v)| (DateTime::from_timestamp(t, 0).unwrap_or_default(), v))
        .collect()
}

fn render(w: &Window, brand: &str, r: &Overview) -> maud::Markup {
    let window_sov = r.share_of_voice.as_slice();
    let sov_bars: Vec<Bar> = window_sov
        .iter()
        .map(|s| Bar {
            label: s.entity_id.clone(),
            value: s.share,
            shown: format!("{:.1}% ({})", s.share * 100.0, s.mentions),
            highlight: s.entity_id == brand,
        })
        .collect();
    let buckets = series(w, &r.hourly);
    let label_fmt = if bucket_secs(w) == 86_400 {
        "%m-%d"
    } else {
        "%m-%d %H:00"
    };
    let volumes: Vec<f64> = buckets
        .iter()
        .map(|(_, v)| (v[0] + v[1] + v[2]) as f64)
        .collect();
    let marks = svg::spikes(&volumes, SPIKE_K);
    let volume_points: Vec<Point> = buckets
        .iter()
        .enumerate()
        .map(|(i, (t, _))| Point {
            label: t.format(label_fmt).to_string(),
            value: Some(volumes[i]),
            marked: marks.contains(&i),
        })
        .collect();
    let net_points: Vec<Point> = buckets
        .iter()
        .map(|(t, v)| Point {
            label: t.format(label_fmt).to_string(),
            value: (v[0] + v[2] > 0).then(|| (v[0] as f64 - v[2] as f64) / (v[0] + v[2]) as f64),
            marked: false,
        })
        .collect();
    let max_volume = volumes.iter().copied().fold(0.0, f64::max).max(1.0);
    let count_bars = |rows: &[earshot_sink::Count]| -> Vec<Bar> {
        rows.iter()
            .map(|c| Bar {
                label: c.key.clone(),
                value: c.posts as f64,
                shown: c.posts.to_string(),
                highlight: false,
            })
            .collect()
    };
    // Net sentiment of each entity over the window (from the hourly rows).
    let mut net_by_entity: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for n in &r.hourly {
        let e = net_by_entity.entry(n.entity_id.as_str()).or_default();
        e.0 += n.positive;
        e.1 += n.negative;
    }
    let window_q = w.query();
    let brand_link = |id: &str| {
        let mut q = window_q.clone();
        q.push(("brand", id.to_string()));
        format!("/{}", query_string(&q))
    };
    let heading = if brand.is_empty() {
        "Overview: all brands".to_string()
    } else {
        format!("Overview: {brand}")
    };
    let total: u64 = volumes.iter().map(|v| *v as u64).sum();
    let body = html! {
        h1 { (heading) }
        (window_picker("/", w, &[("brand", brand.to_string())]))
        nav.brands aria-label="Brands" {
            "Brand: "
            @if brand.is_empty() { a href=(brand_link("")) aria-current="page" { "All" } }
            @else { a href=(brand_link("")) { "All" } }
            @for s in window_sov {
                @if s.entity_id == brand { a href=(brand_link(&s.entity_id)) aria-current="page" { (s.entity_id) } }
                @else { a href=(brand_link(&s.entity_id)) { (s.entity_id) } }
            }
        }
        p { strong { (total) } " mentions in this window" @if !brand.is_empty() { " of " (brand) } "." }
        div.grid {
            section {
                h2 { "Share of voice" }
                (svg::bars("Share of voice: mentions of each brand and competitor", &sov_bars))
            }
            section {
                h2 { "Brand and competitors" }
                div.scroll { table {
                    thead { tr { th scope="col" { "Entity" } th scope="col" { "Kind" } th.num scope="col" { "Mentions" } th.num scope="col" { "Share" } th.num scope="col" { "Net sentiment" } } }
                    tbody {
                        @for s in window_sov {
                            tr {
                                td { @if s.entity_id == brand { strong { (s.entity_id) } } @else { (s.entity_id) } }
                                td { (format!("{:?}", s.kind).to_lowercase()) }
                                td.num { (s.mentions) }
                                td.num { (format!("{:.1}%", s.share * 100.0)) }
                                td.num {
                                    @match net_by_entity.get(s.entity_id.as_str()) {
                                        Some((p, n)) if p + n > 0 => (format!("{:+.2}", (*p as f64 - *n as f64) / (p + n) as f64)),
                                        _ => "–",
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            section {
                h2 { "Mention volume" }
                (svg::line("Mentions per bucket, spikes marked", &volume_points, 0.0, max_volume, false))
                @if !marks.is_empty() {
                    p.spike { (marks.len()) " spike(s) marked (above mean + 3σ of this window)." }
                }
            }
            section {
                h2 { "Net sentiment" }
                (svg::line("Net sentiment per bucket, from -1 to +1", &net_points, -1.0, 1.0, true))
            }
            section {
                h2 { "Intents" }
                (svg::bars("Posts per intent", &count_bars(&r.intents)))
            }
            section {
                h2 { "Sources" }
                (svg::bars("Posts per source", &count_bars(&r.sources)))
            }
        }
        section {
            h2 { "Last hour against the 12 before" }
            @if r.spikes.is_empty() { p.empty { "No mentions in the last 13 hours of this window." } }
            @else {
                div.scroll { table {
                    thead { tr { th scope="col" { "Entity" } th.num scope="col" { "Last hour" } th.num scope="col" { "Mean" } th.num scope="col" { "Threshold" } th scope="col" { "Spike" } } }
                    tbody {
                        @for s in &r.spikes {
                            tr {
                                td { (s.entity_id) }
                                td.num { (s.last_hour) }
                                td.num { (format!("{:.1}", s.mean)) }
                                td.num { (format!("{:.1}", s.threshold)) }
                                td { @if s.spike { span.spike { "spike" } } @else { "no" } }
                            }
                        }
                    }
                } }
            }
        }
    };
    shell(&heading, Nav::Overview, body)
}
