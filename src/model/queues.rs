//! Queues: depth and its history, puts and gets, who is blocked on what.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Deref;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::protocol::{Body, Event, Name, Pid};

/// How many recent depths a queue keeps for its history.
pub const QUEUE_HISTORY: usize = 120;

/// A process blocked on a queue, and on what: "put" (the queue is full) or
/// "get" (it is empty).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockedOn {
    pub pid: Pid,
    pub op: Name,
}

/// A `qsize()` a process read: who, and the value it got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizeRead {
    pub by: Pid,
    pub value: u32,
}

/// How many times one item was put into a queue, and got from it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ItemCount {
    pub put: u32,
    pub got: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueState {
    /// The real depth, as last measured (after a put or get, or by the parent).
    pub depth: u32,
    pub maxsize: u32,
    pub max_depth: u32,
    /// Recent depths, oldest first.
    pub history: VecDeque<u32>,
    pub puts: u64,
    pub gets: u64,
    pub full_timeouts: u64,
    pub empty_timeouts: u64,
    /// Who is blocked on the queue now, in the order they blocked.
    pub blocked: Vec<BlockedOn>,
    /// How many times each item was put, and got.
    pub items: HashMap<u64, ItemCount>,
    /// The last `qsize()` a process read.
    pub last_qsize: Option<SizeRead>,
    /// Items the parent itself put (stop signals).
    pub parent_items: HashSet<u64>,
}

impl QueueState {
    fn measured(&mut self, depth: u32) {
        self.depth = depth;
        self.max_depth = self.max_depth.max(depth);
        if self.history.len() == QUEUE_HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(depth);
    }

    fn unblock(&mut self, pid: Option<Pid>) {
        self.blocked.retain(|b| Some(b.pid) != pid);
    }
}

/// The run's queues by name (read as the map).
#[derive(Debug, Clone, Default)]
pub struct Queues {
    by_name: BTreeMap<String, QueueState>,
}

impl Deref for Queues {
    type Target = BTreeMap<String, QueueState>;

    fn deref(&self) -> &Self::Target {
        &self.by_name
    }
}

impl Queues {
    /// The queue named `name`, new if unseen (a key made only then).
    fn queue(&mut self, name: &str) -> &mut QueueState {
        if !self.by_name.contains_key(name) {
            self.by_name.insert(name.to_string(), QueueState::default());
        }
        self.by_name.get_mut(name).expect("inserted above")
    }

    /// Folds in a queue's events: puts and gets, blocks, timeouts, the sizes
    /// processes asked for and the depths the parent measured. A put by
    /// `parent` (mpviz's own process) is a stop signal.
    pub(super) fn apply(&mut self, ev: &Event, parent: Option<Pid>) {
        let pid = ev.pid;
        match &ev.body {
            Body::Put { queue, item, depth } => {
                let by_parent = pid.is_some() && pid == parent;
                let q = self.queue(queue);
                q.measured(*depth);
                q.puts += 1;
                q.items.entry(*item).or_default().put += 1;
                if by_parent {
                    q.parent_items.insert(*item);
                }
                q.unblock(pid);
            }
            Body::Get { queue, item, depth } => {
                let q = self.queue(queue);
                q.measured(*depth);
                q.gets += 1;
                q.items.entry(*item).or_default().got += 1;
                q.unblock(pid);
            }
            Body::Blocked { queue, op } => {
                if let Some(pid) = pid {
                    self.queue(queue).blocked.push(BlockedOn {
                        pid,
                        op: op.clone(),
                    });
                }
            }
            Body::Full { queue, .. } => {
                let q = self.queue(queue);
                q.full_timeouts += 1;
                q.unblock(pid);
            }
            Body::Empty { queue } => {
                let q = self.queue(queue);
                q.empty_timeouts += 1;
                q.unblock(pid);
            }
            Body::Qsize { queue, value } => {
                self.queue(queue).last_qsize = pid.map(|by| SizeRead { by, value: *value });
            }
            Body::QueueDepth {
                queue,
                depth,
                maxsize,
            } => {
                let q = self.queue(queue);
                q.maxsize = *maxsize;
                if q.history.back() != Some(depth) || q.depth != *depth {
                    q.measured(*depth);
                }
            }
            _ => {}
        }
    }

    /// A process that ended is blocked on nothing.
    pub(super) fn exited(&mut self, pid: Pid) {
        for queue in self.by_name.values_mut() {
            queue.unblock(Some(pid));
        }
    }
}

impl<'a> IntoIterator for &'a Queues {
    type Item = (&'a String, &'a QueueState);
    type IntoIter = std::collections::btree_map::Iter<'a, String, QueueState>;

    fn into_iter(self) -> Self::IntoIter {
        self.by_name.iter()
    }
}
