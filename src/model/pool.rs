//! A pool: each task's AsyncResult, where its callback ran, the pool's
//! calls, and with `--crawl` the pages fetched and what was parsed.

use std::collections::BTreeMap;

use crate::protocol::{Body, Event, Pid};

/// Where a pool task's AsyncResult stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskState {
    Pending,
    Running(Pid),
    Ready { ok: bool, worker: Pid },
}

/// Where a task's callback (or error callback) ran: the process and the
/// thread, and which of the two it was.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackRun {
    pub pid: Pid,
    pub thread: String,
    /// The callback (`true`) or the error callback.
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub state: TaskState,
    /// Where its callback ran.
    pub callback: Option<CallbackRun>,
    pub result: Option<i64>,
    pub error: Option<String>,
    /// What the callback found in a crawled page.
    pub parsed: Option<String>,
    /// What the main process's `get()` returned (`--sync`): the value, or
    /// the error it raised as "Type: message".
    pub got: Option<Result<Option<i64>, String>>,
}

/// The newest page a pool worker fetched (`--crawl`).
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedPage {
    pub task: u32,
    pub worker: Pid,
    pub page: String,
}

/// What a callback parsed from a crawled page, and for which task.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub task: u32,
    pub what: String,
}

/// A timed wait for a task's result, and whether it expired.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedWait {
    pub task: u32,
    pub timeout_ms: u64,
    pub expired: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pool {
    /// The tasks, by number.
    pub tasks: BTreeMap<u32, TaskView>,
    /// The pool's `close`/`join` calls, in order.
    pub calls: Vec<String>,
    /// The last timed wait for a result.
    pub last_wait: Option<TimedWait>,
    /// The workers whose exits the pool's `join()` waited for, once it returned.
    pub joined: Option<Vec<Pid>>,
    /// The newest page fetched by a worker (`--crawl`).
    pub last_page: Option<FetchedPage>,
    /// The newest thing a callback parsed from a page.
    pub last_parsed: Option<Parsed>,
}

impl Pool {
    /// Folds in a pool's events: tasks submitted, run and done, callbacks,
    /// waits and gets of results, `close`, `join`.
    pub(super) fn apply(&mut self, ev: &Event) {
        let pid = ev.pid;
        match &ev.body {
            Body::TaskSubmit { task } => {
                self.tasks.insert(
                    *task,
                    TaskView {
                        state: TaskState::Pending,
                        callback: None,
                        result: None,
                        error: None,
                        parsed: None,
                        got: None,
                    },
                );
            }
            Body::TaskStart { task } => {
                if let (Some(t), Some(p)) = (self.tasks.get_mut(task), pid) {
                    t.state = TaskState::Running(p);
                }
            }
            Body::TaskDone {
                task,
                ok,
                result,
                error,
                page,
                ..
            } => {
                if let (Some(t), Some(p)) = (self.tasks.get_mut(task), pid) {
                    t.state = TaskState::Ready { ok: *ok, worker: p };
                    t.result = *result;
                    t.error = error.clone();
                }
                if let (Some(page), Some(worker)) = (page, pid) {
                    self.last_page = Some(FetchedPage {
                        task: *task,
                        worker,
                        page: page.clone(),
                    });
                }
            }
            Body::Callback {
                task,
                thread,
                ok,
                parsed,
                ..
            } => {
                if let (Some(t), Some(pid)) = (self.tasks.get_mut(task), pid) {
                    t.callback = Some(CallbackRun {
                        pid,
                        thread: thread.clone(),
                        ok: *ok,
                    });
                    t.parsed = parsed.clone();
                }
                if let Some(parsed) = parsed {
                    self.last_parsed = Some(Parsed {
                        task: *task,
                        what: parsed.clone(),
                    });
                }
            }
            Body::ResultWait {
                task,
                timeout_ms,
                expired,
            } => {
                self.last_wait = Some(TimedWait {
                    task: *task,
                    timeout_ms: *timeout_ms,
                    expired: *expired,
                });
            }
            Body::PoolCall { call } => self.calls.push(call.clone()),
            Body::ResultGet {
                task,
                ok,
                result,
                error_type,
                error,
            } => {
                if let Some(t) = self.tasks.get_mut(task) {
                    t.got = Some(if *ok {
                        Ok(*result)
                    } else {
                        Err(format!(
                            "{}: {}",
                            error_type.as_deref().unwrap_or_default(),
                            error.as_deref().unwrap_or_default()
                        ))
                    });
                }
            }
            Body::PoolJoined { workers } => self.joined = Some(workers.clone()),
            _ => {}
        }
    }
}
