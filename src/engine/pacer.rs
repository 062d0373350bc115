//! The pacer: the teacher's hand on the children's time.
//!
//! Children that wait at a gate are queued here (the reader forwards their
//! `ready` events). Running at N actions per second, the pacer grants one
//! permit every 1/N s to a waiting child picked at random with the run's seed,
//! as a scheduler would; paused, it grants nothing; a step grants one; a
//! step of one PID grants that child only. At `max` speed the gates are opened
//! and children run as fast as the OS schedules them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::ipc::{Gates, RunClock};
use crate::protocol::{Body, Event, Pid};

/// Instrumented actions per second across all processes of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Max,
    PerSecond(f64),
}

impl Speed {
    /// The steps of `+` and `-`: from one action every four seconds to no pacing.
    pub const LADDER: [f64; 13] = [
        0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0,
    ];

    pub fn per_second(self) -> Option<f64> {
        match self {
            Speed::Max => None,
            Speed::PerSecond(n) => Some(n),
        }
    }

    pub fn faster(self) -> Speed {
        match self {
            Speed::Max => Speed::Max,
            Speed::PerSecond(n) => Self::LADDER
                .iter()
                .find(|&&step| step > n)
                .map_or(Speed::Max, |&step| Speed::PerSecond(step)),
        }
    }

    pub fn slower(self) -> Speed {
        let n = match self {
            Speed::Max => f64::INFINITY,
            Speed::PerSecond(n) => n,
        };
        Self::LADDER
            .iter()
            .rev()
            .find(|&&step| step < n)
            .map_or(self, |&step| Speed::PerSecond(step))
    }
}

/// What the screen (or a test) asks of the pacer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PacerCmd {
    Pause,
    Resume,
    TogglePause,
    /// Let exactly one action happen (pauses first if running).
    Step,
    /// Let exactly one action of this process happen (pauses first).
    StepPid(Pid),
    SetSpeed(Speed),
    Faster,
    Slower,
}

/// What reaches the pacer's thread.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PacerInput {
    Cmd(PacerCmd),
    Ready { pid: Pid, slot: u32 },
    Stop,
}

pub(crate) struct Pacer {
    gates: Arc<Gates>,
    out: Sender<Vec<Event>>,
    clock: RunClock,
    rng: fastrand::Rng,
    paused: bool,
    speed: Speed,
    waiting: Vec<(Pid, u32)>,
    /// A step asked for while nobody was at a gate applies to the next
    /// process that reaches one. At most one is kept: pressing `n` five times
    /// while everyone sleeps must not become a burst of five later.
    owed: u32,
    owed_pid: Option<Pid>,
    next_grant: Instant,
}

impl Pacer {
    pub(crate) fn new(
        gates: Arc<Gates>,
        out: Sender<Vec<Event>>,
        clock: RunClock,
        seed: u64,
        speed: Speed,
        paused: bool,
    ) -> Pacer {
        let pacer = Pacer {
            gates,
            out,
            clock,
            rng: fastrand::Rng::with_seed(seed ^ 0x005e_ed0f_9ace),
            paused,
            speed,
            waiting: Vec::new(),
            owed: 0,
            owed_pid: None,
            next_grant: Instant::now(),
        };
        pacer.apply_mode();
        pacer
    }

    fn free_running(&self) -> bool {
        !self.paused && self.speed == Speed::Max
    }

    fn apply_mode(&self) {
        self.gates.set_free(self.free_running());
    }

    fn announce(&self) {
        let body = Body::Pace {
            paused: self.paused,
            speed: self.speed.per_second(),
        };
        let _ = self
            .out
            .send(vec![Event::new(self.clock.now(), None, body)]);
    }

    fn grant_at(&mut self, index: usize) {
        let (_, slot) = self.waiting.swap_remove(index);
        self.gates.grant(slot);
    }

    fn grant_random(&mut self) -> bool {
        if self.waiting.is_empty() {
            return false;
        }
        let index = self.rng.usize(..self.waiting.len());
        self.grant_at(index);
        true
    }

    fn grant_pid(&mut self, pid: Pid) -> bool {
        match self.waiting.iter().position(|&(p, _)| p == pid) {
            Some(index) => {
                self.grant_at(index);
                true
            }
            None => false,
        }
    }

    fn command(&mut self, cmd: PacerCmd) {
        match cmd {
            PacerCmd::Pause => self.paused = true,
            PacerCmd::Resume => self.paused = false,
            PacerCmd::TogglePause => self.paused = !self.paused,
            PacerCmd::Step => {
                self.paused = true;
                if !self.grant_random() {
                    self.owed = 1;
                }
            }
            PacerCmd::StepPid(pid) => {
                self.paused = true;
                if !self.grant_pid(pid) {
                    self.owed_pid = Some(pid);
                }
            }
            PacerCmd::SetSpeed(speed) => self.speed = speed,
            PacerCmd::Faster => self.speed = self.speed.faster(),
            PacerCmd::Slower => self.speed = self.speed.slower(),
        }
        if matches!(
            cmd,
            PacerCmd::Resume
                | PacerCmd::TogglePause
                | PacerCmd::SetSpeed(_)
                | PacerCmd::Faster
                | PacerCmd::Slower
        ) {
            // A new rhythm starts now, not at the old speed's next beat.
            self.next_grant = Instant::now();
        }
        if !self.paused {
            self.owed = 0;
            self.owed_pid = None;
        }
        self.apply_mode();
        if self.free_running() {
            while self.grant_random() {}
        }
        self.announce();
    }

    fn ready(&mut self, pid: Pid, slot: u32) {
        self.waiting.push((pid, slot));
        if self.free_running() {
            self.grant_random();
        } else if self.paused {
            if self.owed_pid == Some(pid) {
                self.owed_pid = None;
                self.grant_pid(pid);
            } else if self.owed > 0 && self.owed_pid.is_none() {
                self.owed -= 1;
                self.grant_random();
            }
        }
    }

    /// How long to sleep before the next paced grant is due, if one is.
    fn due_in(&self) -> Option<Duration> {
        match (self.paused, self.speed, self.waiting.is_empty()) {
            (false, Speed::PerSecond(_), false) => {
                Some(self.next_grant.saturating_duration_since(Instant::now()))
            }
            _ => None,
        }
    }

    fn tick(&mut self) {
        if let (false, Speed::PerSecond(n)) = (self.paused, self.speed) {
            let now = Instant::now();
            if now >= self.next_grant && self.grant_random() {
                let interval = Duration::from_secs_f64(1.0 / n);
                // Keep the rhythm, but bank no grants for a time nobody waited.
                let next = self.next_grant + interval;
                self.next_grant = if next < now { now + interval } else { next };
            }
        }
    }

    pub(crate) fn run(mut self, inputs: Receiver<PacerInput>) {
        self.announce();
        loop {
            let input = match self.due_in() {
                Some(wait) if wait.is_zero() => {
                    self.tick();
                    continue;
                }
                Some(wait) => match inputs.recv_timeout(wait) {
                    Ok(input) => input,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        self.tick();
                        continue;
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                },
                None => match inputs.recv() {
                    Ok(input) => input,
                    Err(_) => return,
                },
            };
            match input {
                PacerInput::Cmd(cmd) => self.command(cmd),
                PacerInput::Ready { pid, slot } => self.ready(pid, slot),
                PacerInput::Stop => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_ladder_climbs_to_max_and_back() {
        assert_eq!(Speed::PerSecond(10.0).faster(), Speed::PerSecond(20.0));
        assert_eq!(Speed::PerSecond(5000.0).faster(), Speed::Max);
        assert_eq!(Speed::Max.slower(), Speed::PerSecond(5000.0));
        assert_eq!(Speed::PerSecond(0.25).slower(), Speed::PerSecond(0.25));
        assert_eq!(Speed::PerSecond(3.0).slower(), Speed::PerSecond(2.0));
        assert_eq!(Speed::PerSecond(3.0).faster(), Speed::PerSecond(5.0));
    }

    fn pacer(paused: bool, speed: Speed) -> (Pacer, Arc<Gates>, Receiver<Vec<Event>>) {
        let (gates, _fd) = Gates::create(4).unwrap();
        let gates = Arc::new(gates);
        let (tx, rx) = crossbeam_channel::unbounded();
        let p = Pacer::new(gates.clone(), tx, RunClock::start(), 1, speed, paused);
        (p, gates, rx)
    }

    fn total(gates: &Gates) -> u32 {
        (0..4).map(|s| gates.granted(s)).sum()
    }

    #[test]
    fn paused_pacer_grants_nothing_and_a_step_grants_exactly_one() {
        let (mut p, gates, _rx) = pacer(true, Speed::PerSecond(1000.0));
        for slot in 0..3 {
            p.ready(100 + slot as Pid, slot);
        }
        p.tick();
        assert_eq!(total(&gates), 0);
        p.command(PacerCmd::Step);
        assert_eq!(total(&gates), 1);
        assert_eq!(p.waiting.len(), 2);
    }

    #[test]
    fn steps_asked_while_nobody_waits_apply_once_to_the_next_arrival() {
        let (mut p, gates, _rx) = pacer(true, Speed::PerSecond(1.0));
        for _ in 0..3 {
            p.command(PacerCmd::Step);
        }
        p.ready(100, 0);
        assert_eq!(gates.granted(0), 1);
        p.ready(101, 1);
        assert_eq!(gates.granted(1), 0, "only one step was owed");
    }

    #[test]
    fn stepping_one_pid_grants_that_child_only() {
        let (mut p, gates, _rx) = pacer(true, Speed::PerSecond(1.0));
        p.ready(100, 0);
        p.ready(101, 1);
        p.command(PacerCmd::StepPid(101));
        assert_eq!(gates.granted(1), 1);
        assert_eq!(gates.granted(0), 0);
        // A step of a PID that is not at a gate waits for it to arrive there.
        p.command(PacerCmd::StepPid(102));
        assert_eq!(total(&gates), 1);
        p.ready(102, 2);
        assert_eq!(gates.granted(2), 1);
    }

    #[test]
    fn max_speed_opens_the_gates_and_releases_every_waiter() {
        let (mut p, gates, rx) = pacer(true, Speed::PerSecond(1.0));
        p.ready(100, 0);
        p.ready(101, 1);
        assert!(!gates.is_free());
        p.command(PacerCmd::SetSpeed(Speed::Max));
        p.command(PacerCmd::Resume);
        assert!(gates.is_free());
        assert_eq!(total(&gates), 2);
        let last = rx.try_iter().flatten().last().unwrap();
        assert_eq!(
            last.body,
            Body::Pace {
                paused: false,
                speed: None
            }
        );
    }
}
