//! Bearer-token authentication for the HTTP server stack:
//! `auth = { bearer_token_env = "VAR" }` or `{ bearer_token_file = PATH }`.
//!
//! The token is read once, when the stage is built, and kept in a
//! [`Token`] whose `Debug` prints nothing of it, so it cannot reach a log
//! line, the report or `/metrics` by accident. Comparison takes the same
//! time wherever the first differing byte is.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Deserialize;

/// The `auth` table of an HTTP server setting.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The environment variable that holds the token.
    pub bearer_token_env: Option<String>,
    /// A file whose content (trimmed) is the token.
    pub bearer_token_file: Option<PathBuf>,
}

impl AuthConfig {
    /// Exactly one of the two ways must be given.
    pub fn validate(&self) -> Option<String> {
        match (&self.bearer_token_env, &self.bearer_token_file) {
            (Some(_), Some(_)) => Some(
                "`auth` takes one of `bearer_token_env` and `bearer_token_file`, not both"
                    .to_string(),
            ),
            (None, None) => {
                Some("`auth` needs `bearer_token_env` or `bearer_token_file`".to_string())
            }
            _ => None,
        }
    }

    /// Reads the token; an unset variable, an unreadable or empty file is
    /// an error (never "no auth").
    pub fn load(&self) -> anyhow::Result<Token> {
        let token = match (&self.bearer_token_env, &self.bearer_token_file) {
            (Some(var), _) => std::env::var(var)
                .with_context(|| format!("auth: environment variable `{var}` is not set"))?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("auth: cannot read token file {}", path.display()))?,
            (None, None) => anyhow::bail!("auth: no token source"),
        };
        let token = token.trim();
        if token.is_empty() {
            anyhow::bail!("auth: the bearer token is empty");
        }
        Ok(Token(token.as_bytes().to_vec()))
    }
}

/// A bearer token, never printed.
#[derive(Clone)]
pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A token from its text (tests, and settings read elsewhere).
    pub fn new(token: &str) -> Token {
        Token(token.as_bytes().to_vec())
    }

    /// True when `headers` carry `Authorization: Bearer <this token>`.
    pub fn admits(&self, headers: &axum::http::HeaderMap) -> bool {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return false;
        };
        let value = value.as_bytes();
        let Some(given) = value
            .strip_prefix(b"Bearer ")
            .or_else(|| value.strip_prefix(b"bearer "))
        else {
            return false;
        };
        constant_time_eq(given, &self.0)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_only_the_exact_token_and_never_prints_it() {
        let token = Token::new("s3cret");
        let mut headers = axum::http::HeaderMap::new();
        assert!(!token.admits(&headers));
        headers.insert("authorization", "Bearer s3cre".parse().unwrap());
        assert!(!token.admits(&headers));
        headers.insert("authorization", "Bearer s3cret".parse().unwrap());
        assert!(token.admits(&headers));
        assert!(!format!("{token:?}").contains("s3cret"));
    }
}
