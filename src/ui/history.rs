//! A run's history, for stepping back: every event folded, a checkpoint of
//! the fold every [`History::EVERY`] events, and where the notable moments
//! are. The model after any number of events is the nearest checkpoint
//! before it, folded on to it: the frame is a function of the stream up to
//! the cursor, so a screen stepped back to is exactly the screen it was.

use crate::model::Model;
use crate::protocol::{Body, Event};

#[derive(Default)]
pub struct History {
    /// Every event, each as [`Event::keep`] writes it: a fifth of the
    /// memory of the events themselves.
    kept: Vec<u8>,
    len: usize,
    /// (events folded, where the next is in `kept`, the model then),
    /// oldest first; the first is the empty model.
    checkpoints: Vec<(usize, usize, Model)>,
    /// Where the notable moments are: the number of events up to and
    /// including each one.
    moments: Vec<usize>,
    /// Events between two checkpoints.
    every: usize,
}

impl History {
    /// Events between two checkpoints: a jump clones one model and folds
    /// at most this many events (a few milliseconds); a checkpoint of a
    /// busy run's model may take hundreds of kilobytes, so a million
    /// events keep about 120 of them.
    pub const EVERY: usize = 8192;

    pub fn new() -> History {
        History::every(Self::EVERY)
    }

    /// A history with a checkpoint every `n` events.
    pub fn every(n: usize) -> History {
        History {
            checkpoints: vec![(0, 0, Model::new())],
            every: n.max(1),
            ..History::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps `event`, which `after` has just folded; `notable` says whether
    /// it made a moment worth jumping to.
    pub fn push(&mut self, event: Event, after: &Model, notable: bool) {
        event.keep(&mut self.kept);
        self.len += 1;
        let n = self.len;
        if notable {
            self.moments.push(n);
        }
        if n % self.every == 0 {
            self.checkpoints.push((n, self.kept.len(), after.clone()));
        }
    }

    /// Every event kept, oldest first.
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let (event, len) = Event::kept(&self.kept[at..])?;
            at += len;
            Some(event)
        })
    }

    /// The model after the first `n` events.
    pub fn model_at(&self, n: usize) -> Model {
        let n = n.min(self.len);
        let at = self.checkpoints.partition_point(|(k, _, _)| *k <= n) - 1;
        let (from, mut offset, model) = &self.checkpoints[at];
        let mut model = model.clone();
        for _ in *from..n {
            // Kept by `push`: each reads back whole.
            let Some((event, used)) = Event::kept(&self.kept[offset..]) else {
                break;
            };
            offset += used;
            model.fold(event);
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
        let every = 512;
        let mut history = History::every(every);
        let mut live = Model::new();
        for event in &events {
            let moments: u32 = live.moments.values().sum();
            live.apply(event);
            history.push(event.clone(), &live, notable(event, &live, moments));
        }
        let n = history.len();
        assert!(n > 3 * every);
        for k in [0, 1, every - 1, every, every + 1, 2 * every + 7, n] {
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

    #[test]
    fn every_event_of_every_scenario_reads_back_as_it_was_kept() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui/view/fixtures");
        let mut kinds = std::collections::BTreeSet::new();
        for file in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            let events: Vec<Event> = text
                .lines()
                .filter_map(|l| Event::from_json(l).ok())
                .collect();
            let mut kept = Vec::new();
            for event in &events {
                event.keep(&mut kept);
                kinds.insert(event.kind());
            }
            let mut at = 0;
            for event in &events {
                let (back, used) = Event::kept(&kept[at..]).expect("kept whole");
                assert_eq!(&back, event);
                at += used;
            }
            assert_eq!(at, kept.len());
        }
        assert!(kinds.contains("start") && kinds.len() > 20, "{kinds:?}");
    }
}
