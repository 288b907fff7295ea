//! Issue 11: scoring costs grow linearly with a post's size, and a post
//! over `max_text_bytes` is scored by its opening and flagged.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use earshot_match::{FileSource, Matcher, MatcherConfig};
use earshot_model::Post;

struct Dir(PathBuf);

impl FileSource for Dir {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(self.0.join(path))
    }
}

/// The bundled config with `max_text_bytes` set.
fn bundled(max_text_bytes: usize) -> Matcher {
    #[derive(serde::Deserialize)]
    struct File {
        matcher: MatcherConfig,
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let text = std::fs::read_to_string(dir.join("earshot.toml")).unwrap();
    let mut file: File = toml::from_str(&text).unwrap();
    file.matcher.max_text_bytes = max_text_bytes;
    file.matcher
        .compile(&Dir(dir))
        .unwrap_or_else(|e| panic!("{e:#?}"))
}

/// A post of about `bytes` bytes that names brands in every sentence, with
/// aliases inside excluded phrases, contained aliases and several entities.
fn heavy_post(bytes: usize) -> Post {
    let unit = "acme is great. ACME Corporation is fine! apple pie and Apple iPhone, globex?\n";
    let text = unit.repeat(bytes / unit.len() + 1);
    Post::new("x:1", text)
}

/// Fastest of three scorings.
fn time(m: &Matcher, p: &Post) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(m.score(p));
            t.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn issue_11_scoring_is_linear_in_post_size() {
    let m = bundled(usize::MAX);
    let small = heavy_post(64 << 10);
    let large = heavy_post(512 << 10);
    let i = m.score(&small);
    assert!(
        i.matches.len() > 1000,
        "the post must be heavy: {}",
        i.matches.len()
    );
    assert!(!i.truncated);
    let (ts, tl) = (time(&m, &small), time(&m, &large));
    // 8× the text: linear work takes about 8× (n log n a little more);
    // the quadratic loops this replaced took 64×.
    let ratio = tl.as_secs_f64() / ts.as_secs_f64();
    assert!(
        ratio < 24.0,
        "512 KiB took {ratio:.1}× the time of 64 KiB ({ts:?} → {tl:?})"
    );
}

#[test]
fn issue_11_long_posts_are_truncated_with_a_flag() {
    let m = bundled(4096);
    let short = Post::new("x:1", "acme is great");
    assert!(!m.score(&short).truncated);
    let long = heavy_post(100_000);
    let i = m.score(&long);
    assert!(i.truncated);
    assert_eq!(i.post.text, long.text, "the post itself is kept whole");
    assert!(i
        .matches
        .iter()
        .all(|x| x.span.is_none_or(|(_, e)| e <= 4096)));
    let json = serde_json::to_string(&i).unwrap();
    assert!(json.contains("\"truncated\":true"));
    assert!(!serde_json::to_string(&m.score(&short))
        .unwrap()
        .contains("truncated"));
}

#[test]
fn issue_11_truncation_cuts_on_a_character_boundary() {
    let m = bundled(4095);
    let long = Post::new("x:1", "é".repeat(5000));
    assert!(m.score(&long).truncated);
}
