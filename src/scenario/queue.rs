//! A bounded queue between processes (tutorial section 2.6.1).
//!
//! `P` producers put `N` numbered items into one queue that holds at most
//! `maxsize` ([`crate::ipc::queue`]: a ring in shared memory guarded by
//! semaphores); `C` consumers get them. A put on a full queue and a get on an
//! empty one block in the kernel; with `--timeout-ms` they give up
//! (Full, Empty) and try again. When every producer has exited, the parent
//! puts one stop signal per consumer. Consumers ask `qsize()` before each get,
//! so that the class sees an answer that is already old.

use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Height, Panel, Parent, ParentSide, Scenario, Show, Spec};
use crate::ipc::queue::{self, Queue, Timed};
use crate::model::{ItemCount, Model, QueueState};
use crate::order::Rule;
use crate::protocol::{Body, Event, Name, Pid};
use crate::scenario::texts::summary_value;
use crate::worker::Ctx;

pub const QUEUE: &str = "queue";
pub const PRODUCER: &str = "producer";
pub const CONSUMER: &str = "consumer";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueParams {
    pub producers: u32,
    pub consumers: u32,
    pub maxsize: u32,
    pub items: u32,
    pub timeout_ms: Option<u64>,
}

pub struct QueueScenario {
    params: QueueParams,
    spec: Spec,
}

impl QueueScenario {
    pub fn new(params: QueueParams) -> anyhow::Result<QueueScenario> {
        Ok(QueueScenario {
            params,
            spec: super::spec("queue")?,
        })
    }

    /// Items numbered `items` and above are the parent's stop signals.
    fn is_stop(&self, item: u64) -> bool {
        item >= u64::from(self.params.items)
    }

    /// Of `events` puts (or gets), how many were of real items, not of the
    /// parent's stop signals (`tally` gives how many were of each item).
    fn without_stops(&self, events: u64, tally: impl Fn(&u64) -> Option<u32>) -> u64 {
        let first = u64::from(self.params.items);
        let stops: u64 = (first..first + u64::from(self.params.consumers))
            .map(|stop| u64::from(tally(&stop).unwrap_or(0)))
            .sum();
        events.saturating_sub(stops)
    }
}

impl Scenario for QueueScenario {
    fn name(&self) -> &'static str {
        "queue"
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
        self.params.producers + self.params.consumers
    }

    fn process_name(&self, slot: u32) -> (String, &'static str) {
        if slot < self.params.producers {
            (format!("producer-{slot}"), PRODUCER)
        } else {
            (
                format!("consumer-{}", slot - self.params.producers),
                CONSUMER,
            )
        }
    }

    fn prepare(&self, _dir: &Path) -> anyhow::Result<()> {
        Ok(())
    }

    fn watched_files(&self) -> Vec<String> {
        Vec::new()
    }

    fn open_ipc(&self) -> anyhow::Result<Vec<OwnedFd>> {
        Ok(vec![queue::create(self.params.maxsize)?])
    }

    fn parent_side(&self, ipc: &[OwnedFd]) -> anyhow::Result<Option<Box<dyn ParentSide>>> {
        let queue = Queue::open(
            ipc.first()
                .ok_or_else(|| anyhow::anyhow!("the queue was not opened"))?,
        )?;
        Ok(Some(Box::new(Stopper {
            queue,
            producers: HashSet::new(),
            producers_exited: 0,
            params: self.params.clone(),
            last_depth: None,
        })))
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        let Some(&fd) = ctx.ipc.first() else {
            return 2;
        };
        // SAFETY: the run's descriptors stay open for the child's whole life.
        let Ok(queue) = Queue::open(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }) else {
            return 2;
        };
        let timeout = self.params.timeout_ms.map(Duration::from_millis);
        let result = if ctx.slot < self.params.producers {
            produce(ctx, &queue, &self.params, timeout)
        } else {
            consume(ctx, &queue, &self.params, timeout)
        };
        match result {
            Ok(()) => 0,
            Err(e) => {
                ctx.emit(Body::Error {
                    message: format!("{}: {}", ctx.slot, e.desc()),
                });
                1
            }
        }
    }

    fn summary(&self, model: &Model) -> Map<String, Value> {
        let none = QueueState::default();
        let q = model.queues.get(QUEUE).unwrap_or(&none);
        let produced = self.without_stops(q.puts, |i| q.items.get(i).map(|n| n.put));
        let consumed = self.without_stops(q.gets, |i| q.items.get(i).map(|n| n.got));
        let real = |(item, _): &(&u64, &ItemCount)| !self.is_stop(**item);
        let lost = q
            .items
            .iter()
            .filter(real)
            .filter(|(_, n)| n.put > 0 && n.got == 0)
            .count();
        let duplicated: u32 = q
            .items
            .iter()
            .filter(real)
            .map(|(_, n)| n.got.saturating_sub(1))
            .sum();
        let p = &self.params;
        let mut s = Map::new();
        s.insert("scenario".into(), json!("queue"));
        s.insert("producers".into(), json!(p.producers));
        s.insert("consumers".into(), json!(p.consumers));
        s.insert("maxsize".into(), json!(p.maxsize));
        s.insert("items".into(), json!(p.items));
        s.insert("seed".into(), json!(model.seed));
        s.insert("produced".into(), json!(produced));
        s.insert("consumed".into(), json!(consumed));
        s.insert("max_depth".into(), json!(q.max_depth));
        s.insert("full_timeouts".into(), json!(q.full_timeouts));
        s.insert("empty_timeouts".into(), json!(q.empty_timeouts));
        s.insert("lost".into(), json!(lost));
        s.insert("duplicated".into(), json!(duplicated));
        s.insert(
            "exit_codes".into(),
            super::exit_codes_json(model, &[PRODUCER, CONSUMER]),
        );
        s
    }

    fn report(&self, model: &Model) -> String {
        let s = self.summary(model);
        let texts = &self.spec.texts;
        texts.say_by("report", |hole| summary_value(texts, &s, hole))
    }

    fn variant(&self) -> String {
        let p = &self.params;
        let texts = &self.spec.texts;
        let timeout = p.timeout_ms.map_or_else(String::new, |ms| {
            texts.say("variant_timeout", &[("ms", &ms)])
        });
        texts.say(
            "variant",
            &[
                ("producers", &p.producers),
                ("consumers", &p.consumers),
                ("maxsize", &p.maxsize),
                ("items", &p.items),
                ("timeout", &timeout),
            ],
        )
    }

    fn show(&self) -> Show {
        Show::panels(&[(Panel::Queue, Height::Content), (Panel::Log, Height::Rest)])
            .order(&[Rule::QueueItems])
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        // Drawn every frame: counts, not a walk over every item.
        let none = QueueState::default();
        let q = model.queues.get(QUEUE).unwrap_or(&none);
        let got = self.without_stops(q.gets, |i| q.items.get(i).map(|n| n.got));
        vec![
            ("depth", format!("{}/{}", q.depth, self.params.maxsize)),
            ("consumed", format!("{got}/{}", self.params.items)),
            ("blocked", q.blocked.len().to_string()),
            (
                "full_empty",
                format!("{}/{}", q.full_timeouts, q.empty_timeouts),
            ),
        ]
    }

    fn intro(&self) -> String {
        self.spec.texts.get("intro").unwrap_or_default().to_string()
    }
}

/// Puts this producer's share of the items: item numbers `slot`, `slot + P`, …
fn produce(
    ctx: &mut Ctx,
    queue: &Queue,
    p: &QueueParams,
    timeout: Option<Duration>,
) -> nix::Result<()> {
    let queue_name = || Name::from(QUEUE);
    for item in (u64::from(ctx.slot)..u64::from(p.items)).step_by(p.producers as usize) {
        loop {
            ctx.gate(("put_item", [("item", item)]));
            // Try without waiting first, so that a block is seen as one.
            let depth = match queue.put_within(item, None)? {
                Timed::Done(depth) => depth,
                Timed::TimedOut => {
                    // Whether reports are kept back, seen before this one is made: a
                    // pause in between must not leave it unsent.
                    let keeps_back = ctx.keeps_back();
                    ctx.emit(Body::Blocked {
                        queue: queue_name(),
                        op: "put".into(),
                    });
                    match queue.put_patiently(
                        item,
                        timeout,
                        keeps_back.then_some(|| ctx.flush()),
                    )? {
                        Timed::Done(depth) => depth,
                        Timed::TimedOut => {
                            ctx.emit(Body::Full {
                                queue: queue_name(),
                                item,
                            });
                            continue;
                        }
                    }
                }
            };
            ctx.emit(Body::Put {
                queue: queue_name(),
                item,
                depth,
            });
            break;
        }
    }
    Ok(())
}

/// Gets items until the parent's stop signal.
fn consume(
    ctx: &mut Ctx,
    queue: &Queue,
    p: &QueueParams,
    timeout: Option<Duration>,
) -> nix::Result<()> {
    let queue_name = || Name::from(QUEUE);
    loop {
        ctx.gate("ask_qsize");
        ctx.emit(Body::Qsize {
            queue: queue_name(),
            value: queue.depth(),
        });
        ctx.gate("get_item");
        let (item, depth) = match queue.get_within(None)? {
            Timed::Done(got) => got,
            Timed::TimedOut => {
                // Whether reports are kept back, seen before this one is made: a
                // pause in between must not leave it unsent.
                let keeps_back = ctx.keeps_back();
                ctx.emit(Body::Blocked {
                    queue: queue_name(),
                    op: "get".into(),
                });
                match queue.get_patiently(timeout, keeps_back.then_some(|| ctx.flush()))? {
                    Timed::Done(got) => got,
                    Timed::TimedOut => {
                        ctx.emit(Body::Empty {
                            queue: queue_name(),
                        });
                        continue;
                    }
                }
            }
        };
        ctx.emit(Body::Get {
            queue: queue_name(),
            item,
            depth,
        });
        if item >= u64::from(p.items) {
            return Ok(());
        }
    }
}

/// The parent's part: measure the queue, and once every producer has exited,
/// put one stop signal for each consumer.
struct Stopper {
    queue: Queue,
    producers: HashSet<Pid>,
    producers_exited: u32,
    params: QueueParams,
    last_depth: Option<u32>,
}

impl Stopper {
    fn measure(&mut self, parent: &Parent) {
        let depth = self.queue.depth();
        if self.last_depth != Some(depth) {
            self.last_depth = Some(depth);
            parent.emit(Body::QueueDepth {
                queue: QUEUE.into(),
                depth,
                maxsize: self.params.maxsize,
            });
        }
    }

    fn put_stops(&mut self, parent: &Parent) {
        let queue = &self.queue;
        for c in 0..self.params.consumers {
            let item = u64::from(self.params.items) + u64::from(c);
            if !parent.gate(("put_stop", [("n", c + 1)])) {
                return;
            }
            // The queue may be full while consumers are paused: the put
            // blocks (said as a child's is), waiting in short steps so that
            // stopping the run is never held up here.
            let mut wait = None;
            loop {
                match queue.put_within(item, wait) {
                    Ok(Timed::Done(depth)) => {
                        parent.emit(Body::Put {
                            queue: QUEUE.into(),
                            item,
                            depth,
                        });
                        break;
                    }
                    Ok(Timed::TimedOut) if !parent.stopping() => {
                        if wait.is_none() {
                            parent.emit(Body::Blocked {
                                queue: QUEUE.into(),
                                op: "put".into(),
                            });
                        }
                        wait = Some(Duration::from_millis(100));
                    }
                    _ => return,
                }
            }
        }
    }
}

impl ParentSide for Stopper {
    fn wants(&self) -> super::EventFilter {
        |event| matches!(event.body, Body::Spawn { .. } | Body::Exit { .. })
    }

    fn on_event(&mut self, event: &Event, parent: &Parent) {
        if self.last_depth.is_none() {
            self.measure(parent);
        }
        match (&event.body, event.pid) {
            (Body::Spawn { role, .. }, Some(pid)) if role == PRODUCER => {
                self.producers.insert(pid);
            }
            (Body::Exit { .. }, Some(pid)) if self.producers.contains(&pid) => {
                self.producers_exited += 1;
                if self.producers_exited == self.params.producers {
                    self.put_stops(parent);
                }
            }
            _ => {}
        }
    }

    fn tick(&mut self, parent: &Parent) {
        self.measure(parent);
    }
}
