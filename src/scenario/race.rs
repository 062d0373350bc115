//! The lost update (tutorial section 1).
//!
//! `N` workers each add 1 to one counter `K` times, by reading it and writing
//! back what they read plus one. The counter is a word of real shared memory
//! ([`crate::ipc::shared`]). Without `--lock` another worker can read or
//! write between a read and its write, and increments are lost; with the lock
//! the counter ends at `N x K`. With `--threads` the workers are threads of
//! one process (the GIL story: a lock inside the interpreter does not protect
//! the program's own data).

use std::fs::File;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Height, Panel, Parent, ParentSide, Scenario, Show, Spec};
use crate::ipc::shared::SharedCounter;
use crate::model::{Model, Moment};
use crate::protocol::{Body, Event};
use crate::scenario::texts::{lock_key, summary_value};
use crate::worker::Ctx;

/// The counter's name on screen (the model keeps it with the files).
pub const COUNTER: &str = "counter";
pub const LOCK_FILE: &str = "counter.lock";
pub const LOCK_NAME: &str = "counter";
pub const WORKER: &str = "worker";
pub const PROCESS: &str = "process";
pub const THREAD: &str = crate::worker::THREAD_ROLE;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RaceParams {
    pub workers: u32,
    pub increments: u32,
    pub lock: bool,
    pub threads: bool,
}

pub struct Race {
    params: RaceParams,
    spec: Spec,
}

impl Race {
    pub fn new(params: RaceParams) -> anyhow::Result<Race> {
        // The counter is 32 bits, as a C int is, and so is its count of the
        // writes that landed (see crate::ipc::shared).
        let total = u64::from(params.workers) * u64::from(params.increments);
        if total > u64::from(u32::MAX) {
            anyhow::bail!(
                "--workers x --increments is {total}, more than the counter's {} increments",
                u32::MAX
            );
        }
        Ok(Race {
            params,
            spec: super::spec("race")?,
        })
    }

    fn expected(&self) -> u64 {
        u64::from(self.params.workers) * u64::from(self.params.increments)
    }

    /// The roles that add to the counter.
    fn adder_role(&self) -> &'static str {
        if self.params.threads {
            THREAD
        } else {
            WORKER
        }
    }
}

/// The counter as the parent last read it from shared memory.
pub fn counter_of(model: &Model) -> Option<u64> {
    model.files.get(COUNTER)?.trim().parse().ok()
}

/// The headline's counter of increments lost for certain.
const LOST: &str = "lost";

impl Scenario for Race {
    fn name(&self) -> &'static str {
        "race"
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
        if self.params.threads {
            1
        } else {
            self.params.workers
        }
    }

    fn batches_events(&self) -> bool {
        // The lesson is the exact interleaving of reads and writes.
        false
    }

    fn actors_at_start(&self) -> u32 {
        // The process and its threads, which it starts at once.
        self.gate_slots()
    }

    fn gate_slots(&self) -> u32 {
        if self.params.threads {
            // The process itself, then one gate per thread.
            self.params.workers.saturating_add(1)
        } else {
            self.params.workers
        }
    }

    fn process_name(&self, slot: u32) -> (String, &'static str) {
        if self.params.threads {
            ("threads".into(), PROCESS)
        } else {
            (format!("worker-{slot}"), WORKER)
        }
    }

    fn prepare(&self, dir: &Path) -> anyhow::Result<()> {
        if self.params.lock {
            File::create(dir.join(LOCK_FILE))?;
        }
        Ok(())
    }

    fn watched_files(&self) -> Vec<String> {
        Vec::new()
    }

    fn open_ipc(&self) -> anyhow::Result<Vec<OwnedFd>> {
        Ok(vec![SharedCounter::create()?])
    }

    fn parent_side(&self, ipc: &[OwnedFd]) -> anyhow::Result<Option<Box<dyn ParentSide>>> {
        let fd = ipc
            .first()
            .ok_or_else(|| anyhow::anyhow!("the counter was not created"))?;
        Ok(Some(Box::new(CounterWatch {
            counter: SharedCounter::open(fd)?,
            last: None,
        })))
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        let Some(&fd) = ctx.ipc.first() else {
            return 2;
        };
        // SAFETY: the run's descriptors stay open for the child's whole life.
        let Ok(counter) = SharedCounter::open(unsafe { BorrowedFd::borrow_raw(fd) }) else {
            return 2;
        };
        let p = &self.params;
        if p.threads {
            let codes = ctx.run_threads(1, p.workers, |ctx| add(ctx, &counter, p));
            codes.into_iter().max().unwrap_or(0)
        } else {
            add(ctx, &counter, p)
        }
    }

    fn summary(&self, model: &Model) -> Map<String, Value> {
        let p = &self.params;
        let expected = self.expected();
        let last = counter_of(model);
        let mut s = Map::new();
        s.insert("scenario".into(), json!("race"));
        s.insert("workers".into(), json!(p.workers));
        s.insert("increments".into(), json!(p.increments));
        s.insert("lock".into(), json!(p.lock));
        s.insert("threads".into(), json!(p.threads));
        s.insert("seed".into(), json!(model.seed));
        s.insert("expected".into(), json!(expected));
        s.insert("final".into(), json!(last));
        s.insert(
            "lost_updates".into(),
            json!(last.map(|v| expected.saturating_sub(v))),
        );
        s.insert("overtaken_writes".into(), json!(model.files.lost_writes));
        // What the screen showed last: equal to `lost_updates` once every
        // worker has written back.
        s.insert("lost_certain".into(), json!(model.files.landings.lost));
        s.insert(
            "distinct_pids".into(),
            json!(model.role(self.adder_role()).count()),
        );
        if p.threads {
            // A thread has no exit status: its join returns, that is all.
            // The one exit code is its process's.
            s.insert(
                "threads_joined".into(),
                json!(model.role(THREAD).filter(|t| !t.alive()).count()),
            );
            s.insert(
                "exit_codes".into(),
                super::exit_codes_json(model, &[PROCESS]),
            );
        } else {
            s.insert(
                "exit_codes".into(),
                super::exit_codes_json(model, &[WORKER]),
            );
        }
        s
    }

    fn report(&self, model: &Model) -> String {
        let s = self.summary(model);
        let texts = &self.spec.texts;
        let lock = texts.say(lock_key("report", self.params.lock), &[]);
        let workers = summary_value(texts, &s, "workers").unwrap_or_default();
        let (who, threads) = if self.params.threads {
            let joined = summary_value(texts, &s, "threads_joined").unwrap_or_default();
            (
                texts.say("report_threads", &[("workers", &workers)]),
                texts.say("report_threads_joined", &[("joined", &joined)]),
            )
        } else {
            (
                texts.say("report_processes", &[("workers", &workers)]),
                String::new(),
            )
        };
        texts.say_by("report", |hole| match hole {
            "lock" => Some(lock.clone()),
            "who" => Some(who.clone()),
            "threads" => Some(threads.clone()),
            _ => summary_value(texts, &s, hole),
        })
    }

    fn variant(&self) -> String {
        let texts = &self.spec.texts;
        let lock = texts.say(lock_key("variant", self.params.lock), &[]);
        let key = if self.params.threads {
            "variant_threads"
        } else {
            "variant_processes"
        };
        texts.say(
            key,
            &[
                ("workers", &self.params.workers),
                ("increments", &self.params.increments),
                ("lock", &lock),
            ],
        )
    }

    fn show(&self) -> Show {
        Show::panels(&[
            (Panel::Lock, Height::Content),
            (Panel::Counter, Height::Content),
            (Panel::Log, Height::Rest),
        ])
        .alarms(&[(LOST, Moment::LostUpdate)])
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        let counter = counter_of(model).unwrap_or(0);
        vec![
            ("counter", counter.to_string()),
            ("expected", self.expected().to_string()),
            (LOST, model.files.landings.lost.to_string()),
        ]
    }

    fn alarm_count(&self, key: &str, model: &Model) -> Option<u64> {
        (key == LOST).then_some(model.files.landings.lost)
    }

    fn counter(&self, model: &Model) -> Option<super::CounterView> {
        Some(super::CounterView {
            value: counter_of(model),
            expected: self.expected(),
            writes: model.files.writes_of(COUNTER),
            lost: model.files.landings.lost,
        })
    }

    fn intro(&self) -> String {
        let key = match (self.params.threads, self.params.lock) {
            (false, true) => "intro_lock",
            (false, false) => "intro_no_lock",
            (true, true) => "intro_threads_lock",
            (true, false) => "intro_threads_no_lock",
        };
        self.spec.texts.get(key).unwrap_or_default().to_string()
    }
}

/// One worker's increments: read the counter, write it back plus one.
fn add(ctx: &mut Ctx, counter: &SharedCounter, p: &RaceParams) -> i32 {
    match add_all(ctx, counter, p) {
        Ok(()) => 0,
        Err(e) => {
            ctx.emit(Body::Error {
                message: format!("{}: {e}", ctx.slot),
            });
            1
        }
    }
}

fn add_all(ctx: &mut Ctx, counter: &SharedCounter, p: &RaceParams) -> std::io::Result<()> {
    for _ in 0..p.increments {
        let held = if p.lock {
            Some(ctx.lock(LOCK_FILE, LOCK_NAME)?)
        } else {
            None
        };
        ctx.gate("read_counter");
        let seen = counter.read();
        // Both are reported just after they are made, each with its place
        // among the writes that landed (read in the same load, counted in
        // the same atomic step): the parent reads the memory itself at any
        // moment, every write it has been told of is then already there, and
        // the fold knows exactly which writes each read came after.
        ctx.emit(Body::Read {
            file: COUNTER.into(),
            value: Some(seen.value.into()),
            text: seen.value.to_string(),
            landed: Some(seen.landed),
            reset: None,
        });
        let new = seen.value.wrapping_add(1);
        ctx.gate(("write", [("value", new)]));
        let place = counter.write(new);
        ctx.emit(Body::Write {
            file: COUNTER.into(),
            value: Some(new.into()),
            bytes: None,
            landed: Some(place),
        });
        if let Some(held) = held {
            ctx.unlock(held)?;
        }
    }
    Ok(())
}

/// The parent's part: read the counter from shared memory and report it
/// when it changed (every tick, and after every exit, so that the last
/// report follows the last write).
struct CounterWatch {
    counter: SharedCounter,
    last: Option<u32>,
}

impl CounterWatch {
    fn measure(&mut self, parent: &Parent) {
        let value = self.counter.read().value;
        if self.last != Some(value) {
            self.last = Some(value);
            parent.emit(Body::File {
                file: COUNTER.into(),
                content: value.to_string(),
            });
        }
    }
}

impl ParentSide for CounterWatch {
    fn wants(&self) -> super::EventFilter {
        |event| matches!(event.body, Body::Spawn { .. } | Body::Exit { .. })
    }

    fn on_event(&mut self, _event: &Event, parent: &Parent) {
        self.measure(parent);
    }

    fn tick(&mut self, parent: &Parent) {
        self.measure(parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_named_by_its_tid_and_ends_by_a_join_without_an_exit_code() {
        let race = Race::new(RaceParams {
            workers: 1,
            increments: 1,
            lock: false,
            threads: true,
        })
        .unwrap();
        let mut model = Model::new();
        let spawn = |pid, name: &str, role: &str, ppid| {
            Event::new(
                0,
                Some(pid),
                Body::Spawn {
                    name: name.into(),
                    role: role.into(),
                    slot: 0,
                    ppid,
                },
            )
        };
        model.apply(&spawn(40, "threads", PROCESS, 2));
        let thread = spawn(41, "thread-0", THREAD, 40);
        model.apply(&thread);
        let said = race.spec().texts.explain(&thread, &model).unwrap();
        assert!(said.contains("thread id (TID) 41"), "{said}");
        assert!(said.contains("ps -p 41 finds nothing"), "{said}");
        let joined = Event::new(1, Some(41), Body::Joined);
        model.apply(&joined);
        assert!(!model.proc(41).unwrap().alive());
        assert_eq!(model.proc(41).unwrap().exitcode, None);
        let said = race.spec().texts.explain(&joined, &model).unwrap();
        assert!(said.contains("(TID 41)") && !said.contains("PID"), "{said}");
        assert!(said.contains("join() on it returned"), "{said}");
        let s = race.summary(&model);
        assert_eq!(s["threads_joined"], 1);
        assert_eq!(s["exit_codes"], json!({}));
    }
}
