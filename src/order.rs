//! The stream's order, said once per event kind: which fact (an
//! [`OrderKey`]) an event must follow, and which fact its passing
//! establishes. The reader holds an event back until every fact it waits
//! for has passed (`engine::reader::Holding`); a scenario declares which
//! [`Rule`]s its stream needs (`scenario::Show::order`), and only those
//! hold anything.

use crate::protocol::{Body, Event, Pid};

/// A family of facts an event may wait for; a run keeps the rules its
/// scenario declares, and always [`Rule::Spawn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A process's events follow its `spawn` (a thread announces itself, and
    /// may do so before the server's spawn of its process has arrived).
    Spawn,
    /// A `get` follows the `put` of its item (the put returns after the
    /// consumer has woken).
    QueueItems,
    /// A task's `task_start` and `task_done` follow its `task_submit` (a pool
    /// worker can report a task before the main process's submit of it has
    /// crossed from its thread).
    Tasks,
    /// The main process's reports about a task's result (its callback, its
    /// `get`, a wait that saw the result) follow the worker's `task_done`:
    /// the main process learns the result from the pool's result pipe, not
    /// from this stream, so its report can overtake the worker's.
    Results,
}

/// A fact of the stream that an event may wait for. `N` names a queue: the
/// event's own `&str`, or the reader's number for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderKey<N> {
    /// A process's (or a thread's) `spawn` has passed.
    Spawned(Pid),
    /// An item has been put into a queue.
    Put(N, u64),
    /// A task has been submitted.
    Submitted(u32),
    /// A task's worker has reported it done.
    Done(u32),
}

impl<N> OrderKey<N> {
    /// The rule this fact belongs to.
    pub fn rule(&self) -> Rule {
        match self {
            OrderKey::Spawned(_) => Rule::Spawn,
            OrderKey::Put(..) => Rule::QueueItems,
            OrderKey::Submitted(_) => Rule::Tasks,
            OrderKey::Done(_) => Rule::Results,
        }
    }

    /// Whether one event alone waits for this fact, so that it can be
    /// forgotten once that event has passed: an item is got once.
    pub fn waited_for_once(&self) -> bool {
        matches!(self, OrderKey::Put(..))
    }

    /// The same fact with its queue named by `name(queue)`.
    pub fn map_name<M>(self, name: impl FnOnce(N) -> M) -> OrderKey<M> {
        match self {
            OrderKey::Spawned(pid) => OrderKey::Spawned(pid),
            OrderKey::Put(queue, item) => OrderKey::Put(name(queue), item),
            OrderKey::Submitted(task) => OrderKey::Submitted(task),
            OrderKey::Done(task) => OrderKey::Done(task),
        }
    }
}

impl Event {
    /// What this event must follow, in the order it is checked: first its
    /// process's `spawn` (for a `spawn`, its parent's), then what its kind
    /// waits for.
    pub fn waits_for(&self) -> [Option<OrderKey<&str>>; 2] {
        let process = match (&self.body, self.pid) {
            (Body::Spawn { ppid, .. }, _) => Some(OrderKey::Spawned(*ppid)),
            (_, pid) => pid.map(OrderKey::Spawned),
        };
        let kind = match &self.body {
            Body::Get { queue, item, .. } => Some(OrderKey::Put(queue.as_str(), *item)),
            Body::TaskStart { task } | Body::TaskDone { task, .. } => {
                Some(OrderKey::Submitted(*task))
            }
            Body::Callback { task, .. }
            | Body::ResultGet { task, .. }
            | Body::ResultWait {
                task,
                expired: false,
                ..
            } => Some(OrderKey::Done(*task)),
            _ => None,
        };
        [process, kind]
    }

    /// The fact this event's passing establishes, if any.
    pub fn releases(&self) -> Option<OrderKey<&str>> {
        match (&self.body, self.pid) {
            (Body::Spawn { .. }, Some(pid)) => Some(OrderKey::Spawned(pid)),
            (Body::Put { queue, item, .. }, _) => Some(OrderKey::Put(queue.as_str(), *item)),
            (Body::TaskSubmit { task }, _) => Some(OrderKey::Submitted(*task)),
            (Body::TaskDone { task, .. }, _) => Some(OrderKey::Done(*task)),
            _ => None,
        }
    }
}
