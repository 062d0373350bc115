//! `mpviz export FILE -o trace.json`: a recording in the Chrome Trace Event
//! Format, which Perfetto (ui.perfetto.dev) and chrome://tracing open.
//!
//! A process is a track group named `name (PID)`; in it each kind of span
//! has a track of its own (so that slices on one track never overlap
//! without nesting): sleeps, blocked queue operations, pool tasks,
//! callbacks, and one track per lock with its waits and holds. Reads,
//! writes, outcomes and exits are instants; a file's or counter's written
//! value and a queue's depth are counter tracks; an arrow goes from each
//! release of a lock to the hold it allowed. Times are microseconds on the
//! run's shared clock.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use serde_json::{json, Value};

use crate::protocol::{Body, Event, Pid};

/// Tracks within a process.
const SLEEP: u32 = 1;
const QUEUE: u32 = 2;
const TASKS: u32 = 3;
const CALLBACKS: u32 = 4;
const EVENTS: u32 = 5;
/// A lock's track is this plus its number.
const LOCKS: u32 = 10;

fn us(t_ns: u64) -> f64 {
    t_ns as f64 / 1000.0
}

/// A span being built: its track, name, start, end.
struct Slice {
    pid: Pid,
    tid: u32,
    name: String,
    start: u64,
    end: u64,
    args: Value,
}

/// The trace's items, written as they come: nothing of them is kept but
/// the processes they name.
struct Items<'w, W: Write> {
    w: &'w mut W,
    written: bool,
    pids: std::collections::BTreeSet<Pid>,
    error: Option<std::io::Error>,
}

impl<W: Write> Items<'_, W> {
    fn push(&mut self, item: Value) {
        if self.error.is_some() {
            return;
        }
        if let Some(pid) = item["pid"].as_i64() {
            self.pids.insert(pid as Pid);
        }
        let sep: &[u8] = if self.written { b",\n" } else { b"" };
        self.written = true;
        if let Err(e) = self
            .w
            .write_all(sep)
            .and_then(|()| serde_json::to_writer(&mut *self.w, &item).map_err(Into::into))
        {
            self.error = Some(e);
        }
    }
}

/// The trace of `events` (a recording's, in order), as one JSON value.
pub fn trace(events: &[Event]) -> Value {
    let mut bytes = Vec::new();
    write_trace(events.iter().cloned(), &mut bytes).expect("writing to memory");
    serde_json::from_slice(&bytes).expect("the trace is JSON")
}

/// Writes the trace of `events` (a recording's, in order) to `w`: instants
/// and counters as they come, then the spans (each track's sorted) and the
/// names. Only the spans are kept until the end: a recording of millions of
/// events exports in little memory.
pub fn write_trace(
    events: impl IntoIterator<Item = Event>,
    w: &mut impl Write,
) -> std::io::Result<()> {
    w.write_all(b"{\"traceEvents\":[")?;
    let mut names: BTreeMap<Pid, String> = BTreeMap::new();
    let mut lock_numbers: HashMap<String, u32> = HashMap::new();
    let mut slices: Vec<Slice> = Vec::new();
    let mut out = Items {
        w,
        written: false,
        pids: Default::default(),
        error: None,
    };
    // Open spans: by (pid, track), the start and its name.
    let mut open: HashMap<(Pid, u32), (u64, String)> = HashMap::new();
    let mut last = 0;
    let close = |slices: &mut Vec<Slice>,
                 open: &mut HashMap<(Pid, u32), (u64, String)>,
                 pid: Pid,
                 tid: u32,
                 end: u64,
                 args: Value| {
        if let Some((start, name)) = open.remove(&(pid, tid)) {
            slices.push(Slice {
                pid,
                tid,
                name,
                start,
                end: end.max(start),
                args,
            });
        }
    };
    for ev in events {
        let ev = &ev;
        last = last.max(ev.t_ns);
        let Some(pid) = ev.pid else { continue };
        let t = ev.t_ns;
        let instant = |name: String, args: Value| json!({"ph": "i", "s": "t", "name": name, "pid": pid, "tid": EVENTS, "ts": us(t), "args": args});
        match &ev.body {
            Body::Spawn { name, .. } => {
                names.insert(pid, format!("{name} ({pid})"));
            }
            Body::Sleep { ms } => slices.push(Slice {
                pid,
                tid: SLEEP,
                name: format!("sleep {ms} ms"),
                start: t,
                end: t + ms * 1_000_000,
                args: json!({}),
            }),
            Body::LockWait { lock } => {
                let n = lock_number(&mut lock_numbers, lock);
                open.insert((pid, LOCKS + n), (t, format!("wait for {lock}")));
            }
            Body::LockAcquire { lock } => {
                let n = lock_number(&mut lock_numbers, lock);
                close(&mut slices, &mut open, pid, LOCKS + n, t, json!({}));
                open.insert((pid, LOCKS + n), (t, format!("hold {lock}")));
            }
            Body::LockRelease { lock } => {
                let n = lock_number(&mut lock_numbers, lock);
                close(&mut slices, &mut open, pid, LOCKS + n, t, json!({}));
            }
            Body::Blocked { queue, op } => {
                open.insert((pid, QUEUE), (t, format!("blocked: {op} on {queue}")));
            }
            Body::Put { queue, depth, .. } | Body::Get { queue, depth, .. } => {
                close(&mut slices, &mut open, pid, QUEUE, t, json!({}));
                out.push(json!({"ph": "C", "name": format!("queue {queue}"), "pid": pid, "ts": us(t), "args": {"depth": depth}}));
            }
            Body::QueueDepth { queue, depth, .. } => {
                out.push(json!({"ph": "C", "name": format!("queue {queue}"), "pid": pid, "ts": us(t), "args": {"depth": depth}}));
            }
            Body::Full { .. } | Body::Empty { .. } => {
                close(
                    &mut slices,
                    &mut open,
                    pid,
                    QUEUE,
                    t,
                    json!({"gave_up": true}),
                );
                out.push(instant(ev.kind().to_string(), json!({})));
            }
            Body::TaskStart { task } => {
                open.insert((pid, TASKS), (t, format!("task {task}")));
            }
            Body::TaskDone { ok, .. } => {
                close(&mut slices, &mut open, pid, TASKS, t, json!({"ok": ok}));
            }
            Body::Callback { task, thread, .. } => slices.push(Slice {
                pid,
                tid: CALLBACKS,
                name: format!("callback(task {task}) on {thread}"),
                start: t,
                end: t,
                args: json!({}),
            }),
            Body::Read { file, value, .. } => {
                out.push(instant(format!("read {file}"), json!({"value": value})));
            }
            Body::Write { file, value, .. } => {
                out.push(instant(format!("write {file}"), json!({"value": value})));
                if let Some(value) = value {
                    out.push(json!({"ph": "C", "name": file.to_string(), "pid": pid, "ts": us(t), "args": {"value": value}}));
                }
            }
            Body::Outcome { result } => {
                out.push(instant(format!("outcome {}", result.as_str()), json!({})));
            }
            Body::Exit { exitcode } => {
                out.push(instant(
                    format!("exit {exitcode}"),
                    json!({"exitcode": exitcode}),
                ));
            }
            _ => {}
        }
    }
    // Spans still open when the recording ends close there.
    let still: Vec<(Pid, u32)> = open.keys().copied().collect();
    for (pid, tid) in still {
        close(
            &mut slices,
            &mut open,
            pid,
            tid,
            last,
            json!({"unfinished": true}),
        );
    }
    finish(names, lock_numbers, slices, &mut out);
    if let Some(e) = out.error {
        return Err(e);
    }
    out.w.write_all(b"],\"displayTimeUnit\":\"ms\"}")?;
    out.w.flush()
}

fn lock_number(numbers: &mut HashMap<String, u32>, lock: &str) -> u32 {
    let n = numbers.len() as u32;
    *numbers.entry(lock.to_string()).or_insert(n)
}

/// Writes the spans (each track's sorted, never overlapping), the arrows
/// from each lock hold to the next, and the processes' and tracks' names.
fn finish<W: Write>(
    names: BTreeMap<Pid, String>,
    locks: HashMap<String, u32>,
    slices: Vec<Slice>,
    out: &mut Items<'_, W>,
) {
    let mut meta = Vec::new();
    let pids: std::collections::BTreeSet<Pid> = slices
        .iter()
        .map(|s| s.pid)
        .chain(out.pids.iter().copied())
        .collect();
    for pid in &pids {
        let name = names
            .get(pid)
            .cloned()
            .unwrap_or_else(|| format!("mpviz ({pid})"));
        meta.push(json!({"ph": "M", "name": "process_name", "pid": pid, "args": {"name": name}}));
        let mut tracks = vec![
            (SLEEP, "sleep".to_string()),
            (QUEUE, "queue".to_string()),
            (TASKS, "tasks".to_string()),
            (CALLBACKS, "callbacks".to_string()),
            (EVENTS, "events".to_string()),
        ];
        tracks.extend(
            locks
                .iter()
                .map(|(lock, n)| (LOCKS + n, format!("lock {lock}"))),
        );
        for (tid, name) in tracks {
            meta.push(json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}}));
        }
    }
    // On each track, a slice ends before the next begins (stamps of
    // different processes may be a few microseconds apart).
    let mut by_track: BTreeMap<(Pid, u32), Vec<Slice>> = BTreeMap::new();
    for slice in slices {
        by_track
            .entry((slice.pid, slice.tid))
            .or_default()
            .push(slice);
    }
    // Each hold, in time, per lock: the arrows go from one to the next.
    let mut holds: BTreeMap<u32, Vec<(u64, Pid, u32, u64)>> = BTreeMap::new();
    for ((pid, tid), list) in &mut by_track {
        list.sort_by_key(|s| s.start);
        for i in 0..list.len() {
            if let Some(next) = list.get(i + 1).map(|s| s.start) {
                if list[i].end > next {
                    list[i].end = next;
                }
            }
        }
        for s in list.iter() {
            out.push(json!({
                "ph": "X", "name": s.name, "pid": pid, "tid": tid,
                "ts": us(s.start), "dur": us(s.end - s.start), "args": s.args,
            }));
            if *tid >= LOCKS && s.name.starts_with("hold ") {
                holds
                    .entry(*tid)
                    .or_default()
                    .push((s.start, *pid, *tid, s.end));
            }
        }
    }
    let mut id = 0u64;
    for list in holds.values_mut() {
        list.sort_by_key(|h| h.0);
        for pair in list.windows(2) {
            let (from_start, from_pid, from_tid, from_end) = pair[0];
            let (to_start, to_pid, to_tid, _) = pair[1];
            id += 1;
            // The arrow leaves inside the hold that ended (a nanosecond
            // before its end), and lands on the hold that began.
            let leave = us(from_end.saturating_sub(1).max(from_start));
            out.push(json!({"ph": "s", "name": "lock handed over", "cat": "lock", "id": id, "pid": from_pid, "tid": from_tid, "ts": leave}));
            out.push(json!({"ph": "f", "bp": "e", "name": "lock handed over", "cat": "lock", "id": id, "pid": to_pid, "tid": to_tid, "ts": us(to_start)}));
        }
    }
    for item in meta {
        out.push(item);
    }
}
