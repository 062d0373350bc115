//! The event contract: what children report, what the parent observes, and what
//! `--json` prints. One type serves the wire between processes, the fold, the
//! JSON Lines output and recorded replays.

use serde::{Deserialize, Serialize};

/// An operating-system process id, as `getpid()` returns it.
pub type Pid = i32;

/// The name of a lock, a queue or a file, or of what a process did to one
/// (`op`): short, so kept inline in the event rather than allocated, which a
/// busy run does hundreds of thousands of times.
pub type Name = compact_str::CompactString;

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
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Fail => "fail",
        }
    }
}

/// A value a Python call returned, as data: `None`, `True`/`False`, an
/// integer or a string. JSON shows it as `null`, a boolean, a number or a
/// string; the texts phrase it as Python prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyValue {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
}

/// The same enum with a tag, for the event pipe (a binary format cannot
/// guess which kind a bare value is).
#[derive(Serialize, Deserialize)]
enum PyValueTagged {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
}

impl Serialize for PyValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            match self {
                PyValue::None => s.serialize_none(),
                PyValue::Bool(b) => s.serialize_bool(*b),
                PyValue::Int(i) => s.serialize_i64(*i),
                PyValue::Str(v) => s.serialize_str(v),
            }
        } else {
            match self.clone() {
                PyValue::None => PyValueTagged::None,
                PyValue::Bool(b) => PyValueTagged::Bool(b),
                PyValue::Int(i) => PyValueTagged::Int(i),
                PyValue::Str(v) => PyValueTagged::Str(v),
            }
            .serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for PyValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        if d.is_human_readable() {
            match serde_json::Value::deserialize(d)? {
                serde_json::Value::Null => Ok(PyValue::None),
                serde_json::Value::Bool(b) => Ok(PyValue::Bool(b)),
                serde_json::Value::String(v) => Ok(PyValue::Str(v)),
                serde_json::Value::Number(n) => n
                    .as_i64()
                    .map(PyValue::Int)
                    .ok_or_else(|| D::Error::custom("not an integer")),
                other => Err(D::Error::custom(format!("not a Python value: {other}"))),
            }
        } else {
            Ok(match PyValueTagged::deserialize(d)? {
                PyValueTagged::None => PyValue::None,
                PyValueTagged::Bool(b) => PyValue::Bool(b),
                PyValueTagged::Int(i) => PyValue::Int(i),
                PyValueTagged::Str(v) => PyValue::Str(v),
            })
        }
    }
}

impl std::fmt::Display for PyValue {
    /// As Python's `repr` prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PyValue::None => f.write_str("None"),
            PyValue::Bool(true) => f.write_str("True"),
            PyValue::Bool(false) => f.write_str("False"),
            PyValue::Int(i) => write!(f, "{i}"),
            PyValue::Str(v) => write!(f, "'{v}'"),
        }
    }
}

/// A waiter as the reporter saw it in `/proc`: its state letter
/// (`/proc/PID/stat`), its `wchan` (where in the kernel it sleeps) and the
/// system call it is in (`/proc/PID/syscall`: number and first argument,
/// the futex's address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenBlocked {
    pub pid: Pid,
    pub state: char,
    pub wchan: String,
    pub syscall: String,
}

/// What a process waits at its gate to do, as data: the action's key
/// (`take_lock`), which the texts phrase (`act_take_lock`), and the values
/// the phrase names (`{"value": 5}`). In JSON both are fields of the
/// `ready` event: `{"kind":"ready","action":"write","args":{"value":5}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Act {
    pub action: String,
    pub args: std::collections::BTreeMap<String, PyValue>,
}

/// The action in JSON: `args` only where there are some.
#[derive(Serialize, Deserialize)]
struct ActJson {
    action: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    args: std::collections::BTreeMap<String, PyValue>,
}

impl Serialize for Act {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            ActJson {
                action: self.action.clone(),
                args: self.args.clone(),
            }
            .serialize(s)
        } else {
            // A binary format has no optional fields: both, in order.
            (&self.action, &self.args).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Act {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let ActJson { action, args } = ActJson::deserialize(d)?;
            Ok(Act { action, args })
        } else {
            let (action, args) = Deserialize::deserialize(d)?;
            Ok(Act { action, args })
        }
    }
}

impl Act {
    pub fn new(action: &str) -> Act {
        Act {
            action: action.into(),
            args: Default::default(),
        }
    }

    /// The value of the hole `name` in the action's text.
    pub fn with(mut self, name: &str, value: impl Into<PyValue>) -> Act {
        self.args.insert(name.into(), value.into());
        self
    }
}

/// An action without values: `ctx.gate("take_lock")`.
impl From<&str> for Act {
    fn from(action: &str) -> Act {
        Act::new(action)
    }
}

/// An action with values: `ctx.gate(("write", [("value", 5)]))`. A tuple
/// costs nothing until the gate is closed and the action is announced.
impl<V: Into<PyValue>, const N: usize> From<(&str, [(&str, V); N])> for Act {
    fn from((action, args): (&str, [(&str, V); N])) -> Act {
        args.into_iter()
            .fold(Act::new(action), |act, (name, v)| act.with(name, v))
    }
}

/// The action as data, for a log line until the log phrases it from the
/// texts: `write value=5`.
impl std::fmt::Display for Act {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.action)?;
        for (name, value) in &self.args {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}

impl From<i64> for PyValue {
    fn from(v: i64) -> PyValue {
        PyValue::Int(v)
    }
}

impl From<u64> for PyValue {
    fn from(v: u64) -> PyValue {
        PyValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<i32> for PyValue {
    fn from(v: i32) -> PyValue {
        PyValue::Int(v.into())
    }
}

impl From<u32> for PyValue {
    fn from(v: u32) -> PyValue {
        PyValue::Int(v.into())
    }
}

impl From<usize> for PyValue {
    fn from(v: usize) -> PyValue {
        PyValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<&str> for PyValue {
    fn from(v: &str) -> PyValue {
        PyValue::Str(v.into())
    }
}

impl From<String> for PyValue {
    fn from(v: String) -> PyValue {
        PyValue::Str(v)
    }
}

/// Whether an event of a kind, reported by a process, is one instrumented
/// action: what one permit of the pacer lets through (see
/// [`Event::is_action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acts {
    /// Never: a report of the parent, a sample, or the end of an action
    /// already counted (an acquire ends the wait it follows; an outcome is
    /// reported with the read or write that decided it).
    No,
    /// Always.
    Yes,
    /// Unless the process was blocked on a queue when it came: then it ends
    /// the action the block began (a get, a put or a task start that a block
    /// held up), as an acquire ends a wait.
    UnlessBlocked,
}

/// How much an event matters to a person following the run, in the log
/// and the narration line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Salience {
    /// Bookkeeping: spawns, exit 0, the parent's readings, the pacer.
    Routine,
    /// What the scenario's code does, step by step.
    Normal,
    /// Something a person should stop at: a block, a failure, a timeout.
    Notable,
    /// What the scenario exists to show: a moment (`crate::model::Moment`).
    Alarm,
}

/// What the contract says of one kind of event, declared with the kind in
/// one place (the `kinds!` list below).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    /// The `kind` as JSON writes it; also the key of its text in the
    /// scenario's texts, where no case of it has a key of its own.
    pub name: &'static str,
    /// Whether it is an action, reported by a process.
    pub acts: Acts,
    /// How much it matters in the log, before what it says (an exit 0 is
    /// routine, another exit notable: the narration decides those cases);
    /// `None`: a sample the parent takes again and again (a gate's `ready`,
    /// a `/proc` state, a queue's depth), never logged.
    pub log: Option<Salience>,
}

/// The words of the `kinds!` list for [`Acts`].
macro_rules! acts {
    (report) => {
        Acts::No
    };
    (action) => {
        Acts::Yes
    };
    (action_unless_blocked) => {
        Acts::UnlessBlocked
    };
}

/// The words of the `kinds!` list for [`KindInfo::log`].
macro_rules! logged {
    (sample) => {
        None
    };
    (routine) => {
        Some(Salience::Routine)
    };
    (normal) => {
        Some(Salience::Normal)
    };
    (notable) => {
        Some(Salience::Notable)
    };
}

/// Defines [`Body`], the kinds of event as `--json` prints them (a flat
/// object with a `kind`), with what the contract says of each kind
/// ([`Body::info`]: its JSON name, whether it is an action, how it is
/// logged), and its twins for the pipe between processes, which list the
/// same kinds in the same order with the same fields.
///
/// Each kind is declared as `Name["json_name", acts, log] { fields }`:
/// `acts` is `action`, `action_unless_blocked` or `report` ([`Acts`]);
/// `log` is `sample`, `routine`, `normal` or `notable` ([`KindInfo::log`]).
macro_rules! kinds {
    (
        $( $(#[$vm:meta])* $v:ident [ $vn:literal, $va:ident, $vl:ident ]
            { $( $(#[$fm:meta])* $f:ident : $t:ty ),* $(,)? } ),* ;
        $( $(#[$um:meta])* $u:ident [ $un:literal, $ua:ident, $ul:ident ] ),* $(,)?
    ) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum Body {
            $( $(#[$vm])* #[serde(rename = $vn)] $v { $( $(#[$fm])* $f: $t ),* }, )*
            $( $(#[$um])* #[serde(rename = $un)] $u, )*
        }

        impl Body {
            /// Every kind's JSON name, in the order declared.
            pub const KINDS: &'static [&'static str] = &[$( $vn, )* $( $un, )*];

            /// What the contract says of this event's kind.
            pub fn info(&self) -> KindInfo {
                match self {
                    $( Body::$v { .. } => KindInfo {
                        name: $vn,
                        acts: acts!($va),
                        log: logged!($vl),
                    }, )*
                    $( Body::$u => KindInfo {
                        name: $un,
                        acts: acts!($ua),
                        log: logged!($ul),
                    }, )*
                }
            }
        }

        /// The event pipe's encoding: the kind as a number, the fields in
        /// order, no names (serde's default enum form, which a binary format
        /// reads without buffering, unlike the JSON's inner `kind` tag).
        mod wire {
            use super::*;

            #[derive(Serialize)]
            pub enum BodyRef<'a> {
                $( $v { $( $f: &'a $t ),* }, )*
                $( $u, )*
            }

            #[derive(Deserialize)]
            pub enum BodyOwned {
                $( $v { $( $f: $t ),* }, )*
                $( $u, )*
            }

            impl<'a> From<&'a super::Body> for BodyRef<'a> {
                fn from(body: &'a super::Body) -> Self {
                    match body {
                        $( super::Body::$v { $( $f ),* } => BodyRef::$v { $( $f ),* }, )*
                        $( super::Body::$u => BodyRef::$u, )*
                    }
                }
            }

            impl From<BodyOwned> for super::Body {
                fn from(body: BodyOwned) -> Self {
                    match body {
                        $( BodyOwned::$v { $( $f ),* } => super::Body::$v { $( $f ),* }, )*
                        $( BodyOwned::$u => super::Body::$u, )*
                    }
                }
            }
        }
    };
}

kinds! {
    /// The run began. Emitted by the parent before anything else.
    Start["start", report, routine] {
        scenario: String,
        seed: u64,
        /// The mpviz process itself.
        parent_pid: Pid,
        params: serde_json::Value,
    },
    /// The parent started a process (`pid` is the new child).
    Spawn["spawn", report, routine] {
        name: String,
        role: String,
        /// The child's index among its scenario's processes.
        slot: u32,
        ppid: Pid,
    },
    /// The process is blocked at the pacer's gate and will do `action` once
    /// it gets a permit.
    Ready["ready", report, sample] {
        #[serde(flatten)]
        action: Act,
    },
    LockWait["lock_wait", action, normal] {
        lock: Name,
    },
    /// Stamped after the lock is really held.
    LockAcquire["lock_acquire", report, normal] {
        lock: Name,
    },
    /// Stamped before the lock is really let go.
    LockRelease["lock_release", action, normal] {
        lock: Name,
    },
    /// The process read `file`; `value` is absent when the text did not parse.
    Read["read", action, normal] {
        file: Name,
        value: Option<i64>,
        text: String,
        /// A number in memory (the race's counter): how many writes had
        /// landed in it when it was read, read with the value in one load.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        landed: Option<u64>,
        /// The text did not parse and the process took this count instead
        /// (the tutorial's bare `except:` in the ticket grab).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reset: Option<i64>,
    },
    /// The process opened `file` for writing, emptying it.
    Truncate["truncate", action, normal] {
        file: Name,
    },
    /// The process wrote to `file`: a number it computed (`value`), or raw
    /// `bytes` (an append).
    Write["write", action, normal] {
        file: Name,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes: Option<String>,
        /// A number in memory (the race's counter): this write's place among
        /// the writes that landed in it (1 for the first), stored with the
        /// value in one atomic step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        landed: Option<u64>,
    },
    /// The process put `item` into `queue`; `depth` is the queue's real depth
    /// just after (the kernel's count of messages).
    Put["put", action_unless_blocked, normal] {
        queue: Name,
        item: u64,
        depth: u32,
    },
    /// The process took `item` from `queue`; `depth` just after.
    Get["get", action_unless_blocked, normal] {
        queue: Name,
        item: u64,
        depth: u32,
    },
    /// The process found `queue` full (`op` "put") or empty (`op` "get") and
    /// blocks until that changes.
    Blocked["blocked", action, notable] {
        queue: Name,
        op: Name,
    },
    /// A put gave up when its timeout expired: the queue stayed full
    /// (Python's `queue.Full`).
    Full["full", action, notable] {
        queue: Name,
        item: u64,
    },
    /// A get gave up when its timeout expired: the queue stayed empty
    /// (Python's `queue.Empty`).
    Empty["empty", action, notable] {
        queue: Name,
    },
    /// The process asked the queue how many items it holds (`qsize()`).
    Qsize["qsize", action, normal] {
        queue: Name,
        value: u32,
    },
    /// The parent measured the queue's depth.
    QueueDepth["queue_depth", report, sample] {
        queue: Name,
        depth: u32,
        maxsize: u32,
    },
    /// The parent submitted `task` to the pool (`apply_async`, or `apply`
    /// with `--sync`).
    TaskSubmit["task_submit", action, normal] {
        task: u32,
    },
    /// A pool worker took `task` from the task queue and runs it.
    TaskStart["task_start", action_unless_blocked, normal] {
        task: u32,
    },
    /// A pool worker finished `task`: its result, or the error it raised.
    TaskDone["task_done", action, normal] {
        task: u32,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// With `--crawl`: the page the worker fetched (its start, at most 1000 bytes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<String>,
        /// The type of the error the task failed with (`error` is its message).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        /// A result that is not a whole number, as Python's `repr` shows it
        /// (`mpviz run`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shown: Option<String>,
    },
    /// The parent ran the callback (`ok`) or the error callback of `task`,
    /// on its thread `thread`; `parsed` is what the callback found in a
    /// crawled page. The event's PID and `tid` are what the thread's own
    /// `getpid()` and `gettid()` returned as the callback ran; `result`, or
    /// `error_type` and `error`, what it was handed from the result channel.
    Callback["callback", report, normal] {
        task: u32,
        thread: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parsed: Option<String>,
        #[serde(default)]
        tid: Pid,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The parent's `get()` of `task`'s AsyncResult returned (`Pool.apply`
    /// with `--sync`): the value it got (`result`), or the error it raised
    /// (`error_type`, `error`).
    ResultGet["result_get", report, normal] {
        task: u32,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The pool's `join()` returned: the workers whose exits (reported by
    /// their reaper) it waited for.
    PoolJoined["pool_joined", report, normal] {
        workers: Vec<Pid>,
    },
    /// The parent waited for `task`'s result for at most `timeout_ms`;
    /// `expired` when it was not ready in time.
    ResultWait["result_wait", report, normal] {
        task: u32,
        timeout_ms: u64,
        expired: bool,
    },
    /// The parent called the pool's `close` or `join`.
    PoolCall["pool_call", report, normal] {
        call: String,
    },
    /// The process sleeps (the tutorial's "network delay").
    Sleep["sleep", action, normal] {
        ms: u64,
    },
    Outcome["outcome", report, normal] {
        result: Outcome,
    },
    /// The parent reaped the process. Python-style: the exit status, or minus
    /// the number of the signal that ended it.
    Exit["exit", report, notable] {
        exitcode: i32,
    },
    /// The process's state letter from `/proc/PID/stat`, sampled by the parent
    /// when it changes (R running, S sleeping, D disk, Z zombie, T stopped).
    State["state", report, sample] {
        state: char,
    },
    /// The parent read the real content of `file`.
    File["file", report, routine] {
        file: Name,
        content: String,
    },
    /// The pacer let the process at gate `slot` through: its `permit`-th
    /// permit. Slots and permit numbers, not PIDs, say the order a rerun
    /// repeats (its PIDs differ).
    Grant["grant", report, sample] {
        slot: u32,
        permit: u64,
    },
    /// A rerun (`mpviz rerun`) began: its pacer grants `steps` permits in a
    /// recording's order. `inexact` are the ranges of those steps (first and
    /// last, from 1) that a recording made without pacing gave only as the
    /// order its actions were recorded in, not as the order they ran.
    Rerun["rerun", report, normal] {
        steps: u64,
        inexact: Vec<(u64, u64)>,
    },
    /// The rerun left its recording at step `step`: the process at gate
    /// `slot` was not where the recording had it (`why`: `other_action`,
    /// `blocked`, `exited`, `not_at_gate`, or `by_hand` when the teacher
    /// stepped another process). From here it is a run like any other.
    Diverged["diverged", report, notable] {
        step: u64,
        slot: u32,
        why: Name,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected: Option<Act>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        found: Option<Act>,
    },
    /// The pacer's setting changed. `speed` is actions per second, absent for
    /// no pacing.
    Pace["pace", report, normal] {
        paused: bool,
        speed: Option<f64>,
    },
    /// A process asked the manager's server process to do `op` on the
    /// shared objects: `dict_set` (`key`, `value`), `list_append` (`value`),
    /// `read` (everything), `shutdown`. Reported before it is sent.
    Request["request", action, normal] {
        op: Name,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<i64>,
    },
    /// The server did `op` for `client` (the PID the kernel gives for the
    /// connection's peer); its dict and list now hold `dict_len` and
    /// `list_len` items.
    Served["served", action, normal] {
        client: Pid,
        op: Name,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<i64>,
        dict_len: u32,
        list_len: u32,
    },
    /// What a process read back from the server: the dict's items and the list.
    Reply["reply", report, normal] {
        dict: Vec<(i64, i64)>,
        list: Vec<i64>,
    },
    /// A process set `key` in its own plain dict, a private copy that now
    /// holds `len` items.
    PlainSet["plain_set", action, normal] {
        key: i64,
        value: i64,
        len: u32,
    },
    /// The main process's own plain dict, read at the end: `len` items.
    PlainRead["plain_read", report, normal] {
        len: u32,
    },
    /// A process made a lock: `lock_kind` is `flock` (the kernel lets go when
    /// the holder dies) or `semaphore` (a POSIX semaphore, like Python's
    /// `Lock`: nobody lets go for a dead holder).
    LockMade["lock_made", action, routine] {
        lock: Name,
        lock_kind: String,
    },
    /// A call on a Process object, made by the process `pid`: `call` as
    /// Python writes it, `target` the process it is about (none before it
    /// has started), and what it returned or did. A join reports its
    /// timeout and whether the target was still alive after it.
    ProcessCall["process_call", action, normal] {
        call: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Pid>,
        result: PyValue,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alive: Option<bool>,
        /// A join that saw its target end: the exit code from the `waitpid`
        /// that reaped it (Python-style: minus the signal number).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exitcode: Option<i32>,
    },
    /// A lock's holder died holding it and nothing will let it go: the
    /// `waiters` would wait forever. Named only on evidence read from the
    /// system by the process that reports it: the semaphore's `value`
    /// (`sem_getvalue`: 0, taken), its holder reaped, and each waiter `seen`
    /// asleep in the kernel on the semaphore itself (not at mpviz's gate).
    Deadlock["deadlock", action, normal] {
        lock: Name,
        holder: Pid,
        waiters: Vec<Pid>,
        value: i32,
        seen: Vec<SeenBlocked>,
    },
    /// An acquire with a timeout, or without blocking, returned False: the
    /// lock stayed taken (`mpviz run`).
    LockGaveUp["lock_gave_up", report, notable] {
        lock: Name,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// A call through a manager's proxy (`mpviz run`): the shared object's
    /// type (`dict`, `list`, ...), the method, its arguments and what it
    /// returned, as Python's `repr` shows them, or the error it raised.
    ProxyCall["proxy_call", action, normal] {
        typeid: String,
        method: String,
        args: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A line the program printed (`mpviz run`): on `stream` (`stdout` or
    /// `stderr`), by the process that printed it.
    Output["output", report, routine] {
        stream: Name,
        text: String,
    },
    /// Processes that each wait for a lock the next holds, the last's held
    /// by the first: `cycle`, each process with the lock it waits for.
    /// Named by the pacer only on evidence: each `seen` asleep in the
    /// kernel in a futex wait with no timeout (a blocking acquire), which
    /// only another's release could end.
    DeadlockCycle["deadlock_cycle", report, notable] {
        cycle: Vec<(Pid, Name)>,
        seen: Vec<SeenBlocked>,
    },
    /// Something went wrong in the run (a fork failed, a limit was hit).
    Error["error", report, normal] {
        message: String,
    };
    /// Every process of the run has exited and been reaped.
    End["end", report, routine],
    /// The thread `pid` (its kernel thread id) has ended: its process's
    /// `join()` on it returned. A thread has no exit status.
    Joined["joined", report, normal],
}

/// The forms of an event [`Event::keep`] writes.
const KEPT_COMPACT: u8 = 0;
const KEPT_AS_JSON: u8 = 1;

impl Event {
    pub fn new(t_ns: u64, pid: Option<Pid>, body: Body) -> Self {
        Event { t_ns, pid, body }
    }

    /// The event's `kind` as it appears in JSON.
    pub fn kind(&self) -> &'static str {
        self.body.info().name
    }

    /// Whether this event starts one instrumented action: each gate a child
    /// passes is followed by exactly one such event (see [`Acts`]; whether a
    /// get, put or task start ended a block is the model's to tell).
    pub fn is_action(&self) -> bool {
        self.pid.is_some() && self.body.info().acts != Acts::No
    }

    /// Whether the log shows this kind of event: all but the parent's
    /// samples (see [`KindInfo::log`]).
    pub fn is_logged(&self) -> bool {
        self.body.info().log.is_some()
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

    /// Appends the event as one frame of the event pipe: its length (two
    /// bytes, little-endian), then the event in `postcard`'s compact form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0, 0]);
        self.append_compact(out);
        let len = u16::try_from(out.len() - start - 2)
            .unwrap_or(JSON_FRAME_LEN)
            .min(JSON_FRAME_LEN);
        out[start..start + 2].copy_from_slice(&len.to_le_bytes());
    }

    /// Appends the event in a compact form for keeping in memory (a run's
    /// history): its length in four bytes, a byte for its form, then the
    /// event as [`Event::encode`] writes it (of any size), or as JSON for the
    /// run's `start`, whose parameters are any JSON value, which the compact
    /// form cannot read back.
    pub fn keep(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        if matches!(self.body, Body::Start { .. }) {
            out.push(KEPT_AS_JSON);
            out.extend_from_slice(self.to_json().as_bytes());
        } else {
            out.push(KEPT_COMPACT);
            self.append_compact(out);
        }
        let len = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// Appends the event in `postcard`'s compact form, straight into the
    /// end of `out`. Every field serializes; were one not to, nothing is
    /// appended, and the frame reads as an unreadable event, not lost
    /// silently.
    fn append_compact(&self, out: &mut Vec<u8>) {
        struct Append<'a>(&'a mut Vec<u8>);
        impl Extend<u8> for Append<'_> {
            fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
                self.0.extend(bytes);
            }
        }
        let start = out.len();
        let wire = (self.t_ns, self.pid, wire::BodyRef::from(&self.body));
        if postcard::to_extend(&wire, Append(out)).is_err() {
            out.truncate(start);
        }
    }

    /// The first event [`Event::keep`] wrote at the start of `bytes`, and
    /// the bytes it took.
    pub fn kept(bytes: &[u8]) -> Option<(Event, usize)> {
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let (form, frame) = bytes.get(4..4 + len)?.split_first()?;
        let event = if *form == KEPT_AS_JSON {
            serde_json::from_slice(frame).ok()?
        } else {
            let (t_ns, pid, body) =
                postcard::from_bytes::<(u64, Option<Pid>, wire::BodyOwned)>(frame).ok()?;
            Event::new(t_ns, pid, body.into())
        };
        Some((event, 4 + len))
    }

    /// Reads the first frame of `bytes`: the event (or why it could not be
    /// read) and the length of the frame, or `None` if the frame is not all
    /// there yet. A frame's length has its top bit set when the event is
    /// JSON, as `--json` prints it: how a Python process of `mpviz run`
    /// reports (its agent writes JSON, not postcard).
    pub fn decode(bytes: &[u8]) -> Option<(Result<Event, String>, usize)> {
        let head = u16::from_le_bytes([*bytes.first()?, *bytes.get(1)?]);
        let len = usize::from(head & JSON_FRAME_LEN);
        let frame = bytes.get(2..2 + len)?;
        let event = if head & JSON_FRAME != 0 {
            serde_json::from_slice::<Event>(frame).map_err(|e| e.to_string())
        } else {
            postcard::from_bytes::<(u64, Option<Pid>, wire::BodyOwned)>(frame)
                .map(|(t_ns, pid, body)| Event::new(t_ns, pid, body.into()))
                .map_err(|e| e.to_string())
        };
        Some((event, 2 + len))
    }
}

/// The bit of a frame's length that says its event is JSON.
pub const JSON_FRAME: u16 = 0x8000;
const JSON_FRAME_LEN: u16 = !JSON_FRAME;

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

    /// One event of every kind a process can send through the pipe (all but
    /// `start`, which the parent makes itself, its params being free JSON).
    fn one_of_each_kind() -> Vec<Event> {
        let q = || Name::from("q");
        let bodies = vec![
            Body::Spawn {
                name: "buyer-1".into(),
                role: "buyer".into(),
                slot: 1,
                ppid: 9,
            },
            Body::Ready {
                action: "take_lock".into(),
            },
            Body::Ready {
                action: ("append_part", [("part", 2), ("of", 3)]).into(),
            },
            Body::Ready {
                action: Act::new("fetch").with("path", "/a b"),
            },
            Body::LockWait {
                lock: "tickets".into(),
            },
            Body::LockAcquire {
                lock: "tickets".into(),
            },
            Body::LockRelease {
                lock: "tickets".into(),
            },
            Body::Read {
                file: "t.json".into(),
                value: None,
                text: "{\"count\":".into(),
                landed: None,
                reset: Some(100),
            },
            Body::Read {
                file: "counter".into(),
                value: Some(7),
                text: "7".into(),
                landed: Some(9),
                reset: None,
            },
            Body::Truncate {
                file: "t.json".into(),
            },
            Body::Write {
                file: "t.json".into(),
                value: Some(-3),
                bytes: None,
                landed: Some(u64::MAX),
            },
            Body::Write {
                file: "out.txt".into(),
                value: None,
                bytes: Some("writer 7 — ✓\n".into()),
                landed: None,
            },
            Body::Put {
                queue: q(),
                item: u64::MAX,
                depth: 10,
            },
            Body::Get {
                queue: q(),
                item: 0,
                depth: 0,
            },
            Body::Blocked {
                queue: q(),
                op: "put".into(),
            },
            Body::Full {
                queue: q(),
                item: 4,
            },
            Body::Empty { queue: q() },
            Body::Qsize {
                queue: q(),
                value: 2,
            },
            Body::QueueDepth {
                queue: q(),
                depth: 1,
                maxsize: 3,
            },
            Body::TaskSubmit { task: 5 },
            Body::TaskStart { task: 5 },
            Body::TaskDone {
                shown: None,
                task: 5,
                ok: false,
                result: None,
                error: Some("division by zero".into()),
                page: None,
                error_type: Some("ZeroDivisionError".into()),
            },
            Body::TaskDone {
                shown: None,
                task: 6,
                ok: true,
                result: Some(36),
                error: None,
                page: Some("<h1>6</h1>".into()),
                error_type: None,
            },
            Body::Callback {
                task: 6,
                thread: "mpviz-result-handler".into(),
                ok: true,
                parsed: Some("6".into()),
                tid: 12,
                result: Some(36),
                error_type: None,
                error: None,
            },
            Body::ResultGet {
                task: 5,
                ok: false,
                result: None,
                error_type: Some("ZeroDivisionError".into()),
                error: Some("division by zero".into()),
            },
            Body::PoolJoined {
                workers: vec![10, 11],
            },
            Body::ResultWait {
                task: 6,
                timeout_ms: 50,
                expired: true,
            },
            Body::PoolCall {
                call: "join".into(),
            },
            Body::Sleep { ms: 1000 },
            Body::Outcome {
                result: Outcome::Fail,
            },
            Body::Exit { exitcode: -9 },
            Body::State { state: 'Z' },
            Body::File {
                file: "t.json".into(),
                content: "{\"count\": 7}".into(),
            },
            Body::Pace {
                paused: true,
                speed: Some(0.5),
            },
            Body::LockMade {
                lock: "lock".into(),
                lock_kind: "semaphore".into(),
            },
            Body::ProcessCall {
                call: "p.join(timeout=0.2)".into(),
                target: Some(8),
                result: PyValue::None,
                timeout_ms: Some(200),
                alive: Some(true),
                exitcode: None,
            },
            Body::ProcessCall {
                call: "p.join()".into(),
                target: Some(8),
                result: PyValue::None,
                timeout_ms: None,
                alive: Some(false),
                exitcode: Some(-15),
            },
            Body::ProcessCall {
                call: "p.is_alive()".into(),
                target: Some(8),
                result: PyValue::Bool(false),
                timeout_ms: None,
                alive: None,
                exitcode: None,
            },
            Body::ProcessCall {
                call: "os.getpid()".into(),
                target: None,
                result: PyValue::Int(-8),
                timeout_ms: None,
                alive: None,
                exitcode: None,
            },
            Body::ProcessCall {
                call: "p.name".into(),
                target: Some(8),
                result: PyValue::Str("hello".into()),
                timeout_ms: None,
                alive: None,
                exitcode: None,
            },
            Body::Deadlock {
                lock: "lock".into(),
                holder: 8,
                waiters: vec![9, 10],
                value: 0,
                seen: vec![SeenBlocked {
                    pid: 9,
                    state: 'S',
                    wchan: "futex_do_wait".into(),
                    syscall: "202 0x7f2ce881b000".into(),
                }],
            },
            Body::Error {
                message: "fork failed".into(),
            },
            Body::LockGaveUp {
                lock: "lock".into(),
                timeout_ms: Some(100),
            },
            Body::DeadlockCycle {
                cycle: vec![(8, "a".into()), (9, "b".into())],
                seen: Vec::new(),
            },
            Body::ProxyCall {
                typeid: "dict".into(),
                method: "__setitem__".into(),
                args: "1, 2".into(),
                result: Some("None".into()),
                error: None,
            },
            Body::Output {
                stream: "stdout".into(),
                text: "buyer 3 got a ticket".into(),
            },
            Body::End,
            Body::Joined,
        ];
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Event::new(i as u64 * 1_000_003, (i % 3 != 0).then_some(4242), body))
            .collect()
    }

    #[test]
    fn a_python_value_is_plain_json_and_the_same_value_again() {
        for (value, json) in [
            (PyValue::None, "null"),
            (PyValue::Bool(true), "true"),
            (PyValue::Int(-15), "-15"),
            (PyValue::Str("hello".into()), "\"hello\""),
        ] {
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
            assert_eq!(serde_json::from_str::<PyValue>(json).unwrap(), value);
        }
        assert_eq!(PyValue::Str("hello".into()).to_string(), "'hello'");
        assert_eq!(PyValue::Bool(false).to_string(), "False");
    }

    #[test]
    fn a_ready_names_its_action_by_key_with_its_values_only_where_it_has_some() {
        let ready = |action: Act| Event::new(5, Some(7), Body::Ready { action }).to_json();
        assert_eq!(
            ready("take_lock".into()),
            r#"{"t_ns":5,"pid":7,"kind":"ready","action":"take_lock"}"#
        );
        let write = ready(("write", [("value", 5)]).into());
        assert_eq!(
            write,
            r#"{"t_ns":5,"pid":7,"kind":"ready","action":"write","args":{"value":5}}"#
        );
        let back = Event::from_json(&write).unwrap();
        assert!(
            matches!(back.body, Body::Ready { action } if action == Act::new("write").with("value", 5))
        );
    }

    #[test]
    fn events_cross_the_pipe_unchanged_frame_after_frame() {
        let events = one_of_each_kind();
        let mut bytes = Vec::new();
        for event in &events {
            event.encode(&mut bytes);
        }
        let mut decoded = Vec::new();
        let mut at = 0;
        while let Some((event, len)) = Event::decode(&bytes[at..]) {
            decoded.push(event.unwrap());
            at += len;
        }
        assert_eq!(at, bytes.len());
        assert_eq!(decoded, events);
        // A frame cut short is not read until the rest arrives.
        let mut one = Vec::new();
        events[1].encode(&mut one);
        for cut in 0..one.len() {
            assert!(
                Event::decode(&one[..cut]).is_none(),
                "read a frame of {cut} bytes"
            );
        }
    }

    /// How a Python process of `mpviz run` reports: each event as `--json`
    /// prints it, its frame's length with the JSON bit set, among the
    /// compact frames of mpviz's own processes.
    #[test]
    fn json_frames_cross_the_pipe_beside_compact_ones() {
        let events = one_of_each_kind();
        let mut bytes = Vec::new();
        for (i, event) in events.iter().enumerate() {
            if i % 2 == 0 {
                let json = event.to_json();
                let head = JSON_FRAME | u16::try_from(json.len()).unwrap();
                bytes.extend_from_slice(&head.to_le_bytes());
                bytes.extend_from_slice(json.as_bytes());
            } else {
                event.encode(&mut bytes);
            }
        }
        let mut decoded = Vec::new();
        let mut at = 0;
        while let Some((event, len)) = Event::decode(&bytes[at..]) {
            decoded.push(event.unwrap());
            at += len;
        }
        assert_eq!(decoded, events);
        // A frame that is not an event says why, and the next is read.
        let mut bad = Vec::new();
        bad.extend_from_slice(&(JSON_FRAME | 14).to_le_bytes());
        bad.extend_from_slice(br#"{"kind":"no"}x"#);
        events[0].encode(&mut bad);
        let (first, len) = Event::decode(&bad).unwrap();
        assert!(first.is_err());
        assert_eq!(Event::decode(&bad[len..]).unwrap().0.unwrap(), events[0]);
    }

    #[test]
    fn a_frame_is_smaller_than_its_json_line() {
        for event in one_of_each_kind() {
            let mut frame = Vec::new();
            event.encode(&mut frame);
            assert!(frame.len() < event.to_json().len(), "{event:?}");
        }
    }

    #[test]
    fn each_kind_is_named_in_json_as_its_declaration_says() {
        for event in one_of_each_kind() {
            let json: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
            assert_eq!(json["kind"], event.kind(), "{event:?}");
        }
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
                result: Outcome::Fail,
            },
        );
        assert!(ev.to_json().contains(r#""result":"fail""#));
        let ev = Event::new(1, Some(3), Body::State { state: 'Z' });
        assert!(ev.to_json().contains(r#""state":"Z""#));
        let ev = Event::new(1, Some(3), Body::Exit { exitcode: -9 });
        assert_eq!(Event::from_json(&ev.to_json()).unwrap(), ev);
    }
}
