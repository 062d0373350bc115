//! The event contract: what children report, what the parent observes, and what
//! `--json` prints. One type serves the wire between processes, the fold, the
//! JSON Lines output and recorded replays.

use serde::{Deserialize, Serialize};

/// An operating-system process id, as `getpid()` returns it.
pub type Pid = i32;

/// One thing that happened, stamped with the run's shared clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Nanoseconds since the run started, on `CLOCK_MONOTONIC`, which every
    /// process of the run reads alike.
    pub t_ns: u64,
    /// The process that did it; absent for what the run as a whole did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<Pid>,
    #[serde(flatten)]
    pub body: Body,
}

/// How a buyer's attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Fail,
    /// The file was read while another process had truncated it and not yet
    /// written it back.
    TornRead,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Fail => "fail",
            Outcome::TornRead => "torn_read",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// The run began. Emitted by the parent before anything else.
    Start {
        scenario: String,
        seed: u64,
        /// The mpviz process itself.
        parent_pid: Pid,
        params: serde_json::Value,
    },
    /// The parent started a process (`pid` is the new child).
    Spawn {
        name: String,
        role: String,
        /// The child's index among its scenario's processes.
        slot: u32,
        ppid: Pid,
    },
    /// The process is blocked at the pacer's gate and will do `action` once
    /// it gets a permit.
    Ready {
        action: String,
    },
    LockWait {
        lock: String,
    },
    /// Stamped after the lock is really held.
    LockAcquire {
        lock: String,
    },
    /// Stamped before the lock is really let go.
    LockRelease {
        lock: String,
    },
    /// The process read `file`; `value` is absent when the text did not parse.
    Read {
        file: String,
        value: Option<i64>,
        text: String,
    },
    /// The process opened `file` for writing, emptying it.
    Truncate {
        file: String,
    },
    /// The process wrote to `file`: a number it computed (`value`), or raw
    /// `bytes` (an append).
    Write {
        file: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes: Option<String>,
    },
    /// The process put `item` into `queue`; `depth` is the queue's real depth
    /// just after (the kernel's count of messages).
    Put {
        queue: String,
        item: u64,
        depth: u32,
    },
    /// The process took `item` from `queue`; `depth` just after.
    Get {
        queue: String,
        item: u64,
        depth: u32,
    },
    /// The process found `queue` full (`op` "put") or empty (`op` "get") and
    /// blocks until that changes.
    Blocked {
        queue: String,
        op: String,
    },
    /// A put gave up when its timeout expired: the queue stayed full
    /// (Python's `queue.Full`).
    Full {
        queue: String,
        item: u64,
    },
    /// A get gave up when its timeout expired: the queue stayed empty
    /// (Python's `queue.Empty`).
    Empty {
        queue: String,
    },
    /// The process asked the queue how many items it holds (`qsize()`).
    Qsize {
        queue: String,
        value: u32,
    },
    /// The parent measured the queue's depth.
    QueueDepth {
        queue: String,
        depth: u32,
        maxsize: u32,
    },
    /// The parent submitted `task` to the pool (`apply_async`, or `apply`
    /// with `--sync`).
    TaskSubmit {
        task: u32,
    },
    /// A pool worker took `task` from the task queue and runs it.
    TaskStart {
        task: u32,
    },
    /// A pool worker finished `task`: its result, or the error it raised.
    TaskDone {
        task: u32,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// With `--crawl`: the page the worker fetched (its start, at most 1000 bytes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<String>,
    },
    /// The parent ran the callback (`ok`) or the error callback of `task`,
    /// on its thread `thread`; `parsed` is what the callback found in a
    /// crawled page.
    Callback {
        task: u32,
        thread: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parsed: Option<String>,
    },
    /// The parent waited for `task`'s result for at most `timeout_ms`;
    /// `expired` when it was not ready in time.
    ResultWait {
        task: u32,
        timeout_ms: u64,
        expired: bool,
    },
    /// The parent called the pool's `close` or `join`.
    PoolCall {
        call: String,
    },
    /// The process sleeps (the tutorial's "network delay").
    Sleep {
        ms: u64,
    },
    Outcome {
        result: Outcome,
    },
    /// The parent reaped the process. Python-style: the exit status, or minus
    /// the number of the signal that ended it.
    Exit {
        exitcode: i32,
    },
    /// The process's state letter from `/proc/PID/stat`, sampled by the parent
    /// when it changes (R running, S sleeping, D disk, Z zombie, T stopped).
    State {
        state: char,
    },
    /// The parent read the real content of `file`.
    File {
        file: String,
        content: String,
    },
    /// The pacer's setting changed. `speed` is actions per second, absent for
    /// no pacing.
    Pace {
        paused: bool,
        speed: Option<f64>,
    },
    /// Something went wrong in the run (a fork failed, a limit was hit).
    Error {
        message: String,
    },
    /// Every process of the run has exited and been reaped.
    End,
}

impl Event {
    pub fn new(t_ns: u64, pid: Option<Pid>, body: Body) -> Self {
        Event { t_ns, pid, body }
    }

    /// The event's `kind` as it appears in JSON.
    pub fn kind(&self) -> &'static str {
        match self.body {
            Body::Start { .. } => "start",
            Body::Spawn { .. } => "spawn",
            Body::Ready { .. } => "ready",
            Body::LockWait { .. } => "lock_wait",
            Body::LockAcquire { .. } => "lock_acquire",
            Body::LockRelease { .. } => "lock_release",
            Body::Read { .. } => "read",
            Body::Truncate { .. } => "truncate",
            Body::Write { .. } => "write",
            Body::Sleep { .. } => "sleep",
            Body::Put { .. } => "put",
            Body::Get { .. } => "get",
            Body::Blocked { .. } => "blocked",
            Body::Full { .. } => "full",
            Body::Empty { .. } => "empty",
            Body::Qsize { .. } => "qsize",
            Body::QueueDepth { .. } => "queue_depth",
            Body::TaskSubmit { .. } => "task_submit",
            Body::TaskStart { .. } => "task_start",
            Body::TaskDone { .. } => "task_done",
            Body::Callback { .. } => "callback",
            Body::ResultWait { .. } => "result_wait",
            Body::PoolCall { .. } => "pool_call",
            Body::Outcome { .. } => "outcome",
            Body::Exit { .. } => "exit",
            Body::State { .. } => "state",
            Body::File { .. } => "file",
            Body::Pace { .. } => "pace",
            Body::Error { .. } => "error",
            Body::End => "end",
        }
    }

    /// Whether this event starts one instrumented action: each gate a child
    /// passes is followed by exactly one such event (an acquire completes the
    /// wait it follows; an outcome is reported with the read or write that
    /// decided it).
    pub fn is_action(&self) -> bool {
        self.pid.is_some()
            && matches!(
                self.body,
                Body::LockWait { .. }
                    | Body::LockRelease { .. }
                    | Body::Read { .. }
                    | Body::Truncate { .. }
                    | Body::Write { .. }
                    | Body::Sleep { .. }
                    | Body::Put { .. }
                    | Body::Get { .. }
                    | Body::Full { .. }
                    | Body::Empty { .. }
                    | Body::Qsize { .. }
                    | Body::TaskStart { .. }
                    | Body::TaskDone { .. }
            )
    }

    /// One JSON object, without a newline.
    pub fn to_json(&self) -> String {
        // An Event holds only strings, numbers and JSON values: serializing cannot fail.
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"kind\":\"error\",\"message\":\"{e}\"}}"))
    }

    pub fn from_json(line: &str) -> Result<Event, serde_json::Error> {
        serde_json::from_str(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_json_with_kind_and_pid_at_top_level() {
        let ev = Event::new(
            42,
            Some(7),
            Body::LockAcquire {
                lock: "tickets".into(),
            },
        );
        let line = ev.to_json();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["kind"], "lock_acquire");
        assert_eq!(v["pid"], 7);
        assert_eq!(v["t_ns"], 42);
        assert_eq!(v["lock"], "tickets");
        assert_eq!(Event::from_json(&line).unwrap(), ev);
        assert_eq!(ev.kind(), "lock_acquire");
    }

    #[test]
    fn events_of_the_run_carry_no_pid() {
        let ev = Event::new(0, None, Body::End);
        assert_eq!(ev.to_json(), r#"{"t_ns":0,"kind":"end"}"#);
    }

    #[test]
    fn outcomes_and_states_serialize_as_the_contract_says() {
        let ev = Event::new(
            1,
            Some(3),
            Body::Outcome {
                result: Outcome::TornRead,
            },
        );
        assert!(ev.to_json().contains(r#""result":"torn_read""#));
        let ev = Event::new(1, Some(3), Body::State { state: 'Z' });
        assert!(ev.to_json().contains(r#""state":"Z""#));
        let ev = Event::new(1, Some(3), Body::Exit { exitcode: -9 });
        assert_eq!(Event::from_json(&ev.to_json()).unwrap(), ev);
    }
}
