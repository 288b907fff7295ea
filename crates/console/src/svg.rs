//! Inline SVG charts: horizontal bars and a time series with marked points.
//! Written by hand rather than with a charting crate: two chart kinds, a few
//! dozen lines, no build cost. Every chart scales to its container
//! (`viewBox`), carries a `<title>` and an `aria-label`, and draws no text
//! from data unescaped (maud escapes it).

use maud::{html, Markup};

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Label left of the bar.
    pub label: String,
    /// Length, relative to the largest bar.
    pub value: f64,
    /// Text right of the bar (the figure).
    pub shown: String,
    /// Highlight (our brand against competitors).
    pub highlight: bool,
}

const BAR_H: f64 = 28.0;
const LABEL_W: f64 = 150.0;
const WIDTH: f64 = 600.0;

/// Horizontal bars, longest = full width; `title` names the chart for screen readers.
pub fn bars(title: &str, bars: &[Bar]) -> Markup {
    if bars.is_empty() {
        return html! { p.empty { "No data in this window." } };
    }
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    // Room right of the longest bar for its figure, e.g. `50.5% (332)`.
    let track = WIDTH - LABEL_W - 120.0;
    let height = BAR_H * bars.len() as f64 + 4.0;
    html! {
        svg.chart.bars role="img" aria-label=(title) viewBox=(format!("0 0 {WIDTH} {height}"))
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for (i, b) in bars.iter().enumerate() {
                @let y = i as f64 * BAR_H + 2.0;
                @let w = if max > 0.0 { (b.value / max * track).max(0.0) } else { 0.0 };
                text x=(LABEL_W - 6.0) y=(y + 19.0) text-anchor="end" { (truncate(&b.label, 18)) }
                rect class=(if b.highlight { "bar hl" } else { "bar" }) x=(LABEL_W) y=(y + 3.0)
                    width=(fmt(w)) height=(BAR_H - 6.0) {}
                text x=(fmt(LABEL_W + w + 6.0)) y=(y + 19.0) { (b.shown) }
            }
        }
    }
}

/// A point of a series: label of its bucket (shown for the first and last), value.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Bucket label, e.g. `12-01 14:00`.
    pub label: String,
    /// Value (`None`: no data, a gap in the line).
    pub value: Option<f64>,
    /// Marked (a spike).
    pub marked: bool,
}

const LINE_H: f64 = 200.0;
const PAD_L: f64 = 48.0;
const PAD_B: f64 = 24.0;

/// A line over buckets, y from `y_min` to `y_max` (both labelled), marked
/// points drawn as circles with a `<title>`; `zero` draws the y = 0 line.
pub fn line(title: &str, points: &[Point], y_min: f64, y_max: f64, zero: bool) -> Markup {
    if points.iter().all(|p| p.value.is_none()) {
        return html! { p.empty { "No data in this window." } };
    }
    let span = if y_max > y_min { y_max - y_min } else { 1.0 };
    let plot_w = WIDTH - PAD_L - 8.0;
    let plot_h = LINE_H - PAD_B - 8.0;
    let x = |i: usize| {
        PAD_L
            + if points.len() > 1 {
                i as f64 * plot_w / (points.len() - 1) as f64
            } else {
                plot_w / 2.0
            }
    };
    let y = |v: f64| 8.0 + (y_max - v.clamp(y_min, y_max)) / span * plot_h;
    // Gaps split the line into runs.
    let mut paths = Vec::new();
    let mut d = String::new();
    for (i, p) in points.iter().enumerate() {
        match p.value {
            Some(v) => {
                d.push_str(&format!(
                    "{}{},{} ",
                    if d.is_empty() { "M" } else { "L" },
                    fmt(x(i)),
                    fmt(y(v))
                ));
            }
            None if !d.is_empty() => paths.push(std::mem::take(&mut d)),
            None => {}
        }
    }
    if !d.is_empty() {
        paths.push(d);
    }
    let first = points.first().map(|p| p.label.as_str()).unwrap_or("");
    let last = points.last().map(|p| p.label.as_str()).unwrap_or("");
    html! {
        svg.chart.line role="img" aria-label=(title) viewBox=(format!("0 0 {WIDTH} {LINE_H}"))
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            line.axis x1=(PAD_L) y1=(8) x2=(PAD_L) y2=(fmt(8.0 + plot_h)) {}
            line.axis x1=(PAD_L) y1=(fmt(8.0 + plot_h)) x2=(fmt(PAD_L + plot_w)) y2=(fmt(8.0 + plot_h)) {}
            @if zero && y_min < 0.0 && y_max > 0.0 {
                line.zero x1=(PAD_L) y1=(fmt(y(0.0))) x2=(fmt(PAD_L + plot_w)) y2=(fmt(y(0.0))) {}
            }
            text x=(PAD_L - 4.0) y=(14) text-anchor="end" { (short(y_max)) }
            text x=(PAD_L - 4.0) y=(fmt(8.0 + plot_h)) text-anchor="end" { (short(y_min)) }
            text x=(PAD_L) y=(LINE_H - 6.0) { (first) }
            text x=(fmt(PAD_L + plot_w)) y=(LINE_H - 6.0) text-anchor="end" { (last) }
            @for d in &paths {
                path.series d=(d.trim_end()) {}
            }
            @for (i, p) in points.iter().enumerate() {
                @if let (true, Some(v)) = (p.marked, p.value) {
                    circle.mark cx=(fmt(x(i))) cy=(fmt(y(v))) r="5" {
                        title { "Spike at " (p.label) ": " (short(v)) }
                    }
                }
            }
        }
    }
}

/// Indexes of values above `mean + k·σ` of the whole series (missing values
/// count as 0), the console's spike marks.
pub fn spikes(values: &[f64], k: f64) -> Vec<usize> {
    if values.len() < 3 {
        return Vec::new();
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let threshold = mean + k * var.sqrt();
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > threshold && **v > 0.0)
        .map(|(i, _)| i)
        .collect()
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

fn short(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, value: f64) -> Bar {
        Bar {
            label: label.into(),
            value,
            shown: format!("{value}"),
            highlight: label == "acme",
        }
    }

    #[test]
    fn bars_are_proportional_and_escaped() {
        let svg = bars("Share", &[bar("acme", 10.0), bar("<globex>", 5.0)]).into_string();
        // Room right of the longest bar for its figure, e.g. `50.5% (332)`.
        let track = WIDTH - LABEL_W - 120.0;
        assert!(svg.contains(&format!("width=\"{}\"", fmt(track))), "{svg}");
        assert!(
            svg.contains(&format!("width=\"{}\"", fmt(track / 2.0))),
            "{svg}"
        );
        assert!(svg.contains("class=\"bar hl\""), "{svg}");
        assert!(
            svg.contains("&lt;globex&gt;") && !svg.contains("<globex>"),
            "{svg}"
        );
        assert!(svg.contains("<title>Share</title>") && svg.contains("aria-label=\"Share\""));
        assert!(bars("x", &[]).into_string().contains("No data"));
        // All zero: no division by zero, zero-width bars.
        assert!(bars("x", &[bar("a", 0.0)])
            .into_string()
            .contains("width=\"0.0\""));
    }

    #[test]
    fn lines_split_at_gaps_and_mark_spikes() {
        let p = |v: Option<f64>, marked| Point {
            label: "t".into(),
            value: v,
            marked,
        };
        let svg = line(
            "Volume",
            &[
                p(Some(1.0), false),
                p(Some(2.0), false),
                p(None, false),
                p(Some(9.0), true),
            ],
            0.0,
            10.0,
            false,
        )
        .into_string();
        assert_eq!(svg.matches("<path").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
        assert!(svg.contains("Spike at t: 9"), "{svg}");
        assert!(line("x", &[p(None, false)], 0.0, 1.0, false)
            .into_string()
            .contains("No data"));
        let net = line(
            "Net",
            &[p(Some(-0.5), false), p(Some(0.5), false)],
            -1.0,
            1.0,
            true,
        )
        .into_string();
        assert!(net.contains("class=\"zero\""), "{net}");
    }

    #[test]
    fn spikes_are_points_far_above_the_mean() {
        let mut v = vec![2.0; 24];
        v[20] = 30.0;
        assert_eq!(spikes(&v, 3.0), [20]);
        assert!(spikes(&[2.0; 24], 3.0).is_empty());
        assert!(spikes(&[0.0, 5.0], 0.0).is_empty());
    }
}
