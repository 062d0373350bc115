//! What the machine allows: checked before a run starts, so that a run too big
//! for the system is refused with a clear message instead of failing halfway.

use std::path::Path;

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
    let mut room = cap.saturating_sub(in_use);
    if !nix::unistd::geteuid().is_root() {
        if let Ok((soft, _)) = getrlimit(Resource::RLIMIT_NPROC) {
            // `ulimit -u` counts the tasks of this real user only.
            let statuses = std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("status")).ok());
            let mine = tasks_of_user(statuses, nix::unistd::getuid().as_raw());
            room = room.min(soft.saturating_sub(mine));
        }
    }
    let room = match std::fs::read_to_string("/proc/self/cgroup") {
        Ok(cgroups) => {
            room.min(cgroup_room(&cgroups, Path::new("/sys/fs/cgroup")).unwrap_or(u64::MAX))
        }
        Err(_) => room,
    };
    room.saturating_sub(HEADROOM)
}

/// How many tasks (threads included: each counts against `ulimit -u`) the
/// processes whose `/proc/PID/status` texts are given run as real user `uid`.
fn tasks_of_user(statuses: impl Iterator<Item = String>, uid: u32) -> u64 {
    let field = |status: &str, name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    statuses
        .filter(|s| field(s, "Uid:") == Some(u64::from(uid)))
        .map(|s| field(&s, "Threads:").unwrap_or(1))
        .sum()
}

/// How many more tasks the cgroups of this process allow (a container's
/// `pids.max`), if any limits: the least room left at any level from the
/// process's own group up to the root. `cgroups` is /proc/self/cgroup; `root`
/// is where the hierarchies are mounted.
fn cgroup_room(cgroups: &str, root: &Path) -> Option<u64> {
    let read = |path: &Path| std::fs::read_to_string(path).ok();
    let mut room: Option<u64> = None;
    for line in cgroups.lines() {
        // "0::/path" (cgroup v2) or "N:pids:/path" (the v1 pids controller).
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // A group outside this cgroup namespace (`/../x`) is not under the mount.
        if path.split('/').any(|part| part == "..") {
            continue;
        }
        let mounts = match controllers {
            "" => vec![root.to_path_buf(), root.join("unified")],
            c if c.split(',').any(|c| c == "pids") => vec![root.join("pids")],
            _ => continue,
        };
        for mount in mounts {
            let mut group = Some(mount.join(path.trim_start_matches('/')));
            while let Some(dir) = group {
                let max = read(&dir.join("pids.max")).and_then(|m| m.trim().parse::<u64>().ok());
                let current =
                    read(&dir.join("pids.current")).and_then(|c| c.trim().parse::<u64>().ok());
                if let (Some(max), Some(current)) = (max, current) {
                    let left = max.saturating_sub(current);
                    room = Some(room.map_or(left, |r| r.min(left)));
                }
                group = dir
                    .parent()
                    .filter(|up| up.starts_with(&mount))
                    .map(Path::to_path_buf);
            }
        }
    }
    room
}

/// Checks that a run of `wanted` processes (what `flag asked` comes to)
/// plus the fork server fits on this machine now.
pub fn check_processes(flag: &str, asked: u64, wanted: u64) -> Result<(), String> {
    let available = processes_available();
    if wanted + 1 > available {
        let key = if asked == wanted {
            "usage_processes"
        } else {
            "usage_processes_needs"
        };
        return Err(crate::scenario::texts::messages().say(
            key,
            &[
                ("flag", &flag),
                ("asked", &asked),
                ("wanted", &wanted),
                ("available", &available),
            ],
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_containers_pids_max_is_room_counted_at_every_level() {
        let root = tempfile::tempdir().unwrap();
        let write = |dir: &str, max: &str, current: u64| {
            let dir = root.path().join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("pids.max"), format!("{max}\n")).unwrap();
            std::fs::write(dir.join("pids.current"), format!("{current}\n")).unwrap();
        };
        write("", "max", 900); // the root: no limit
        write("box", "1000", 300); // 700 left
        write("box/run", "5000", 10); // its own limit is higher: the box's counts
        assert_eq!(cgroup_room("0::/box/run\n", root.path()), Some(700));
        write("box/run", "50", 10);
        assert_eq!(cgroup_room("0::/box/run\n", root.path()), Some(40));
        // cgroup v1: the pids controller's own hierarchy.
        write("pids/job", "100", 1);
        assert_eq!(
            cgroup_room("4:memory:/x\n8:pids:/job\n", root.path()),
            Some(99)
        );
        assert_eq!(cgroup_room("0::/\n", root.path()), None);
        // A group not mounted here (a container without its own cgroup
        // namespace) counts from the nearest level that is: the mount.
        std::fs::write(root.path().join("pids.max"), "2000\n").unwrap();
        assert_eq!(cgroup_room("0::/docker/abc\n", root.path()), Some(1100));
        // A hybrid layout: cgroup v2 mounted at unified/.
        write("unified/job", "30", 5);
        assert_eq!(cgroup_room("0::/job\n", root.path()), Some(25));
        // A group outside the namespace is not looked for.
        assert_eq!(cgroup_room("0::/../../box\n", root.path()), None);
    }

    #[test]
    fn ulimit_u_counts_the_tasks_of_this_real_user_only() {
        let status = |real: u32, effective: u32, threads: u32| {
            format!("Name:\tx\nUid:\t{real}\t{effective}\t{real}\t{real}\nGid:\t0\t0\t0\t0\nThreads:\t{threads}\n")
        };
        let system = [
            status(0, 0, 1),       // init
            status(0, 0, 40),      // root's daemon
            status(1000, 1000, 7), // this user's mpviz
            status(1000, 0, 1),    // this user's setuid program
            status(1001, 1000, 3), // someone else's, effective 1000
            status(1000, 1000, 1),
        ];
        assert_eq!(tasks_of_user(system.iter().cloned(), 1000), 9);
        assert_eq!(tasks_of_user(system.iter().cloned(), 0), 41);
        assert_eq!(tasks_of_user(system.iter().cloned(), 4242), 0);
    }

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
