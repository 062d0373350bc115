//! What the machine allows: checked before a run starts, so that a run too big
//! for the system is refused with a clear message instead of failing halfway.

use nix::sys::resource::{getrlimit, Resource};

/// Processes kept free for the rest of the system.
const HEADROOM: u64 = 64;

/// How many more processes this user can start now, as far as the kernel's
/// limits tell: the process-id space, the kernel's thread limit, and (for a
/// user that is not root) `ulimit -u`.
pub fn processes_available() -> u64 {
    let read =
        |path: &str| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    // The fourth field of /proc/loadavg is "running/total" scheduling entities.
    let in_use = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(3)?
                .split('/')
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    let mut cap = u64::MAX;
    if let Some(pid_max) = read("/proc/sys/kernel/pid_max") {
        cap = cap.min(pid_max);
    }
    if let Some(threads_max) = read("/proc/sys/kernel/threads-max") {
        cap = cap.min(threads_max);
    }
    if !nix::unistd::geteuid().is_root() {
        if let Ok((soft, _)) = getrlimit(Resource::RLIMIT_NPROC) {
            cap = cap.min(soft);
        }
    }
    cap.saturating_sub(in_use).saturating_sub(HEADROOM)
}

/// Refuses a run of `wanted` processes (plus the fork server) that the
/// machine cannot start.
/// Checks that a run of `wanted` processes (what `flag asked` comes to)
/// fits on this machine now.
pub fn check_processes(flag: &str, asked: u64, wanted: u64) -> Result<(), String> {
    let available = processes_available();
    if wanted + 1 > available {
        let what = if asked == wanted {
            format!("{flag} {wanted} is more processes")
        } else {
            format!("{flag} {asked} needs {wanted} processes, more")
        };
        return Err(format!(
            "{what} than this system can start now (about {available} more; see `ulimit -u` and /proc/sys/kernel/pid_max)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_fits_and_an_absurd_one_is_refused() {
        assert!(check_processes("--buyers", 2, 2).is_ok());
        let err = check_processes("--buyers", 1 << 40, 1 << 40).unwrap_err();
        assert!(
            err.starts_with("--buyers 1099511627776 is more processes"),
            "{err}"
        );
        let err = check_processes("--workers", 1 << 40, (1 << 40) + 1).unwrap_err();
        assert!(
            err.starts_with("--workers 1099511627776 needs 1099511627777 processes, more than"),
            "{err}"
        );
    }
}
