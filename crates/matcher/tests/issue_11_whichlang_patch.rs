//! Issue 11: whichlang is patched (`vendor/whichlang`) so its per-n-gram sum
//! runs as vector adds; its answers must stay the upstream crate's. The
//! upstream answers were written by the unpatched whichlang 0.1.1 for every
//! text of the language-evaluation set and for one long text a language
//! (thousands of n-grams, so the patched sum's batching is crossed many
//! times).

fn cases() -> Vec<(String, String)> {
    let text = include_str!("data/lang-cases.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            let (lang, kind, text) = (f.next()?, f.next()?, f.next()?);
            Some((lang.to_string(), format!("{kind}\t{text}")))
        })
        .collect()
}

#[test]
fn issue_11_patched_whichlang_answers_as_upstream_does() {
    let cases = cases();
    let mut texts: Vec<String> = cases
        .iter()
        .map(|(_, k)| k.split_once('\t').expect("kind and text").1.to_string())
        .collect();
    let mut langs: Vec<&str> = cases.iter().map(|(l, _)| l.as_str()).collect();
    langs.sort_unstable();
    langs.dedup();
    for lang in langs {
        let joined: Vec<&str> = cases
            .iter()
            .filter(|(l, k)| l == lang && k.starts_with("sentence\t"))
            .map(|(_, k)| k.split_once('\t').expect("kind and text").1)
            .collect();
        texts.push(joined.join(" "));
    }
    let answers: Vec<&str> = include_str!("data/whichlang-answers.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(answers.len(), texts.len(), "one upstream answer a text");
    assert!(
        texts.iter().any(|t| t.len() > 10_000),
        "long texts included"
    );
    let wrong: Vec<(usize, &str, &str)> = texts
        .iter()
        .zip(&answers)
        .enumerate()
        .filter_map(|(i, (t, want))| {
            let got = whichlang::detect_language(t).three_letter_code();
            (got != *want).then_some((i, got, *want))
        })
        .collect();
    assert!(wrong.is_empty(), "answers differ from upstream: {wrong:?}");
}
