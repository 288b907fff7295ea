//! `[console]`: where `earshot console` listens and where the API token is.

use serde::Deserialize;

/// `[console]` in earshot.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Address `earshot console` listens on (`--addr` overrides it). The
    /// pages have no login: keep it on loopback (the default,
    /// `127.0.0.1:8080`) or behind an authenticating reverse proxy.
    pub addr: String,
    /// Serve the console from `earshot run --follow` as well (`--console`
    /// turns it on for one run); `earshot console` serves it regardless.
    pub enabled: bool,
    /// Name of the environment variable holding the bearer token of
    /// `POST /api/responses` (default `EARSHOT_CONSOLE_TOKEN`). Without it
    /// set, the API answers 503; the token itself is never in the file.
    pub api_token_env: String,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            addr: "127.0.0.1:8080".into(),
            enabled: false,
            api_token_env: "EARSHOT_CONSOLE_TOKEN".into(),
        }
    }
}

impl ConsoleConfig {
    /// Every problem, as `(key, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if self.addr.parse::<std::net::SocketAddr>().is_err() {
            errors.push((
                "console.addr".to_string(),
                format!(
                    "`{}` is not an address: expected IP:port such as 127.0.0.1:8080",
                    self.addr
                ),
            ));
        }
        let env_ok = !self.api_token_env.is_empty()
            && self.api_token_env.len() <= 128
            && self
                .api_token_env
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !env_ok {
            errors.push((
                "console.api_token_env".to_string(),
                format!(
                    "`{}`: expected an environment variable name (A-Z, 0-9, _), e.g. EARSHOT_CONSOLE_TOKEN",
                    self.api_token_env
                ),
            ));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(ConsoleConfig::default().validate().is_empty());
        let c: ConsoleConfig =
            toml::from_str("addr = \"localhost\"\napi_token_env = \"my-token\"").unwrap();
        let keys: Vec<String> = c.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["console.addr", "console.api_token_env"]);
        assert!(toml::from_str::<ConsoleConfig>("adr = \"x\"").is_err());
    }
}
