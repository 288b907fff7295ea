//! Who is there. `auth = "users"`: a login page checks the password against
//! the user's argon2 hash and opens a session (a random token in an
//! `HttpOnly`, `SameSite=Strict` cookie, kept in memory for 12 hours);
//! `auth = "proxy"`: the reverse proxy that authenticated the user names
//! them in a header. Viewers read; editors also act on the work queue.
//! `auth = "none"` is refused off loopback (see [`crate::ConsoleConfig`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::html;
use rand::RngCore;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::config::{AuthMode, Role, UserConfig};
use crate::layout::{cookie, error_page, shell, Nav};
use crate::ConsoleState;

/// How long a login lasts.
const SESSION: Duration = Duration::from_secs(12 * 3600);
/// The session cookie's name.
const COOKIE: &str = "earshot_session";

/// The user of a request, for handlers (`None` name: `auth = "none"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// Their login name.
    pub name: Option<String>,
    /// What they may do.
    pub role: Role,
}

/// The console's users and open sessions.
pub(crate) struct Auth {
    pub mode: AuthMode,
    pub users: Vec<UserConfig>,
    pub proxy_header: String,
    sessions: Mutex<HashMap<String, (String, Role, Instant)>>,
}

impl Auth {
    pub fn new(mode: AuthMode, users: Vec<UserConfig>, proxy_header: String) -> Auth {
        Auth {
            mode,
            users,
            proxy_header,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn user(&self, name: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.name == name)
    }

    fn session(&self, headers: &HeaderMap) -> Option<Who> {
        let token = cookie(headers, COOKIE)?;
        let mut sessions = self.sessions.lock().expect("sessions lock");
        sessions.retain(|_, (_, _, until)| *until > Instant::now());
        sessions.get(&token).map(|(name, role, _)| Who {
            name: Some(name.clone()),
            role: *role,
        })
    }

    fn open(&self, user: &UserConfig) -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        self.sessions.lock().expect("sessions lock").insert(
            token.clone(),
            (user.name.clone(), user.role, Instant::now() + SESSION),
        );
        token
    }

    fn close(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers, COOKIE) {
            self.sessions.lock().expect("sessions lock").remove(&token);
        }
    }
}

/// An argon2id hash (PHC form) of `password`, for `[[console.users]]`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Every request but the login page, the stylesheet and the token-checked
/// API: find the user, or send them to log in; only editors may POST.
pub async fn gate(State(state): State<ConsoleState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/login" || path == "/style.css" || path.starts_with("/api/") {
        return next.run(req).await;
    }
    let auth = &state.inner.auth;
    let who = match auth.mode {
        AuthMode::None => Some(Who {
            name: None,
            role: Role::Editor,
        }),
        AuthMode::Users => auth.session(req.headers()),
        AuthMode::Proxy => {
            let named = req
                .headers()
                .get(auth.proxy_header.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|n| !n.is_empty());
            match named {
                None => None,
                Some(n) => match auth.user(n) {
                    Some(u) => Some(Who {
                        name: Some(u.name.clone()),
                        role: u.role,
                    }),
                    None => {
                        return error_page(
                            StatusCode::FORBIDDEN,
                            "Not a console user",
                            "The proxy named a user who is not in [[console.users]].",
                        )
                    }
                },
            }
        }
    };
    let Some(who) = who else {
        if auth.mode == AuthMode::Users && req.method() == Method::GET {
            let next_path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let to = format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(next_path.as_bytes()).collect::<String>()
            );
            return (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
        }
        return error_page(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "This console needs a signed-in user.",
        );
    };
    if req.method() == Method::POST && path != "/logout" && who.role != Role::Editor {
        return error_page(
            StatusCode::FORBIDDEN,
            "Read only",
            "Your role is viewer: you can read every page but not act on the work queue.",
        );
    }
    let signed_in = match auth.mode {
        AuthMode::Users => who.name.clone().map(|n| (n, state.inner.csrf.clone())),
        _ => None,
    };
    req.extensions_mut().insert(who);
    crate::layout::SIGNED_IN
        .scope(signed_in, next.run(req))
        .await
}

/// `?next=` of the login page.
#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only local paths are followed after a login (never another site).
fn local(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

/// `GET /login`.
pub async fn login_page(State(state): State<ConsoleState>, Query(q): Query<NextQuery>) -> Response {
    if state.inner.auth.mode != AuthMode::Users {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    }
    let body = html! {
        h1 { "Sign in" }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(state.inner.csrf);
            input type="hidden" name="next" value=(local(&q.next));
            p { label for="name" { "Name" } " " input #name name="name" type="text" autocomplete="username" required; }
            p { label for="password" { "Password" } " " input #password name="password" type="password" autocomplete="current-password" required; }
            p { button type="submit" { "Sign in" } }
        }
    };
    shell("Sign in", Nav::Overview, body).into_response()
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`: checks the password (every name costs one argon2
/// verification, known or not) and opens a session.
pub async fn login(State(state): State<ConsoleState>, Form(f): Form<LoginForm>) -> Response {
    let ok: bool = f.csrf.as_bytes().ct_eq(state.inner.csrf.as_bytes()).into();
    if !ok {
        return error_page(
            StatusCode::FORBIDDEN,
            "Form expired",
            "Reload the sign-in page and try again.",
        );
    }
    let auth = &state.inner.auth;
    if auth.mode != AuthMode::Users {
        return error_page(
            StatusCode::NOT_FOUND,
            "No sign-in",
            "This console does not use passwords.",
        );
    }
    let user = auth.user(f.name.trim());
    // A fixed hash for unknown names, so a wrong name takes as long as a wrong password.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$7i8pWSpCm5MkbkAWPq2jeB8Oz8GkRMNmKLNcEkDYPpE";
    let (hash, password) = (
        user.map_or(DUMMY.to_string(), |u| u.password_hash.clone()),
        f.password,
    );
    let valid = tokio::task::spawn_blocking(move || verify(&password, &hash))
        .await
        .unwrap_or(false);
    match user.filter(|_| valid) {
        Some(u) => {
            let token = auth.open(u);
            let cookie = format!(
                "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                SESSION.as_secs()
            );
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, local(&f.next).to_string()),
                    (header::SET_COOKIE, cookie),
                ],
            )
                .into_response()
        }
        None => error_page(
            StatusCode::UNAUTHORIZED,
            "Sign in failed",
            "Wrong name or password.",
        ),
    }
}

/// `POST /logout`: closes the session.
pub async fn logout(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    state.inner.auth.close(&headers);
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/login".to_string()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_next_stays_local() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("x", "not a hash"));
        assert_eq!(local("/queue?x=1"), "/queue?x=1");
        assert_eq!(local("//evil.example"), "/");
        assert_eq!(local("https://evil.example"), "/");
    }
}
