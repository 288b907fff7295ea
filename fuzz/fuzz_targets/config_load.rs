//! The config loaders: a watchlist file (TOML of brands with queries) and the
//! transport section, parsed and validated, never panic.
#![no_main]

use earshot_match::{MatcherConfig, MemorySource};
use earshot_transport::TransportConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config: MatcherConfig =
        toml::from_str("brands = ['b.toml']\nintents = 'i.toml'").expect("static config");
    let files = MemorySource::default()
        .with("b.toml", text)
        .with("i.toml", text);
    let _ = config.compile(&files);
    if let Ok(t) = toml::from_str::<TransportConfig>(text) {
        let _ = t.validate();
    }
});
