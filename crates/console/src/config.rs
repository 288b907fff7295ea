//! `[console]`: where `earshot console` listens and where the API token is.

use serde::Deserialize;

/// `[console]` in earshot.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Address `earshot console` listens on (`--addr` overrides it; default
    /// `127.0.0.1:8080`). Beyond loopback, `auth` must be `users` or `proxy`.
    pub addr: String,
    /// Serve the console from `earshot run --follow` as well (`--console`
    /// turns it on for one run); `earshot console` serves it regardless.
    pub enabled: bool,
    /// Name of the environment variable holding the bearer token of
    /// `POST /api/responses` (default `EARSHOT_CONSOLE_TOKEN`). Without it
    /// set, the API answers 503; the token itself is never in the file.
    pub api_token_env: String,
    /// Who may use the pages: `none` (default; allowed only on a loopback
    /// address), `users` (a login page checks `[[console.users]]`'s argon2
    /// password hashes) or `proxy` (an authenticating reverse proxy puts the
    /// user's name in `proxy_header`; it must be one of `[[console.users]]`).
    pub auth: AuthMode,
    /// The header an authenticating reverse proxy sets (default
    /// `X-Forwarded-User`); only read with `auth = "proxy"`.
    pub proxy_header: String,
    /// The people who may log in, and what they may do.
    pub users: Vec<UserConfig>,
}

/// How the console knows who is there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Nobody is asked: only on a loopback address.
    #[default]
    None,
    /// A login page with the users' passwords.
    Users,
    /// A reverse proxy that authenticated the user names them in a header.
    Proxy,
}

/// What a user may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read every page; no action.
    #[default]
    Viewer,
    /// Read, and act on the work queue (answer, assign, mark a match wrong).
    Editor,
}

/// One `[[console.users]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name (also the agent recorded for their actions).
    pub name: String,
    /// Argon2 hash in PHC form (`$argon2id$v=19$...`), from
    /// `earshot console --hash-password` (reads the password on stdin).
    /// Not needed with `auth = "proxy"`.
    #[serde(default)]
    pub password_hash: String,
    /// `viewer` (default) or `editor`.
    #[serde(default)]
    pub role: Role,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            addr: "127.0.0.1:8080".into(),
            enabled: false,
            api_token_env: "EARSHOT_CONSOLE_TOKEN".into(),
            auth: AuthMode::None,
            proxy_header: "X-Forwarded-User".into(),
            users: Vec::new(),
        }
    }
}

impl ConsoleConfig {
    /// Every problem, as `(key, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        match self.addr.parse::<std::net::SocketAddr>() {
            Ok(a) if !a.ip().is_loopback() && self.auth == AuthMode::None => errors.push((
                "console.auth".to_string(),
                format!(
                    "`none` on {}, which is not a loopback address: set auth = \"users\" (with [[console.users]]) or \"proxy\", or listen on 127.0.0.1",
                    self.addr
                ),
            )),
            _ => {}
        }
        if self.auth != AuthMode::None && self.users.is_empty() {
            errors.push((
                "console.users".to_string(),
                "empty: with auth = \"users\" or \"proxy\", list who may use the console ([[console.users]] name, role)".to_string(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            if u.name.trim().is_empty() || u.name.len() > 128 {
                errors.push((
                    format!("console.users[{i}].name"),
                    "expected 1 to 128 characters".to_string(),
                ));
            }
            if !names.insert(u.name.as_str()) {
                errors.push((
                    format!("console.users[{i}].name"),
                    format!("`{}` is listed twice", u.name),
                ));
            }
            if self.auth == AuthMode::Users
                && argon2::password_hash::PasswordHash::new(&u.password_hash).is_err()
            {
                errors.push((
                    format!("console.users[{i}].password_hash"),
                    "expected an argon2 hash in PHC form ($argon2id$...): make one with `earshot console --hash-password`".to_string(),
                ));
            }
        }
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
