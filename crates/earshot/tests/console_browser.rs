//! `earshot console` in a real browser (issue 15): headless chromium renders
//! each page (`--dump-dom`, the DOM after parsing) and screenshots it at phone
//! and laptop widths. tests/harness/start.sh installs chromium; without it the
//! test is skipped, except under CI where it fails.

mod console_common;

use std::process::Command;

use console_common::*;

fn chromium() -> Option<String> {
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

fn chrome(bin: &str, profile: &std::path::Path, args: &[String]) -> std::process::Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

#[test]
fn issue_15_console_pages_render_in_headless_chromium() {
    let Some(bin) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    ok(&earshot(dir.path(), None, &["run"]));
    let c = Console::start(dir.path(), None, None);
    let profile = dir.path().join("chromium-profile");

    for (path, heading, charts, labels) in [
        (
            "/?window=7d",
            "Overview: all brands",
            4,
            &["Since (UTC)", "Until (UTC)"][..],
        ),
        (
            "/?window=7d&brand=acme",
            "Overview: acme",
            4,
            &["Since (UTC)"][..],
        ),
        (
            "/queue",
            "Work queue",
            0,
            &[
                "Route",
                "Customer tier",
                "Agent",
                "Assign to",
                "Wrong match",
            ][..],
        ),
        ("/alerts", "Alerts", 0, &["Since (UTC)"][..]),
    ] {
        let out = chrome(&bin, &profile, &["--dump-dom".into(), c.url(path)]);
        let dom = String::from_utf8_lossy(&out.stdout);
        assert!(
            dom.contains("<html lang=\"en\""),
            "{path}: no DOM:\n{dom}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(dom.matches("<h1").count(), 1, "{path}: one h1");
        assert!(
            dom.contains(&format!(">{heading}</h1>")),
            "{path}: heading {heading}"
        );
        assert!(
            dom.matches("<svg").count() >= charts,
            "{path}: fewer than {charts} charts"
        );
        if charts > 0 {
            assert!(
                dom.contains("<rect") && dom.contains("<path"),
                "{path}: bars and lines"
            );
        }
        for l in labels {
            assert!(dom.contains(&format!(">{l}</label>")), "{path}: label {l}");
        }
        // Every visible input has a label pointing at it.
        for input in dom.split("<input").skip(1) {
            let tag = input.split('>').next().unwrap();
            if tag.contains("type=\"hidden\"") {
                continue;
            }
            let id = tag.split("id=\"").nth(1).and_then(|s| s.split('"').next());
            let id = id.unwrap_or_else(|| panic!("{path}: input without id: {tag}"));
            assert!(
                dom.contains(&format!("<label for=\"{id}\"")),
                "{path}: no label for {id}"
            );
        }
    }

    // Screenshots at phone and laptop widths: real PNGs of the size asked.
    for (name, w, h) in [("phone", 390, 844), ("laptop", 1366, 900)] {
        let png = dir.path().join(format!("overview-{name}.png"));
        let out = chrome(
            &bin,
            &profile,
            &[
                format!("--window-size={w},{h}"),
                format!("--screenshot={}", png.display()),
                c.url("/?window=7d"),
            ],
        );
        let bytes = std::fs::read(&png).unwrap_or_else(|e| {
            panic!(
                "{name}: no screenshot ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}: not a PNG");
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        assert_eq!(width, w, "{name}: screenshot width");
        if let Ok(keep) = std::env::var("EARSHOT_SCREENSHOT_DIR") {
            std::fs::copy(
                &png,
                std::path::Path::new(&keep).join(format!("console-{name}.png")),
            )
            .unwrap();
        }
    }
}
