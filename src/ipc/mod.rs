//! The kernel objects that connect the processes of a run: one shared clock,
//! one pipe that carries every child's events to the parent, and one page of
//! shared memory where the pacer hands out permits.

pub mod gate;
pub mod queue;
pub mod sem;
pub mod shared;
pub mod shm;
pub mod sink;

pub use gate::Gates;
pub use sink::EventSink;

use nix::time::{clock_gettime, ClockId};

/// Nanoseconds on `CLOCK_MONOTONIC`: one clock for every process of the machine,
/// so stamps taken in different processes of a run can be compared.
pub fn monotonic_ns() -> u64 {
    // CLOCK_MONOTONIC cannot fail on Linux; 0 would only make a stamp early.
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|ts| ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64)
        .unwrap_or(0)
}

/// The run's clock: nanoseconds since `origin_ns`.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct RunClock {
    pub origin_ns: u64,
}

impl RunClock {
    pub fn start() -> Self {
        RunClock {
            origin_ns: monotonic_ns(),
        }
    }

    pub fn now(&self) -> u64 {
        monotonic_ns().saturating_sub(self.origin_ns)
    }
}
