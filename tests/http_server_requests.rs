//! The `http_server` source's answers through the real binary: 404, 405,
//! 401 (the token never printed), 413 (declared, chunked, and after
//! inflating gzip), 415; a bad line among good ones; a JSON array body;
//! text lines; gzip; TLS with a certificate made at test time.

mod common;
mod daemon_support;
mod http_server_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::Config;
use daemon_support::{Daemon, scrape};
use http_server_support::{Answer, client, ids, lines, post, runtime, send};

const TOKEN: &str = "tok-9f3a61c2-never-printed";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A chunked request over a plain socket (reqwest only sends chunked
/// bodies from streams); returns the status line.
fn chunked_post(addr: SocketAddr, chunks: &[Vec<u8>]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for c in chunks {
        req.extend(format!("{:x}\r\n", c.len()).bytes());
        req.extend(c);
        req.extend(b"\r\n");
    }
    req.extend(b"0\r\n\r\n");
    // The server may answer before reading it all: a failed write is fine.
    let _ = s.write_all(&req);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn refusals_have_their_status_and_headers_and_the_token_never_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let report = dir.path().join("report.json");
    let config = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .source("in", "http_server")
        .set("address", "127.0.0.1:0")
        .set("path", "/ingest")
        .set("max_body_bytes", 1000)
        .raw("auth = { bearer_token_env = \"HTTP_TEST_TOKEN\" }")
        .sink("out", "file", &["in"])
        .set("path", &out)
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(
        &config,
        &["--report", report.to_str().unwrap()],
        &[("HTTP_TEST_TOKEN", TOKEN), ("RUST_LOG", "debug")],
    );
    let addr = daemon.listen_address("in", "http");
    let metrics = daemon.metrics_address();
    let url = format!("http://{addr}/ingest");
    let rt = runtime();
    let http = client();
    let auth = format!("Bearer {TOKEN}");
    let ask =
        |req: reqwest::RequestBuilder| -> Answer { rt.block_on(send(req)).expect("an answer") };

    let a = ask(http
        .post(format!("http://{addr}/other"))
        .header("authorization", &auth)
        .body("{}"));
    assert_eq!(a.status, 404, "{}", a.text);
    let a = ask(http.get(&url).header("authorization", &auth));
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow").as_deref(), Some("POST, PUT"));
    let a = ask(http.post(&url).body("{\"id\":\"x\"}"));
    assert_eq!(a.status, 401);
    assert_eq!(a.header("www-authenticate").as_deref(), Some("Bearer"));
    let a = ask(http
        .post(&url)
        .header("authorization", "Bearer wrong")
        .body("{\"id\":\"x\"}"));
    assert_eq!(a.status, 401);
    let a = ask(http
        .post(&url)
        .header("authorization", &auth)
        .body(vec![b' '; 2000]));
    assert_eq!(a.status, 413, "declared over the limit: {}", a.text);
    let a = ask(http
        .post(&url)
        .header("authorization", &auth)
        .header("content-encoding", "gzip")
        .body(gzip(&vec![b'\n'; 100_000])));
    assert_eq!(a.status, 413, "over the limit once inflated: {}", a.text);
    let a = ask(http
        .post(&url)
        .header("authorization", &auth)
        .header("content-encoding", "br")
        .body("{}"));
    assert_eq!(a.status, 415);
    // No Content-Length: the limit cuts the body while it is read.
    let status = chunked_post(addr, &[vec![b' '; 800], vec![b' '; 800]]);
    assert!(status.contains(" 404 "), "path /ingest only: {status}");
    let ok = ask(http
        .put(&url)
        .header("authorization", &auth)
        .body("{\"id\":\"ok\"}\n"));
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json(), serde_json::json!({"accepted": 1, "errors": 0}));
    let text = scrape(metrics);
    assert!(daemon.terminate().success(), "{}", daemon.stderr());
    assert_eq!(
        ids(&out),
        vec!["ok"],
        "only the accepted request reached the sink"
    );
    let stderr = daemon.stderr();
    let report = std::fs::read_to_string(&report).unwrap();
    for (what, text) in [
        ("the log", &stderr),
        ("the report", &report),
        ("/metrics", &text),
    ] {
        assert!(!text.contains(TOKEN), "the token is in {what}");
    }
}

#[test]
fn a_chunked_body_over_the_limit_is_cut_while_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new()
        .source("in", "http_server")
        .set("address", "127.0.0.1:0")
        .set("max_body_bytes", 1000)
        .raw(&format!(
            "auth = {{ bearer_token_file = {} }}",
            common::toml_path(&common::write(dir.path(), "token", format!("{TOKEN}\n")))
        ))
        .sink("out", "blackhole", &["in"])
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let addr = daemon.listen_address("in", "http");
    let status = chunked_post(addr, &[vec![b' '; 800], vec![b' '; 800]]);
    assert!(status.contains(" 413 "), "{status}");
    let status = chunked_post(addr, &[b"{\"a\":1}\n".to_vec(), b"{\"a\":2}\n".to_vec()]);
    assert!(status.contains(" 200 "), "{status}");
    assert!(daemon.terminate().success(), "{}", daemon.stderr());
}

/// A malformed line and a too-deep one become error events with their line
/// numbers; the good lines are accepted; with `delivered` both files hold
/// their lines when the answer comes.
#[test]
fn bad_lines_are_error_events_and_the_rest_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (out, errors) = (
        dir.path().join("out.jsonl"),
        dir.path().join("errors.jsonl"),
    );
    let config = Config::new()
        .source("in", "http_server")
        .set("address", "127.0.0.1:0")
        .sink("out", "file", &["in"])
        .set("path", &out)
        .sink("errs", "file", &["in.errors"])
        .set("path", &errors)
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let url = format!("http://{}/", daemon.listen_address("in", "http"));
    let rt = runtime();
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let body =
        format!("{{\"id\":\"a\"}}\n{{\"id\":\"b\"}}\n{{\"id\": oops\n{deep}\n{{\"id\":\"c\"}}\n");
    let a = post(&rt, &url, body);
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json(), serde_json::json!({"accepted": 3, "errors": 2}));
    assert_eq!(ids(&out), vec!["a", "b", "c"]);
    let errs: Vec<serde_json::Value> = lines(&errors)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(errs[0]["line"], 3);
    assert_eq!(errs[0]["stage"], "in");
    assert_eq!(errs[0]["input"], "{\"id\": oops");
    assert_eq!(errs[1]["line"], 4);
    assert!(
        errs[1]["error"].as_str().unwrap().contains("nested deeper"),
        "{}",
        errs[1]
    );

    // One JSON array: a bad element is an error at its position.
    let a = post(&rt, &url, " [{\"id\":\"d\"}, {\"id\":}, {\"id\":\"e\"}]");
    assert_eq!(a.json(), serde_json::json!({"accepted": 2, "errors": 1}));
    assert_eq!(ids(&out), vec!["a", "b", "c", "d", "e"]);
    let last: serde_json::Value = serde_json::from_str(lines(&errors).last().unwrap()).unwrap();
    assert_eq!(last["line"], 2, "{last}");

    // gzip JSON lines.
    let a = rt
        .block_on(send(
            client()
                .post(&url)
                .header("content-encoding", "gzip")
                .body(gzip(b"{\"id\":\"f\"}\n{\"id\":\"g\"}")),
        ))
        .unwrap();
    assert_eq!(a.json(), serde_json::json!({"accepted": 2, "errors": 0}));
    assert_eq!(ids(&out).len(), 7);
    assert!(daemon.terminate().success(), "{}", daemon.stderr());
}

#[test]
fn the_text_codec_makes_each_line_a_string() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let config = Config::new()
        .source("in", "http_server")
        .set("address", "127.0.0.1:0")
        .set("codec", "text")
        .sink("out", "file", &["in"])
        .set("path", &out)
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let url = format!("http://{}/", daemon.listen_address("in", "http"));
    let a = post(&runtime(), &url, "[not an array]\r\nsecond line");
    assert_eq!(a.json(), serde_json::json!({"accepted": 2, "errors": 0}));
    assert_eq!(lines(&out), vec!["\"[not an array]\"", "\"second line\""]);
    assert!(daemon.terminate().success(), "{}", daemon.stderr());
}

/// HTTPS with a certificate generated now; the client trusts only it.
#[test]
fn tls_with_a_certificate_made_at_test_time() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = common::write(dir.path(), "cert.pem", made.cert.pem());
    let key = common::write(dir.path(), "key.pem", made.key_pair.serialize_pem());
    let config = Config::new()
        .source("in", "http_server")
        .set("address", "127.0.0.1:0")
        .raw(&format!(
            "tls = {{ cert = {}, key = {} }}",
            common::toml_path(&cert),
            common::toml_path(&key)
        ))
        .sink("out", "file", &["in"])
        .set("path", &out)
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let addr = daemon.listen_address("in", "https");
    let rt = runtime();
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(made.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/", addr.port());
    let a = rt
        .block_on(send(trusting.post(&url).body("{\"id\":\"tls\"}")))
        .expect("an HTTPS answer");
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(ids(&out), vec!["tls"]);
    // A client that does not trust the certificate gets no answer, and
    // plain HTTP on the TLS port gets none either.
    let other = reqwest::Client::builder()
        .resolve("localhost", addr)
        .build()
        .unwrap();
    assert!(rt.block_on(send(other.post(&url).body("{}"))).is_err());
    assert!(
        rt.block_on(send(client().post(format!("http://{addr}/")).body("{}")))
            .is_err()
    );
    assert!(daemon.terminate().success(), "{}", daemon.stderr());
    assert_eq!(ids(&out), vec!["tls"]);
}
