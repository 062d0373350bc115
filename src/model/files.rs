//! Files and counters: what the parent read in each file, the writes each
//! had, the updates a stale write undid, and the number in memory whose
//! writes are counted where they land ([`Landings`]).

use std::collections::BTreeMap;
use std::ops::Deref;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::procs::Procs;
use crate::protocol::{Body, Event, Pid};

/// A write that undid another: `over` had read `over_read` and written
/// `over_wrote`; `writer`, having read `read` before that write, wrote
/// `wrote` over it.
#[derive(Debug, Clone, PartialEq)]
pub struct LostUpdate {
    pub file: String,
    pub writer: Pid,
    pub read: Option<i64>,
    pub wrote: i64,
    pub over: Pid,
    pub over_read: Option<i64>,
    pub over_wrote: i64,
}

/// The last write of a value to a file: who wrote what, having read what.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LastWrite {
    by: Pid,
    wrote: i64,
    read: Option<i64>,
}

/// Each file's content as the parent last read it (read as the map), with
/// what the processes' reads and writes of a number in it tell.
#[derive(Debug, Clone, Default)]
pub struct Files {
    contents: BTreeMap<String, String>,
    /// The last write to each file, in the order the stream reports them
    /// (where the memory does not count its writes).
    last_write: HashMap<String, LastWrite>,
    /// Where the memory counts its writes: each file's reported writes by
    /// their place, until the write that landed next over them is reported
    /// (writes may be reported out of the order they landed in).
    landed_writes: HashMap<String, BTreeMap<u64, LastWrite>>,
    /// How many writes of a value each file has had.
    writes: HashMap<String, u64>,
    /// The newest lost update, to show how it happened.
    pub last_lost: Option<LostUpdate>,
    /// Where the memory counts its writes: the lost updates the stream
    /// shows, by the writer's place, not yet certain (see [`Landings`]).
    pending: BTreeMap<u64, LostUpdate>,
    /// The place of each process's newest write that landed.
    last_landed: HashMap<Pid, u64>,
    /// The writes (writer, place) whose lost update became certain in the
    /// event just folded: the model marks them where they were logged.
    pub confirmed: Vec<(Pid, u64)>,
    /// The number in memory whose writes are counted where they land.
    pub landings: Landings,
    /// Reads whose text did not parse (a file another process had emptied
    /// or half written).
    pub torn_reads: u32,
    /// Reads the reader replaced by a count of its own (see
    /// [`Body::Read`]'s `reset`): a notable moment, kept on its row.
    pub resets: u32,
    /// Writes based on a stale read that undid another's update, as the
    /// stream shows them (whether or not the loss is certain yet).
    pub lost_writes: u32,
}

impl Deref for Files {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.contents
    }
}

impl Files {
    /// How many values have been written to `file` (see [`LostUpdate`]).
    pub fn writes_of(&self, file: &str) -> u64 {
        self.writes.get(file).copied().unwrap_or(0)
    }

    /// Keeps `write`, which landed at `place` in `file`, and returns the
    /// write that landed just before it, the one it wrote over, if that
    /// one is reported (else the stream cannot tell yet whom it overwrote).
    /// The writes up to the newest settled one are all reported: those
    /// before it are no longer needed.
    fn landed_write(&mut self, file: &str, place: u64, write: LastWrite) -> Option<LastWrite> {
        if !self.landed_writes.contains_key(file) {
            self.landed_writes.insert(file.to_string(), BTreeMap::new());
        }
        let writes = self.landed_writes.get_mut(file).expect("inserted above");
        let over = writes.remove(&place.saturating_sub(1));
        writes.insert(place, write);
        while let Some(entry) = writes.first_entry() {
            if *entry.key() >= self.landings.settled {
                break;
            }
            entry.remove();
        }
        over
    }

    /// Folds in a process's start and end (which bound what it may still
    /// read), its reads and writes, and the parent's readings of files.
    /// `procs` keeps each process's last read and the update it undid.
    pub(super) fn apply(&mut self, ev: &Event, procs: &mut Procs) {
        self.fold(ev, procs);
        self.confirm(procs);
    }

    /// The lost updates whose loss the last event made certain: those
    /// whose write, once settled, raised the count of updates lost for
    /// certain. The others are forgotten once settled.
    fn confirm(&mut self, procs: &mut Procs) {
        self.confirmed.clear();
        for place in std::mem::take(&mut self.landings.raised) {
            let Some(lost) = self.pending.remove(&place) else {
                continue;
            };
            // Its row says so while that write is still its newest.
            if self.last_landed.get(&lost.writer) == Some(&place) {
                if let Some(p) = procs.get_mut(Some(lost.writer)) {
                    p.overwrote = Some(lost.over);
                }
            }
            self.confirmed.push((lost.writer, place));
            self.last_lost = Some(lost);
        }
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > self.landings.settled {
                break;
            }
            entry.remove();
        }
    }

    fn fold(&mut self, ev: &Event, procs: &mut Procs) {
        let pid = ev.pid;
        match &ev.body {
            Body::Spawn { ppid, .. } => {
                if let Some(pid) = pid {
                    self.landings.spawned(pid, *ppid);
                }
            }
            Body::Exit { .. } | Body::Joined => {
                if let Some(pid) = pid {
                    self.landings.exited(pid);
                }
            }
            Body::Pace { paused, speed } => self.landings.paced(*paused || speed.is_some()),
            // At its gate a process reads nothing until its permit.
            Body::Ready { .. } => {
                if let Some(pid) = pid {
                    self.landings.at_gate(pid);
                }
            }
            Body::Grant { .. } => {
                if let Some(pid) = pid {
                    self.landings.granted(pid);
                }
            }
            Body::Read {
                file,
                value,
                landed,
                reset,
                ..
            } => {
                if let (Some(pid), Some(place), Some(value)) = (pid, landed, value) {
                    self.landings.read(pid, *place, *value);
                }
                if value.is_none() {
                    self.torn_reads += 1;
                }
                if reset.is_some() {
                    self.resets += 1;
                }
                // Where the memory itself counts its writes, that count;
                // else the writes reported so far.
                let version = landed.unwrap_or_else(|| self.writes_of(file));
                if let Some(p) = procs.get_mut(pid) {
                    p.last_read = *value;
                    p.read_version = value.map(|_| version);
                }
            }
            Body::Write {
                file,
                value: Some(value),
                landed,
                ..
            } => {
                if let (Some(pid), Some(place)) = (pid, landed) {
                    self.landings.wrote(pid, *place, *value);
                    self.last_landed.insert(pid, *place);
                }
                let (read, read_version) = pid
                    .and_then(|p| procs.get(p))
                    .map_or((None, None), |p| (p.last_read, p.read_version));
                // A key made only for a file not written before.
                if !self.writes.contains_key(file.as_str()) {
                    self.writes.insert(file.to_string(), 0);
                }
                let version = self.writes.get_mut(file.as_str()).expect("inserted above");
                // Another write landed between this process's read and its
                // write: by the memory's own count where it keeps one (the
                // stream may carry two writes' reports in either order).
                let before = landed.map_or(*version, |place| place.saturating_sub(1));
                let overtaken = read_version.is_some_and(|v| v != before);
                *version += 1;
                let previous = pid.and_then(|by| {
                    let write = LastWrite {
                        by,
                        wrote: *value,
                        read,
                    };
                    match landed {
                        Some(place) => self.landed_write(file, *place, write),
                        None => match self.last_write.get_mut(file.as_str()) {
                            Some(last) => Some(std::mem::replace(last, write)),
                            None => self.last_write.insert(file.to_string(), write),
                        },
                    }
                });
                // The file was written since this process read it, and this
                // write, computed from the old read, does not carry the value
                // on past that other write in its own direction (+1 counts up,
                // a sale counts down): it undoes that other update.
                let undoes = |over_wrote: i64| {
                    read.is_some_and(|read| (value - over_wrote) * (value - read).signum() <= 0)
                };
                let over =
                    previous.filter(|over| overtaken && Some(over.by) != pid && undoes(over.wrote));
                if over.is_some() {
                    self.lost_writes += 1;
                }
                let lost = over.and_then(|over| {
                    pid.map(|writer| LostUpdate {
                        file: file.to_string(),
                        writer,
                        read,
                        wrote: *value,
                        over: over.by,
                        over_read: over.read,
                        over_wrote: over.wrote,
                    })
                });
                if let Some(p) = procs.get_mut(pid) {
                    p.overwrote = None;
                }
                match (lost, landed) {
                    // Where the memory counts its writes, a loss is claimed
                    // only once it is certain ([`Landings`]): a later write
                    // may yet carry the count on past this one.
                    (Some(lost), Some(place)) => {
                        self.pending.insert(*place, lost);
                    }
                    (Some(lost), None) => {
                        if let Some(p) = procs.get_mut(pid) {
                            p.overwrote = Some(lost.over);
                        }
                        self.last_lost = Some(lost);
                    }
                    (None, _) => {}
                }
            }
            Body::File { file, content } => match self.contents.get_mut(file.as_str()) {
                Some(old) => old.clone_from(content),
                None => {
                    self.contents.insert(file.to_string(), content.clone());
                }
            },
            _ => {}
        }
    }
}

/// A reported read of the number, in the order reads are settled: the
/// place among the landed writes it was made at, then the order it was
/// reported in (to tell apart reads of the same place).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct ReadAt {
    place: u64,
    order: u64,
}

/// A reported read not yet settled: the value, and the place of the write
/// that followed it, once reported.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OpenRead {
    value: i64,
    written_at: Option<u64>,
}

/// A number in memory whose reads and writes carry their place among the
/// writes that landed in it (the race's counter, [`crate::ipc::shared`]):
/// from them, the updates lost for certain so far.
///
/// After `k` writes have landed, the value is `c_k`, and the writers that
/// have read and not yet written back hold the values they read. No later
/// write can bring the value above the highest of these plus one per write
/// still to come, so `k - max(c_k, those reads)` updates are lost whatever
/// happens next; that number never goes down, and once everyone has written
/// back it is the final loss. It is known for write `k` only when every read
/// made before it has been reported: then write `k` is *settled*. A process
/// that has reported nothing yet may have read before any write that landed
/// before its spawn was reported; one that starts others (the fork server, a
/// process whose threads do the work) reads nothing itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Landings {
    /// The value each reported write not yet settled left, by its place (1
    /// for the first), and the highest place reported.
    stores: BTreeMap<u64, i64>,
    landed: u64,
    /// Reported reads not yet settled.
    reads: BTreeMap<ReadAt, OpenRead>,
    reported: u64,
    /// Each process's read not yet followed by its write.
    open: HashMap<Pid, ReadAt>,
    /// How far each process that may still read has reported: the place of
    /// its last read or write. A read it has not reported yet comes after.
    frontier: HashMap<Pid, u64>,
    frontiers: BTreeMap<u64, u32>,
    /// Processes that have reported a read or a write of the number.
    readers: HashSet<Pid>,
    /// Processes waiting at their gate, with the frontier each had: until
    /// its permit such a process reads nothing, so it holds no write back
    /// from settling. Every read it made before is reported by then (its
    /// reports come in order, the gate's last).
    parked: HashMap<Pid, u64>,
    /// Whether the run is paced, as its last `pace` said: only then is a
    /// process at its gate sure to wait there for a grant (a free run's
    /// gates are open, and a `ready` may still be sent as they open).
    paced: bool,
    /// Reads made before `settled` not yet written back then, by value and
    /// by the place of their write (with the read's order, for ties).
    held: BTreeMap<i64, u32>,
    ends: BTreeMap<ReadAt, i64>,
    /// The newest settled write.
    pub settled: u64,
    /// Updates lost for certain (see above).
    pub lost: u64,
    /// The places of the writes whose settling raised `lost`, not yet
    /// taken by [`Files`].
    raised: Vec<u64>,
}

impl Landings {
    fn set_frontier(&mut self, pid: Pid, place: Option<u64>) {
        if let Some(old) = self.frontier.remove(&pid) {
            if let Some(n) = self.frontiers.get_mut(&old) {
                *n -= 1;
                if *n == 0 {
                    self.frontiers.remove(&old);
                }
            }
        }
        if let Some(place) = place {
            self.frontier.insert(pid, place);
            *self.frontiers.entry(place).or_default() += 1;
        }
    }

    fn spawned(&mut self, pid: Pid, ppid: Pid) {
        self.set_frontier(pid, Some(self.landed));
        if !self.readers.contains(&ppid) {
            // It starts others: it does not read the number itself.
            self.set_frontier(ppid, None);
        }
        self.settle();
    }

    fn exited(&mut self, pid: Pid) {
        self.parked.remove(&pid);
        self.set_frontier(pid, None);
        self.settle();
    }

    fn paced(&mut self, paced: bool) {
        self.paced = paced;
        if !paced {
            for (pid, place) in std::mem::take(&mut self.parked) {
                self.set_frontier(pid, Some(place));
            }
        }
    }

    fn at_gate(&mut self, pid: Pid) {
        if !self.paced {
            return;
        }
        if let Some(&place) = self.frontier.get(&pid) {
            self.parked.insert(pid, place);
            self.set_frontier(pid, None);
            self.settle();
        }
    }

    /// Let through: from here it may read again, after its last report.
    fn granted(&mut self, pid: Pid) {
        if let Some(place) = self.parked.remove(&pid) {
            self.set_frontier(pid, Some(place));
        }
    }

    fn read(&mut self, pid: Pid, place: u64, value: i64) {
        self.parked.remove(&pid);
        self.readers.insert(pid);
        self.reported += 1;
        let at = ReadAt {
            place,
            order: self.reported,
        };
        self.reads.insert(
            at,
            OpenRead {
                value,
                written_at: None,
            },
        );
        self.open.insert(pid, at);
        self.set_frontier(pid, Some(place));
        self.settle();
    }

    fn wrote(&mut self, pid: Pid, place: u64, value: i64) {
        self.parked.remove(&pid);
        self.readers.insert(pid);
        self.stores.insert(place, value);
        self.landed = self.landed.max(place);
        if let Some(at) = self.open.remove(&pid) {
            if let Some(read) = self.reads.get_mut(&at) {
                read.written_at = Some(place);
            }
        }
        self.set_frontier(pid, Some(place));
        self.settle();
    }

    /// Settles every write up to the lowest frontier.
    fn settle(&mut self) {
        let limit = self
            .frontiers
            .keys()
            .next()
            .copied()
            .unwrap_or(u64::MAX)
            .min(self.landed);
        while self.settled < limit {
            let k = self.settled + 1;
            let Some(value) = self.stores.remove(&k) else {
                break;
            };
            // The reads made before write k: those not written back by it
            // hold their value. Each is reported by now, and so is its
            // write (its process has reported past k), unless it died.
            while let Some(entry) = self.reads.first_entry() {
                if entry.key().place >= k {
                    break;
                }
                let (at, read) = entry.remove_entry();
                // A read never written back holds for good.
                let end = read.written_at.unwrap_or(u64::MAX);
                if end > k {
                    *self.held.entry(read.value).or_default() += 1;
                    self.ends.insert(
                        ReadAt {
                            place: end,
                            order: at.order,
                        },
                        read.value,
                    );
                }
            }
            while let Some((&end, &read)) = self.ends.iter().next() {
                if end.place > k {
                    break;
                }
                self.ends.remove(&end);
                if let Some(n) = self.held.get_mut(&read) {
                    *n -= 1;
                    if *n == 0 {
                        self.held.remove(&read);
                    }
                }
            }
            let highest = self
                .held
                .keys()
                .next_back()
                .map_or(value, |&read| read.max(value));
            let lost = i64::try_from(k).unwrap_or(i64::MAX).saturating_sub(highest);
            let lost = u64::try_from(lost).unwrap_or(0);
            if lost > self.lost {
                self.lost = lost;
                self.raised.push(k);
            }
            self.settled = k;
        }
    }
}

impl<'a> IntoIterator for &'a Files {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.contents.iter()
    }
}
