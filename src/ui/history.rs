//! A run's history, for stepping back: every event folded, a checkpoint of
//! the fold every [`History::EVERY`] events, and where the notable moments
//! are. The model after any number of events is the nearest checkpoint
//! before it, folded on to it: the frame is a function of the stream up to
//! the cursor, so a screen stepped back to is exactly the screen it was.

use crate::model::Model;
use crate::protocol::{Body, Event};

#[derive(Default)]
pub struct History {
    events: Vec<Event>,
    /// (events folded, the model then), oldest first; the first is the
    /// empty model.
    checkpoints: Vec<(usize, Model)>,
    /// Where the notable moments are: the number of events up to and
    /// including each one.
    moments: Vec<usize>,
}

impl History {
    /// Events between two checkpoints: a jump folds at most this many.
    pub const EVERY: usize = 512;

    pub fn new() -> History {
        History {
            checkpoints: vec![(0, Model::new())],
            ..History::default()
        }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Keeps `event`, which `after` has just folded; `notable` says whether
    /// it made a moment worth jumping to.
    pub fn push(&mut self, event: Event, after: &Model, notable: bool) {
        self.events.push(event);
        let n = self.events.len();
        if notable {
            self.moments.push(n);
        }
        if n % Self::EVERY == 0 {
            self.checkpoints.push((n, after.clone()));
        }
    }

    /// The model after the first `n` events.
    pub fn model_at(&self, n: usize) -> Model {
        let n = n.min(self.events.len());
        let at = self.checkpoints.partition_point(|(k, _)| *k <= n) - 1;
        let (from, model) = &self.checkpoints[at];
        let mut model = model.clone();
        for event in &self.events[*from..n] {
            model.apply(event);
        }
        model
    }

    /// The last moment before `n` events (one that `n` events have passed:
    /// the screen there shows it happened), if any.
    pub fn moment_before(&self, n: usize) -> Option<usize> {
        let at = self.moments.partition_point(|&k| k < n);
        at.checked_sub(1).map(|i| self.moments[i])
    }

    /// The first moment after `n` events, if any.
    pub fn moment_after(&self, n: usize) -> Option<usize> {
        let at = self.moments.partition_point(|&k| k <= n);
        self.moments.get(at).copied()
    }
}

/// Whether `event`, just folded into `after` (whose count of moments was
/// `moments_before`), is a moment worth jumping to: one the model names (a
/// lost update, an oversell, a torn read or line, a deadlock), a reset to
/// 100, a block on a full or empty queue, a non-zero exit, a zombie.
pub fn notable(event: &Event, after: &Model, moments_before: u32) -> bool {
    let moments: u32 = after.moments.values().sum();
    moments > moments_before
        || match &event.body {
            Body::Blocked { .. } | Body::Full { .. } | Body::Empty { .. } => true,
            Body::Exit { exitcode } => *exitcode != 0,
            Body::State { state } => *state == 'Z',
            Body::Read { reset, .. } => reset.is_some(),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Name, Outcome};

    /// A ticket run of `buyers` buyers, one after another: well over a
    /// few checkpoints' worth of events.
    fn stream(buyers: u32) -> Vec<Event> {
        let mut events = vec![Event::new(
            0,
            None,
            Body::Start {
                scenario: "ticket".into(),
                seed: 1,
                parent_pid: 1,
                params: serde_json::json!({}),
            },
        )];
        let mut t = 0;
        let mut push = |pid: u32, body: Body| {
            t += 1000;
            events.push(Event::new(t, Some(pid as i32), body));
        };
        for slot in 0..buyers {
            let pid = 100 + slot;
            push(
                pid,
                Body::Spawn {
                    name: format!("buyer-{slot}"),
                    role: "buyer".into(),
                    slot,
                    ppid: 1,
                },
            );
            push(
                pid,
                Body::Ready {
                    action: "take_lock".into(),
                },
            );
            push(
                pid,
                Body::LockWait {
                    lock: Name::from("tickets"),
                },
            );
            push(
                pid,
                Body::LockAcquire {
                    lock: Name::from("tickets"),
                },
            );
            push(
                pid,
                Body::Outcome {
                    result: Outcome::Fail,
                },
            );
            push(
                pid,
                Body::LockRelease {
                    lock: Name::from("tickets"),
                },
            );
            push(
                pid,
                Body::Exit {
                    exitcode: i32::from(slot % 7 == 3),
                },
            );
        }
        events
    }

    #[test]
    fn the_model_after_any_number_of_events_is_their_fold_across_checkpoints() {
        let events = stream(300);
        let mut history = History::new();
        let mut live = Model::new();
        for event in &events {
            let moments: u32 = live.moments.values().sum();
            live.apply(event);
            history.push(event.clone(), &live, notable(event, &live, moments));
        }
        let n = history.len();
        assert!(n > 3 * History::EVERY);
        for k in [
            0,
            1,
            History::EVERY - 1,
            History::EVERY,
            History::EVERY + 1,
            2 * History::EVERY + 7,
            n,
        ] {
            let mut fold = Model::new();
            for event in &events[..k] {
                fold.apply(event);
            }
            assert_eq!(
                format!("{:?}", history.model_at(k)),
                format!("{fold:?}"),
                "after {k} events"
            );
        }
        // Every seventh buyer exits 1: each exit is a moment to jump to.
        let first = history.moment_after(0).unwrap();
        assert!(matches!(events[first - 1].body, Body::Exit { exitcode: 1 }));
        let next = history.moment_after(first).unwrap();
        assert_eq!(next - first, 7 * 7);
        assert_eq!(history.moment_before(next), Some(first));
    }
}
