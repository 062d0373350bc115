//! `mpviz run PROG.py`: real Python programs (the tutorial's, in
//! `scenarios/*.py`, and `tests/programs/`) run under mpviz, their
//! invariants checked from the `--json` stream: what the processes did, as
//! the agent inside each Python process and the fork server reported it.
//! Every test needs a `python3` (3.8 or newer) on PATH, as CI installs.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::{Output, Stdio};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use support::*;

/// A program's run to its end: its events, its summary, its exit status.
struct ProgramRun {
    events: Vec<Value>,
    summary: Value,
    output: Output,
}

impl ProgramRun {
    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["kind"] == kind)
    }

    fn main_pid(&self) -> i64 {
        self.of_kind("spawn")
            .find(|e| e["role"] == "main")
            .and_then(|e| e["pid"].as_i64())
            .expect("the main process was spawned")
    }

    /// What each process printed, by PID.
    fn printed(&self) -> Vec<(i64, String)> {
        self.of_kind("output")
            .map(|e| {
                (
                    e["pid"].as_i64().unwrap(),
                    e["text"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
}

/// Runs `mpviz run --json [extra] PROG ARGS` to its end in a fresh
/// temporary directory that it must leave empty.
fn run_program(extra: &[&str], program: &str, args: &[&str]) -> ProgramRun {
    run_program_in(extra, program, args, false)
}

/// The same, for a program that leaves files of its own in `TMPDIR` (as
/// the tutorial's lifecycle does, on purpose): then only mpviz's must be
/// gone.
fn run_program_in(extra: &[&str], program: &str, args: &[&str], leaves_files: bool) -> ProgramRun {
    let mut all = vec!["run", "--json"];
    all.extend_from_slice(extra);
    all.push(program);
    all.extend_from_slice(args);
    let output = if leaves_files {
        let tmp = tempfile::tempdir().unwrap();
        let output = run_in(tmp.path(), &all);
        let ours: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with("mpviz-"))
            .collect();
        assert!(ours.is_empty(), "mpviz left {ours:?}");
        output
    } else {
        run_to_end(&all)
    };
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    let mut events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let summary = events.pop().expect("no output");
    assert_eq!(
        summary["kind"], "summary",
        "{all:?}: the last line is the summary"
    );
    ProgramRun {
        events,
        summary,
        output,
    }
}

fn tutorial(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn test_program(name: &str) -> String {
    format!("{}/tests/programs/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Every process of the run, spawned once each, with a distinct PID, and
/// each child's exit reported once, with the exit code the OS gave.
fn assert_processes_real(run: &ProgramRun) {
    let spawned: Vec<i64> = run
        .of_kind("spawn")
        .filter(|e| e["role"] != "forkserver")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    let distinct: HashSet<i64> = spawned.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        spawned.len(),
        "a PID spawned twice: {spawned:?}"
    );
    let me = run.events[0]["parent_pid"].as_i64().unwrap();
    assert!(
        !distinct.contains(&me),
        "mpviz itself is no process of the program"
    );
    let mut exits: HashMap<i64, u32> = HashMap::new();
    for e in run.of_kind("exit") {
        *exits.entry(e["pid"].as_i64().unwrap()).or_default() += 1;
    }
    for (pid, n) in &exits {
        assert_eq!(*n, 1, "PID {pid} exited {n} times");
    }
    for e in run.of_kind("spawn").filter(|e| e["role"] != "helper") {
        let pid = e["pid"].as_i64().unwrap();
        assert!(
            exits.contains_key(&pid),
            "{} (PID {pid}) never exited",
            e["name"]
        );
    }
}

/// A lock is never held by two processes: in the stream's order, each
/// acquire finds it free, and each release is its holder's.
fn assert_one_holder_at_a_time(run: &ProgramRun) -> u32 {
    let mut holder: HashMap<String, i64> = HashMap::new();
    let mut taken = 0;
    for e in &run.events {
        let lock = || e["lock"].as_str().unwrap().to_string();
        let pid = e["pid"].as_i64().unwrap_or_default();
        match e["kind"].as_str().unwrap() {
            "lock_acquire" => {
                let before = holder.insert(lock(), pid);
                assert_eq!(before, None, "{e}: the lock was held by {before:?}");
                taken += 1;
            }
            "lock_release" => {
                assert_eq!(
                    holder.remove(&lock()),
                    Some(pid),
                    "{e}: released by a non-holder"
                );
            }
            _ => {}
        }
    }
    taken
}

/// Every item put into a queue is got once, by a get that came after it.
fn assert_items_got_once(run: &ProgramRun) -> usize {
    let mut put = BTreeSet::new();
    let mut got = BTreeSet::new();
    for e in &run.events {
        let item = || {
            (
                e["queue"].as_str().unwrap().to_string(),
                e["item"].as_u64().unwrap(),
            )
        };
        match e["kind"].as_str().unwrap() {
            "put" => assert!(put.insert(item()), "{e}: put twice"),
            "get" => {
                assert!(put.contains(&item()), "{e}: got before its put");
                assert!(got.insert(item()), "{e}: got twice");
            }
            _ => {}
        }
    }
    assert_eq!(put, got, "every item put is got");
    put.len()
}

#[test]
fn the_ticket_program_with_its_lock_never_oversells_and_its_lock_never_has_two_holders() {
    let run = run_program(&[], &tutorial("ticket.py"), &[]);
    assert_eq!(run.code(), Some(0));
    assert_processes_real(&run);
    // ticket.py: ten buyers, five tickets, each buyer takes the lock once.
    assert_eq!(assert_one_holder_at_a_time(&run), 10);
    let printed = run.printed();
    let sold = printed
        .iter()
        .filter(|(_, t)| t.ends_with("got a ticket"))
        .count();
    let none = printed
        .iter()
        .filter(|(_, t)| t.ends_with("no ticket left"))
        .count();
    assert_eq!((sold, none), (5, 5), "{printed:?}");
    // Each buyer printed its own line, as its own process.
    let buyers: HashSet<i64> = printed
        .iter()
        .filter(|(_, t)| t.starts_with("buyer"))
        .map(|(pid, _)| *pid)
        .collect();
    assert_eq!(buyers.len(), 10);
    assert!(!buyers.contains(&run.main_pid()));
    let codes: Vec<i64> = run
        .of_kind("exit")
        .map(|e| e["exitcode"].as_i64().unwrap())
        .collect();
    assert!(codes.iter().all(|&c| c == 0), "{codes:?}");
}

#[test]
fn every_pool_callback_runs_in_the_main_process_on_the_result_handler_thread() {
    let run = run_program(&[], &tutorial("pool.py"), &[]);
    assert_eq!(run.code(), Some(0));
    assert_processes_real(&run);
    let main = run.main_pid();
    let workers: HashSet<i64> = run
        .of_kind("spawn")
        .filter(|e| e["role"] == "worker")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(workers.len(), 3, "pool.py starts a pool of three");
    let submitted: BTreeSet<u64> = run
        .of_kind("task_submit")
        .map(|e| e["task"].as_u64().unwrap())
        .collect();
    let done: BTreeMap<u64, i64> = run
        .of_kind("task_done")
        .map(|e| (e["task"].as_u64().unwrap(), e["pid"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        submitted,
        done.keys().copied().collect(),
        "every task submitted ran once"
    );
    assert!(
        done.values().all(|pid| workers.contains(pid)),
        "tasks run in the workers"
    );
    let callbacks: Vec<&Value> = run.of_kind("callback").collect();
    assert!(!callbacks.is_empty());
    for cb in callbacks {
        assert_eq!(cb["pid"].as_i64(), Some(main), "{cb}");
        assert_ne!(cb["tid"].as_i64(), Some(main), "{cb}: not the main thread");
        // The result handler (`Thread-3 (_handle_results)` from Python 3.10).
        assert_ne!(cb["thread"], "MainThread", "{cb}");
    }
}

#[test]
fn every_item_of_the_queue_program_is_got_once() {
    let run = run_program(&[], &tutorial("queue.py"), &[]);
    assert_eq!(run.code(), Some(0));
    assert_processes_real(&run);
    assert!(assert_items_got_once(&run) > 0);
}

#[test]
fn the_managers_dict_gets_one_entry_per_worker() {
    let run = run_program(&[], &tutorial("manager.py"), &[]);
    assert_eq!(run.code(), Some(0));
    assert_processes_real(&run);
    let setters: Vec<i64> = run
        .of_kind("proxy_call")
        .filter(|e| e["typeid"] == "dict" && e["method"] == "__setitem__")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    let distinct: HashSet<i64> = setters.iter().copied().collect();
    assert_eq!(
        (setters.len(), distinct.len()),
        (10, 10),
        "manager.py has ten workers"
    );
    let manager = run
        .of_kind("spawn")
        .filter(|e| e["role"] == "manager")
        .count();
    assert_eq!(manager, 1, "one server process");
}

/// One program doing a little of everything, under each start method
/// (`extra`: `set`, the method set with set_start_method).
fn each_start_method(method: &str, extra: &[&str]) {
    let mut args = vec![method];
    args.extend_from_slice(extra);
    let run = run_program(&[], &test_program("methods.py"), &args);
    assert_eq!(
        run.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.output.stderr)
    );
    assert_processes_real(&run);
    assert_eq!(assert_one_holder_at_a_time(&run), 3);
    assert_eq!(assert_items_got_once(&run), 5);
    let main = run.main_pid();
    let callbacks: Vec<i64> = run
        .of_kind("callback")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(
        callbacks,
        vec![main; 4],
        "four callbacks, in the main process"
    );
    let names: HashSet<&str> = run
        .of_kind("spawn")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    // Named as multiprocessing names them: Process-1 (ForkProcess-1 and
    // the like from a context), PoolWorker-N, SyncManager-N.
    for kind in ["Process-1", "PoolWorker-", "SyncManager-"] {
        assert!(names.iter().any(|n| n.contains(kind)), "{kind}: {names:?}");
    }
    // terminate(): the OS's SIGTERM, as Python's waitpid saw it.
    let codes: Vec<i64> = run
        .of_kind("exit")
        .map(|e| e["exitcode"].as_i64().unwrap())
        .collect();
    assert_eq!(codes.iter().filter(|&&c| c == -15).count(), 1, "{codes:?}");
    let joined = run
        .of_kind("process_call")
        .filter(|e| e["call"].as_str().unwrap().ends_with(".join()"))
        .filter(|e| e["exitcode"] == -15)
        .count();
    assert_eq!(joined, 1);
    let printed: Vec<String> = run.printed().into_iter().map(|(_, t)| t).collect();
    assert!(
        printed.contains(&"got [0, 1, 2, 3, 4]".to_string()),
        "{printed:?}"
    );
    assert!(
        printed.contains(&"map [0, 1, 4]".to_string()),
        "{printed:?}"
    );
    assert!(printed.contains(&"dict 2".to_string()), "{printed:?}");
    // A ProcessPoolExecutor's processes are processes of the run too.
    assert!(
        printed.contains(&"executor [0, 1, 4]".to_string()),
        "{printed:?}"
    );
    let processes = run
        .of_kind("spawn")
        .filter(|e| e["role"] == "process")
        .count();
    // Three lock holders, the producer, two executor processes, two
    // manager clients and the terminated one (and a pool's workers where
    // they are named Process).
    let at_least = [3, 1, 2, 2, 1].iter().sum::<usize>();
    assert!(processes >= at_least, "{processes} processes");
}

#[test]
fn under_fork_every_process_lock_queue_pool_and_manager_is_followed() {
    each_start_method("fork", &[]);
}

#[test]
fn under_spawn_every_process_lock_queue_pool_and_manager_is_followed() {
    each_start_method("spawn", &[]);
}

#[test]
fn under_forkserver_every_process_lock_queue_pool_and_manager_is_followed() {
    each_start_method("forkserver", &[]);
}

#[test]
fn with_set_start_method_every_process_lock_queue_pool_and_manager_is_followed() {
    each_start_method("spawn", &["set"]);
    each_start_method("forkserver", &["set"]);
}

#[test]
fn a_program_that_forks_wildly_is_ended_with_everything_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let wild = write_program(
        dir.path(),
        "wild.py",
        "import multiprocessing as mp, time\n\ndef f():\n    time.sleep(600)\n\n\
         if __name__ == '__main__':\n    while True:\n        mp.Process(target=f).start()\n",
    );
    let mut live = LiveRun::start(&["run", "--json", &wild]);
    let mut pids = Vec::new();
    live.read_until(|e: &Value| {
        if e["kind"] == "spawn" && e["role"] == "process" {
            pids.push(e["pid"].as_i64().unwrap());
        }
        pids.len() >= 50
    });
    kill(Pid::from_raw(live.child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(live.child.wait().unwrap().code(), Some(143));
    wait_until("every process it started is gone", || {
        pids.iter().all(|&p| !alive(p))
    });
    wait_until_nothing_left("nothing of the run is left", live.tmp.path());
}

#[test]
fn a_paced_run_grants_every_action_and_ends_as_a_free_one() {
    let run = run_program(&["--speed", "5000"], &test_program("methods.py"), &["fork"]);
    assert_eq!(run.code(), Some(0));
    assert_eq!(assert_one_holder_at_a_time(&run), 3);
    assert_eq!(assert_items_got_once(&run), 5);
    let ready = run.of_kind("ready").count();
    let granted = run.of_kind("grant").count();
    assert!(ready > 20, "every operation waited at its gate: {ready}");
    assert_eq!(ready, granted, "each ready got its permit");
    // Each ready names the program's line, read from the Python frame.
    let source = std::fs::read_to_string(test_program("methods.py")).unwrap();
    let lines: Vec<&str> = source.lines().collect();
    for e in run.of_kind("ready") {
        let n = e["args"]["line"].as_u64().expect("a line") as usize;
        let code = e["args"]["code"].as_str().unwrap();
        assert_eq!(lines[n - 1].trim(), code, "{e}");
    }
}

fn write_program(dir: &Path, name: &str, source: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, source).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn the_programs_exit_code_is_mpvizs_and_its_errors_are_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let three = write_program(
        dir.path(),
        "three.py",
        "import sys\nprint('bye')\nsys.exit(3)\n",
    );
    let run = run_program(&[], &three, &[]);
    assert_eq!(run.code(), Some(3));
    assert_eq!(run.summary["exitcode"], 3);
    assert_eq!(run.printed(), vec![(run.main_pid(), "bye".to_string())]);

    let broken = write_program(dir.path(), "broken.py", "print('never'\n");
    let run = run_program(&[], &broken, &[]);
    assert_eq!(run.code(), Some(1));
    let said: Vec<&Value> = run.of_kind("output").collect();
    assert!(said.iter().all(|e| e["stream"] == "stderr"), "{said:?}");
    assert!(
        said.iter()
            .any(|e| e["text"].as_str().unwrap().starts_with("SyntaxError")),
        "{said:?}"
    );

    let raises = write_program(
        dir.path(),
        "raises.py",
        "import multiprocessing as mp\n\ndef f():\n    raise ValueError('no')\n\n\
         if __name__ == '__main__':\n    p = mp.Process(target=f)\n    p.start()\n    p.join()\n    print(p.exitcode)\n",
    );
    let run = run_program(&[], &raises, &[]);
    assert_eq!(run.code(), Some(0));
    let child = run
        .of_kind("spawn")
        .find(|e| e["role"] == "process")
        .unwrap()["pid"]
        .as_i64();
    let exit = run
        .of_kind("exit")
        .find(|e| e["pid"].as_i64() == child)
        .unwrap();
    assert_eq!(exit["exitcode"], 1, "an uncaught exception: exit code 1");
    let traceback = run
        .of_kind("output")
        .filter(|e| e["pid"].as_i64() == child && e["stream"] == "stderr")
        .any(|e| e["text"] == "ValueError: no");
    assert!(traceback, "the child's traceback is its own output");
}

#[test]
fn a_program_without_multiprocessing_runs_as_one_process_with_its_own_sitecustomize() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(
        site.join("sitecustomize.py"),
        "import builtins\nbuiltins.MINE = 42\n",
    )
    .unwrap();
    let plain = write_program(
        dir.path(),
        "plain.py",
        "import sys\nprint(MINE, 'multiprocessing' in sys.modules, sys.argv[1:])\n",
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = mpviz(tmp.path(), &["run", "--json", &plain, "a", "--b"])
        .env("PYTHONPATH", &site)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let printed: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "output")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(printed, ["42 False ['a', '--b']"]);
    let spawned = events
        .iter()
        .filter(|e| e["kind"] == "spawn" && e["role"] != "forkserver")
        .count();
    assert_eq!(spawned, 1);
    assert_dir_empty(tmp.path());
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("python-old");
    std::fs::write(&old, "#!/bin/sh\necho 3.7\n").unwrap();
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let ok = write_program(dir.path(), "ok.py", "print(1)\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "--headless", "/no/such/prog.py"],
            "/no/such/prog.py",
        ),
        (
            vec!["run", "--headless", "--python", "/no/such/python", &ok],
            "/no/such/python",
        ),
        (
            vec!["run", "--headless", "--python", old.to_str().unwrap(), &ok],
            "3.7",
        ),
        (vec!["run", "--headless"], "PROG.py"),
    ];
    for (args, says) in cases {
        let out = run_to_end(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn killing_mpviz_ends_every_python_process_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // Its temporary folder is removed by its own `with` as it ends: a stop
    // asks it to end first, as a Ctrl-C would.
    let forever = write_program(
        dir.path(),
        "forever.py",
        "import multiprocessing as mp, tempfile, time\n\ndef f():\n    time.sleep(600)\n\n\
         if __name__ == '__main__':\n    ctx = mp.get_context('spawn')\n    ps = [ctx.Process(target=f) for _ in range(3)]\n    \
         with tempfile.TemporaryDirectory() as folder:\n        for p in ps:\n            p.start()\n        \
         print('started', flush=True)\n        for p in ps:\n            p.join()\n",
    );
    for signal in [Signal::SIGKILL, Signal::SIGTERM] {
        let mut live = LiveRun::start(&["run", "--json", &forever]);
        let mut pids = Vec::new();
        live.read_until(|e: &Value| {
            if e["kind"] == "spawn" {
                pids.push(e["pid"].as_i64().unwrap());
            }
            e["kind"] == "output"
        });
        assert!(pids.len() >= 4, "{pids:?}");
        assert!(pids.iter().all(|&p| alive(p)));
        kill(Pid::from_raw(live.child.id() as i32), signal).unwrap();
        let _ = live.child.wait();
        wait_until("every Python process of the run is gone", || {
            pids.iter().all(|&p| !alive(p))
        });
        wait_until_nothing_left("nothing of the run is left", live.tmp.path());
    }
}

#[test]
fn a_deadlock_among_the_programs_locks_is_named_with_its_cycle_and_the_run_can_be_ended() {
    let mut live = LiveRun::start(&["run", "--json", &test_program("deadlock.py")]);
    let seen = live.read_until(|e: &Value| e["kind"] == "deadlock_cycle");
    let children: HashMap<i64, String> = seen
        .iter()
        .filter(|e| e["kind"] == "spawn" && e["role"] == "process")
        .map(|e| {
            (
                e["pid"].as_i64().unwrap(),
                e["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let named = seen.last().unwrap();
    let cycle: Vec<(i64, String)> = named["cycle"]
        .as_array()
        .unwrap()
        .iter()
        .map(|link| {
            (
                link[0].as_i64().unwrap(),
                link[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The two workers, each waiting for the lock the other holds.
    assert_eq!(cycle.len(), 2, "{named}");
    let pids: HashSet<i64> = cycle.iter().map(|(p, _)| *p).collect();
    assert_eq!(pids, children.keys().copied().collect(), "{named}");
    let locks: BTreeSet<&str> = cycle.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(locks, BTreeSet::from(["a", "b"]));
    let holder_of = |lock: &str| {
        seen.iter()
            .rev()
            .find(|e| e["kind"] == "lock_acquire" && e["lock"] == lock)
            .and_then(|e| e["pid"].as_i64())
    };
    for (i, (_, lock)) in cycle.iter().enumerate() {
        let next = cycle[(i + 1) % cycle.len()].0;
        assert_eq!(
            holder_of(lock),
            Some(next),
            "{lock} is held by the next in the cycle"
        );
    }
    // The evidence: each asleep in the kernel, in a futex wait with no timeout.
    for evidence in named["seen"].as_array().unwrap() {
        assert_eq!(evidence["state"], "S");
        let syscall: Vec<&str> = evidence["syscall"].as_str().unwrap().split(' ').collect();
        assert_eq!(syscall[0], nix::libc::SYS_futex.to_string());
        assert_eq!(syscall[4], "0x0", "no timeout");
    }
    // Deadlocked for ever; the run still ends, and nothing is left.
    let pids: Vec<i64> = pids.into_iter().collect();
    kill(Pid::from_raw(live.child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(live.child.wait().unwrap().code(), Some(143));
    wait_until("the deadlocked processes are gone", || {
        pids.iter().all(|&p| !alive(p))
    });
    wait_until_nothing_left("nothing of the run is left", live.tmp.path());
}

#[test]
fn timed_and_non_blocking_operations_keep_their_meaning_paced_or_not() {
    for speed in ["max", "5000"] {
        let run = run_program(&["--speed", speed], &test_program("timeouts.py"), &[]);
        assert_eq!(run.code(), Some(0), "{speed}");
        let printed: Vec<String> = run.printed().into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            printed,
            [
                "non-blocking False",
                "timed False",
                "free again True",
                "empty",
                "full",
                "got a"
            ],
            "{speed}"
        );
        let gave_up: Vec<&Value> = run.of_kind("lock_gave_up").collect();
        assert_eq!(gave_up.len(), 2, "{speed}");
        assert_eq!(gave_up[1]["timeout_ms"], 50);
        assert_eq!(run.of_kind("empty").count(), 1);
        assert_eq!(run.of_kind("full").count(), 1);
        // The Events multiprocessing builds its own locks into are not
        // followed: the program's one lock is.
        let locks: Vec<&Value> = run.of_kind("lock_made").collect();
        assert_eq!(locks.len(), 1, "{locks:?}");
        if speed != "max" {
            assert!(run.of_kind("grant").count() >= 8, "{speed}: paced");
        }
    }
}

#[test]
fn the_counter_program_with_its_lock_loses_no_update_in_processes_or_threads() {
    for args in [&["--lock"][..], &["--lock", "--threads"][..]] {
        let run = run_program(&[], &tutorial("race.py"), args);
        assert_eq!(run.code(), Some(0), "{args:?}");
        assert_processes_real(&run);
        // Four workers, fifty increments each, each under the lock: a
        // multiprocessing Lock, followed; with threads, threading's, not.
        let followed = if args.len() == 1 { 200 } else { 0 };
        assert_eq!(assert_one_holder_at_a_time(&run), followed, "{args:?}");
        let printed: Vec<String> = run.printed().into_iter().map(|(_, t)| t).collect();
        assert!(
            printed.contains(&"counter: 200 expected: 200".to_string()),
            "{printed:?}"
        );
        let processes = run
            .of_kind("spawn")
            .filter(|e| e["role"] == "process")
            .count();
        assert_eq!(processes, if args.len() == 1 { 4 } else { 0 }, "{args:?}");
    }
}

#[test]
fn the_append_program_with_its_lock_lets_each_writer_write_alone() {
    let run = run_program(&[], &tutorial("append.py"), &["--lock"]);
    assert_eq!(run.code(), Some(0));
    assert_processes_real(&run);
    let writers: HashSet<i64> = run
        .of_kind("lock_acquire")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(assert_one_holder_at_a_time(&run), 10);
    assert_eq!(writers.len(), 10, "each writer took the lock once");
    let lines: Vec<String> = run.printed().into_iter().map(|(_, t)| t).collect();
    let expected: Vec<String> = (0..10).map(|i| format!("writer {i}")).collect();
    assert!(expected.iter().all(|l| lines.contains(l)), "{lines:?}");
}

#[test]
fn the_lifecycle_program_shows_the_exit_codes_the_os_gave() {
    // The program leaves its temporary folder on purpose (a lock held by a
    // terminated process stays taken; nothing is cleaned up).
    let run = run_program_in(&[], &tutorial("lifecycle.py"), &[], true);
    assert_eq!(run.code(), Some(0));
    assert_processes_real(&run);
    let by_name: HashMap<String, i64> = run
        .of_kind("spawn")
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["pid"].as_i64().unwrap(),
            )
        })
        .collect();
    let code_of = |name: &str| {
        let pid = by_name[name];
        run.of_kind("exit")
            .find(|e| e["pid"] == pid)
            .and_then(|e| e["exitcode"].as_i64())
    };
    // terminate(): SIGTERM; kill(): SIGKILL; an uncaught exception: 1; a
    // function that returns: 0; the daemon, terminated as main ends.
    assert_eq!(code_of("terminated"), Some(-15));
    assert_eq!(code_of("killed"), Some(-9));
    assert_eq!(code_of("MyProcess"), Some(1));
    assert_eq!(code_of("hello"), Some(0));
    assert_eq!(code_of("d"), Some(-15));
    // A grandchild started by a child is its child, and is followed too.
    let g = run.of_kind("spawn").find(|e| e["name"] == "g").unwrap();
    assert_eq!(g["ppid"].as_i64(), Some(by_name["o"]));
    // A join with a timeout says so, and what it saw.
    let timed = run
        .of_kind("process_call")
        .find(|e| e["call"] == "hello.join(0.2)")
        .unwrap();
    assert_eq!(
        (timed["timeout_ms"].as_i64(), timed["alive"].as_bool()),
        (Some(200), Some(true))
    );
}

#[test]
fn the_crawler_fetches_from_a_local_server_and_its_callbacks_run_in_the_main_process() {
    let run = run_program(&[], &tutorial("pool.py"), &["--crawl"]);
    assert_eq!(run.code(), Some(0));
    assert_processes_real(&run);
    let main = run.main_pid();
    let done = run.of_kind("task_done").count();
    assert_eq!(done, run.of_kind("task_submit").count());
    let callbacks: Vec<&Value> = run.of_kind("callback").collect();
    assert!(!callbacks.is_empty());
    assert!(callbacks.iter().all(|c| c["pid"].as_i64() == Some(main)));
}

/// The buyer numbers in the order they took the lock: each buyer prints
/// its number, and takes the lock once.
fn buyers_in_lock_order(run: &ProgramRun) -> Vec<String> {
    let printed: HashMap<i64, String> = run
        .printed()
        .into_iter()
        .filter(|(_, t)| t.starts_with("buyer "))
        .map(|(pid, t)| (pid, t.split_whitespace().nth(1).unwrap().to_string()))
        .collect();
    run.of_kind("lock_acquire")
        .map(|e| printed[&e["pid"].as_i64().unwrap()].clone())
        .collect()
}

#[test]
fn a_recorded_program_reruns_on_new_processes_in_the_recorded_order() {
    let keep = tempfile::tempdir().unwrap();
    let file = keep.path().join("ticket.jsonl");
    let file = file.to_str().unwrap();
    let first = run_program(
        &["--speed", "1000", "--record", file],
        &tutorial("ticket.py"),
        &[],
    );
    let again = {
        let output = run_to_end(&["rerun", "--json", file]);
        let text = String::from_utf8(output.stdout.clone()).unwrap();
        let mut events: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let summary = events.pop().unwrap();
        ProgramRun {
            events,
            summary,
            output,
        }
    };
    assert_eq!(again.code(), Some(0));
    let rerun = again.of_kind("rerun").next().expect("a rerun event");
    assert_eq!(
        rerun["steps"].as_u64(),
        Some(first.of_kind("grant").count() as u64)
    );
    let diverged: Vec<&Value> = again.of_kind("diverged").collect();
    assert!(diverged.is_empty(), "{diverged:?}");
    // The same story, on new processes.
    assert_eq!(buyers_in_lock_order(&again), buyers_in_lock_order(&first));
    let pids = |run: &ProgramRun| -> HashSet<i64> {
        run.of_kind("spawn")
            .map(|e| e["pid"].as_i64().unwrap())
            .collect()
    };
    assert!(pids(&first).is_disjoint(&pids(&again)));
}

/// The PIDs of the processes whose command line has `marker` in it.
fn processes_running(marker: &str) -> Vec<i64> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
                && alive(pid)
        })
        .collect()
}

#[test]
fn processes_that_left_the_process_group_are_ended_with_the_run_even_on_sigkill() {
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        let mut live = LiveRun::start(&["run", "--json", &test_program("escape.py")]);
        let seen = live.read_until(|e: &Value| e["kind"] == "output");
        let child = seen
            .iter()
            .find(|e| e["kind"] == "spawn" && e["role"] == "process")
            .and_then(|e| e["pid"].as_i64())
            .unwrap();
        // The sleep 600 its subprocess started in a session of its own.
        let sleeper = {
            let mut found = Vec::new();
            wait_until("the grandchild runs", || {
                found = processes_running("sleep\x00600")
                    .into_iter()
                    .filter(|&p| ppid(p) == Some(child))
                    .collect();
                !found.is_empty()
            });
            found[0]
        };
        assert!(alive(child));
        kill(Pid::from_raw(live.child.id() as i32), signal).unwrap();
        let _ = live.child.wait();
        wait_until(
            "the child and grandchild that left the group are gone",
            || !alive(child) && !alive(sleeper),
        );
        wait_until_nothing_left("nothing of the run is left", live.tmp.path());
    }
}

#[test]
fn a_programs_own_words_stay_its_own_in_recordings_reruns_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let argv = write_program(dir.path(), "argv.py", "import sys\nprint(sys.argv[1:])\n");
    let file = dir.path().join("argv.jsonl");
    let file = file.to_str().unwrap();
    // After the program, `--json` and `--help` are the program's.
    let first = run_program(&["--record", file], &argv, &["--json", "--help", "-x"]);
    let said = |run: &ProgramRun| {
        run.printed()
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
    };
    assert_eq!(said(&first), ["['--json', '--help', '-x']"]);
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let args: Vec<&str> = header["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args[args.len() - 4..],
        [argv.as_str(), "--json", "--help", "-x"]
    );
    let rerun = run_to_end(&["rerun", "--json", file]);
    assert_eq!(
        rerun.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    assert!(
        String::from_utf8_lossy(&rerun.stdout).contains(r#""text":"['--json', '--help', '-x']""#)
    );
    // A replay runs nothing: the program need not be there any more.
    std::fs::remove_file(&argv).unwrap();
    let replay = run_to_end(&["replay", "--json", file]);
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let recorded: Vec<String> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .skip(1)
        .map(String::from)
        .collect();
    let replayed: Vec<String> = String::from_utf8(replay.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(replayed, recorded);
}
