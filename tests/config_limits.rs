//! Config values that used to abort sluice (an edge allocated from a huge
//! `capacity`, a `Duration` panic from a tiny `rate`, workers starving the
//! runtime's thread pool, a duration past what clocks hold) are refused by
//! `check` and by `run` with a `FILE:LINE:COL` diagnostic at the value, and
//! nothing starts. A pipeline with more worker threads than tokio's blocking
//! pool holds still reads, checkpoints and ends.

mod common;
mod config_support;
mod daemon_support;

use std::time::{Duration, Instant};

use common::{Config, toml_path, write};
use config_support::table::{self, Failures, Place};
use config_support::{check_bad, pos, run_cmd};
use daemon_support::{Daemon, PATIENCE};

/// One refused config: `OUT` stands for a file sink's path that must never
/// be created; the diagnostic is at `needle` (after `anchor`) and contains
/// every one of `parts`.
struct Case {
    what: &'static str,
    config: &'static str,
    needle: &'static str,
    anchor: Option<&'static str>,
    parts: &'static [&'static str],
}

/// A source and a file sink that the cases extend.
const TAIL: &str = r#"
[sources.app]
type = "generate"
count = 10

[sinks.out]
type = "file"
inputs = ["app"]
path = OUT
"#;

const CASES: &[Case] = &[
    Case {
        what: "pipeline capacity of a trillion events",
        config: "[pipeline]\ncapacity = 1000000000000\n",
        needle: "1000000000000",
        anchor: None,
        parts: &[
            "`pipeline.capacity` must be between 1 and 1048576",
            "1000000000000",
        ],
    },
    Case {
        what: "a transform's capacity of a trillion events",
        config: "[transforms.t]\ntype = \"jq\"\ninputs = [\"app\"]\nprogram = \".\"\ncapacity = 1000000000000\n",
        needle: "1000000000000",
        anchor: None,
        parts: &["`capacity` must be between 1 and 1048576"],
    },
    Case {
        what: "a sink's capacity of a trillion events",
        config: "[sinks.slow]\ntype = \"blackhole\"\ninputs = [\"app\"]\ncapacity = 1000000000000\n",
        needle: "1000000000000",
        anchor: None,
        parts: &["`capacity` must be between 1 and 1048576"],
    },
    Case {
        what: "100000 workers",
        config: "[transforms.t]\ntype = \"jq\"\ninputs = [\"app\"]\nprogram = \".\"\nworkers = 100000\n",
        needle: "100000",
        anchor: Some("workers"),
        parts: &["`workers` must be between 1 and 1024", "100000"],
    },
    Case {
        what: "generate at 1e-20 events per second",
        config: "[sources.slow]\ntype = \"generate\"\nrate = 1e-20\n\n[sinks.s]\ntype = \"blackhole\"\ninputs = [\"slow\"]\n",
        needle: "1e-20",
        anchor: None,
        parts: &[
            "source `slow`",
            "`rate` must be a number of events per second between",
            "got 1e-20",
        ],
    },
    Case {
        what: "blackhole at 1e-20 events per second",
        config: "[sinks.slow]\ntype = \"blackhole\"\ninputs = [\"app\"]\nrate = 1e-20\n",
        needle: "1e-20",
        anchor: None,
        parts: &[
            "sink `slow`",
            "`rate` must be a number of events per second",
        ],
    },
    Case {
        what: "a negative rate",
        config: "[sinks.slow]\ntype = \"blackhole\"\ninputs = [\"app\"]\nrate = -5.0\n",
        needle: "-5.0",
        anchor: None,
        parts: &["`rate`", "got -5"],
    },
    Case {
        what: "a NaN rate",
        config: "[sources.slow]\ntype = \"generate\"\nrate = nan\n\n[sinks.s]\ntype = \"blackhole\"\ninputs = [\"slow\"]\n",
        needle: "nan",
        anchor: Some("rate"),
        parts: &["`rate`", "got NaN"],
    },
    Case {
        what: "an infinite rate",
        config: "[sinks.slow]\ntype = \"blackhole\"\ninputs = [\"app\"]\nrate = inf\n",
        needle: "inf",
        anchor: Some("rate"),
        parts: &["`rate`", "got inf"],
    },
    Case {
        what: "sample.rate = 2",
        config: "[transforms.s]\ntype = \"sample\"\ninputs = [\"app\"]\nrate = 2\n",
        needle: "2\n",
        anchor: Some("rate"),
        parts: &["transform `s`", "`rate` must be between 0 and 1, got 2"],
    },
    Case {
        what: "a duration that overflows",
        config: "[pipeline]\nshutdown_grace = \"99999999999999999999s\"\n",
        needle: "\"99999999999999999999s\"",
        anchor: None,
        parts: &["invalid duration `99999999999999999999s`"],
    },
    Case {
        what: "a delay past the longest duration",
        config: "[transforms.d]\ntype = \"delay\"\ninputs = [\"app\"]\nduration = \"9000h\"\n",
        needle: "\"9000h\"",
        anchor: None,
        parts: &["the longest accepted is 365 days"],
    },
    Case {
        what: "a zero shutdown_grace",
        config: "[pipeline]\nshutdown_grace = \"0ms\"\n",
        needle: "\"0ms\"",
        anchor: None,
        parts: &["`pipeline.shutdown_grace` must be at least 1ms"],
    },
    Case {
        what: "a zero delay timeout",
        config: "[transforms.d]\ntype = \"delay\"\ninputs = [\"app\"]\nduration = \"1ms\"\ntimeout = \"0s\"\n",
        needle: "\"0s\"",
        anchor: None,
        parts: &["transform `d`", "`timeout` must be at least 1ms"],
    },
    Case {
        what: "ten billion connections",
        config: "[sources.net]\ntype = \"tcp\"\naddress = \"127.0.0.1:0\"\nmax_connections = 10000000000\n\n[sinks.n]\ntype = \"blackhole\"\ninputs = [\"net\"]\n",
        needle: "10000000000",
        anchor: None,
        parts: &["`max_connections` must be between 1 and 1048576"],
    },
    Case {
        what: "a line limit of 2^62 bytes",
        config: "[sources.in]\ntype = \"stdin\"\nmax_line_bytes = 4611686018427387904\n\n[sinks.i]\ntype = \"blackhole\"\ninputs = [\"in\"]\n",
        needle: "4611686018427387904",
        anchor: None,
        parts: &["`max_line_bytes` must be between 1 and 1073741824"],
    },
    Case {
        what: "a negative line limit",
        config: "[sources.in]\ntype = \"stdin\"\nmax_line_bytes = -1\n\n[sinks.i]\ntype = \"blackhole\"\ninputs = [\"in\"]\n",
        needle: "-1",
        anchor: None,
        parts: &["invalid value"],
    },
    Case {
        what: "no retry attempt",
        config: "[sinks.peer]\ntype = \"tcp\"\ninputs = [\"app\"]\naddress = \"127.0.0.1:9\"\nretry = { attempts = 0 }\n",
        needle: "0 }",
        anchor: Some("attempts"),
        parts: &["sink `peer`", "`retry.attempts` must be at least 1"],
    },
    Case {
        what: "a stage name holding a NUL byte (it names the stage's threads)",
        config: "[transforms.\"t\\u0000\"]\ntype = \"jq\"\ninputs = [\"app\"]\nprogram = \".\"\n",
        needle: "\"t\\u0000\"",
        anchor: None,
        parts: &["invalid stage name `t\\0`", "control characters"],
    },
];

/// Every case is refused by `check` (exit 2, one diagnostic at the value)
/// and by `run` (the same diagnostic, and the file sink never opened);
/// a failure names every failing case.
#[test]
fn values_that_used_to_abort_are_refused_at_their_key() {
    let mut failures = Failures::default();
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out/never.jsonl");
        let config = format!("{}{TAIL}", case.config).replace("OUT", &toml_path(&out));
        let expected = table::Case::new(
            case.what,
            config.as_str(),
            1,
            &[(Place::At(case.needle, case.anchor), case.parts)],
        );

        let checked = run_cmd("check", dir.path(), "bad.toml", &config);
        let mut wrong = expected.wrong(&checked);
        if checked.stderr.contains("panicked") {
            wrong.push("check panicked".into());
        }
        failures.add(case.what, wrong, &checked.stderr);

        let ran = run_cmd("run", dir.path(), "bad.toml", &config);
        let mut wrong = Vec::new();
        if ran.code != Some(2) {
            wrong.push(format!("run: exit status {:?}, want 2", ran.code));
        }
        if ran.diagnostics() != checked.diagnostics() {
            wrong.push("run's diagnostics differ from check's".into());
        }
        if out.parent().unwrap().exists() {
            wrong.push("run opened the sink".into());
        }
        failures.add(case.what, wrong, &ran.stderr);
    }
    failures.assert_none();
}

/// Five stages of 1000 workers each: every stage is within its bound, the
/// sum is not, and the stage that crosses it (the third) is named.
/// Two stages at the per-stage bound are within it.
#[test]
fn too_many_worker_threads_in_all_are_refused() {
    let mut config = String::from("[sources.app]\ntype = \"generate\"\ncount = 1\n");
    let mut input = "app".to_string();
    for i in 0..5 {
        config.push_str(&format!(
            "\n[transforms.t{i}]\ntype = \"jq\"\ninputs = [\"{input}\"]\nprogram = \".\"\nworkers = 1000\n"
        ));
        input = format!("t{i}");
    }
    config.push_str(&format!(
        "\n[sinks.out]\ntype = \"blackhole\"\ninputs = [\"{input}\"]\n"
    ));
    let (_dir, c) = check_bad(&config, 1);
    c.expect(
        pos(&config, "[transforms.t2]", None),
        &["transform `t2`", "more than 2048 threads"],
    );

    let two = "[sources.app]\ntype = \"generate\"\ncount = 1\n\n\
        [transforms.a]\ntype = \"jq\"\ninputs = [\"app\"]\nprogram = \".\"\nworkers = 1024\n\n\
        [transforms.b]\ntype = \"jq\"\ninputs = [\"a\"]\nprogram = \".\"\nworkers = 1024\n\n\
        [sinks.out]\ntype = \"blackhole\"\ninputs = [\"b\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let c = run_cmd("check", dir.path(), "two.toml", two);
    assert_eq!(c.code, Some(0), "{}", c.stderr);
}

/// 600 worker threads across three stages (more than tokio's blocking pool
/// of 512), a followed file and a `data_dir`: the follower reads every
/// line, the sink writes them, the periodic checkpoint flush (a short
/// blocking call) records the whole file as acknowledged while the graph
/// still runs, and SIGTERM ends it cleanly.
#[test]
fn many_workers_leave_the_follower_and_the_checkpoint_flusher_working() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2000;
    let input = write(dir.path(), "in.jsonl", common::id_lines(n));
    let len = std::fs::metadata(&input).unwrap().len();
    let out = dir.path().join("out.jsonl");
    let data = dir.path().join("state");
    let file = Config::new()
        .pipeline()
        .set("data_dir", &data)
        .set("capacity", 64)
        .source("app", "file")
        .set("path", &input)
        .set("follow", true)
        .transform("a", "filter", &["app"])
        .set("condition", "true")
        .set("workers", 200)
        .transform("b", "jq", &["a"])
        .set("program", ".")
        .set("workers", 200)
        .transform("c", "sample", &["b"])
        .set("rate", 1)
        .set("workers", 200)
        .sink("out", "file", &["c"])
        .set("path", &out)
        .write(dir.path(), "many.toml");
    let mut daemon = Daemon::start(&file, &["--quiet"], &[]);
    let key = input.display().to_string();
    let checkpoint = data.join("checkpoint.json");
    let committed = || -> Option<u64> {
        let text = std::fs::read(&checkpoint).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
        v["sources"]["app"][key.as_str()]["offset"].as_u64()
    };
    let deadline = Instant::now() + PATIENCE;
    while committed() != Some(len) {
        assert!(
            Instant::now() < deadline,
            "the checkpoint never recorded offset {len} (now {:?}); stderr:\n{}",
            committed(),
            daemon.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Acknowledged means written: every line is in the output already.
    let written = std::fs::read(&out).unwrap();
    assert_eq!(common::sorted_ids(&written), (1..=n).collect::<Vec<_>>());
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}; stderr:\n{}", daemon.stderr());
}

/// A jq program nested 3000 deep used to overflow the stack of `check`
/// (an abort): it is refused at the bracket that crosses the limit, by
/// `check` for a config and by `sluice filter` for its argument.
#[test]
fn a_jq_program_nested_too_deeply_is_refused_not_a_stack_overflow() {
    let deep = format!("{}.{}", "(".repeat(3000), ")".repeat(3000));
    let config = format!(
        "[transforms.t]\ntype = \"jq\"\ninputs = [\"app\"]\nprogram = \"{deep}\"\n{}",
        TAIL.replace("OUT", "\"out.jsonl\"")
    );
    let (_dir, c) = check_bad(&config, 1);
    let (line, col) = pos(&config, "(", Some("program"));
    c.expect(
        (line, col + 256),
        &[
            "transform `t`",
            "nested or chained too deeply",
            "more than 256",
        ],
    );

    let filtered = common::sluice()
        .arg("filter")
        .arg(&deep)
        .write_stdin("{}\n")
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(
        filtered.status.code(),
        Some(2),
        "{}",
        common::describe(&filtered)
    );
    let stderr = String::from_utf8_lossy(&filtered.stderr);
    assert!(stderr.contains("nested or chained too deeply"), "{stderr}");
    assert!(filtered.stdout.is_empty());
}
