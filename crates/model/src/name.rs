//! Intents and routes are names an analyst defines in `intents.toml` and
//! `routes.toml`, not a fixed list: [`Intent`] and [`Route`] are small
//! validated strings (`[a-z][a-z0-9_]{0,47}`), serialized as the plain
//! string, so records written when they were enums still decode.
//!
//! A name of up to 23 bytes is held inline (no allocation, a clone is a
//! copy); the bundled names all are. Decoding a record carrying an invalid
//! name fails, so the record dead-letters with the reason.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;

/// Longest name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 48;

/// Why a string is no intent or route name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}` is no valid {what} name: expected a lowercase letter, then up to {max} lowercase letters, digits or `_`", max = MAX_NAME_LEN - 1)]
pub struct NameError {
    /// `intent` or `route`.
    pub what: &'static str,
    /// The refused text (cut to a readable length).
    pub shown: String,
}

/// Whether `s` is a valid name: `[a-z][a-z0-9_]{0,47}`.
pub fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

fn check(what: &'static str, s: &str) -> Result<SmolStr, NameError> {
    if valid_name(s) {
        Ok(SmolStr::new(s))
    } else {
        // A refused name may be arbitrary bytes from a record: show a bounded,
        // printable prefix.
        let mut shown: String = s.chars().take(MAX_NAME_LEN + 2).collect();
        if shown.len() < s.len() {
            shown.push('…');
        }
        Err(NameError {
            what,
            shown: shown.escape_debug().to_string(),
        })
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $what:literal, { $($(#[$cdoc:meta])* $c:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(SmolStr);

        impl $ty {
            $($(#[$cdoc])* pub const $c: $ty = $ty(SmolStr::new_inline($s));)+

            /// The bundled default set (`config/*.toml`), in declaration order.
            pub const BUNDLED: &'static [$ty] = &[$($ty::$c),+];

            /// A validated name.
            pub fn new(s: &str) -> Result<$ty, NameError> {
                check($what, s).map($ty)
            }

            /// The name, as used in JSON, SQL and config files.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<$ty, NameError> {
                $ty::new(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                // Borrowed where the input allows, so a valid name costs no
                // allocation beyond its own (none when inline).
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $ty::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// What the author wants or signals: a name an `intents.toml` rule
    /// produces (the bundled rules produce the six constants).
    Intent, "intent", {
        /// Something went wrong for them.
        COMPLAINT = "complaint",
        /// They ask for help or information.
        QUESTION = "question",
        /// They consider buying.
        PURCHASE_INTENT = "purchase_intent",
        /// They consider leaving.
        CHURN_RISK = "churn_risk",
        /// They are pleased.
        PRAISE = "praise",
        /// Legal threats, boycotts, press, safety: a reputational risk.
        PR_RISK = "pr_risk",
    }
);

name_type!(
    /// The team an interaction is routed to: a name a `routes.toml` rule
    /// produces, or [`Route::NONE`] (the bundled rules produce the constants).
    Route, "route", {
        /// Customer support.
        SUPPORT = "support",
        /// Sales.
        SALES = "sales",
        /// Marketing.
        MARKETING = "marketing",
        /// Public relations.
        PR = "pr",
        /// Nobody needs to act: every configuration has it.
        NONE = "none",
    }
);

impl Route {
    /// Whether someone needs to act (any route but [`Route::NONE`]).
    pub fn is_routed(&self) -> bool {
        *self != Route::NONE
    }
}

impl Default for Route {
    fn default() -> Self {
        Route::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_and_round_trip() {
        for r in Route::BUNDLED {
            assert_eq!(r.as_str().parse::<Route>().unwrap(), *r);
            assert_eq!(serde_json::to_string(r).unwrap(), format!("\"{r}\""));
        }
        let custom: Intent = serde_json::from_str("\"feature_request\"").unwrap();
        assert_eq!(custom.as_str(), "feature_request");
        assert_eq!(
            "purchase_intent".parse::<Intent>().unwrap(),
            Intent::PURCHASE_INTENT
        );
        assert!(valid_name(&"a".repeat(MAX_NAME_LEN)));
        for bad in [
            "",
            "Sales",
            "9lives",
            "a-b",
            "a b",
            "été",
            &"a".repeat(MAX_NAME_LEN + 1),
        ] {
            let err = bad.parse::<Route>().unwrap_err();
            assert!(err.to_string().contains("no valid route name"), "{err}");
            assert!(serde_json::from_str::<Intent>(&format!("{bad:?}")).is_err());
        }
        let long = "x".repeat(10_000);
        assert!(long.parse::<Intent>().unwrap_err().shown.len() < 60);
    }

    #[test]
    fn bundled_names_are_inline() {
        for n in Intent::BUNDLED {
            assert!(!n.0.is_heap_allocated());
        }
        assert!(std::mem::size_of::<Route>() <= 24);
    }
}
