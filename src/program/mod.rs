//! `mpviz run PROG.py`: the user's own Python program, run by the real
//! CPython and shown as a scenario is.
//!
//! The fork server forks one child, which becomes `python PROG.py` (the
//! program's main process). mpviz's agent (`agent.py`, carried in the
//! binary) is written into the run's directory with a `sitecustomize.py`
//! that loads it, first on `PYTHONPATH`: every Python process of the run
//! loads it at start-up, whatever the start method (fork, spawn,
//! forkserver). The agent reports into the run's event pipe (JSON frames,
//! [`crate::protocol::Event::decode`]) and waits at the run's gates (futex
//! words), both opened through `/proc/FORKSERVER/fd/N`: the same stream,
//! pacer and fold as the built-in scenarios. A Python process's gate slot
//! is its PID.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::model::Model;
use crate::order::Rule;
use crate::protocol::Body;
use crate::scenario::texts::messages;
use crate::scenario::{Height, Panel, Scenario, Show, Side, Spec};
use crate::worker::{Ctx, MAIN_ROLE};

/// The agent and the file that loads it, as written into a run's directory.
pub const AGENT: &str = include_str!("agent.py");
pub const SITECUSTOMIZE: &str = include_str!("sitecustomize.py");

/// The variable that tells the agent where the run's pipe and gates are.
pub const AGENT_VAR: &str = "MPVIZ_AGENT";

/// The oldest Python whose multiprocessing the agent knows.
pub const OLDEST: (u32, u32) = (3, 8);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgramParams {
    /// The Python interpreter, as found.
    pub python: PathBuf,
    /// The program, as the user named it.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// How many gate slots the run has: one per possible PID.
    pub slots: u32,
    /// The program's text as it was run (up to [`MOST_SOURCE`] bytes): the
    /// code panel of a replay shows it, wherever the file is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The largest program whose text a run keeps (it travels in the fork
/// server's environment and in the `start` event).
pub const MOST_SOURCE: u64 = 64 * 1024;

/// The program's text, if it is small enough to keep.
pub fn source_of(program: &Path) -> Option<String> {
    let size = std::fs::metadata(program).ok()?.len();
    (size <= MOST_SOURCE)
        .then(|| std::fs::read_to_string(program).ok())
        .flatten()
}

pub struct Program {
    params: ProgramParams,
    spec: Spec,
}

impl Program {
    pub fn new(params: ProgramParams) -> anyhow::Result<Program> {
        let mut spec = crate::scenario::spec("program")?;
        // The code panel shows the program itself, as it was run.
        let source = params
            .source
            .clone()
            .or_else(|| std::fs::read_to_string(&params.program).ok());
        if let Some(source) = source {
            let lines: Vec<String> = source.lines().map(str::to_string).collect();
            spec.listing = Box::leak(lines.into_boxed_slice());
        }
        let mut program = Program { params, spec };
        program.spec.code.file = program.file_name();
        Ok(program)
    }

    fn file_name(&self) -> String {
        self.params
            .program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The largest PID the kernel hands out, plus one: a gate for every PID.
pub fn pid_slots() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1 << 22)
        .saturating_add(1)
}

/// Finds the interpreter (`--python`, else `python3` on `PATH`) and checks
/// its version: the refusal in one line.
pub fn find_python(asked: Option<&Path>) -> Result<(PathBuf, (u32, u32)), String> {
    let say = |key: &str, args: &[(&str, &dyn std::fmt::Display)]| messages().say(key, args);
    let python = match asked {
        Some(path) => path.to_path_buf(),
        None => which("python3").ok_or_else(|| say("usage_no_python", &[]))?,
    };
    let shown = python.display();
    let out = std::process::Command::new(&python)
        .args([
            "-S",
            "-c",
            "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)",
        ])
        .env_remove("PYTHONPATH")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            say(
                "usage_cannot_run_python",
                &[("python", &shown), ("error", &e)],
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let version = lines
        .next()
        .unwrap_or_default()
        .trim()
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .filter(|_| out.status.success())
        .ok_or_else(|| say("usage_not_python", &[("python", &shown)]))?;
    if version < OLDEST {
        let (v, oldest) = (
            format!("{}.{}", version.0, version.1),
            format!("{}.{}", OLDEST.0, OLDEST.1),
        );
        return Err(say(
            "usage_old_python",
            &[("python", &shown), ("version", &v), ("oldest", &oldest)],
        ));
    }
    // The interpreter itself, as it names itself: the run starts it, not
    // a launcher in front of it (pyenv's shim takes a tenth of a second
    // to choose the same one again).
    let itself = lines
        .next()
        .map(|l| PathBuf::from(l.trim()))
        .filter(|p| p.is_absolute() && p.is_file());
    Ok((itself.unwrap_or(python), version))
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

impl Scenario for Program {
    fn name(&self) -> &'static str {
        "program"
    }

    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn spec_mut(&mut self) -> &mut Spec {
        &mut self.spec
    }

    fn params(&self) -> Value {
        serde_json::to_value(&self.params).unwrap_or(Value::Null)
    }

    fn processes(&self) -> u32 {
        1
    }

    fn gate_slots(&self) -> u32 {
        self.params.slots
    }

    fn actors_at_start(&self) -> u32 {
        1
    }

    fn waits_unseen(&self) -> bool {
        true
    }

    fn stops_gracefully(&self) -> bool {
        true
    }

    fn gate_slot(&self, _slot: u32, pid: crate::protocol::Pid) -> u32 {
        u32::try_from(pid).unwrap_or(0)
    }

    fn process_name(&self, _slot: u32) -> (String, &'static str) {
        ("MainProcess".into(), MAIN_ROLE)
    }

    fn prepare(&self, dir: &Path) -> anyhow::Result<()> {
        let agent = dir.join("agent");
        std::fs::create_dir(&agent)?;
        std::fs::write(agent.join("sitecustomize.py"), SITECUSTOMIZE)?;
        std::fs::write(agent.join("_mpviz_agent.py"), AGENT)?;
        Ok(())
    }

    fn watched_files(&self) -> Vec<String> {
        Vec::new()
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        let error = exec_python(&self.params, ctx);
        ctx.emit(Body::Error {
            message: format!("could not start {}: {error}", self.params.python.display()),
        });
        127
    }

    /// The program's: its main process's exit code, or 128 + the signal
    /// that ended it, as a shell reports it.
    fn exit_code(&self, model: &Model) -> Option<u8> {
        let code = model.role(MAIN_ROLE).next()?.exitcode?;
        Some(if code < 0 {
            128u8.saturating_add(u8::try_from(-code).unwrap_or(127))
        } else {
            u8::try_from(code).unwrap_or(1)
        })
    }

    fn summary(&self, model: &Model) -> Map<String, Value> {
        let mut pids: Vec<_> = model
            .procs
            .iter()
            .filter(|p| p.role != "forkserver")
            .map(|p| p.pid)
            .collect();
        pids.sort_unstable();
        pids.dedup();
        let main = model.role(MAIN_ROLE).next().and_then(|p| p.exitcode);
        let mut s = Map::new();
        s.insert("scenario".into(), json!("program"));
        s.insert("program".into(), json!(self.params.program));
        s.insert("seed".into(), json!(model.seed));
        s.insert("exitcode".into(), json!(main));
        s.insert("processes".into(), json!(pids.len()));
        s.insert(
            "exit_codes".into(),
            crate::scenario::exit_codes_json(model, &[MAIN_ROLE, "process", "worker", "manager"]),
        );
        s.insert("locks".into(), json!(model.locks.len()));
        s.insert("queues".into(), json!(model.queues.len()));
        s
    }

    fn report(&self, model: &Model) -> String {
        let main = model.role(MAIN_ROLE).next().and_then(|p| p.exitcode);
        let n = model
            .procs
            .iter()
            .filter(|p| p.role != "forkserver")
            .count();
        self.spec.texts.say(
            "report",
            &[
                ("program", &self.file_name()),
                ("n", &n),
                (
                    "code",
                    &main.map_or_else(|| "?".to_string(), |c| c.to_string()),
                ),
            ],
        )
    }

    fn variant(&self) -> String {
        let mut words = vec![self.file_name()];
        words.extend(self.params.args.iter().cloned());
        words.join(" ")
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("locks", model.locks.len().to_string()),
            ("queues", model.queues.len().to_string()),
        ]
    }

    /// The panels of what the program's source names (a lock, a queue, a
    /// pool, a process): a program that makes no queue shows no empty
    /// queue panel. What the panels then show is only ever what happened.
    fn show(&self) -> Show {
        let names = |words: &[&str]| {
            self.spec
                .listing
                .iter()
                .any(|line| words.iter().any(|w| line.contains(w)))
        };
        let mut panels = Vec::new();
        if names(&["Lock", "Semaphore"]) {
            panels.push((Panel::Lock, Height::Content));
        }
        if names(&["Queue"]) {
            panels.push((Panel::Queue, Height::Content));
        }
        if names(&["Pool"]) {
            panels.push((Panel::Pool, Height::Third));
        }
        if names(&["Process"]) {
            panels.push((Panel::Calls, Height::Third));
        }
        panels.push((Panel::Output, Height::Third));
        panels.push((Panel::Log, Height::Rest));
        Show::panels(&panels).side(Side::Half).order(&[
            Rule::QueueItems,
            Rule::Tasks,
            Rule::Results,
        ])
    }

    fn intro(&self) -> String {
        self.spec
            .texts
            .say("intro", &[("program", &self.file_name())])
    }
}

/// Becomes `python PROG.py ARGS` with the agent on its path; returns only
/// if that failed.
fn exec_python(params: &ProgramParams, ctx: &Ctx) -> std::io::Error {
    let plan: Option<crate::engine::forkserver::Plan> =
        std::env::var(crate::engine::forkserver::PLAN_VAR)
            .ok()
            .and_then(|p| serde_json::from_str(&p).ok());
    let Some(plan) = plan else {
        return std::io::Error::other("the run's plan is missing");
    };
    let agent_dir = ctx.dir.join("agent");
    let mut path = OsString::from(agent_dir.as_os_str());
    if let Some(theirs) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
        path.push(":");
        path.push(theirs);
    }
    let config = json!({
        "fs": nix::unistd::getppid().as_raw(),
        "events": plan.events_fd,
        "gates": plan.gates_fd,
        "slots": params.slots,
        "origin": plan.clock.origin_ns,
        "main": ctx.pid,
        "program": params.program,
        "futex": nix::libc::SYS_futex,
    });
    std::process::Command::new(&params.python)
        .arg(&params.program)
        .args(&params.args)
        .env("PYTHONPATH", path)
        .env(AGENT_VAR, config.to_string())
        .env_remove(crate::engine::forkserver::PLAN_VAR)
        .exec()
}
