//! The boolean query parser: never panics or overflows the stack, and a
//! parsed query displays as text that parses back to the same query.
#![no_main]

use earshot_match::query::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = Query::parse(text) {
        let shown = q.to_string();
        let again = Query::parse(&shown)
            .unwrap_or_else(|e| panic!("`{text}` displays as `{shown}`, which fails: {e}"));
        assert_eq!(again, q, "`{text}` displays as `{shown}`");
    }
});
