//! The reader: turns the event pipe into the run's ordered stream.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{select, Receiver, Sender};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid as NixPid;

use super::pacer::{self, PacerInput};
use crate::ipc::RunClock;
use crate::order::{OrderKey, Rule};
use crate::protocol::{Body, Event, Pid};

/// The most of a file the parent reports (a thousand appended lines fit).
const MAX_SHOWN: usize = 64 * 1024;

pub(super) struct Reader {
    /// The event pipe, read by [`spawn_pipe_reader`]'s thread.
    pub lines: Receiver<Vec<Event>>,
    pub out: Sender<Vec<Event>>,
    /// What is forwarded while a batch is handled, sent as one.
    pub outgoing: Vec<Event>,
    pub pacer: Sender<PacerInput>,
    /// What the pacer is to be told of the batch at hand, sent with it.
    pub pacer_news: Vec<PacerInput>,
    pub clock: RunClock,
    pub dir: PathBuf,
    pub files: Vec<String>,
    pub server: Child,
    pub stopping: Arc<AtomicBool>,
    pub live: Arc<Mutex<Vec<Pid>>>,
    pub activity: Arc<AtomicU64>,
    pub wake_sampler: Sender<()>,
    /// Whether the run's process group still exists; see [`super::Run::stop`].
    pub group_alive: Arc<Mutex<bool>>,
    /// The scenario's parent side: what it reports, and a copy of the stream for it.
    pub from_parent: Option<Receiver<Event>>,
    pub to_parent: Option<(Sender<Event>, crate::scenario::EventFilter)>,
    /// Closed when the parent side's thread returns.
    pub parent_done: Option<Receiver<()>>,
    /// Set when the pipe closes: every process of the run is gone.
    pub processes_gone: Arc<AtomicBool>,
    /// mpviz's own PID: the parent side reports as it.
    pub parent_pid: Pid,
    /// The main process's gate (see [`crate::scenario::Parent::gate`]).
    pub parent_slot: u32,
    /// The ordering rules the scenario declares (see [`Holding`]).
    pub order: Vec<Rule>,
}

/// Reads the pipe on a thread of its own, so that the reader can also
/// listen to the parent side. Each read of the pipe becomes one batch of
/// parsed events: a busy run crosses threads once per batch, not per event.
pub(super) fn spawn_pipe_reader(
    pipe: OwnedFd,
    clock: RunClock,
) -> std::io::Result<Receiver<Vec<Event>>> {
    let (tx, rx) = crossbeam_channel::bounded(64);
    std::thread::Builder::new()
        .name("mpviz-pipe".into())
        .spawn(move || {
            let mut pipe = std::fs::File::from(pipe);
            let mut buf = vec![0u8; 1 << 16];
            // Bytes read and not yet decoded: a frame may span two reads.
            let mut partial: Vec<u8> = Vec::with_capacity(1 << 17);
            // Each batch starts as large as the last: it is not grown, and
            // its events are not moved, event by event.
            let mut last_len = 0;
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                partial.extend_from_slice(&buf[..n]);
                let mut batch = Vec::with_capacity(last_len);
                let mut used = 0;
                while let Some((event, len)) = Event::decode(&partial[used..]) {
                    batch.push(event.unwrap_or_else(|e| unreadable(&e, clock)));
                    used += len;
                }
                partial.drain(..used);
                last_len = batch.len();
                if !batch.is_empty() && tx.send(batch).is_err() {
                    return;
                }
            }
        })?;
    Ok(rx)
}

/// A batch from the pipe with the parent side's reports that were waiting
/// beside it, each placed before the first piped event stamped after it (the
/// two sources share the run's clock): a request the parent made comes before
/// the server's answer to it. The pipe's own order is kept.
fn with_reports(batch: Vec<Event>, reports: Vec<Event>) -> Vec<Event> {
    if reports.is_empty() {
        return batch;
    }
    let mut merged = Vec::with_capacity(batch.len() + reports.len());
    let mut reports = reports.into_iter().peekable();
    for event in batch {
        while let Some(report) = reports.next_if(|r| r.t_ns < event.t_ns) {
            merged.push(report);
        }
        merged.push(event);
    }
    merged.extend(reports);
    merged
}

fn unreadable(e: &dyn std::fmt::Display, clock: RunClock) -> Event {
    Event::new(
        clock.now(),
        None,
        Body::Error {
            message: format!("a process sent an unreadable event ({e})"),
        },
    )
}

/// The reader's ordering, kept apart from its pipes so that it can be
/// tested without processes. An event that arrives before a fact it waits
/// for ([`Event::waits_for`]) is held back until the event that establishes
/// that fact ([`Event::releases`]) has passed, then released right after it.
/// Only the rules the scenario declares hold anything (and always
/// [`Rule::Spawn`]); what they are is said once, in [`crate::order`].
///
/// Each process's reports stay in the order it sent them: once one of its
/// events is held, its later ones wait behind it, in their order, until the
/// front may pass (a consumer's next `ready` never overtakes its held
/// `get`). The main process (mpviz), which reports from several threads,
/// is one line too.
///
/// When the run ends, whatever is still held is let out in the order it
/// arrived ([`Holding::flush`]): the stream loses nothing.
#[derive(Default)]
pub(super) struct Holding {
    /// The rules this run keeps.
    rules: Vec<Rule>,
    /// The facts that have passed (and the spawns of the run's own
    /// processes, the fork server and mpviz, which need none).
    passed: HashSet<OrderKey<u32>>,
    /// The processes whose held line waits for a fact at its front, by
    /// that fact.
    held: HashMap<OrderKey<u32>, Vec<Option<Pid>>>,
    /// Each process's held events, its front waiting for a fact, each with
    /// its arrival number (only processes with some).
    lines: HashMap<Option<Pid>, std::collections::VecDeque<(u64, Event)>>,
    /// Processes whose line's front may now pass.
    moving: Vec<Option<Pid>>,
    /// Each queue's number in a key, so that a key is made without
    /// allocating.
    queues: HashMap<String, u32>,
    /// How many events have arrived: each held one keeps its number.
    arrived: u64,
}

impl Holding {
    /// Ordering by `rules` (and [`Rule::Spawn`]) for a run whose own
    /// processes are the fork server and the main process, mpviz (`parent`).
    pub(super) fn new(server: Pid, parent: Pid, rules: &[Rule]) -> Holding {
        Holding {
            rules: std::iter::once(Rule::Spawn)
                .chain(rules.iter().copied())
                .collect(),
            passed: [server, parent]
                .into_iter()
                .map(OrderKey::Spawned)
                .collect(),
            ..Holding::default()
        }
    }

    /// Whether `key` has passed, or is of a rule this run does not keep.
    fn has_passed(&self, key: OrderKey<&str>) -> bool {
        if !self.rules.contains(&key.rule()) {
            return true;
        }
        let mut known = true;
        let key = key.map_name(|queue| {
            self.queues.get(queue).copied().unwrap_or_else(|| {
                known = false;
                0
            })
        });
        known && self.passed.contains(&key)
    }

    /// The first fact `event` waits for that has not passed.
    fn unmet<'e>(&self, event: &'e Event) -> Option<OrderKey<&'e str>> {
        event
            .waits_for()
            .into_iter()
            .flatten()
            .find(|key| !self.has_passed(*key))
    }

    /// `key` with its queue's number (a new number for a new queue).
    fn numbered(&mut self, key: OrderKey<&str>) -> OrderKey<u32> {
        key.map_name(|queue| match self.queues.get(queue) {
            Some(n) => *n,
            None => {
                let n = self.queues.len() as u32;
                self.queues.insert(queue.to_string(), n);
                n
            }
        })
    }

    /// Takes one arriving event; appends to `out` what may pass now, in order:
    /// the event itself (unless held) and what it releases.
    pub(super) fn take(&mut self, event: Event, out: &mut Vec<Event>) {
        let seq = self.arrived;
        self.arrived += 1;
        // A spawn is its parent's report (the fork server's), and what the
        // process's own held events wait for.
        let spawn = matches!(event.body, Body::Spawn { .. });
        // (Most of a busy run holds nothing: no lookup then.)
        let line = if self.lines.is_empty() || spawn {
            None
        } else {
            self.lines.get_mut(&event.pid)
        };
        if let Some(line) = line {
            line.push_back((seq, event));
            return;
        }
        if let Some(key) = self.unmet(&event) {
            let key = self.numbered(key);
            let pid = event.pid;
            self.held.entry(key).or_default().push(pid);
            // (A spawn that waits goes before its process's own events,
            // which wait for it.)
            self.lines.entry(pid).or_default().push_front((seq, event));
            return;
        }
        self.pass(event, out);
        // Lines whose front a passed event released move on, in turn.
        while let Some(pid) = self.moving.pop() {
            self.move_line(pid, out);
        }
    }

    /// Lets `pid`'s line out as far as its front may pass.
    fn move_line(&mut self, pid: Option<Pid>, out: &mut Vec<Event>) {
        loop {
            let Some(line) = self.lines.get_mut(&pid) else {
                return;
            };
            let Some((seq, front)) = line.pop_front() else {
                self.lines.remove(&pid);
                return;
            };
            if let Some(key) = self.unmet(&front) {
                let key = self.numbered(key);
                self.held.entry(key).or_default().push(pid);
                if let Some(line) = self.lines.get_mut(&pid) {
                    line.push_front((seq, front));
                }
                return;
            }
            self.pass(front, out);
        }
    }

    /// `event` passes: what it waited for only once is forgotten, and the
    /// lines that waited for what it establishes may move.
    fn pass(&mut self, event: Event, out: &mut Vec<Event>) {
        // A fact that only this event waited for is not needed again.
        for key in event.waits_for().into_iter().flatten() {
            if key.waited_for_once() && self.rules.contains(&key.rule()) {
                let key = self.numbered(key);
                self.passed.remove(&key);
            }
        }
        let released = event
            .releases()
            .filter(|key| self.rules.contains(&key.rule()))
            .map(|key| self.numbered(key));
        out.push(event);
        let Some(key) = released else {
            return;
        };
        self.passed.insert(key);
        // Look the key up only when something is held.
        if self.held.is_empty() {
            return;
        }
        if let Some(pids) = self.held.remove(&key) {
            // Moved last first: the first to have waited moves first.
            self.moving.extend(pids.into_iter().rev());
        }
    }

    /// Everything still held, in the order it arrived: the run has ended and
    /// what each was waiting for will never come.
    pub(super) fn flush(&mut self) -> Vec<Event> {
        self.held.clear();
        let mut held: Vec<(u64, Event)> = self.lines.drain().flat_map(|(_, line)| line).collect();
        held.sort_by_key(|(seq, _)| *seq);
        held.into_iter().map(|(_, event)| event).collect()
    }
}

impl Reader {
    pub(super) fn run(mut self) {
        let server_pid = self.server.id() as Pid;
        let mut slots: HashMap<Pid, u32> = HashMap::default();
        let mut holding = Holding::new(server_pid, self.parent_pid, &self.order);
        let mut contents: HashMap<String, String> = HashMap::default();
        let mut lines = std::mem::replace(&mut self.lines, crossbeam_channel::never());
        let mut parent = self
            .from_parent
            .take()
            .unwrap_or_else(crossbeam_channel::never);
        // Disconnected once the parent side's thread has returned.
        let mut parent_done = self.parent_done.take();
        let mut pipe_open = true;
        let mut files_dirty = 0u8;
        // Show the files as the scenario prepared them, before anyone acts.
        let files = self.files.clone();
        for file in &files {
            self.observe(file, &mut contents);
        }
        loop {
            // The run's processes are gone when the pipe closes; the parent
            // side may still be reporting what it did in answer to their last
            // events (a stop signal put), so listen until it has returned.
            if !pipe_open && parent_done.is_none() && parent.is_empty() {
                break;
            }
            let done = parent_done.clone().unwrap_or_else(crossbeam_channel::never);
            let batch = select! {
                recv(lines) -> batch => match batch {
                    Ok(batch) => with_reports(batch, parent.try_iter().collect()),
                    Err(_) => {
                        pipe_open = false;
                        lines = crossbeam_channel::never();
                        self.processes_gone.store(true, Ordering::SeqCst);
                        // No more copies: the parent side finishes what it has.
                        self.to_parent = None;
                        continue;
                    }
                },
                recv(parent) -> event => match event {
                    Ok(event) => vec![event],
                    Err(_) => {
                        parent = crossbeam_channel::never();
                        continue;
                    }
                },
                recv(done) -> _ => {
                    parent_done = None;
                    continue;
                },
            };
            if self.stopping.load(Ordering::Relaxed) {
                continue;
            }
            self.activity
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            if batch
                .iter()
                .any(|e| matches!(e.body, Body::Truncate { .. } | Body::Write { .. }))
            {
                // The writer reports just before it writes: look at the file
                // once the events now in the pipe are handled, and once more
                // after the next batch, by when the write is done.
                files_dirty = 2;
            }
            // Handled in order; an event released from hold goes next. What
            // passes goes straight to the outgoing batch and is looked at
            // there: a busy run moves each event as few times as it can.
            let mut out = std::mem::take(&mut self.outgoing);
            for event in batch {
                let from = out.len();
                holding.take(event, &mut out);
                for event in &out[from..] {
                    self.pass(event, &mut slots);
                }
            }
            self.outgoing = out;
            if files_dirty > 0 && lines.is_empty() {
                files_dirty -= 1;
                for file in &files {
                    self.observe(file, &mut contents);
                }
            }
            self.send_outgoing();
        }
        // Nothing more will come that a held event waits for: let it out.
        for event in holding.flush() {
            self.pass(&event, &mut slots);
            self.outgoing.push(event);
        }
        self.send_outgoing();
        // Every writer has closed the pipe: the children and the server are
        // gone. Wait for the server without reaping it first: until it is
        // reaped its PID, which names the group, cannot be reused, so `stop`
        // may still signal the group. Then mark the group gone and reap.
        let _ = nix::sys::wait::waitid(
            nix::sys::wait::Id::Pid(NixPid::from_raw(server_pid)),
            nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOWAIT,
        );
        let status = match self.group_alive.lock() {
            Ok(mut alive) => {
                *alive = false;
                crate::cleanup::unregister_group(server_pid);
                self.server.wait()
            }
            Err(_) => self.server.wait(),
        };
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(status) = status {
            use std::os::unix::process::ExitStatusExt;
            let exitcode = status
                .code()
                .unwrap_or_else(|| -status.signal().unwrap_or(0));
            self.forward(Event::new(
                self.clock.now(),
                Some(server_pid),
                Body::Exit { exitcode },
            ));
        }
        for file in &files {
            self.observe(file, &mut contents);
        }
        self.forward(Event::new(self.clock.now(), None, Body::End));
        self.send_outgoing();
        // Nothing is left to pace or to sample; the parent side ends too.
        self.to_parent = None;
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.pacer.send(PacerInput::Stop);
        let _ = self.wake_sampler.try_send(());
    }

    /// An event whose turn has come (see [`Holding`]), on its way out: what
    /// the run learns from it.
    fn pass(&mut self, event: &Event, slots: &mut HashMap<Pid, u32>) {
        if let (Body::Spawn { slot, .. }, Some(pid)) = (&event.body, event.pid) {
            slots.insert(pid, *slot);
            if let Ok(mut live) = self.live.lock() {
                live.push(pid);
            }
        }
        self.handle(event, slots);
        self.tell_parent(event);
    }

    /// The reader's own event, sent out after what has passed so far.
    fn forward(&mut self, event: Event) {
        self.tell_parent(&event);
        self.outgoing.push(event);
    }

    /// A copy for the scenario's parent side, if it wants this event.
    fn tell_parent(&self, event: &Event) {
        if let Some((parent, wants)) = &self.to_parent {
            if wants(event) {
                let _ = parent.send(event.clone());
            }
        }
    }

    /// The stream first, then the pacer: a grant the pacer makes on this
    /// news comes after the news in the stream (a `ready`, then its grant).
    fn send_outgoing(&mut self) {
        if !self.outgoing.is_empty() {
            let _ = self.out.send(std::mem::take(&mut self.outgoing));
        }
        if !self.pacer_news.is_empty() {
            let news = std::mem::take(&mut self.pacer_news);
            let _ = self.pacer.send(PacerInput::Many(news));
        }
    }

    /// Tells the pacer what it needs to know of `event`, and acts on what
    /// ends a process or the run.
    fn handle(&mut self, event: &Event, slots: &HashMap<Pid, u32>) {
        let pid = event.pid;
        if let (Body::Ready { action }, Some(p)) = (&event.body, pid) {
            if p == self.parent_pid {
                let slot = self.parent_slot;
                let action = action.clone();
                self.pacer_news.push(PacerInput::Ready {
                    pid: p,
                    slot,
                    action,
                });
                return;
            }
        }
        if let Some(p) = pid.filter(|p| slots.contains_key(p) || *p == self.parent_pid) {
            if let Some(seen) = pacer::Seen::of(&event.body) {
                self.pacer_news.push(PacerInput::Seen { pid: p, seen });
            }
        }
        match &event.body {
            Body::Ready { action } => {
                if let Some(slot) = pid.and_then(|p| slots.get(&p)) {
                    self.pacer_news.push(PacerInput::Ready {
                        pid: pid.unwrap_or_default(),
                        slot: *slot,
                        action: action.clone(),
                    });
                }
            }
            Body::Exit { .. } | Body::Joined => {
                if let (Some(p), Ok(mut live)) = (pid, self.live.lock()) {
                    live.retain(|&l| l != p);
                }
            }
            Body::Error { .. } if pid.is_none() => {
                // The server could not go on (a fork failed): end the run
                // cleanly rather than leave it half started.
                let _ = killpg(NixPid::from_raw(self.server.id() as i32), Signal::SIGKILL);
            }
            _ => {}
        }
    }

    /// Reads the real file and reports its content if it changed.
    fn observe(&mut self, file: &str, contents: &mut HashMap<String, String>) {
        let Ok(bytes) = std::fs::read(self.dir.join(file)) else {
            return;
        };
        let content = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_SHOWN)]).into_owned();
        if contents.get(file) != Some(&content) {
            contents.insert(file.to_string(), content.clone());
            self.forward(Event::new(
                self.clock.now(),
                None,
                Body::File {
                    file: file.into(),
                    content,
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t_ns: u64, pid: Pid) -> Event {
        Event::new(t_ns, Some(pid), Body::Sleep { ms: 0 })
    }

    #[test]
    fn the_parents_reports_go_between_piped_events_by_stamp_and_the_pipe_keeps_its_order() {
        // Piped events out of stamp order stay as they came.
        let batch = vec![at(10, 1), at(30, 2), at(20, 3), at(50, 4)];
        let reports = vec![at(5, 9), at(25, 9), at(60, 9)];
        let merged: Vec<(u64, Pid)> = with_reports(batch, reports)
            .iter()
            .map(|e| (e.t_ns, e.pid.unwrap()))
            .collect();
        assert_eq!(
            merged,
            vec![(5, 9), (10, 1), (25, 9), (30, 2), (20, 3), (50, 4), (60, 9)]
        );
    }

    /// Every rule a scenario may declare.
    const ALL: &[Rule] = &[Rule::QueueItems, Rule::Tasks, Rule::Results];

    fn ev(pid: Pid, body: Body) -> Event {
        Event::new(0, Some(pid), body)
    }

    fn spawn(pid: Pid, ppid: Pid) -> Event {
        ev(
            pid,
            Body::Spawn {
                name: format!("p{pid}"),
                role: "worker".into(),
                slot: 0,
                ppid,
            },
        )
    }

    fn get(pid: Pid, item: u64) -> Event {
        ev(
            pid,
            Body::Get {
                queue: "q".into(),
                item,
                depth: 0,
            },
        )
    }

    fn put(pid: Pid, item: u64) -> Event {
        ev(
            pid,
            Body::Put {
                queue: "q".into(),
                item,
                depth: 1,
            },
        )
    }

    fn kinds(events: &[Event]) -> Vec<(Pid, &'static str)> {
        events.iter().map(|e| (e.pid.unwrap(), e.kind())).collect()
    }

    #[test]
    fn an_early_event_is_held_until_what_it_follows_has_passed() {
        let mut h = Holding::new(1, 2, ALL);
        let mut out = Vec::new();
        h.take(spawn(10, 1), &mut out);
        h.take(spawn(11, 1), &mut out);
        // A get before the put of its item, a task's start before its submit,
        // and a thread's spawn before its process's.
        h.take(get(11, 7), &mut out);
        h.take(ev(10, Body::TaskStart { task: 3 }), &mut out);
        h.take(spawn(21, 20), &mut out);
        h.take(ev(21, Body::Sleep { ms: 1 }), &mut out);
        assert_eq!(kinds(&out), [(10, "spawn"), (11, "spawn")]);
        h.take(put(10, 7), &mut out);
        h.take(ev(2, Body::TaskSubmit { task: 3 }), &mut out);
        h.take(spawn(20, 1), &mut out);
        // Process 10's put waited behind its own task start.
        assert_eq!(
            kinds(&out[2..]),
            [
                (2, "task_submit"),
                (10, "task_start"),
                (10, "put"),
                (11, "get"),
                (20, "spawn"),
                (21, "spawn"),
                (21, "sleep"),
            ]
        );
        assert!(h.flush().is_empty());
    }

    fn callback(task: u32) -> Event {
        ev(
            2,
            Body::Callback {
                task,
                thread: "mpviz-result-handler".into(),
                ok: true,
                parsed: None,
                tid: 3,
                result: Some(1),
                error_type: None,
                error: None,
            },
        )
    }

    fn task_done(task: u32) -> Event {
        ev(
            10,
            Body::TaskDone {
                shown: None,
                task,
                ok: true,
                result: Some(1),
                error: None,
                error_type: None,
                page: None,
            },
        )
    }

    #[test]
    fn the_main_processs_callback_waits_for_its_tasks_done_and_its_later_reports_stay_behind() {
        let mut h = Holding::new(1, 2, ALL);
        let mut out = Vec::new();
        h.take(spawn(10, 1), &mut out);
        for task in [0, 1] {
            h.take(ev(2, Body::TaskSubmit { task }), &mut out);
        }
        // The result pipe was faster than the worker's report.
        h.take(callback(1), &mut out);
        h.take(
            ev(
                2,
                Body::PoolCall {
                    call: "close".into(),
                },
            ),
            &mut out,
        );
        h.take(callback(0), &mut out);
        assert_eq!(out.len(), 3, "{out:?}");
        h.take(task_done(0), &mut out);
        // Task 0 is done, but its callback is behind task 1's in the line.
        assert_eq!(kinds(&out[3..]), [(10, "task_done")]);
        h.take(task_done(1), &mut out);
        assert_eq!(
            kinds(&out[4..]),
            [
                (10, "task_done"),
                (2, "callback"),
                (2, "pool_call"),
                (2, "callback")
            ]
        );
        assert!(matches!(out[5].body, Body::Callback { task: 1, .. }));
        // A report about a finished task passes at once.
        h.take(callback(1), &mut out);
        assert_eq!(out.len(), 9);
        assert!(h.flush().is_empty());
    }

    #[test]
    fn what_is_still_held_when_the_run_ends_comes_out_in_arrival_order() {
        let mut h = Holding::new(1, 2, ALL);
        let mut out = Vec::new();
        h.take(spawn(10, 1), &mut out);
        // Held, each for something that never comes.
        h.take(get(10, 5), &mut out);
        h.take(ev(10, Body::TaskStart { task: 4 }), &mut out);
        h.take(ev(30, Body::Sleep { ms: 2 }), &mut out);
        h.take(get(10, 6), &mut out);
        h.take(spawn(31, 30), &mut out);
        assert_eq!(out.len(), 1);
        let flushed = h.flush();
        assert_eq!(
            kinds(&flushed),
            [
                (10, "get"),
                (10, "task_start"),
                (30, "sleep"),
                (10, "get"),
                (31, "spawn"),
            ]
        );
        assert!(matches!(flushed[3].body, Body::Get { item: 6, .. }));
        assert!(h.flush().is_empty(), "flushed once");
    }

    #[test]
    fn a_rule_the_scenario_does_not_declare_holds_nothing() {
        // Tasks and their results, but no queue: a get passes before its put.
        let mut h = Holding::new(1, 2, &[Rule::Tasks, Rule::Results]);
        let mut out = Vec::new();
        h.take(spawn(10, 1), &mut out);
        h.take(get(10, 7), &mut out);
        h.take(ev(10, Body::TaskStart { task: 3 }), &mut out);
        assert_eq!(kinds(&out), [(10, "spawn"), (10, "get")]);
        // Declaring nothing keeps only a process's events after its spawn.
        let mut h = Holding::new(1, 2, &[]);
        let mut out = Vec::new();
        h.take(ev(10, Body::TaskStart { task: 3 }), &mut out);
        h.take(spawn(10, 1), &mut out);
        h.take(task_done(3), &mut out);
        h.take(callback(4), &mut out);
        h.take(get(10, 7), &mut out);
        assert_eq!(
            kinds(&out),
            [
                (10, "spawn"),
                (10, "task_start"),
                (10, "task_done"),
                (2, "callback"),
                (10, "get"),
            ]
        );
        assert!(h.flush().is_empty());
    }
}
