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

use super::pacer::PacerInput;
use crate::ipc::RunClock;
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
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                partial.extend_from_slice(&buf[..n]);
                let mut batch = Vec::new();
                let mut used = 0;
                while let Some((event, len)) = Event::decode(&partial[used..]) {
                    batch.push(event.unwrap_or_else(|e| unreadable(&e, clock)));
                    used += len;
                }
                partial.drain(..used);
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

impl Reader {
    pub(super) fn run(mut self) {
        let server_pid = self.server.id() as Pid;
        let mut slots: HashMap<Pid, u32> = HashMap::default();
        // A child can write before the server has written its spawn event:
        // hold such events until the spawn arrives, so that a child's events
        // always follow its spawn in the stream.
        let mut early: HashMap<Pid, Vec<Event>> = HashMap::default();
        // Likewise a consumer can report its get before the producer's put
        // (the put returns after the consumer has woken): hold the get until
        // the put of that item is in the stream.
        let mut put: HashMap<String, HashSet<u64>> = HashMap::default();
        let mut early_gets: HashMap<(String, u64), Vec<Event>> = HashMap::default();
        // And a pool worker can report a task before the main process's
        // submit of it has crossed from its thread: keep the task's events
        // after its submit.
        let mut submitted: HashSet<u32> = HashSet::default();
        let mut early_tasks: HashMap<u32, Vec<Event>> = HashMap::default();
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
            // Handled in order; an event released from hold goes next.
            let mut ready: Vec<Event> = batch;
            ready.reverse();
            while let Some(event) = ready.pop() {
                let known = |pid: Pid| {
                    slots.contains_key(&pid) || pid == server_pid || pid == self.parent_pid
                };
                match (&event.body, event.pid) {
                    // A thread announces itself; its process's spawn comes
                    // from the server and may arrive later: keep the order.
                    (Body::Spawn { ppid, .. }, _) if !known(*ppid) => {
                        early.entry(*ppid).or_default().push(event);
                    }
                    (Body::Spawn { slot, .. }, Some(pid)) => {
                        slots.insert(pid, *slot);
                        self.forward(event);
                        if let Ok(mut live) = self.live.lock() {
                            live.push(pid);
                        }
                        let mut held = early.remove(&pid).unwrap_or_default();
                        held.reverse();
                        ready.extend(held);
                    }
                    (_, Some(pid)) if !known(pid) => {
                        early.entry(pid).or_default().push(event);
                    }
                    (Body::Get { queue, item, .. }, _)
                        if !put
                            .get(queue.as_str())
                            .is_some_and(|items| items.contains(item)) =>
                    {
                        early_gets
                            .entry((queue.clone(), *item))
                            .or_default()
                            .push(event);
                    }
                    (Body::TaskStart { task } | Body::TaskDone { task, .. }, _)
                        if !submitted.contains(task) =>
                    {
                        early_tasks.entry(*task).or_default().push(event);
                    }
                    (Body::TaskSubmit { task }, _) => {
                        let task = *task;
                        submitted.insert(task);
                        self.handle(event, &slots);
                        let mut held = early_tasks.remove(&task).unwrap_or_default();
                        held.reverse();
                        ready.extend(held);
                    }
                    (Body::Put { queue, item, .. }, _) => {
                        match put.get_mut(queue.as_str()) {
                            Some(items) => {
                                items.insert(*item);
                            }
                            None => {
                                put.entry(queue.clone()).or_default().insert(*item);
                            }
                        }
                        // Allocate a key only when some get is waiting.
                        let key = (!early_gets.is_empty()).then(|| (queue.clone(), *item));
                        self.handle(event, &slots);
                        let mut held = key.and_then(|k| early_gets.remove(&k)).unwrap_or_default();
                        held.reverse();
                        ready.extend(held);
                    }
                    _ => self.handle(event, &slots),
                }
            }
            if files_dirty > 0 && lines.is_empty() {
                files_dirty -= 1;
                for file in &files {
                    self.observe(file, &mut contents);
                }
            }
            self.send_outgoing();
        }
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

    fn forward(&mut self, event: Event) {
        if let Some((parent, wants)) = &self.to_parent {
            if wants(&event) {
                let _ = parent.send(event.clone());
            }
        }
        self.outgoing.push(event);
    }

    fn send_outgoing(&mut self) {
        if !self.outgoing.is_empty() {
            let _ = self.out.send(std::mem::take(&mut self.outgoing));
        }
    }

    fn handle(&mut self, event: Event, slots: &HashMap<Pid, u32>) {
        let pid = event.pid;
        match &event.body {
            Body::Ready { .. } => {
                if let Some(slot) = pid.and_then(|p| slots.get(&p)) {
                    let _ = self.pacer.send(PacerInput::Ready {
                        pid: pid.unwrap_or_default(),
                        slot: *slot,
                    });
                }
            }
            Body::Exit { .. } => {
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
        self.forward(event);
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
                    file: file.to_string(),
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
}
