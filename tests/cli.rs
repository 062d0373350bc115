//! The command line: bad input gets one clear line and exit code 2, with
//! nothing started and nothing left behind.

mod support;

use std::process::Stdio;

use support::*;

fn refused(args: &[&str], says: &str) {
    refused_as("mpviz: error: ", args, says);
}

/// Refused in one line that starts with `prefix` (the language's).
fn refused_as(prefix: &str, args: &[&str], says: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out = mpviz(tmp.path(), args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line, got {stderr:?}"
    );
    assert!(stderr.starts_with(prefix), "{args:?}: {stderr}");
    assert!(
        stderr.contains(says),
        "{args:?}: expected {says:?} in {stderr:?}"
    );
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    assert_dir_empty(tmp.path());
}

#[test]
fn zero_negative_and_non_numeric_counts_are_refused() {
    refused(&["ticket", "--json", "--buyers", "0"], "at least 1");
    refused(&["ticket", "--json", "--buyers", "-3"], "at least 1");
    refused(&["ticket", "--json", "--buyers", "ten"], "whole number");
    refused(&["ticket", "--json", "--tickets", "0"], "at least 1");
    refused(&["ticket", "--json", "--tickets", "1.5"], "whole number");
    refused(&["ticket", "--json", "--delay-ms", "-1"], "negative");
    refused(&["ticket", "--json", "--seed", "-1"], "whole number");
}

#[test]
fn append_refuses_zero_writers_and_chunks() {
    refused(&["append", "--json", "--writers", "0"], "at least 1");
    refused(&["append", "--json", "--chunks", "-2"], "at least 1");
    refused(&["append", "--json", "--writers", "many"], "whole number");
    refused(
        &["append", "--json", "--writers", "4000000000"],
        "more processes than this system can start",
    );
}

#[test]
fn queue_refuses_bad_sizes_and_timeouts() {
    refused(&["queue", "--json", "--maxsize", "0"], "at least 1");
    refused(&["queue", "--json", "--items", "-1"], "at least 1");
    refused(&["queue", "--json", "--timeout-ms", "0"], "at least 1");
    refused(
        &["queue", "--json", "--maxsize", "2000000"],
        "more than a queue may hold",
    );
    refused(
        &[
            "queue",
            "--json",
            "--producers",
            "3000000000",
            "--consumers",
            "3000000000",
        ],
        "more processes",
    );
}

#[test]
fn pool_refuses_more_failures_than_tasks() {
    refused(
        &["pool", "--json", "--tasks", "3", "--fail", "4"],
        "--fail 4 is more than the 3 tasks",
    );
    refused(&["pool", "--json", "--workers", "0"], "at least 1");
}

#[test]
fn a_bad_speed_is_refused() {
    let bounds = "from 0.25 to 5000 actions a second, or max";
    refused(&["ticket", "--json", "--speed", "0"], bounds);
    refused(&["ticket", "--json", "--speed", "fast"], "or max");
    refused(&["ticket", "--json", "--speed", "-2"], bounds);
    // Too slow to ever end, or so slow that a step's wait overflows.
    refused(&["ticket", "--json", "--speed", "1e-9"], bounds);
    refused(&["ticket", "--json", "--speed", "1e-19"], bounds);
    refused(&["ticket", "--json", "--speed", "5001"], bounds);
    let tmp = tempfile::tempdir().unwrap();
    let help = mpviz(tmp.path(), &["ticket", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let words: Vec<&str> = help.split_whitespace().collect();
    assert!(
        words
            .join(" ")
            .contains("from 0.25 (one every four seconds) to 5000"),
        "--help says the bounds: {help}"
    );
}

#[test]
fn unknown_scenarios_and_flags_are_refused() {
    refused(&["tickets"], "tickets");
    refused(&["ticket", "--json", "--frobnicate"], "--frobnicate");
}

#[test]
fn more_buyers_than_the_system_can_start_is_refused_before_anything_starts() {
    refused(
        &["ticket", "--json", "--buyers", "4000000000"],
        "more processes than this system can start",
    );
}

#[test]
fn the_dashboard_without_a_terminal_says_what_to_do() {
    refused(&["ticket"], "--headless");
    refused(&["ticket", "--headless", "--paused"], "--paused");
}

/// As cargo, docker and kubectl do: a bare command shows its help on
/// stdout and succeeds.
#[test]
fn mpviz_alone_shows_the_help_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let out = mpviz(tmp.path(), &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Usage: mpviz"), "{text}");
    assert!(text.contains("ticket"), "{text}");
    assert_dir_empty(tmp.path());
}

#[test]
fn help_version_and_list_answer_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let help = mpviz(tmp.path(), &["ticket", "--help"]).output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "--buyers",
        "--tickets",
        "--no-lock",
        "--delay-ms",
        "--seed",
        "--speed",
        "--paused",
        "--headless",
        "--json",
    ] {
        assert!(text.contains(flag), "ticket --help lacks {flag}");
    }
    let version = mpviz(tmp.path(), &["--version"]).output().unwrap();
    assert!(String::from_utf8(version.stdout)
        .unwrap()
        .starts_with("mpviz "));
    let list = mpviz(tmp.path(), &["list"]).output().unwrap();
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("ticket ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("append ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("queue ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("pool ")), "{text}");
}

#[test]
fn lifecycle_refuses_more_waiters_than_its_bound() {
    // Each waiter costs main a 1 s timed join: 10000 would run for hours.
    refused(&["lifecycle", "--json", "--waiters", "10000"], "--waiters");
    refused(&["lifecycle", "--json", "--waiters", "51"], "at most 50");
    refused(&["lifecycle", "--json", "--waiters", "0"], "at least 1");
}

#[test]
fn the_language_comes_from_lang_else_from_the_locale_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let list = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = mpviz(tmp.path(), args);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let chinese = |text: &str| text.contains("教程") && !text.contains("tutorial");
    assert!(chinese(&list(&["list", "--lang", "zh"], &[])));
    assert!(chinese(&list(&["--lang=zh", "list"], &[])));
    // LC_ALL first, then LC_MESSAGES, then LANG.
    assert!(chinese(&list(&["list"], &[("LC_ALL", "zh_CN.UTF-8")])));
    let messages = [
        ("LC_ALL", ""),
        ("LC_MESSAGES", "zh_CN.UTF-8"),
        ("LANG", "en_US.UTF-8"),
    ];
    assert!(chinese(&list(&["list"], &messages)));
    let english = list(&["list"], &[("LC_ALL", "en_US.UTF-8"), ("LANG", "zh_CN")]);
    assert!(english.contains("tutorial"), "{english}");
    // --lang wins over the environment.
    let english = list(&["list", "--lang", "en"], &[("LC_ALL", "zh_CN.UTF-8")]);
    assert!(english.contains("tutorial"), "{english}");
}

#[test]
fn bad_input_is_refused_in_chinese_in_one_line() {
    // The command line's common mistakes, each said in Chinese (clap
    // would say them in English), the option and the value as given.
    let zh = |args: &[&str], says: &str| {
        let mut all = args.to_vec();
        all.extend(["--lang", "zh"]);
        refused_as("mpviz: 错误：", &all, says);
    };
    zh(
        &["ticket", "--buyers", "0"],
        "--buyers <N> 的值 '0' 无效：不能小于 1",
    );
    zh(
        &["ticket", "--buyers", "x"],
        "--buyers <N> 的值 'x' 无效：应为整数",
    );
    zh(&["ticket", "--bogus"], "无法识别的选项或参数 '--bogus'");
    zh(&["nosuch"], "无法识别的命令 'nosuch'");
    zh(&["ticket", "--buyers"], "--buyers <N> 需要一个值");
    zh(
        &["lifecycle", "--lock-kind", "foo"],
        "--lock-kind <KIND> 的值 'foo' 无效；只能是以下之一：semaphore, flock",
    );
    zh(
        &["ticket", "--no-lock", "--no-lock"],
        "--no-lock 只能给一次",
    );
    // The same in English.
    refused(
        &["ticket", "--bogus"],
        "unknown option or argument '--bogus'",
    );
    refused(&["nosuch"], "unknown command 'nosuch'");
    let pool = [
        "pool", "--lang", "zh", "--json", "--fail", "5", "--tasks", "2",
    ];
    refused_as("mpviz: 错误：", &pool, "");
    // A language mpviz does not speak is bad input too.
    refused(&["list", "--lang", "xx"], "en, zh");
}

#[test]
fn a_list_into_a_pipe_its_reader_closed_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    // A pipe whose reader is gone before mpviz starts: every write fails.
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    let out = mpviz(tmp.path(), &["list"])
        .stdout(Stdio::from(writer))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
}

#[test]
fn help_lists_each_scenario_in_the_language() {
    let tmp = tempfile::tempdir().unwrap();
    let zh = mpviz::scenario::spec_in("ticket", mpviz::lang::Lang::named("zh").unwrap()).unwrap();
    let about = zh.texts.say("about", &[]);
    let out = mpviz(tmp.path(), &["--help", "--lang", "zh"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    // (clap wraps a long line: its first words are enough.)
    let first: String = about.chars().take(8).collect();
    assert!(help.contains(&first), "{first:?} in:\n{help}");
    let english = mpviz(tmp.path(), &["--help"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&english.stdout).contains(&first));
}

#[test]
fn a_missing_argument_is_named_in_the_chosen_language() {
    refused(&["export", "r.jsonl"], "--output <TRACE> is required");
    refused(&["rerun"], "<FILE> is required");
    refused_as("mpviz: 错误：", &["--lang", "zh", "replay"], "缺少 <FILE>");
}

#[test]
fn export_refuses_to_write_its_trace_over_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.jsonl");
    let path = file.to_str().unwrap();
    let made = run_to_end(&[
        "race",
        "--workers",
        "2",
        "--increments",
        "2",
        "--json",
        "--record",
        path,
    ]);
    assert!(made.status.success());
    let before = std::fs::read(&file).unwrap();
    refused(
        &["export", path, "-o", path],
        "would overwrite the recording",
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the recording is untouched"
    );
}
