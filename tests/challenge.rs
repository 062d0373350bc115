//! Challenges played headless (`mpviz challenge NAME --moves LIST`): every
//! challenge is won by a move list and lost by another, judged from what
//! the processes did; the list says which this user has won.

mod support;

use std::process::Stdio;

use support::*;

/// Plays `name` with `moves`, progress kept in `state`: exit code and output.
fn play(state: &std::path::Path, name: &str, moves: &str) -> (Option<i32>, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let out = mpviz(tmp.path(), &["challenge", name, "--moves", moves])
        .env("XDG_STATE_HOME", state)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_dir_empty(tmp.path());
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Each challenge with a list that wins it and one that does not.
const GAMES: &[(&str, &str, &str)] = &[
    ("sell-twice", "0,1,0*,1*", "0*,1*"),
    ("oversell", "0,1,2,3,0*,1*,2*,3*", "0*,1*,2*,3*"),
    ("reset", "0,0,0,1", "0,1,0*,1*"),
    // The hint, as it says: three rounds of read, read, write, write.
    ("lose-three", "0,1,0,1,0,1,0,1,0,1,0,1", "0*,1*"),
    ("block-on-full", "0,0,0", "0,1,1,0"),
    // The hint: the consumer asks qsize(), then gets before any put.
    ("get-times-out", "1,1", "0,1,1"),
    ("tear-a-line", "0,1,0*,1*", "0*,1*"),
    ("error-callback", "n,n,n,n,n,n,n,n,n,n,n,n,n,n,n,n", "n,n"),
    // main starts hello; hello runs to its end: a zombie, until main's
    // is_alive() reaps it. Lost: hello is still asleep in time.sleep(1.5).
    ("zombie", "0,0,0,0,0,2,2,2", "0,0,0,0,0,2,2"),
    // worker-1's append reaches the server (slot 1) before worker-0's.
    (
        "out-of-order",
        "0,2,1,3,1,3,1,2,1,n,n,n,n,n,n,n,n,n,n",
        "0,2,1,2,1,3,1,3,1,n,n,n,n,n,n,n,n,n,n,n",
    ),
];

#[test]
fn every_challenge_is_won_by_a_move_list_and_lost_by_another() {
    let state = tempfile::tempdir().unwrap();
    for &(name, wins, loses) in GAMES {
        let (code, out, err) = play(state.path(), name, wins);
        assert_eq!(code, Some(0), "{name} {wins}: {out}{err}");
        // The win names the event that met the goal, as the events panel
        // says it.
        assert!(
            out.contains("won in") && out.contains("met the goal: "),
            "{name}: {out}"
        );
        let (code, out, err) = play(state.path(), name, loses);
        assert_eq!(code, Some(1), "{name} {loses}: {out}{err}");
        assert!(out.contains("lost after"), "{name}: {out}");
    }
    // The list marks each as won, from the state directory.
    let tmp = tempfile::tempdir().unwrap();
    let out = mpviz(tmp.path(), &["challenge"])
        .env("XDG_STATE_HOME", state.path())
        .output()
        .unwrap();
    let list = String::from_utf8(out.stdout).unwrap();
    let line = |name: &str| {
        list.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not in {list}"))
    };
    for &(name, _, _) in GAMES {
        assert!(line(name).contains('✓'), "{}", line(name));
    }
    assert!(!line("lock-holds").contains('✓'), "{}", line("lock-holds"));
    // Grouped by the tutorial's sections, in their order, each under its
    // heading: at least one challenge for each.
    let sections: Vec<&str> = list.lines().filter(|l| l.starts_with('§')).collect();
    let numbers: Vec<&str> = sections
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        numbers,
        ["§1", "§2.1-2.3", "§2.4", "§2.5", "§2.6.1", "§2.6.2"],
        "{list}"
    );
    let under = |section: &str| {
        list.split('§')
            .find(|part| part.starts_with(section))
            .unwrap()
            .to_string()
    };
    assert!(under("2.1-2.3").contains("zombie"), "{list}");
    assert!(under("2.6.2").contains("out-of-order"), "{list}");
}

/// Without `XDG_STATE_HOME` (or with a relative one, which the XDG spec
/// says to ignore), a win is kept in `~/.local/state/mpviz`.
#[test]
fn without_xdg_state_home_wins_are_kept_in_the_home_state_directory() {
    for xdg in [None, Some("relative/state")] {
        let home = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let mut cmd = mpviz(tmp.path(), &["challenge", "reset", "--moves", "0,0,0,1"]);
        cmd.env("HOME", home.path()).env_remove("XDG_STATE_HOME");
        if let Some(xdg) = xdg {
            cmd.env("XDG_STATE_HOME", xdg).current_dir(tmp.path());
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let kept = home.path().join(".local/state/mpviz/challenges.json");
        let kept = std::fs::read_to_string(&kept).unwrap_or_else(|e| panic!("{xdg:?}: {e}"));
        assert!(kept.contains("\"reset\""), "{kept}");
    }
}

/// The zombie is seen in /proc: the win names the process and its state.
#[test]
fn the_zombie_win_names_hello_seen_in_state_z() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, _) = play(state.path(), "zombie", "0,0,0,0,0,2,2,2");
    assert_eq!(code, Some(0), "{out}");
    let what = out.split("met the goal: ").nth(1).unwrap_or_default();
    assert!(
        what.starts_with("hello (PID ") && what.trim_end().ends_with('Z'),
        "{out}"
    );
}

#[test]
fn with_the_lock_the_ticket_cannot_be_sold_twice_and_the_screen_says_why() {
    let state = tempfile::tempdir().unwrap();
    for moves in ["0,1,0*,1*", "0*,1*", "1,0,1,0,1,0,1,0,0*,1*"] {
        let (code, out, _) = play(state.path(), "lock-holds", moves);
        assert_eq!(code, Some(1), "{moves}: {out}");
        assert!(out.contains("It cannot be done"), "{out}");
    }
}

#[test]
fn a_move_for_a_finished_process_is_reported_and_the_budget_is_kept() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, _) = play(state.path(), "sell-twice", "0*,0,1*");
    assert_eq!(code, Some(1));
    assert!(
        out.contains("move 2: the process in slot 0 has finished"),
        "{out}"
    );
    // So is a slot run to its end that has already ended.
    let (code, out, _) = play(state.path(), "sell-twice", "0*,0*,1*");
    assert_eq!(code, Some(1));
    assert!(
        out.contains("move 2: the process in slot 0 has finished"),
        "{out}"
    );
    // A move counts when a process is let go: a move for a process blocked
    // in the kernel is reported and not counted, so the budget runs out on
    // permits, as on the dashboard.
    let (_, out, _) = play(state.path(), "block-on-full", "1,1,1,1,1,1,0,0,0");
    assert!(
        out.contains("move 3: the process in slot 1 is blocked and cannot step"),
        "{out}"
    );
    assert!(!out.contains("used up"), "{out}");
    let (_, out, _) = play(state.path(), "block-on-full", "0,1,0,1,0,1,0");
    assert!(out.contains("the 6 moves are used up"), "{out}");
    assert!(out.contains("lost after 6 moves"), "{out}");
    // Moves after the run has ended: said once, and the game is over.
    let (code, out, _) = play(
        state.path(),
        "out-of-order",
        "0,2,1,2,1,3,1,3,1,n,n,n,n,n,n,n,n,n,n,n,n,n,n,n,n,n",
    );
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out.matches("every process has finished").count(),
        1,
        "{out}"
    );
}

#[test]
fn bad_challenge_input_is_one_line_and_exit_2() {
    for args in [
        &["challenge", "no-such"][..],
        &["challenge", "sell-twice", "--moves", "0,x"][..],
        &["challenge", "sell-twice", "--moves", ""][..],
        &["challenge", "sell-twice"][..],
    ] {
        let out = run_to_end(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

/// `--predict`: the question before the run, the answer given, and beside
/// it at the end what happened, from the summary.
#[test]
fn a_prediction_is_said_beside_what_happened() {
    let out = run_to_end(&[
        "ticket",
        "--headless",
        "--buyers",
        "3",
        "--tickets",
        "2",
        "--delay-ms",
        "0",
        "--predict",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("How many tickets will be sold? Your prediction: 3."),
        "{text}"
    );
    // With the lock, two of two are sold.
    assert!(
        text.contains("You predicted 3; what happened: 2. Not this time"),
        "{text}"
    );
    let out = run_to_end(&[
        "race",
        "--json",
        "--workers",
        "2",
        "--increments",
        "3",
        "--lock",
        "--predict",
        "6",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        (
            summary["predicted"].as_str(),
            summary["actual"].as_str(),
            summary["predicted_right"].as_bool()
        ),
        (Some("6"), Some("6"), Some(true))
    );
    // A word answer matches the result in the learner's words: the pool's
    // callbacks run in main, 主进程 in Chinese.
    let out = run_to_end(&[
        "pool",
        "--headless",
        "--lang",
        "zh",
        "--workers",
        "2",
        "--tasks",
        "2",
        "--speed",
        "max",
        "--predict",
        "主进程",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("实际发生：main（主进程）。答对了！"),
        "{text}"
    );
    // A question whose answer is a number refuses a word, before the run.
    for answer in ["many", "10.0"] {
        let out = run_to_end(&["ticket", "--headless", "--predict", answer]);
        assert_eq!(out.status.code(), Some(2), "{answer}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("whole number"), "{err}");
    }
    // With no screen to ask on, the answer must come with --predict.
    let out = run_to_end(&["ticket", "--headless", "--predict"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--predict ANSWER"), "{err}");
    // A run with no question refuses it, before anything starts.
    let program = format!("{}/tests/programs/timeouts.py", env!("CARGO_MANIFEST_DIR"));
    let out = run_to_end(&["run", "--headless", "--predict", "1", &program]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--predict") && out.stdout.is_empty(), "{err}");
}
