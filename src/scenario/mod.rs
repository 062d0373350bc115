//! Scenarios: what the processes of a run do, and what the screen says about it.
//!
//! Each scenario is a type implementing [`Scenario`] plus data built into
//! the binary: `scenarios/NAME.toml`, its defaults, and in each language's
//! directory `scenarios/LANG/NAME.toml`, its one-line description and every
//! sentence the dashboard shows (see [`texts`]). Translating mpviz is adding
//! a directory of those files, not code.

pub mod append;
pub mod lifecycle;
pub mod manager;
pub mod pool;
pub mod queue;
pub mod race;
pub mod show;
pub mod texts;
pub mod ticket;

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use crate::ipc::RunClock;
use crate::lang::Lang;
use crate::model::Model;
use crate::protocol::{Body, Event, Pid};
use crate::worker::Ctx;

pub use show::{Height, Panel, Show, Side};
pub use texts::Texts;

/// The data half of a scenario: `scenarios/NAME.toml`, and its texts in
/// one language.
#[derive(Debug, Clone, Deserialize)]
pub struct Spec {
    pub name: String,
    /// The tutorial's section.
    pub tutorial: String,
    pub defaults: toml::Table,
    /// The tutorial's program it plays, and where each action is in it.
    pub code: crate::code::CodeSpec,
    /// That program's lines as the code panel shows them, its comments in
    /// the texts' language.
    #[serde(skip)]
    pub listing: &'static [String],
    /// Every sentence, its `title` and one-line `about` (for `mpviz list`)
    /// included, from the language's files.
    #[serde(skip)]
    pub texts: Texts,
    /// The question `--predict` answers: the summary's field it is about
    /// (its words: the text `predict_question`).
    #[serde(default)]
    pub predict: Option<Predict>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Predict {
    pub field: String,
    /// Whether the answer is a number (compared as one); else it is a word,
    /// which matches the result or one of its words (`predict_same_VALUE`,
    /// `|` between them).
    #[serde(default)]
    pub number: bool,
}

impl Predict {
    /// Whether `answer` can answer the question: a whole number where it
    /// asks for one (every number asked is a count).
    pub fn takes(&self, answer: &str) -> bool {
        !self.number || answer.trim().parse::<i64>().is_ok()
    }
}

impl Spec {
    /// A scenario's file, with its texts in `lang`.
    pub fn parse(source: &str, lang: Lang) -> anyhow::Result<Spec> {
        let mut spec: Spec = toml::from_str(source).context("a scenario file is not valid")?;
        spec.speak(lang);
        Ok(spec)
    }

    /// The same scenario speaking `lang`.
    pub fn speak(&mut self, lang: Lang) {
        self.texts = texts::scenario_texts(&self.name, lang);
        // A listing the scenario gave itself (a user's program) stays.
        let listing = crate::code::listing(&self.name, lang);
        if !listing.is_empty() || self.listing.is_empty() {
            self.listing = listing;
        }
    }

    pub fn default_u64(&self, key: &str) -> u64 {
        self.defaults
            .get(key)
            .and_then(|v| v.as_integer())
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(1)
    }

    pub fn default_speed(&self) -> f64 {
        self.defaults
            .get("speed")
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
            .unwrap_or(10.0)
    }
}

/// Every scenario's file, by name, in the order of `mpviz list`.
pub const SPECS: &[(&str, &str)] = &[
    ("race", include_str!("../../scenarios/race.toml")),
    ("lifecycle", include_str!("../../scenarios/lifecycle.toml")),
    ("ticket", include_str!("../../scenarios/ticket.toml")),
    ("append", include_str!("../../scenarios/append.toml")),
    ("pool", include_str!("../../scenarios/pool.toml")),
    ("queue", include_str!("../../scenarios/queue.toml")),
    ("manager", include_str!("../../scenarios/manager.toml")),
];

/// Scenario `name`, speaking English.
pub fn spec(name: &str) -> anyhow::Result<Spec> {
    spec_in(name, Lang::EN)
}

/// What `mpviz run PROG.py` shows of a program: not a scenario of `mpviz
/// list`, but its texts and defaults are laid out as one's.
pub const PROGRAM_SPEC: (&str, &str) = ("program", include_str!("../../scenarios/program.toml"));

/// Scenario `name`, speaking `lang`.
pub fn spec_in(name: &str, lang: Lang) -> anyhow::Result<Spec> {
    let (_, source) = SPECS
        .iter()
        .chain(std::iter::once(&PROGRAM_SPEC))
        .find(|(n, _)| *n == name)
        .ok_or_else(|| anyhow::anyhow!("unknown scenario {name:?}"))?;
    Spec::parse(source, lang)
}

/// A scenario's code in the parent (Python's main process): for example the
/// one that puts the stop signals into a queue, or that runs the callbacks.
/// Picks events out of the stream.
pub type EventFilter = fn(&Event) -> bool;

pub trait ParentSide: Send {
    /// Which events of the stream it needs: only those are copied to it.
    fn wants(&self) -> EventFilter {
        |_| true
    }
    /// Called for every event it wants, in the stream's order.
    fn on_event(&mut self, event: &Event, parent: &Parent);
    /// Called about ten times a second, between events.
    fn tick(&mut self, _parent: &Parent) {}
}

/// What a parent side has in hand: the stream to report to, as mpviz's PID.
#[derive(Clone)]
pub struct Parent {
    pub pid: Pid,
    pub thread: String,
    clock: RunClock,
    out: crossbeam_channel::Sender<Event>,
    stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Set when every process of the run has exited.
    gone: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The main process's own gate: its slot, and the permits it has used.
    gate: Option<ParentGate>,
}

#[derive(Clone)]
struct ParentGate {
    gates: std::sync::Arc<crate::ipc::Gates>,
    slot: u32,
    used: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl Parent {
    pub fn new(
        clock: RunClock,
        out: crossbeam_channel::Sender<Event>,
        stopping: std::sync::Arc<std::sync::atomic::AtomicBool>,
        gone: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Parent {
        Parent {
            pid: std::process::id() as Pid,
            thread: std::thread::current().name().unwrap_or("main").to_string(),
            clock,
            out,
            stopping,
            gone,
            gate: None,
        }
    }

    /// Gives the main process a gate of its own (slot `slot`), so that it is
    /// paced as the children are: paused, it does not move either.
    pub fn with_gate(mut self, gates: std::sync::Arc<crate::ipc::Gates>, slot: u32) -> Parent {
        self.gate = Some(ParentGate {
            gates,
            slot,
            used: Default::default(),
        });
        self
    }

    /// Waits for the pacer's permit before the main process's next action,
    /// as a child's [`Ctx::gate`] does (`ready`, then a permit). Returns
    /// false, at once, if the run is stopping or its processes are gone.
    /// One thread of the main process at a time may wait here.
    pub fn gate(&self, action: impl Into<crate::protocol::Act>) -> bool {
        use std::sync::atomic::Ordering;
        if self.stopping() {
            return false;
        }
        let Some(gate) = self.gate.as_ref().filter(|g| !g.gates.is_free()) else {
            return true;
        };
        let ticket = gate.used.fetch_add(1, Ordering::SeqCst) + 1;
        self.emit(Body::Ready {
            action: action.into(),
        });
        let step = std::time::Duration::from_millis(100);
        while !gate.gates.wait_within(gate.slot, ticket, step) {
            if self.stopping() {
                return false;
            }
        }
        !self.stopping()
    }

    pub fn emit(&self, body: Body) {
        let _ = self
            .out
            .send(Event::new(self.clock.now(), Some(self.pid), body));
    }

    /// Reports `body` as done by `pid` (what a thread's own `getpid()` said),
    /// or, with `None`, by the run as a whole: an `error` so reported ends
    /// the run, as a failed fork does.
    pub fn emit_as(&self, pid: Option<Pid>, body: Body) {
        let _ = self.out.send(Event::new(self.clock.now(), pid, body));
    }

    /// The run is being stopped (quit, a signal, an error): not merely ended.
    pub fn stop_requested(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The run is being stopped, or its processes are all gone: finish the
    /// current step and give up anything that would block.
    pub fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Relaxed)
            || self.gone.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A number the scenario's processes share, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterView {
    /// The value the parent last read from memory.
    pub value: Option<u64>,
    /// What it would be if no update were lost.
    pub expected: u64,
    /// How many increments were written to it.
    pub writes: u64,
    /// Increments lost for certain so far (see [`crate::model::Landings`]).
    pub lost: u64,
}

/// One line of a watched file, as a scenario understands it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileLine {
    pub text: String,
    /// Whether it is one writer's whole line (not parts of several).
    pub whole: bool,
    /// The writer whose whole line it is.
    pub writer: Option<u32>,
}

/// The code half of a scenario. One value describes one run's parameters;
/// the same value, rebuilt from [`Scenario::params`], runs in every child.
pub trait Scenario: Send + Sync {
    fn name(&self) -> &'static str;
    fn spec(&self) -> &Spec;
    /// The same, to set its language ([`Spec::speak`]).
    fn spec_mut(&mut self) -> &mut Spec;
    /// The run's parameters as JSON (the `start` event shows them).
    fn params(&self) -> serde_json::Value;
    /// How many child processes the run starts.
    fn processes(&self) -> u32;
    /// Whether a child may batch its reports at full speed (one write for
    /// many events; see [`crate::ipc::sink`]). Batches keep each process's
    /// order but not the order between processes, so a scenario whose lesson
    /// is the interleaving of every read and write says no.
    fn batches_events(&self) -> bool {
        true
    }
    /// How many gates (paced actors) the run has: one per process, unless a
    /// process also runs threads that are paced one by one.
    fn gate_slots(&self) -> u32 {
        self.processes()
    }
    /// How many paced processes and threads the run has before anyone
    /// acts: the pacer's first grant waits until they have all started (see
    /// [`crate::engine::pacer`]). Those started later by a child (lifecycle's)
    /// are not counted.
    fn actors_at_start(&self) -> u32 {
        self.processes()
    }
    /// Whether a stop asks its processes to end first (SIGINT, as a
    /// terminal's Ctrl-C: a user's program cleans up after itself), before
    /// they are killed.
    fn stops_gracefully(&self) -> bool {
        false
    }
    /// Whether its processes wait on much the pacer does not see (a user's
    /// program: a join, a pool's own queues): then a busy process seen
    /// asleep in the kernel a little after its last news holds no grant up
    /// (see [`crate::engine::pacer`]).
    fn waits_unseen(&self) -> bool {
        false
    }
    /// The gate slot of the child in `slot`, whose PID is `pid`: its slot,
    /// unless the scenario's processes are paced by PID (`mpviz run`).
    fn gate_slot(&self, slot: u32, _pid: Pid) -> u32 {
        slot
    }
    /// The name and role of the child in `slot`.
    fn process_name(&self, slot: u32) -> (String, &'static str);
    /// Creates the run's files in its fresh directory, before any child starts.
    fn prepare(&self, dir: &Path) -> anyhow::Result<()>;
    /// The files whose content the parent reads and shows.
    fn watched_files(&self) -> Vec<String>;
    /// The child's whole life; returns its exit code.
    fn run_child(&self, ctx: &mut Ctx) -> i32;
    /// The exit code `--headless` and `--json` end with, where the run
    /// has one of its own (a program's main process's): else mpviz's.
    fn exit_code(&self, _model: &Model) -> Option<u8> {
        None
    }
    /// The `summary` line's fields, from the folded run.
    fn summary(&self, model: &Model) -> serde_json::Map<String, serde_json::Value>;
    /// A short human summary for `--headless`.
    fn report(&self, model: &Model) -> String;
    /// A few words on how this run is set up, for the dashboard's title.
    fn variant(&self) -> String;
    /// The numbers the dashboard's header shows, as (key, value): the label
    /// is the scenario's text `headline_KEY`.
    fn headline(&self, model: &Model) -> Vec<(&'static str, String)>;
    /// For a counter of the headline that lights up ([`Show::alarms`]) and
    /// counts its moment itself rather than by the fold's moments (append's
    /// torn lines, which the fold does not judge; the race's updates lost
    /// for certain): the number it shows. See [`Show::lit`].
    fn alarm_count(&self, _key: &str, _model: &Model) -> Option<u64> {
        None
    }
    /// What the dashboard shows of this run (its panels, which of the
    /// headline's counters light up) and what its stream needs kept in
    /// order: the one place the views and the reader look.
    fn show(&self) -> Show;
    /// The sentence that introduces this run before anything happens.
    fn intro(&self) -> String;
    /// Kernel objects the children share besides the event pipe and the
    /// gates (a queue, say), opened by the parent before any child
    /// starts. A child finds them, in this order, in [`Ctx::ipc`].
    fn open_ipc(&self) -> anyhow::Result<Vec<std::os::fd::OwnedFd>> {
        Ok(Vec::new())
    }
    /// The part of the scenario that runs in mpviz itself, on a thread of its
    /// own: it sees the stream and may act and report (as the parent's PID).
    fn parent_side(
        &self,
        _ipc: &[std::os::fd::OwnedFd],
    ) -> anyhow::Result<Option<Box<dyn ParentSide>>> {
        Ok(None)
    }
    /// For a scenario whose file is a list of lines: each line of the file as
    /// the parent last read it, and the order in which the writers started.
    fn file_lines(&self, _model: &Model) -> Option<(Vec<FileLine>, Vec<u32>)> {
        None
    }
    /// For a scenario around a shared number: the number, for its panel.
    fn counter(&self, _model: &Model) -> Option<CounterView> {
        None
    }
}

/// The summary's `exit_codes`: how many processes of these roles ended with
/// each code the OS reported, keyed by the code as text.
pub fn exit_codes_json(model: &Model, roles: &[&str]) -> serde_json::Value {
    let mut codes = std::collections::BTreeMap::new();
    for role in roles {
        for (code, n) in model.exit_codes(role) {
            *codes.entry(code).or_insert(0u32) += n;
        }
    }
    codes
        .into_iter()
        .map(|(code, n)| (code.to_string(), serde_json::json!(n)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Rebuilds a scenario from its name and parameters (in the fork server).
pub fn from_params(name: &str, params: &serde_json::Value) -> anyhow::Result<Box<dyn Scenario>> {
    match name {
        "ticket" => Ok(Box::new(ticket::Ticket::new(serde_json::from_value(
            params.clone(),
        )?)?)),
        "append" => Ok(Box::new(append::Append::new(serde_json::from_value(
            params.clone(),
        )?)?)),
        "queue" => Ok(Box::new(queue::QueueScenario::new(
            serde_json::from_value(params.clone())?,
        )?)),
        "pool" => Ok(Box::new(pool::Pool::new(serde_json::from_value(
            params.clone(),
        )?)?)),
        "race" => Ok(Box::new(race::Race::new(serde_json::from_value(
            params.clone(),
        )?)?)),
        "manager" => Ok(Box::new(manager::Manager::new(serde_json::from_value(
            params.clone(),
        )?)?)),
        "lifecycle" => Ok(Box::new(lifecycle::Lifecycle::new(
            serde_json::from_value(params.clone())?,
        )?)),
        "program" => Ok(Box::new(crate::program::Program::new(
            serde_json::from_value(params.clone())?,
        )?)),
        other => anyhow::bail!("unknown scenario {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gated_parent(
        stopping: bool,
    ) -> (
        Parent,
        std::sync::Arc<crate::ipc::Gates>,
        crossbeam_channel::Receiver<Event>,
    ) {
        let (gates, _fd) = crate::ipc::Gates::create(2).unwrap();
        let gates = std::sync::Arc::new(gates);
        let (out, reports) = crossbeam_channel::unbounded();
        let flag = |on: bool| std::sync::Arc::new(std::sync::atomic::AtomicBool::new(on));
        let parent = Parent::new(RunClock::start(), out, flag(stopping), flag(false))
            .with_gate(gates.clone(), 1);
        (parent, gates, reports)
    }

    #[test]
    fn the_main_process_waits_at_its_gate_for_a_permit_as_a_child_does() {
        let (parent, gates, reports) = gated_parent(false);
        let (passed_tx, passed) = crossbeam_channel::unbounded();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let went = parent.gate(("submit_task", [("task", 0)]));
                passed_tx.send(went).unwrap();
            });
            let ready = reports
                .recv_timeout(std::time::Duration::from_secs(30))
                .unwrap();
            assert!(
                matches!(&ready.body, Body::Ready { action } if action.action == "submit_task"
                    && action.args.get("task") == Some(&crate::protocol::PyValue::Int(0)))
            );
            assert_eq!(ready.pid, Some(parent.pid));
            // No permit yet: it has not gone on.
            assert!(passed
                .recv_timeout(std::time::Duration::from_millis(300))
                .is_err());
            gates.grant(1);
            assert_eq!(
                passed.recv_timeout(std::time::Duration::from_secs(30)),
                Ok(true)
            );
        });
    }

    #[test]
    fn a_stopping_run_never_holds_the_main_process_at_its_gate() {
        let (parent, _gates, _reports) = gated_parent(true);
        assert!(!parent.gate(("put_stop", [("n", 1)])));
    }

    #[test]
    fn every_scenario_file_parses_and_names_itself_in_every_language() {
        for lang in Lang::all() {
            for (name, source) in SPECS {
                let spec = Spec::parse(source, lang).unwrap();
                assert_eq!(&spec.name, name);
                for key in ["title", "about"] {
                    assert!(
                        spec.texts.get(key).is_some_and(|t| !t.is_empty()),
                        "{name} {key}"
                    );
                }
            }
        }
    }
}
