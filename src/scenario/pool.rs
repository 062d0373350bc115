//! A process pool (tutorial section 2.5).
//!
//! `W` worker processes are started once and take tasks from one task queue
//! (a POSIX message queue) until they get a stop signal. The main process
//! (mpviz itself, as the scenario's parent side) submits the tasks with
//! `apply_async` from a feeder thread, or with blocking `apply` (`--sync`),
//! and runs each task's callback, or its error callback, when the result
//! comes back. `--fail K` makes K tasks raise an error; the worker survives.

use std::collections::{BTreeSet, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Parent, ParentSide, Scenario, Spec};
use crate::ipc::mqueue::{self, Queue, Timed};
use crate::model::{Model, TaskState};
use crate::protocol::{Body, Event, Pid};
use crate::worker::Ctx;

pub const ROLE: &str = "worker";
pub const TASK_QUEUE: &str = "tasks";
/// How long the main process waits for the last task's result before it
/// gives up once (`AsyncResult.wait(timeout)`).
pub const WAIT_MS: u64 = 50;
/// The work of one task: the tutorial's `calc`, a count to this number.
const WORK: u64 = 1_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PoolParams {
    pub workers: u32,
    pub tasks: u32,
    pub fail: u32,
    pub sync: bool,
    /// How many tasks the task queue holds (the system's limit for a
    /// message queue, at most ten here).
    pub queue_size: u32,
}

impl PoolParams {
    /// Whether `task` is one of the `fail` tasks that raise: spread evenly.
    pub fn fails(&self, task: u32) -> bool {
        self.fail > 0
            && (0..self.fail).any(|i| {
                (u64::from(i) * u64::from(self.tasks) / u64::from(self.fail)) as u32 == task
            })
    }
}

pub struct Pool {
    params: PoolParams,
    spec: Spec,
}

impl Pool {
    pub fn new(params: PoolParams) -> anyhow::Result<Pool> {
        Ok(Pool {
            params,
            spec: super::spec("pool")?,
        })
    }
}

impl Scenario for Pool {
    fn name(&self) -> &'static str {
        "pool"
    }

    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn params(&self) -> Value {
        serde_json::to_value(&self.params).unwrap_or(Value::Null)
    }

    fn processes(&self) -> u32 {
        self.params.workers
    }

    fn process_name(&self, slot: u32) -> (String, &'static str) {
        (format!("worker-{slot}"), ROLE)
    }

    fn prepare(&self, _dir: &Path) -> anyhow::Result<()> {
        Ok(())
    }

    fn watched_files(&self) -> Vec<String> {
        Vec::new()
    }

    fn open_ipc(&self) -> anyhow::Result<Vec<OwnedFd>> {
        Ok(vec![mqueue::create(self.params.queue_size)?])
    }

    fn parent_side(&self, ipc: &[OwnedFd]) -> anyhow::Result<Option<Box<dyn ParentSide>>> {
        let queue = ipc
            .first()
            .ok_or_else(|| anyhow::anyhow!("the task queue was not opened"))?
            .as_fd()
            .try_clone_to_owned()?;
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Ok(Some(Box::new(MainProcess {
            params: self.params.clone(),
            queue: Arc::new(queue),
            done_tx,
            done_rx: Some(done_rx),
            results: 0,
            last_depth: None,
        })))
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        let Some(&fd) = ctx.ipc.first() else {
            return 2;
        };
        match work(ctx, &Queue::new(fd), &self.params) {
            Ok(()) => 0,
            Err(e) => {
                ctx.emit(Body::Error {
                    message: format!("worker-{}: {}", ctx.slot, e.desc()),
                });
                1
            }
        }
    }

    fn summary(&self, model: &Model) -> Map<String, Value> {
        // The pool's processes, started once, whether or not a task reached them.
        let workers: BTreeSet<Pid> = model.role(ROLE).map(|p| p.pid).collect();
        let callbacks: BTreeSet<Pid> = model
            .tasks
            .values()
            .filter_map(|t| t.callback.as_ref().map(|c| c.0))
            .collect();
        let ready = |ok: bool| {
            model
                .tasks
                .values()
                .filter(|t| matches!(t.state, TaskState::Ready { ok: o, .. } if o == ok))
                .count()
        };
        let p = &self.params;
        let mut s = Map::new();
        s.insert("scenario".into(), json!("pool"));
        s.insert("workers".into(), json!(p.workers));
        s.insert("worker_pids".into(), json!(workers));
        s.insert("tasks".into(), json!(p.tasks));
        s.insert("sync".into(), json!(p.sync));
        s.insert("seed".into(), json!(model.seed));
        s.insert("ok".into(), json!(ready(true)));
        s.insert("errors".into(), json!(ready(false)));
        s.insert("callback_pids".into(), json!(callbacks));
        s.insert("exit_codes".into(), super::exit_codes_json(model, &[ROLE]));
        s
    }

    fn report(&self, model: &Model) -> String {
        let s = self.summary(model);
        let get = |k: &str| s.get(k).map_or_else(String::new, |v| v.to_string());
        format!(
            "pool: {} workers, {} tasks{}: ok {}, errors {}; worker PIDs {}, callback PIDs {}; exit codes {}",
            get("workers"),
            get("tasks"),
            if self.params.sync { " (apply, one at a time)" } else { "" },
            get("ok"),
            get("errors"),
            get("worker_pids"),
            get("callback_pids"),
            get("exit_codes"),
        )
    }

    fn variant(&self) -> String {
        let p = &self.params;
        let call = if p.sync { "apply" } else { "apply_async" };
        let fail = if p.fail > 0 {
            format!(", {} fail", p.fail)
        } else {
            String::new()
        };
        format!("{} workers, {} tasks, {call}{fail}", p.workers, p.tasks)
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        let count =
            |f: &dyn Fn(&TaskState) -> bool| model.tasks.values().filter(|t| f(&t.state)).count();
        vec![
            (
                "running",
                count(&|s| matches!(s, TaskState::Running(_))).to_string(),
            ),
            (
                "ready",
                format!(
                    "{}/{}",
                    count(&|s| matches!(s, TaskState::Ready { .. })),
                    self.params.tasks
                ),
            ),
            (
                "callbacks",
                model
                    .tasks
                    .values()
                    .filter(|t| t.callback.is_some())
                    .count()
                    .to_string(),
            ),
        ]
    }

    fn intro(&self) -> String {
        let key = if self.params.sync {
            "intro_sync"
        } else {
            "intro"
        };
        self.spec.texts.get(key).unwrap_or_default().to_string()
    }
}

/// The tutorial's `calc`: count to `n`, one by one.
fn calc(n: u64) -> i64 {
    let mut sum = 0i64;
    for _ in 0..std::hint::black_box(n) {
        sum = std::hint::black_box(sum + 1);
    }
    sum
}

/// A worker's life: take tasks until the stop signal.
fn work(ctx: &mut Ctx, queue: &Queue, p: &PoolParams) -> nix::Result<()> {
    loop {
        ctx.gate("take a task");
        let task = match queue.get_within(None)? {
            Timed::Done(task) => task,
            Timed::TimedOut => {
                ctx.emit(Body::Blocked {
                    queue: TASK_QUEUE.into(),
                    op: "get".into(),
                });
                queue.get()?
            }
        };
        if task >= u64::from(p.tasks) {
            return Ok(());
        }
        let task = task as u32;
        ctx.emit(Body::TaskStart { task });
        ctx.gate(&format!("run task {task}"));
        let result = calc(WORK);
        let done = if p.fails(task) {
            Body::TaskDone {
                task,
                ok: false,
                result: None,
                error: Some(format!("ValueError: task {task} fails on purpose (--fail)")),
            }
        } else {
            Body::TaskDone {
                task,
                ok: true,
                result: Some(result),
                error: None,
            }
        };
        ctx.emit(done);
    }
}

/// The main process's part: a feeder thread submits the tasks (Python's task
/// handler); this side, fed the stream, runs the callbacks when results come
/// back (Python's result handler), then closes and joins the pool.
struct MainProcess {
    params: PoolParams,
    queue: Arc<OwnedFd>,
    done_tx: Sender<u32>,
    done_rx: Option<Receiver<u32>>,
    results: u32,
    last_depth: Option<u32>,
}

impl MainProcess {
    fn measure(&mut self, parent: &Parent) {
        let depth = Queue::borrowed(self.queue.as_fd()).depth();
        if self.last_depth != Some(depth) {
            self.last_depth = Some(depth);
            parent.emit(Body::QueueDepth {
                queue: TASK_QUEUE.into(),
                depth,
                maxsize: self.params.queue_size,
            });
        }
    }

    fn start_feeder(&mut self, parent: &Parent) {
        let Some(done) = self.done_rx.take() else {
            return;
        };
        let (params, queue, parent) = (self.params.clone(), self.queue.clone(), parent.clone());
        let _ = std::thread::Builder::new()
            .name("mpviz-task-handler".into())
            .spawn(move || feed(&params, &queue, &parent, &done));
    }

    fn close_and_join(&self, parent: &Parent) {
        parent.emit(Body::PoolCall {
            call: "join".into(),
        });
        let queue = Queue::borrowed(self.queue.as_fd());
        for w in 0..self.params.workers {
            if !put_patiently(&queue, u64::from(self.params.tasks) + u64::from(w), parent) {
                return;
            }
        }
    }
}

/// Puts `item`, waiting in short steps so that stopping the run is never held up.
fn put_patiently(queue: &Queue, item: u64, parent: &Parent) -> bool {
    loop {
        match queue.put_within(item, Some(Duration::from_millis(100))) {
            Ok(Timed::Done(())) => return true,
            Ok(Timed::TimedOut) if !parent.stopping() => continue,
            _ => return false,
        }
    }
}

fn feed(p: &PoolParams, queue: &OwnedFd, parent: &Parent, done: &Receiver<u32>) {
    let queue = Queue::borrowed(queue.as_fd());
    let mut finished = HashSet::new();
    // Waits until `task` is done, or until `until`; false if the run stops.
    let mut wait_for = |task: u32, until: Option<Instant>| -> Option<bool> {
        while !finished.contains(&task) {
            let step = Duration::from_millis(100);
            let step = until.map_or(step, |u| {
                u.saturating_duration_since(Instant::now()).min(step)
            });
            match done.recv_timeout(step) {
                Ok(t) => {
                    finished.insert(t);
                }
                Err(_) if parent.stopping() => return None,
                Err(_) if until.is_some_and(|u| Instant::now() >= u) => return Some(false),
                Err(_) => {}
            }
        }
        Some(true)
    };
    for task in 0..p.tasks {
        // Reported before the put, like every write: the worker's start follows.
        parent.emit(Body::TaskSubmit { task });
        if !put_patiently(&queue, u64::from(task), parent) {
            return;
        }
        if p.sync && wait_for(task, None).is_none() {
            return;
        }
    }
    parent.emit(Body::PoolCall {
        call: "close".into(),
    });
    if !p.sync {
        let last = p.tasks - 1;
        let until = Instant::now() + Duration::from_millis(WAIT_MS);
        if let Some(ready) = wait_for(last, Some(until)) {
            parent.emit(Body::ResultWait {
                task: last,
                timeout_ms: WAIT_MS,
                expired: !ready,
            });
        }
    }
}

impl ParentSide for MainProcess {
    fn on_event(&mut self, event: &Event, parent: &Parent) {
        if self.last_depth.is_none() {
            self.measure(parent);
            self.start_feeder(parent);
        }
        if let Body::TaskDone {
            task, ok, result, ..
        } = &event.body
        {
            // The callback really runs here, in the main process: it "parses"
            // the result (its length as text), as the tutorial's urlparser does.
            let _parsed = result.map(|r| r.to_string().len());
            parent.emit(Body::Callback {
                task: *task,
                thread: parent.thread.clone(),
                ok: *ok,
            });
            let _ = self.done_tx.send(*task);
            self.results += 1;
            if self.results == self.params.tasks {
                self.close_and_join(parent);
            }
        }
    }

    fn tick(&mut self, parent: &Parent) {
        self.measure(parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_tasks_are_spread_and_exactly_as_many_as_asked() {
        let p = PoolParams {
            workers: 2,
            tasks: 10,
            fail: 3,
            sync: false,
            queue_size: 4,
        };
        let failing: Vec<u32> = (0..10).filter(|&t| p.fails(t)).collect();
        assert_eq!(failing, vec![0, 3, 6]);
        let none = PoolParams { fail: 0, ..p };
        assert!((0..10).all(|t| !none.fails(t)));
    }
}
