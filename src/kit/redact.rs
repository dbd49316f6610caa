//! Keeps the secrets of connection URLs (today: redis) out of everything
//! sluice prints: logs, error messages and error events, `check`
//! diagnostics, the report, `graph` output, panics.
//!
//! A config holds its URL as a [`SecretUrl`], whose `Debug` and `Display`
//! are redacted, so that no formatting of a config can leak it; only the
//! client that connects calls [`SecretUrl::expose`]. The password becomes
//! `***`: `redis://user:***@host:6379/0`, `rediss://:***@host`, and the
//! `pass`/`password` query parameters of `redis+unix://` URLs likewise.

use std::fmt;

use serde::Deserialize;

/// What a secret is replaced with.
const MASK: &str = "***";

/// A URL that may carry a password: printed only redacted.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps `url`.
    pub fn new(url: impl Into<String>) -> Self {
        SecretUrl(url.into())
    }

    /// The URL itself, secrets included: for the client that connects, and
    /// for nothing that prints.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A redis client for this URL; the error names the URL redacted.
    pub fn redis_client(&self) -> Result<redis::Client, String> {
        redis::Client::open(self.expose())
            .map_err(|e| format!("invalid `url` {self:?}: {}", self.scrub(&e.to_string())))
    }

    /// `message` with this URL's secrets masked (an error from the client
    /// may quote them).
    pub fn scrub(&self, message: &str) -> String {
        scrub(message, &self.0)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&url(&self.0), f)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&url(&self.0))
    }
}

/// `u` with its password (user info and query parameters) masked; the rest
/// (scheme, user, host, port, database) kept, since that is what a reader
/// of a log needs.
pub fn url(u: &str) -> String {
    let start = u.find("://").map_or(0, |i| i + 3);
    let (head, rest) = u.split_at(start);
    let (before_query, query) = match rest.find('?') {
        Some(q) => rest.split_at(q),
        None => (rest, ""),
    };
    let mut out = String::from(head);
    // The last `@` ends the user info even when an unencoded password holds
    // `@` or `/`: better to hide too much than to print a secret.
    match before_query.rfind('@') {
        Some(at) => {
            let (userinfo, host) = before_query.split_at(at);
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon + 1]);
                    out.push_str(MASK);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(host);
        }
        None => out.push_str(before_query),
    }
    out.push_str(&redact_query(query));
    out
}

/// `?a=1&password=x` → `?a=1&password=***`.
fn redact_query(query: &str) -> String {
    let Some(params) = query.strip_prefix('?') else {
        return query.to_string();
    };
    let parts: Vec<String> = params
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if is_secret_key(k) => format!("{k}={MASK}"),
            _ => p.to_string(),
        })
        .collect();
    format!("?{}", parts.join("&"))
}

fn is_secret_key(k: &str) -> bool {
    k.eq_ignore_ascii_case("pass") || k.eq_ignore_ascii_case("password")
}

/// The secrets in `u`, as written and percent-decoded.
fn secrets(u: &str) -> Vec<String> {
    let start = u.find("://").map_or(0, |i| i + 3);
    let rest = &u[start..];
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut out = Vec::new();
    if let Some(at) = before_query.rfind('@')
        && let Some((_, pass)) = before_query[..at].split_once(':')
    {
        out.push(pass.to_string());
    }
    for p in query.split('&') {
        if let Some((k, v)) = p.split_once('=')
            && is_secret_key(k)
        {
            out.push(v.to_string());
        }
    }
    let decoded: Vec<String> = out.iter().map(|s| percent_decode(s)).collect();
    out.extend(decoded);
    out.retain(|s| !s.is_empty());
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (b[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` with the URL `u` shown redacted and each of its secrets masked
/// wherever else it appears.
pub fn scrub(text: &str, u: &str) -> String {
    let mut out = text.replace(u, &url(u));
    let mut secrets = secrets(u);
    // Longest first, so that a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        out = out.replace(&s, MASK);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_the_rest_is_kept() {
        for (given, shown) in [
            (
                "redis://user:s3cret@host:6379/0",
                "redis://user:***@host:6379/0",
            ),
            ("rediss://:s3cret@host", "rediss://:***@host"),
            (
                "redis://:p@ss/w@rd@10.0.0.1:1/2",
                "redis://:***@10.0.0.1:1/2",
            ),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("redis://user@host/1", "redis://user@host/1"),
            (
                "redis+unix:///run/redis.sock?db=1&pass=s3cret",
                "redis+unix:///run/redis.sock?db=1&pass=***",
            ),
            ("unix:///s.sock?PASSWORD=x", "unix:///s.sock?PASSWORD=***"),
            ("user:s3cret@host", "user:***@host"),
            ("", ""),
        ] {
            assert_eq!(url(given), shown, "{given}");
        }
    }

    #[test]
    fn formatting_a_secret_url_never_shows_the_password() {
        let u = SecretUrl::new("redis://app:hunter2@db:6380/3");
        assert_eq!(format!("{u}"), "redis://app:***@db:6380/3");
        assert_eq!(format!("{u:?}"), "\"redis://app:***@db:6380/3\"");
        assert_eq!(u.expose(), "redis://app:hunter2@db:6380/3");
    }

    #[test]
    fn messages_are_scrubbed_of_the_url_and_of_its_secrets() {
        let u = "redis://app:hun%40ter2@db:6380";
        let msg = format!("cannot connect to {u}: auth hun%40ter2 / hun@ter2 refused");
        let clean = scrub(&msg, u);
        assert!(!clean.contains("hun"), "{clean}");
        assert!(clean.contains("redis://app:***@db:6380"), "{clean}");
        assert_eq!(scrub("no secret here", "redis://h:1"), "no secret here");
    }
}
