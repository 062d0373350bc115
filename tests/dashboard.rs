//! End to end: the real binary in a pseudo-terminal, its screen read with
//! vt100, keys pressed as a teacher would.

mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use support::{alive, assert_dir_empty, wait_until, BIN, PATIENCE};

const DOWN: &str = "\x1b[B";
const ENTER: &str = "\r";
const LEAVE_ALTERNATE_SCREEN: &[u8] = b"\x1b[?1049l";

struct Dashboard {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
    tmp: tempfile::TempDir,
}

impl Dashboard {
    fn start(args: &[&str]) -> Dashboard {
        Dashboard::start_with(args, &[])
    }

    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Dashboard {
        Dashboard::start_sized(args, env, 30, 100)
    }

    fn start_sized(args: &[&str], env: &[(&str, &str)], rows: u16, cols: u16) -> Dashboard {
        let tmp = tempfile::tempdir().unwrap();
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(BIN);
        if !args.first().is_some_and(|a| !a.starts_with('-')) {
            cmd.arg("ticket");
        }
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        cmd.env("TMPDIR", tmp.path());
        cmd.env("NO_COLOR", "1");
        cmd.env("LC_ALL", "C");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pty.master.try_clone_reader().unwrap();
        let (p, r) = (parser.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                p.lock().unwrap().process(&buf[..n]);
                r.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let writer = pty.master.take_writer().unwrap();
        Dashboard {
            child,
            writer,
            parser,
            raw,
            _master: pty.master,
            tmp,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every one of `texts` is on screen (one frame may arrive in
    /// several reads, so a test waits for all it will look at).
    fn wait_for_all(&self, what: &str, texts: &[&str]) -> String {
        self.wait_for(what, |s| texts.iter().all(|t| s.contains(t)))
    }

    /// The header's action count, from a screen where it is drawn whole.
    fn current_actions(&self) -> u64 {
        actions(&self.wait_for("a whole header", |s| actions(s) != u64::MAX))
    }

    fn press(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn pid(&self) -> i32 {
        self.child.process_id().unwrap() as i32
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "mpviz did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The PIDs of the table's rows whose name starts with `prefix`, once
    /// at least `at_least` of them are drawn (a screen read mid-frame may
    /// show only part of the table).
    fn table_pids_named(&self, prefix: &str, at_least: usize) -> Vec<i64> {
        let screen = self.wait_for("the table's rows", |s| rows(s, prefix).len() >= at_least);
        rows(&screen, prefix)
    }

    /// The PIDs of the fork server's and the buyers' rows (at least `at_least`).
    fn table_pids(&self, at_least: usize) -> Vec<i64> {
        self.table_pids_named("", at_least)
    }

    fn left_alternate_screen(&self) -> bool {
        let raw = self.raw.lock().unwrap();
        raw.windows(LEAVE_ALTERNATE_SCREEN.len())
            .any(|w| w == LEAVE_ALTERNATE_SCREEN)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PIDs of the table's rows whose name starts with `prefix` (the fork
/// server's row is named "fork server").
fn rows(screen: &str, prefix: &str) -> Vec<i64> {
    screen
        .lines()
        .filter_map(|l| {
            let mut words = l.strip_prefix('│')?.split_whitespace();
            let pid = words.next()?.parse().ok()?;
            let name = words.next()?;
            let named = name.starts_with("buyer-") || name == "fork" || !prefix.is_empty();
            (named && name.starts_with(prefix)).then_some(pid)
        })
        .collect()
}

/// The header's lines (it flows onto more lines on a narrow terminal).
fn header(screen: &str) -> impl Iterator<Item = &str> {
    screen.lines().take_while(|l| !l.starts_with('┌'))
}

/// The seed in the header.
fn seed(screen: &str) -> Option<u64> {
    let after = header(screen).find_map(|l| l.split("seed ").nth(1))?;
    after.split_whitespace().next()?.parse().ok()
}

/// The header's count of instrumented actions.
/// The header's count of actions ("1 action", "7 actions").
fn actions(screen: &str) -> u64 {
    let line = header(screen)
        .find(|l| l.contains(" action"))
        .unwrap_or_default();
    let before = line.split(" action").next().unwrap_or_default();
    before
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

fn row_of(screen: &str, pid: i64) -> &str {
    screen
        .lines()
        .find(|l| {
            l.strip_prefix('│')
                .is_some_and(|r| r.trim_start().starts_with(&format!("{pid} ")))
        })
        .unwrap_or("")
}

#[test]
fn a_paused_run_makes_no_progress_and_a_step_moves_exactly_one_action() {
    let mut d = Dashboard::start(&[
        "--buyers",
        "4",
        "--tickets",
        "2",
        "--delay-ms",
        "0",
        "--paused",
        "--seed",
        "1",
    ]);
    d.wait_for("all four buyers at the gate", |s| {
        s.contains("⏸ PAUSED") && s.contains("4 at the gate") && actions(s) == 0
    });

    // A negative check: if pause works, nothing can move in this second.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(d.current_actions(), 0, "a paused run moved");

    d.press("n");
    d.wait_for("one action", |s| actions(s) == 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        d.current_actions(),
        1,
        "a step let more than one action happen:\n{}",
        d.screen()
    );
    let screen = d.wait_for_all("still paused", &["⏸ PAUSED"]);
    assert!(screen.contains("⏸ PAUSED"));
    d.press("q");
    assert!(d.wait_exit().success());
}

#[test]
fn enter_steps_only_the_selected_process() {
    let mut d = Dashboard::start(&[
        "--buyers",
        "3",
        "--tickets",
        "3",
        "--delay-ms",
        "0",
        "--paused",
        "--seed",
        "2",
    ]);
    d.wait_for("the buyers at the gate", |s| s.contains("3 at the gate"));
    // The first row is the fork server, which takes no steps: the first
    // selection is the second row, buyer-0.
    d.press(DOWN);
    let pids = d.table_pids(4);
    let chosen = pids[1];
    d.press(ENTER);
    d.wait_for("one action", |s| actions(s) == 1);
    // The chosen buyer took the lock and waits at its next gate; the others
    // have not moved.
    let holder = format!("holder  buyer-0 PID {chosen}");
    let screen = d.wait_for("the chosen buyer at its next gate", |s| {
        row_of(s, chosen).contains("⏸ read the file")
            && actions(s) == 1
            && s.contains(&holder)
            && pids[2..]
                .iter()
                .all(|&p| s.lines().any(|l| l.contains(&format!("{p} "))))
    });
    assert_eq!(actions(&screen), 1);
    assert!(
        screen.contains(&format!("holder  buyer-0 PID {chosen}")),
        "{screen}"
    );
    for &other in &pids[2..] {
        assert!(
            row_of(&screen, other).contains("⏸ take the lock"),
            "{other} moved:\n{screen}"
        );
    }
    d.press("q");
    d.wait_exit();
}

#[test]
fn space_resumes_and_the_run_finishes_with_every_buyer_reaped() {
    let mut d = Dashboard::start(&[
        "--buyers",
        "3",
        "--tickets",
        "2",
        "--delay-ms",
        "0",
        "--paused",
        "--speed",
        "200",
    ]);
    d.wait_for("paused", |s| s.contains("⏸ PAUSED"));
    d.press(" ");
    let screen = d.wait_for("the end", |s| {
        s.contains("■ finished")
            && s.contains("sold 2/2")
            && s.contains("0/3 alive")
            && s.matches("done: got a ticket").count() == 2
            && s.matches("done: sold out").count() == 1
    });
    assert!(screen.contains("sold 2/2"), "{screen}");
    d.press("q");
    assert!(d.wait_exit().success());
}

#[test]
fn help_opens_with_question_mark_and_any_key_closes_it() {
    let mut d = Dashboard::start(&["--buyers", "2", "--paused"]);
    d.wait_for("paused", |s| s.contains("⏸ PAUSED"));
    d.press("?");
    // Its title: "any key closes", or, where it scrolls, "↑ ↓ scroll, any
    // other key closes".
    d.wait_for("the help", |s| s.contains("Keys — "));
    d.press("x");
    d.wait_for("the help to close", |s| !s.contains("Keys — "));
    d.press("q");
    d.wait_exit();
}

fn quits_leaving_nothing(how: impl FnOnce(&mut Dashboard)) {
    let mut d = Dashboard::start(&["--buyers", "20", "--tickets", "5", "--paused"]);
    d.wait_for("every buyer at the gate", |s| s.contains("20 at the gate"));
    // The table shows the fork server and the first buyers: all real, all alive.
    let pids = d.table_pids(10);
    assert!(pids.iter().all(|&p| alive(p)));
    let group = pids[0];
    how(&mut d);
    d.wait_exit();
    wait_until("every process of the run is gone", || {
        pids.iter().all(|&p| !alive(p)) && kill(Pid::from_raw(-(group as i32)), None).is_err()
    });
    wait_until("the terminal restored (alternate screen left)", || {
        d.left_alternate_screen()
    });
    wait_until("the run's files are removed", || {
        std::fs::read_dir(d.tmp.path()).unwrap().next().is_none()
    });
    assert_dir_empty(d.tmp.path());
}

#[test]
fn q_quits_and_leaves_no_process_and_the_terminal_restored() {
    quits_leaving_nothing(|d| d.press("q"));
}

#[test]
fn ctrl_c_quits_and_leaves_no_process() {
    quits_leaving_nothing(|d| d.press("\x03"));
}

#[test]
fn sigterm_quits_and_leaves_no_process_and_the_terminal_restored() {
    quits_leaving_nothing(|d| kill(Pid::from_raw(d.pid()), Signal::SIGTERM).unwrap());
}

#[test]
fn a_panic_restores_the_terminal_and_leaves_nothing_behind() {
    let mut d = Dashboard::start_with(
        &["--buyers", "10", "--paused"],
        &[("MPVIZ_TEST_PANIC_KEY", "!")],
    );
    d.wait_for("every buyer at the gate", |s| s.contains("10 at the gate"));
    let pids = d.table_pids(11);
    assert!(pids.iter().all(|&p| alive(p)));
    d.press("!");
    let status = d.wait_exit();
    assert_eq!(status.exit_code(), 101);
    wait_until("every process of the run is gone", || {
        pids.iter().all(|&p| !alive(p))
    });
    wait_until("the terminal restored (alternate screen left)", || {
        d.left_alternate_screen()
    });
    assert_dir_empty(d.tmp.path());
}

#[test]
fn r_runs_again_with_a_new_seed_and_new_processes() {
    let mut d = Dashboard::start(&["--buyers", "3", "--paused", "--seed", "11"]);
    d.wait_for("the first run", |s| {
        seed(s) == Some(11) && s.contains("3 at the gate")
    });
    let old = d.table_pids(4);
    d.press("r");
    // A frame may be read half drawn: wait for the new run's whole table.
    d.wait_for("a new run, paused, with new processes", |s| {
        let new = rows(s, "");
        seed(s).is_some_and(|n| n != 11)
            && s.contains("3 at the gate")
            && s.contains("⏸ PAUSED")
            && new.len() == old.len()
            && new.iter().all(|p| !old.contains(p))
    });
    wait_until("the first run's processes are gone", || {
        old.iter().all(|&p| !alive(p))
    });
    d.press("q");
    d.wait_exit();
}

#[test]
fn a_mouse_click_selects_a_process_for_enter_to_step() {
    let mut d = Dashboard::start(&[
        "--buyers",
        "3",
        "--tickets",
        "3",
        "--delay-ms",
        "0",
        "--paused",
    ]);
    let screen = d.wait_for("the buyers at the gate", |s| {
        s.contains("3 at the gate") && s.contains("buyer-2 ")
    });
    // Click on buyer-2's row (1-based coordinates in the SGR mouse protocol).
    let row = screen.lines().position(|l| l.contains("buyer-2 ")).unwrap() + 1;
    let pid = d.table_pids(4)[3];
    d.press(&format!("\x1b[<0;5;{row}M\x1b[<0;5;{row}m"));
    d.press(ENTER);
    let screen = d.wait_for("buyer-2 stepped", |s| {
        row_of(s, pid).contains("⏸ read the file") && actions(s) == 1
    });
    assert_eq!(actions(&screen), 1);
    d.press("q");
    d.wait_exit();
}

#[test]
fn the_summary_stays_on_screen_when_the_run_ends() {
    let mut d = Dashboard::start(&[
        "--buyers",
        "3",
        "--tickets",
        "2",
        "--delay-ms",
        "0",
        "--speed",
        "max",
    ]);
    let screen = d.wait_for_all(
        "the end and its summary",
        &[
            "■ finished",
            "Finished. ticket: 3 buyers, 2 tickets",
            "sold 2, failed 1",
        ],
    );
    assert!(
        screen.contains("Finished. ticket: 3 buyers, 2 tickets"),
        "{screen}"
    );
    assert!(screen.contains("sold 2, failed 1"), "{screen}");
    d.press("q");
    d.wait_exit();
}

/// The walk every scenario gets: start paused with `processes` children at
/// the gate, see a step move exactly one action, run to the end faster, quit,
/// and find no process left and the terminal restored. Returns the final
/// screen for the scenario's own checks.
fn pause_step_finish_quit(
    args: &[&str],
    processes: usize,
    name_prefix: &str,
    end: &[&str],
) -> String {
    let mut d = Dashboard::start(args);
    let gate = format!("{processes} at the gate");
    d.wait_for("every child at the gate", |s| {
        s.contains(&gate) && s.contains("⏸ PAUSED")
    });
    let pids = d.table_pids_named(name_prefix, 1);
    d.press("n");
    d.wait_for("one action", |s| actions(s) == 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        d.current_actions(),
        1,
        "a step let more than one action happen"
    );
    d.press("+++++");
    d.press(" ");
    let mut expected = vec!["■ finished"];
    expected.extend_from_slice(end);
    let screen = d.wait_for_all("the end", &expected);
    d.press("q");
    assert!(d.wait_exit().success());
    assert!(pids.iter().all(|&p| !alive(p)));
    wait_until("the terminal restored (alternate screen left)", || {
        d.left_alternate_screen()
    });
    assert_dir_empty(d.tmp.path());
    screen
}

#[test]
fn append_pauses_steps_finishes_and_quits_leaving_nothing() {
    let screen = pause_step_finish_quit(
        &[
            "append",
            "--writers",
            "4",
            "--chunks",
            "2",
            "--lock",
            "--paused",
        ],
        4,
        "writer-",
        &["4 lines, 0 torn"],
    );
    assert!(screen.contains("4 lines, 0 torn"), "{screen}");
}

#[test]
fn queue_pauses_steps_finishes_and_quits_leaving_nothing() {
    let screen = pause_step_finish_quit(
        &[
            "queue",
            "--producers",
            "1",
            "--consumers",
            "1",
            "--items",
            "4",
            "--maxsize",
            "2",
            "--paused",
        ],
        2,
        "producer-",
        &["consumed 4/4", "lost 0, duplicated 0"],
    );
    assert!(screen.contains("consumed 4/4"), "{screen}");
    assert!(screen.contains("lost 0, duplicated 0"), "{screen}");
}

#[test]
fn pool_pauses_steps_finishes_and_quits_leaving_nothing() {
    let screen = pause_step_finish_quit(
        &[
            "pool",
            "--workers",
            "2",
            "--tasks",
            "4",
            "--fail",
            "1",
            "--paused",
        ],
        2,
        "worker-",
        &["ok 3, errors 1", "✗ worker-"],
    );
    assert!(screen.contains("ok 3, errors 1"), "{screen}");
    assert!(screen.contains("✗ worker-"), "{screen}");
}

#[test]
fn race_pauses_steps_finishes_and_quits_leaving_nothing() {
    let screen = pause_step_finish_quit(
        &[
            "race",
            "--workers",
            "3",
            "--increments",
            "2",
            "--lock",
            "--paused",
        ],
        3,
        "worker-",
        &["counter 6 · expected 6 · lost 0", "in memory now"],
    );
    assert!(screen.contains("Counter in shared memory"), "{screen}");
}

#[test]
fn race_with_threads_paces_each_thread_and_leaves_nothing() {
    // The threads are paced one by one; the process itself only waits.
    let screen = pause_step_finish_quit(
        &[
            "race",
            "--threads",
            "--workers",
            "2",
            "--increments",
            "3",
            "--paused",
        ],
        2,
        "thread-",
        &["expected 6"],
    );
    assert!(screen.contains("threads"), "{screen}");
}

#[test]
fn manager_pauses_steps_finishes_and_quits_leaving_nothing() {
    let screen = pause_step_finish_quit(
        // Only main is at the gate at first: it forks the server and the
        // workers, which inherit its plain dict.
        &["manager", "--workers", "3", "--paused"],
        1,
        "main",
        &[
            "managed dict 3 · list 3 · main's plain dict 1",
            "3 × 2 items",
        ],
    );
    assert!(screen.contains("Managed dict and list"), "{screen}");
}

#[test]
fn lifecycle_pauses_steps_finishes_and_quits_leaving_nothing() {
    // Only main is at the gate at first: it starts every other process.
    let screen = pause_step_finish_quit(
        &["lifecycle", "--paused"],
        1,
        "main",
        &["deadlock yes", "died holding the lock (exit -15)"],
    );
    assert!(screen.contains("Calls on Process objects"), "{screen}");
}

#[test]
fn race_without_the_lock_shows_how_an_update_was_lost() {
    // Paced at random, three workers interleave: updates are lost, and the
    // counter panel shows the newest loss, marking the write that undid one.
    let screen = pause_step_finish_quit(
        &["race", "--workers", "3", "--increments", "10", "--paused"],
        3,
        "worker-",
        &["expected 30", "newest lost update:", "✗ worker-"],
    );
    assert!(!screen.contains("expected 30 · lost 0"), "{screen}");
}

#[test]
fn lifecycle_with_an_flock_lets_the_waiters_go_on() {
    let screen = pause_step_finish_quit(
        &["lifecycle", "--lock-kind", "flock", "--paused"],
        1,
        "main",
        &[
            "deadlock no",
            "(flock)",
            "waiter-2.join() → None (exit code 0)",
        ],
    );
    assert!(!screen.contains("DEADLOCK"), "{screen}");
}

#[test]
fn ticket_without_the_lock_keeps_a_lost_update_on_screen_at_80x24() {
    // Six buyers stepped one action at a time: two of them read the same
    // count and both write it back. The step that loses an update also
    // reports the outcome and the exit, and the pacer re-announces the
    // pause: the narration must still tell the loss, and the row and the
    // header mark it.
    let mut d = Dashboard::start_sized(
        &[
            "--no-lock",
            "--buyers",
            "6",
            "--tickets",
            "10",
            "--delay-ms",
            "1",
            "--paused",
            "--seed",
            "4",
        ],
        &[],
        24,
        80,
    );
    d.wait_for("six buyers at the gate", |s| {
        s.contains("⏸ PAUSED") && s.contains("6 at the gate")
    });
    let lost = |s: &str| s.contains("✗ lost updates");
    let mut steps = 0;
    while !lost(&d.screen()) {
        assert!(
            steps < 200,
            "no update was lost in 200 steps:\n{}",
            d.screen()
        );
        let before = d.current_actions();
        d.press("n");
        // The step's action, or the end (a step between actions of one
        // buyer counts none: wait for the screen to change then).
        d.wait_for("the step", |s| {
            actions(s) > before || lost(s) || s.contains("finished")
        });
        steps += 1;
    }
    // The writer's exit arrives in the same step: once its row says it is
    // done, the narration still says what the step did.
    let screen = d.wait_for("the writer's exit", |s| s.contains("✗ done"));
    let flat = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("An update is lost."), "{screen}");
    // (Only the narration starts a line with the mark: rows start with a
    // border, the header with a space.)
    assert!(
        screen.lines().any(|l| l.starts_with("✗ ")),
        "the narration is marked:\n{screen}"
    );
    d.press("q");
    assert!(d.wait_exit().success());
}

/// The last place `seq` occurs in `raw`.
fn last(raw: &[u8], seq: &[u8]) -> Option<usize> {
    raw.windows(seq.len()).rposition(|w| w == seq)
}

impl Dashboard {
    /// The terminal is as mpviz found it: the main screen, the cursor
    /// shown, the mouse off (each set last), echo and line editing on.
    fn terminal_given_back(&self) -> Result<(), String> {
        let raw = self.raw.lock().unwrap();
        for (what, back, taken) in [
            ("the main screen", &b"\x1b[?1049l"[..], &b"\x1b[?1049h"[..]),
            ("the cursor shown", b"\x1b[?25h", b"\x1b[?25l"),
            ("the mouse off", b"\x1b[?1000l", b"\x1b[?1000h"),
        ] {
            if last(&raw, back) <= last(&raw, taken) {
                return Err(format!("{what} not given back"));
            }
        }
        let fd = self._master.as_raw_fd().ok_or("no pty descriptor")?;
        // SAFETY: a plain struct filled by tcgetattr, on a descriptor that
        // stays open while `self` lives.
        let mut termios: nix::libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { nix::libc::tcgetattr(fd, &mut termios) } != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        let on = nix::libc::ECHO | nix::libc::ICANON;
        if termios.c_lflag & on != on {
            return Err("echo and line editing are off".into());
        }
        Ok(())
    }

    fn wait_terminal_given_back(&self) {
        let deadline = Instant::now() + PATIENCE;
        while let Err(e) = self.terminal_given_back() {
            assert!(Instant::now() < deadline, "{e}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The state letter of `pid` from /proc (T: stopped).
fn state(pid: i64) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rfind(')')
        .and_then(|at| stat[at + 1..].trim_start().chars().next())
        .unwrap_or('?')
}

#[test]
fn sigquit_gives_the_terminal_back_and_leaves_nothing_behind() {
    let mut d = Dashboard::start(&["--buyers", "10", "--paused"]);
    d.wait_for("every buyer at the gate", |s| s.contains("10 at the gate"));
    kill(Pid::from_raw(d.pid()), Signal::SIGQUIT).unwrap();
    assert_eq!(d.wait_exit().exit_code(), 128 + 3);
    d.wait_terminal_given_back();
    support::wait_until_nothing_left("nothing is left", d.tmp.path());
}

#[test]
fn after_a_panic_the_cursor_is_shown_again() {
    let mut d = Dashboard::start_with(
        &["--buyers", "3", "--paused"],
        &[("MPVIZ_TEST_PANIC_KEY", "!")],
    );
    d.wait_for("every buyer at the gate", |s| s.contains("3 at the gate"));
    d.press("!");
    assert_eq!(d.wait_exit().exit_code(), 101);
    d.wait_terminal_given_back();
    support::wait_until_nothing_left("nothing is left", d.tmp.path());
}

/// Once a run has finished its fork server is gone; mpviz still has the
/// run's directory (the summary stays on screen). Killing mpviz then, even
/// by SIGKILL, leaves nothing.
#[test]
fn a_finished_run_killed_by_sigkill_or_sigquit_leaves_nothing() {
    for signal in [Signal::SIGKILL, Signal::SIGQUIT] {
        let mut d = Dashboard::start(&["--buyers", "3", "--delay-ms", "0", "--speed", "max"]);
        d.wait_for("the end", |s| s.contains("■ finished"));
        kill(Pid::from_raw(d.pid()), signal).unwrap();
        d.wait_exit();
        if signal == Signal::SIGQUIT {
            d.wait_terminal_given_back();
        }
        support::wait_until_nothing_left(&format!("{signal}: nothing is left"), d.tmp.path());
    }
}

#[test]
fn term_dumb_says_the_dashboard_cannot_draw_there() {
    let mut d = Dashboard::start_with(&["--buyers", "3"], &[("TERM", "dumb")]);
    assert_eq!(d.wait_exit().exit_code(), 2);
    let screen = d.wait_for("the message", |s| s.contains("--headless"));
    assert!(screen.contains("TERM=dumb"), "{screen}");
    assert!(screen.contains("--json"), "{screen}");
    assert_eq!(screen.trim().lines().count(), 1, "{screen}");
    let raw = d.raw.lock().unwrap();
    assert!(last(&raw, b"\x1b[?1049h").is_none(), "it drew");
    drop(raw);
    assert_dir_empty(d.tmp.path());
}

#[test]
fn ctrl_z_suspends_with_the_processes_frozen_and_sigcont_redraws() {
    let mut d = Dashboard::start(&["--buyers", "5", "--paused"]);
    d.wait_for("every buyer at the gate", |s| s.contains("5 at the gate"));
    let pids = d.table_pids(6);
    let mpviz = i64::from(d.pid());
    d.press("\x1a");
    wait_until("mpviz and every process of the run stopped", || {
        state(mpviz) == 'T' && pids.iter().all(|&p| state(p) == 'T')
    });
    d.wait_terminal_given_back();
    d.wait_for("the main screen", |s| !s.contains("at the gate"));
    // What `fg` sends.
    kill(Pid::from_raw(d.pid()), Signal::SIGCONT).unwrap();
    d.wait_for("the whole screen drawn again", |s| {
        s.contains("5 at the gate")
    });
    wait_until("every process of the run goes on", || {
        state(mpviz) != 'T' && pids.iter().all(|&p| state(p) != 'T')
    });
    d.press("n");
    d.wait_for("a step after the resume", |s| actions(s) == 1);
    d.press("q");
    assert!(d.wait_exit().success());
    d.wait_terminal_given_back();
    support::wait_until_nothing_left("nothing is left", d.tmp.path());
}

/// The README: a run that fails (here a real fork refused by the kernel,
/// mid-run) ends with one line and exit 1.
#[test]
fn a_fork_refused_mid_run_makes_the_dashboard_exit_1_with_the_line() {
    let Some(cgroup) = support::PidsCgroup::new() else {
        eprintln!(
            "SKIPPED a_fork_refused_mid_run_makes_the_dashboard_exit_1_with_the_line: \
             no pids cgroup can be made here (needs root and cgroup v1's pids)"
        );
        return;
    };
    let mut d = Dashboard::start(&["lifecycle", "--paused"]);
    d.wait_for("main at the gate", |s| s.contains("1 at the gate"));
    let main = d.table_pids_named("main", 1)[0];
    cgroup.confine(main);
    // Main steps until its first fork, which fails: before it, it makes
    // its lock and its first Process object, which fork nothing.
    let stopped = |s: &str| s.contains("✖ stopped by an error");
    for _ in 0..10 {
        let before = d.current_actions();
        d.press("n");
        let s = d.wait_for("the step or the error", |s| {
            stopped(s) || actions(s) > before
        });
        if stopped(&s) {
            break;
        }
    }
    d.wait_for("the run stopped by the error", stopped);
    d.press("q");
    assert_eq!(d.wait_exit().exit_code(), 1);
    let screen = d.wait_for("the error's line", |s| s.contains("mpviz: error:"));
    let line = screen
        .lines()
        .find(|l| l.contains("mpviz: error:"))
        .unwrap_or_default();
    assert!(
        line.contains("Resource temporarily unavailable"),
        "{screen}"
    );
    d.wait_terminal_given_back();
    support::wait_until_nothing_left("nothing is left", d.tmp.path());
}

/// The glyphs a panel's right edge may show: its border, or the table's
/// scroll bar.
const RIGHT_EDGE: &[&str] = &["┐", "│", "┘", "▲", "▼", "█", "║"];

/// A scenario in Chinese, paused then stepped, at `rows`×`cols`: the
/// screen's own words are Chinese (the header's state, the table's title, the
/// key bar), no text is missing, every panel's right border is in the last
/// column (a wide character drawn half or pushed over would move it), and q
/// leaves nothing behind.
fn in_chinese(args: &[&str], rows: u16, cols: u16) {
    use mpviz::lang::Lang;
    let zh = mpviz::scenario::texts::common_in(Lang::named("zh").expect("Chinese is built in"));
    let paused = zh.say("header_paused", &[]);
    let quit = format!("q {}", zh.say("footer_quit", &[]));
    let title = zh.say("table_title", &[]);
    // A step asked while nobody is at a gate says so where the keys are,
    // until the next key: a whole frame ends in one or the other.
    let none_at_gate = zh.say("step_none_at_gate", &[("blocked", &0)]);
    let none_at_gate: String = none_at_gate.chars().take(8).collect();
    let mut with_lang = args.to_vec();
    with_lang.extend(["--lang", "zh", "--paused"]);
    let mut d = Dashboard::start_sized(&with_lang, &[], rows, cols);
    // Where a border is not where it belongs on the screen now, if anywhere:
    // the right edge of every panel's row, and the right border of the left
    // column's panels (the table, the code), wherever a row of wide
    // characters was cut.
    let misplaced_border = |d: &Dashboard| -> Option<String> {
        let parser = d.parser.lock().unwrap();
        let cells = parser.screen();
        let at = |row, col| {
            cells
                .cell(row, col)
                .map(|c| c.contents())
                .unwrap_or_default()
        };
        let mut border = None;
        for row in 0..rows {
            if ["┌", "│", "└"].contains(&at(row, 0)) && !RIGHT_EDGE.contains(&at(row, cols - 1))
            {
                return Some(format!("row {row} ends in {:?}", at(row, cols - 1)));
            }
            match (at(row, 0), border) {
                ("┌", _) => border = (1..cols).find(|&col| at(row, col) == "┐"),
                ("│" | "└", Some(col)) => {
                    if !["│", "┘", "┤", "▲", "▼", "█", "║"].contains(&at(row, col)) {
                        return Some(format!("row {row}: {:?} at column {col}", at(row, col)));
                    }
                }
                _ => border = None,
            }
        }
        None
    };
    let check = |d: &Dashboard, what: &str| {
        // A frame may arrive in several reads: wait for a whole one with
        // every border in place; a layout that is wrong never gives one.
        let deadline = Instant::now() + PATIENCE;
        let screen = loop {
            let screen = d.wait_for(what, |s| {
                s.contains(paused.trim())
                    && s.contains(title.trim())
                    && (s.contains(quit.trim()) || s.contains(&none_at_gate))
            });
            match misplaced_border(d) {
                None => break screen,
                Some(wrong) => assert!(
                    Instant::now() < deadline,
                    "{args:?} {cols}×{rows}, {wrong} ({what}):\n{screen}"
                ),
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            !screen.contains('⟦'),
            "a text is missing ({what}):\n{screen}"
        );
    };
    check(&d, "paused, in Chinese");
    // The code panel: shown at 120 columns, in the table's place at 80
    // once `c` is pressed.
    let code = zh.say("panel_code", &[("file", &format!("{}.py", args[0]))]);
    let last_step = zh.say("panel_code_last", &[]);
    let last_step = last_step.split('{').next().unwrap().trim();
    if cols < 120 {
        assert!(
            !d.screen().contains(code.trim()),
            "{args:?}: hidden at {cols} columns"
        );
        d.press("c");
        let screen = d.wait_for("the code panel", |s| s.contains(code.trim()));
        let doing = zh.say("column_doing", &[]);
        assert!(
            !screen.contains(&doing),
            "{args:?}: in the table's place:\n{screen}"
        );
        check(&d, "the code panel in the table's place");
    } else {
        d.wait_for("the code panel", |s| s.contains(code.trim()));
    }
    // A step runs a line, and the panel says whose.
    d.press("nn");
    d.wait_for("a step's line", |s| s.contains(last_step));
    if cols < 120 {
        d.press("c");
        d.wait_for("the table back", |s| !s.contains(code.trim()));
    }
    check(&d, "after two steps");
    let pid = d.pid();
    d.press("q");
    assert!(d.wait_exit().success());
    assert!(!alive(i64::from(pid)));
    wait_until("the terminal restored (alternate screen left)", || {
        d.left_alternate_screen()
    });
    assert_dir_empty(d.tmp.path());
}

/// Every scenario, small, as the Chinese tests run it.
const SMALL_RUNS: &[&[&str]] = &[
    &["ticket", "--buyers", "4", "--tickets", "2"],
    &["race", "--workers", "3", "--increments", "2"],
    &["lifecycle"],
    &["append", "--writers", "3"],
    &["pool", "--workers", "2", "--tasks", "4"],
    &[
        "queue",
        "--producers",
        "1",
        "--consumers",
        "1",
        "--items",
        "4",
        "--maxsize",
        "2",
    ],
    &["manager", "--workers", "3"],
];

#[test]
fn every_scenario_speaks_chinese_at_80x24() {
    for args in SMALL_RUNS {
        in_chinese(args, 24, 80);
    }
}

#[test]
fn every_scenario_speaks_chinese_at_120x40() {
    for args in SMALL_RUNS {
        in_chinese(args, 40, 120);
    }
}

#[test]
fn the_dashboard_records_its_run_and_a_quit_ends_the_recording_with_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.jsonl");
    let file = file.to_str().unwrap();
    let mut d = Dashboard::start(&["--buyers", "3", "--paused", "--record", file]);
    d.wait_for("three buyers at the gate", |s| s.contains("3 at the gate"));
    d.press("n");
    d.wait_for("one action", |s| actions(s) == 1);
    d.press("q");
    assert!(d.wait_exit().success());
    // Quit before the end: the recording holds the run as far as it went,
    // and the summary of that.
    let replayed = std::process::Command::new(support::BIN)
        .args(["replay", file, "--json"])
        .output()
        .unwrap();
    assert!(replayed.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&replayed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["kind"], "start");
    assert_eq!(lines.iter().filter(|l| l["kind"] == "spawn").count(), 4);
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "summary");
    assert_eq!(summary["buyers"], 3);
}

#[test]
fn a_live_run_steps_back_and_forward_through_its_history() {
    let mut d = Dashboard::start(&["--buyers", "3", "--paused", "--seed", "4"]);
    d.wait_for("three buyers at the gate", |s| s.contains("3 at the gate"));
    d.press("nnn");
    d.wait_for("three actions", |s| actions(s) == 3);
    let live = d.screen();
    // Back one event: the header says where, the count is the stream's.
    d.press("b");
    let back = d.wait_for("stepped back", |s| s.contains("⏪ event"));
    let (k, n) = {
        let at = back.find("⏪ event ").unwrap() + "⏪ event ".len();
        let words: Vec<&str> = back[at..].split_whitespace().take(3).collect();
        (
            words[0].parse::<usize>().unwrap(),
            words[2].parse::<usize>().unwrap(),
        )
    };
    assert!(k < n, "{back}");
    // Home, the first event: nothing has been done yet.
    d.press("\x1b[H");
    d.wait_for("the first event", |s| s.contains("⏪ event 1 of"));
    // End: the live edge again, the same screen as before.
    d.press("\x1b[F");
    let again = d.wait_for("the live edge", |s| !s.contains("⏪"));
    assert_eq!(actions(&again), actions(&live));
    // Running, there is no stepping back: it says to pause first.
    d.press(" ");
    d.wait_for("running", |s| s.contains("▶"));
    d.press("b");
    d.wait_for("the advice", |s| s.contains("Pause first"));
    d.press("q");
    assert!(d.wait_exit().success());
}

#[test]
fn replay_opens_the_dashboard_on_a_recording_and_plays_it_through() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("race.jsonl");
    let file = file.to_str().unwrap();
    let recorded = std::process::Command::new(BIN)
        .args([
            "race",
            "--json",
            "--workers",
            "2",
            "--increments",
            "3",
            "--record",
            file,
        ])
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert!(recorded.status.success());
    let n = String::from_utf8_lossy(&recorded.stdout).lines().count() - 1;
    let mut d = Dashboard::start(&["replay", file]);
    // Paused on the first event, no process started.
    d.wait_for("the first event", |s| {
        s.contains("⏸ REPLAY") && s.contains(&format!("⏪ event 1 of {n}"))
    });
    // Stepping works as in a live run's history.
    d.press("nn");
    d.wait_for("two steps on", |s| {
        s.contains(&format!("⏪ event 3 of {n}"))
    });
    d.press("b");
    d.wait_for("one back", |s| s.contains(&format!("⏪ event 2 of {n}")));
    // Played, it runs to the end: the run's finished screen.
    d.press("+++++ ");
    d.wait_for("the end of the recording", |s| {
        !s.contains("⏪") && s.contains("⏸ REPLAY") && s.contains("0/2 alive")
    });
    d.press("q");
    assert!(d.wait_exit().success());
    assert_dir_empty(d.tmp.path());
}

#[test]
fn t_shows_the_timeline_with_a_lane_for_each_buyer_live_and_stepped_back() {
    let mut d = Dashboard::start(&["--buyers", "3", "--paused", "--seed", "5"]);
    d.wait_for("three buyers at the gate", |s| s.contains("3 at the gate"));
    let buyers = d.table_pids_named("buyer-", 3);
    let lane = |s: &str, name: &str, pid: i64| {
        s.lines().any(|l| {
            let mut words = l.strip_prefix('│').unwrap_or("").split_whitespace();
            words.next() == Some(name) && words.next() == Some(&pid.to_string())
        })
    };
    d.press("t");
    let screen = d.wait_for("the timeline", |s| {
        s.contains("Timeline") && lane(s, "buyer-0", buyers[0])
    });
    // Every buyer has its lane, held at the gate (·) now; the cursor is
    // marked, the legend says what the glyphs are.
    for (i, pid) in buyers.iter().enumerate() {
        assert!(lane(&screen, &format!("buyer-{i}"), *pid), "{screen}");
    }
    d.wait_for_all("the gate and the cursor", &["·", "▼", "· gate"]);
    // z zooms in to a step a column, Z back out to the whole run.
    d.press("z");
    d.wait_for("zoomed in", |s| s.contains("a column"));
    d.press("Z");
    d.wait_for("the whole run", |s| s.contains("whole run"));
    // A step, then back one event: the timeline stays, stepped back.
    d.press("n");
    d.wait_for("one action", |s| actions(s) == 1);
    d.press("b");
    d.wait_for("stepped back", |s| {
        s.contains("⏪ event") && s.contains("Timeline") && lane(s, "buyer-0", buyers[0])
    });
    // t again: the table.
    d.press("t");
    d.wait_for("the table", |s| {
        !s.contains("Timeline") && s.contains("NAME")
    });
    d.press("q");
    assert!(d.wait_exit().success());
}

#[test]
fn rerun_steps_a_recording_again_in_the_dashboard_and_r_starts_it_once_more() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("race.jsonl");
    let file = file.to_str().unwrap();
    let recorded = std::process::Command::new(BIN)
        .args(["race", "--json", "--workers", "2", "--increments", "3"])
        .args(["--speed", "1000", "--record", file])
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert!(recorded.status.success());
    let out = String::from_utf8_lossy(&recorded.stdout);
    let steps = out
        .lines()
        .filter(|l| l.contains("\"kind\":\"grant\""))
        .count();
    let mut d = Dashboard::start(&["rerun", file, "--paused"]);
    d.wait_for("the rerun, paused, before its first step", |s| {
        s.contains("⏸ PAUSED")
            && s.contains(&format!("↻ rerun 0/{steps}"))
            && s.contains("2 at the gate")
    });
    let first = d.table_pids_named("worker-", 2);
    // n takes the recording's next step.
    d.press("nn");
    d.wait_for("two steps of the plan", |s| {
        s.contains(&format!("↻ rerun 2/{steps}")) && s.contains("2 actions")
    });
    d.press(" ");
    d.wait_for("the whole plan, and the run's end", |s| {
        s.contains(&format!("↻ rerun {steps}/{steps}")) && s.contains("0/2 alive")
    });
    // r: the same race again, on new processes.
    d.press("r");
    d.wait_for("the same race on new processes", |s| {
        let again = rows(s, "worker-");
        s.contains("↻ rerun") && again.len() == 2 && again.iter().all(|p| !first.contains(p))
    });
    d.press("q");
    assert!(d.wait_exit().success());
    assert_dir_empty(d.tmp.path());
}

/// `mpviz run` on the tutorial's ticket program, in the real Python: paused
/// before the program's first multiprocessing operation, a step lets
/// exactly one happen, the code panel shows the program at each process's
/// line, the program's output has a panel, and quitting leaves nothing.
#[test]
fn a_python_program_pauses_steps_shows_its_code_and_output_and_quits_leaving_nothing() {
    let program = format!("{}/scenarios/ticket.py", env!("CARGO_MANIFEST_DIR"));
    let mut d = Dashboard::start_sized(&["run", "--paused", &program], &[], 40, 120);
    let screen = d.wait_for("the main process at its first gate", |s| {
        s.contains("⏸ PAUSED") && s.contains("⏸ lock = Lock()")
    });
    assert!(screen.contains("Code: ticket.py"), "{screen}");
    let main = d.table_pids_named("MainProcess", 1);
    assert!(main.iter().all(|&p| alive(p)));
    // Paused: the real Python does not move.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(d.current_actions(), 0, "a paused program moved");
    d.press("n");
    d.wait_for("the lock made, and the next gate", |s| {
        actions(s) == 1 && s.contains("⏸ p.start()")
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        d.current_actions(),
        1,
        "a step let more than one operation happen"
    );
    // Steps by hand: the first buyer starts, and comes to its lock.
    d.press("n");
    d.wait_for("the first buyer started", |s| actions(s) == 2);
    let screen = d.wait_for("the buyer's row", |s| !rows(s, "Process-1").is_empty());
    let buyer = rows(&screen, "Process-1");
    assert!(alive(buyer[0]));
    d.press("n");
    d.wait_for("one more operation", |s| actions(s) == 3);
    d.press("+++++++++");
    d.press(" ");
    let screen = d.wait_for_all("the end", &["■ finished", "got a ticket"]);
    assert!(screen.contains("Output"), "{screen}");
    d.press("q");
    assert!(d.wait_exit().success());
    assert!(main.iter().chain(&buyer).all(|&p| !alive(p)));
    wait_until("the terminal restored (alternate screen left)", || {
        d.left_alternate_screen()
    });
    assert_dir_empty(d.tmp.path());
}

/// `mpviz challenge sell-twice` on the dashboard: paused, the goal and the
/// moves left under the header; the learner steps the buyers with Enter
/// until both have read the same count and written it back; the win is
/// said, kept in the state directory; free running is refused.
#[test]
fn a_challenge_is_won_on_the_dashboard_by_stepping_the_buyers() {
    let (state, mut d) = challenge("sell-twice", "C", 30, 100);
    d.wait_for("the goal and both buyers at their gate", |s| {
        s.contains("Goal: Sell one ticket twice")
            && s.contains("12 moves left")
            && s.contains("2 at the gate")
    });
    // space would let the run go by itself: refused.
    d.press(" ");
    d.wait_for("the refusal", |s| s.contains("you are the scheduler"));
    // h: a hint, then the next.
    d.press("h");
    // Short or long, a hint keeps the key bar in view.
    d.wait_for("the first hint, and the keys", |s| {
        s.contains("Let both buyers read the count") && s.contains("h hint")
    });
    d.press("h");
    d.wait_for("the second hint", |s| {
        s.contains("Select buyer-0 with the arrows")
    });
    // Each buyer reads, then each finishes: select a row, Enter, and wait
    // for the move to be counted before the next.
    let mut moves = 0;
    let mut enter = |d: &mut Dashboard, keys: &str| {
        d.press(keys);
        moves += 1;
        let left = format!("{} moves left", 12 - moves);
        d.wait_for(&left, |s| s.contains(&left) || s.contains("✓ Won"));
    };
    d.press("\x1b[B"); // buyer-0 (the fork server takes no steps)
    enter(&mut d, "\r");
    d.press("\x1b[B"); // buyer-1
    enter(&mut d, "\r");
    // buyer-0 sleeps its "network delay", empties the file, writes 4;
    // then buyer-1 does the same from the 5 it read: the same count.
    d.press("\x1b[A");
    for _ in 0..3 {
        enter(&mut d, "\r");
    }
    d.press("\x1b[B");
    for _ in 0..2 {
        enter(&mut d, "\r");
    }
    // Take the last move back: the first six again on new processes, then
    // paused, six moves left.
    let before = d.table_pids_named("buyer-", 2);
    d.press("u");
    let screen = d.wait_for("the moves but the last, again", |s| {
        s.contains("6 moves left") && s.contains("⏸ PAUSED") && s.contains("rerun 6/6")
    });
    let after = rows(&screen, "buyer-");
    assert!(
        after.iter().all(|p| !before.contains(p)),
        "new processes: {before:?} {after:?}"
    );
    // The same move again, and the last: buyer-1, selected before the
    // undo, is selected again in the new run.
    d.press("\r");
    d.wait_for("5 moves left", |s| s.contains("5 moves left"));
    d.press("\r");
    let screen = d.wait_for("the win", |s| s.contains("✓ Won in"));
    assert!(screen.contains("lost updates 1"), "{screen}");
    // The win line says what met the goal, and the events panel marks it.
    let marked = screen
        .lines()
        .filter(|l| l.contains("│") && l.contains("✓ "))
        .count();
    assert_eq!(marked, 1, "{screen}");
    let kept = std::fs::read_to_string(state.path().join("mpviz/challenges.json")).unwrap();
    assert!(kept.contains("sell-twice"), "{kept}");
    d.press("q");
    assert!(d.wait_exit().success());
    wait_until("the terminal restored (alternate screen left)", || {
        d.left_alternate_screen()
    });
    assert_dir_empty(d.tmp.path());
}

/// `mpviz challenge NAME` on a `rows`×`cols` terminal in the locale
/// `lang`, its progress kept in a state directory of its own (returned).
fn challenge(name: &str, lang: &str, rows: u16, cols: u16) -> (tempfile::TempDir, Dashboard) {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_str().unwrap().to_string();
    let d = Dashboard::start_sized(
        &["challenge", name],
        &[("XDG_STATE_HOME", &state_dir), ("LC_ALL", lang)],
        rows,
        cols,
    );
    (state, d)
}

/// The ticket dashboard at full speed, `buyers` buyers for `tickets`
/// tickets, with `--predict` and what follows it.
fn predicting(buyers: &str, tickets: &str, predict: &[&str]) -> Dashboard {
    let mut args = vec![
        "--buyers",
        buyers,
        "--tickets",
        tickets,
        "--delay-ms",
        "0",
        "--speed",
        "max",
        "--predict",
    ];
    args.extend(predict);
    Dashboard::start(&args)
}

/// `--predict ANSWER` on the dashboard: the question and the answer given
/// as the run starts; at its end, the answer beside what happened.
#[test]
fn a_prediction_is_asked_first_and_set_beside_the_result_at_the_end() {
    let mut d = predicting("2", "1", &["2"]);
    d.wait_for("the answer beside what happened", |s| {
        s.contains("You predicted 2; what happened: 1.")
    });
    d.press("q");
    assert!(d.wait_exit().success());
}

/// `--predict` with no answer: the question on the screen before any
/// process starts, the answer typed (a slip taken back), then the run.
#[test]
fn a_prediction_without_an_answer_is_typed_on_the_screen_before_the_run() {
    let mut d = predicting("3", "2", &[]);
    d.wait_for("the question", |s| {
        s.contains("How many tickets will be sold?") && s.contains("> _")
    });
    // Nothing runs while the question waits: mpviz has no child yet.
    let children: String = std::fs::read_dir(format!("/proc/{}/task", d.pid()))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
        .collect();
    assert_eq!(children.trim(), "", "children of mpviz");
    // The answer is a whole number: a letter or a point is not typed; a
    // slip is taken back.
    d.press("3");
    d.press("x");
    d.press(".");
    d.press("4");
    d.wait_for("the answer typed", |s| s.contains("> 34_"));
    d.press("\x7f");
    d.wait_for("the slip taken back", |s| s.contains("> 3_"));
    d.press("\r");
    d.wait_for("the answer beside what happened", |s| {
        s.contains("You predicted 3; what happened: 2. Not this time")
    });
    d.press("q");
    assert!(d.wait_exit().success());
}

/// A challenge that cannot be won: the moves are played until the game is
/// over (the moves used up, or every buyer done), and the screen says it
/// is lost and why it could not be won.
#[test]
fn a_challenge_that_cannot_be_won_is_lost_with_the_reason_on_screen() {
    let (state, mut d) = challenge("lock-holds", "C", 30, 100);
    d.wait_for("the goal", |s| s.contains("16 moves left"));
    for moves in 1..=16 {
        d.press("n");
        let left = format!("{} moves left", 16 - moves);
        let screen = d.wait_for(&left, |s| s.contains(&left) || s.contains("✗ Lost"));
        if screen.contains("✗ Lost") {
            break;
        }
    }
    let screen = d.wait_for("the loss", |s| s.contains("✗ Lost after"));
    assert!(screen.contains("It cannot be done"), "{screen}");
    assert!(
        screen.contains("every process has finished") || screen.contains("moves are used up"),
        "{screen}"
    );
    assert!(screen.contains("lost updates 0"), "{screen}");
    // Over: a move is refused.
    d.press("n");
    d.wait_for("the refusal", |s| s.contains("The challenge is over"));
    assert!(!state.path().join("mpviz/challenges.json").exists());
    d.press("q");
    assert!(d.wait_exit().success());
    assert_dir_empty(d.tmp.path());
}

/// Out of moves, in Chinese at 80×24: once the run has been quiet a while
/// after the last move, the game is lost, and the screen says why; a move
/// pressed then is refused.
#[test]
fn a_challenge_out_of_moves_is_lost_once_the_run_is_quiet_in_chinese_at_80x24() {
    let (state, mut d) = challenge("zombie", "zh_CN.UTF-8", 24, 80);
    d.wait_for("the goal", |s| s.contains("还剩 10 步"));
    // main's steps only: hello is started but never runs, so no zombie.
    d.press("\x1b[B");
    for moves in 1..=10 {
        d.press("\r");
        let left = format!("还剩 {} 步", 10 - moves);
        d.wait_for(&left, |s| s.contains(&left) || s.contains("失败"));
    }
    let screen = d.wait_for("the loss", |s| s.contains("✗ 10 步后失败"));
    assert!(screen.contains("步数已经用完"), "{screen}");
    // A loss is not kept as a win.
    assert!(!state.path().join("mpviz/challenges.json").exists());
    d.press("n");
    d.wait_for("the refusal", |s| s.contains("挑战已经结束"));
    d.press("q");
    assert!(d.wait_exit().success());
    assert_dir_empty(d.tmp.path());
}
