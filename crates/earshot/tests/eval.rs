//! `earshot eval` (issue 16, item 2): the bundled watchlist against a few
//! labelled posts; the figures agree with what `earshot score` finds on the
//! same posts, and every miss is listed with its reason.

const LABELLED: &str = concat!(
    "{\"id\": \"t:1\", \"text\": \"Acme support is terrible, worst service ever\", \"labels\": {\"entities\": [\"acme\"], \"sentiment\": \"negative\"}}\n",
    "{\"id\": \"t:2\", \"text\": \"Globex launched a new phone today\", \"labels\": {\"entities\": []}}\n",
    "{\"id\": \"t:3\", \"text\": \"the weather is lovely\", \"labels\": {\"entities\": [\"acme\"], \"sentiment\": \"positive\"}}\n",
);

fn earshot(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_earshot"));
    earshot_tests::process::output_with_stdin(
        earshot_tests::process::command(bin, dir, args),
        stdin,
    )
}

/// The cells of the table row whose first cell is `key`.
fn row(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.split(['│', '┆'])
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.get(1).is_some_and(|c| c == key))
        .unwrap_or_else(|| panic!("no row {key} in\n{text}"))[2..]
        .to_vec()
}

#[test]
fn issue_16_eval_reports_precision_recall_and_misses() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.jsonl");
    std::fs::write(&labels, LABELLED).unwrap();
    // What the matcher finds on the same posts, from `earshot score`.
    let scored = earshot(dir.path(), &["score"], LABELLED);
    assert!(scored.status.success());
    let found: Vec<Vec<String>> = String::from_utf8_lossy(&scored.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["entity_id"].as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert!(found[0].contains(&"acme".to_string()) && !found[2].contains(&"acme".to_string()));

    let out = earshot(
        dir.path(),
        &["eval", "--labels", labels.to_str().unwrap()],
        "",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("on 3 labelled post(s)"), "{text}");
    // acme: labelled twice, found once (post 1), right once.
    assert_eq!(
        row(&text, "acme")[..6],
        ["2", "1", "1", "1.00", "0.50", "0.67"],
        "{text}"
    );
    // Whatever post 2 matched was labelled as none of them: each a false positive.
    for id in &found[1] {
        assert_eq!(row(&text, id)[..4], ["0", "1", "0", "0.00"], "{text}");
        assert!(text.contains(&format!("entity {id}")), "{text}");
    }
    assert!(text.contains("labelled, not found"), "{text}");
    assert!(
        text.contains("no rule matched: \"the weather is lovely\""),
        "{text}"
    );
    assert!(text.contains("Sentiment: "), "{text}");

    std::fs::write(&labels, "{\"id\": \"t:1\", \"text\": \"x\"}\n").unwrap();
    let bad = earshot(
        dir.path(),
        &["eval", "--labels", labels.to_str().unwrap()],
        "",
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("labels.jsonl: line 1: expected a `labels` object"));
}

/// An intent label the config cannot produce (a typo) is refused with the
/// file, the line and the configured intents, not reported as a miss.
#[test]
fn issue_16_eval_refuses_an_unknown_intent_label() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.jsonl");
    let eval = |text: &str| {
        std::fs::write(&labels, text).unwrap();
        earshot(
            dir.path(),
            &["eval", "--labels", labels.to_str().unwrap()],
            "",
        )
    };
    let known = concat!(
        "{\"id\": \"t:1\", \"text\": \"Acme support is terrible\", \"labels\": {\"intents\": [\"complaint\"]}}\n",
        "\n",
    );
    let ok = eval(known);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("complaint"));

    let bad = eval(&format!(
        "{known}{}",
        "{\"id\": \"t:2\", \"text\": \"Acme support is terrible\", \"labels\": {\"intents\": [\"complain\"]}}\n"
    ));
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        bad.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&bad.stdout)
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("labels.jsonl: line 3: labels.intents: `complain`: no rule of intents.toml produces this intent; expected one of: "),
        "{err}"
    );
    for intent in ["complaint", "question", "praise", "churn_risk"] {
        assert!(err.contains(intent), "{err}");
    }
}
