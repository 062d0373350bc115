//! The sampler: what the parent sees of its children in `/proc`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::ipc::RunClock;
use crate::protocol::{Body, Event, Pid};

/// While nothing happens (a paused run) the sampler looks this rarely, so
/// that a paused mpviz uses next to no CPU.
const IDLE_EVERY: Duration = Duration::from_secs(10);

/// After the last news it still looks this long: what a step set going (a
/// process that ends after its last action, a signal's death) shows in
/// `/proc` a moment after the step's own events.
const SETTLE: Duration = Duration::from_secs(1);

pub(super) struct Sampler {
    pub out: Sender<Vec<Event>>,
    pub clock: RunClock,
    pub live: Arc<Mutex<Vec<Pid>>>,
    pub activity: Arc<AtomicU64>,
    pub stopping: Arc<AtomicBool>,
    pub every: Duration,
    /// Closed or sent to when the run stops, to end the sleep at once.
    pub wake: crossbeam_channel::Receiver<()>,
}

impl Sampler {
    pub(super) fn run(self) {
        let mut last: HashMap<Pid, char> = HashMap::new();
        let mut seen_activity = u64::MAX;
        let mut quiet = Duration::ZERO;
        let mut pids = Vec::new();
        while !self.stopping.load(Ordering::Relaxed) {
            match self.wake.recv_timeout(self.every) {
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let activity = self.activity.load(Ordering::Relaxed);
            if activity == seen_activity {
                quiet += self.every;
                if quiet >= IDLE_EVERY {
                    quiet = Duration::ZERO;
                } else if quiet > SETTLE {
                    continue;
                }
            } else {
                quiet = Duration::ZERO;
                seen_activity = activity;
            }
            pids.clear();
            if let Ok(live) = self.live.lock() {
                pids.extend_from_slice(&live);
            }
            last.retain(|pid, _| pids.contains(pid));
            for &pid in &pids {
                let Some(state) = proc_state(pid) else {
                    continue;
                };
                if last.insert(pid, state) != Some(state) {
                    let event = Event::new(self.clock.now(), Some(pid), Body::State { state });
                    if self.out.send(vec![event]).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// The state letter of `/proc/PID/stat`: the field after the command name,
/// which is in parentheses and may itself hold spaces or parentheses.
pub fn proc_state(pid: Pid) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_state(&stat)
}

fn parse_state(stat: &str) -> Option<char> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_follows_the_last_parenthesis_of_the_command_name() {
        assert_eq!(parse_state("123 (buyer-1) S 1 2 3"), Some('S'));
        assert_eq!(parse_state("123 (a) b) (c) Z 1 2 3"), Some('Z'));
        assert_eq!(parse_state("garbage"), None);
    }

    #[test]
    fn an_unreaped_child_is_seen_as_a_zombie_and_a_reaped_one_not_at_all() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as Pid;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while proc_state(pid) != Some('Z') {
            assert!(std::time::Instant::now() < deadline, "no zombie seen");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.wait().unwrap();
        assert_eq!(proc_state(pid), None);
    }
}
