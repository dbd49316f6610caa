//! The API's bearer token and its config: with `[pipeline.api] auth`, every
//! `/api/` request needs the token (401 without it, 200 with it, from
//! `curl`-like requests and from the CLI clients through
//! `SLUICE_API_TOKEN`), `/metrics` stays open; off the loopback address
//! `sluice check` refuses an API without `auth`, at the key's place.

mod api_support;
mod common;
mod daemon_support;

use std::time::Duration;

use api_support::{local, request};
use common::{Config, sluice, write};
use daemon_support::Daemon;

const TOKEN: &str = "s3cret-token";

#[test]
fn with_auth_the_token_is_required_and_metrics_stay_open() {
    // On loopback, as every test binds: `auth`, once configured, holds on
    // any address; off loopback `check` makes it mandatory (below).
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .raw("api = { auth = { bearer_token_env = \"SLUICE_TEST_API_TOKEN\" } }")
        .source("gen", "generate")
        .set("rate", 100)
        .sink("null", "blackhole", &["gen"])
        .write(dir.path(), "auth.toml");
    let mut daemon = Daemon::start(&config, &[], &[("SLUICE_TEST_API_TOKEN", TOKEN)]);
    let api = local(daemon.metrics_address());
    let bearer = format!("Authorization: Bearer {TOKEN}");
    for path in ["/api/v1/graph", "/api/v1/tap?stage=gen&limit=1"] {
        let a = request(api, "GET", path, &[]);
        assert_eq!(a.status, 401, "{path}: {}", a.head);
        assert!(
            a.head
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer")
        );
        let a = request(api, "GET", path, &["Authorization: Bearer wrong"]);
        assert_eq!(a.status, 401, "{path}");
        let a = request(api, "GET", path, &[&bearer]);
        assert_eq!(a.status, 200, "{path}: {}", a.body);
    }
    assert_eq!(request(api, "GET", "/metrics", &[]).status, 200);
    assert!(
        !daemon.stderr().contains(TOKEN),
        "the token is never logged"
    );

    // The clients read the token from SLUICE_API_TOKEN.
    let live = |token: Option<&str>| {
        let mut cmd = sluice();
        cmd.args(["graph", "--live", "--address", &api.to_string()])
            .env_remove("SLUICE_API_TOKEN")
            .timeout(Duration::from_secs(60));
        if let Some(t) = token {
            cmd.env("SLUICE_API_TOKEN", t);
        }
        cmd.output().unwrap()
    };
    let out = live(None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SLUICE_API_TOKEN"));
    let out = live(Some("wrong"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the token"));
    let out = live(Some(TOKEN));
    assert!(out.status.success(), "{}", common::describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("digraph"));
    let tapped = sluice()
        .args(["tap", "--address", &api.to_string(), "gen", "--limit", "2"])
        .env("SLUICE_API_TOKEN", TOKEN)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(tapped.status.success(), "{}", common::describe(&tapped));
    assert_eq!(common::json_lines(&tapped.stdout).len(), 2);

    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
}

#[test]
fn check_refuses_an_api_open_to_the_network_at_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let tail = "\n[sources.gen]\ntype = \"generate\"\n\n[sinks.null]\ntype = \"blackhole\"\ninputs = [\"gen\"]\n";
    let check = |name: &str, pipeline: &str| {
        let path = write(dir.path(), name, format!("{pipeline}{tail}"));
        let out = sluice()
            .arg("check")
            .arg(&path)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            path.display().to_string(),
        )
    };
    let (code, err, file) = check(
        "open.toml",
        "[pipeline]\nmetrics_address = \"0.0.0.0:9598\"\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{file}:2:19: `metrics_address` 0.0.0.0:9598 is not a loopback address"
        )) && err.contains("[pipeline.api] auth"),
        "{err}"
    );
    // With a token: fine; on loopback without one: fine.
    let (code, err, _) = check(
        "token.toml",
        "[pipeline]\nmetrics_address = \"0.0.0.0:9598\"\napi = { auth = { bearer_token_file = \"/etc/sluice/token\" }, tap = false }\n",
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, err, _) = check("local.toml", "[pipeline]\nmetrics_address = \"9598\"\n");
    assert_eq!(code, Some(0), "{err}");
    // `auth` names exactly one token source; unknown keys are typos.
    let (code, err, file) = check(
        "both.toml",
        "[pipeline]\nmetrics_address = \"9598\"\n[pipeline.api]\nauth = { bearer_token_env = \"A\", bearer_token_file = \"b\" }\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{file}:4:8: `api.auth`: `auth` takes one of")),
        "{err}"
    );
    let (code, err, file) = check(
        "typo.toml",
        "[pipeline]\nmetrics_address = \"9598\"\n[pipeline.api]\ntaps = false\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{file}:4:1: unknown field `taps`")),
        "{err}"
    );
}
