//! Leave nothing behind: the last line of defence when mpviz ends abnormally.
//!
//! Every run registers its process group and its directory here. Normal ends
//! go through [`crate::engine::Run::stop`]; a panic in any thread goes through
//! the hook installed by [`install_panic_hook`], which lets the front end
//! restore the terminal, kills every registered group and removes every
//! registered directory before the panic message is printed.
//!
//! Whatever kills mpviz — SIGKILL in its first milliseconds, an abort, a
//! kill after the run's fork server is gone — its run directories go with
//! it: a run directory is made by the *keeper* ([`keeper_main`]), a small
//! process (this binary as `mpviz __keeper`, in a process group of its own,
//! deaf to the terminal's and `kill`'s catchable signals) started before the
//! first directory and living as long as mpviz. mpviz holds the only writing
//! end of the keeper's standard input; when mpviz ends, however it ends, the
//! kernel closes it, and the keeper removes every directory it made that
//! mpviz did not remove itself, then exits. A directory exists only once
//! its cleaner does: there is no window.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context};
use nix::sys::signal::{killpg, SigHandler, Signal};
use nix::unistd::Pid as NixPid;

use crate::protocol::Pid;

/// The first argument that turns the mpviz binary into the keeper.
pub const KEEPER_ARG: &str = "__keeper";

static GROUPS: Mutex<Vec<Pid>> = Mutex::new(Vec::new());
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static KEEPER: Mutex<Option<Keeper>> = Mutex::new(None);

pub fn register_group(pgid: Pid) {
    if let Ok(mut groups) = GROUPS.lock() {
        groups.push(pgid);
    }
}

pub fn unregister_group(pgid: Pid) {
    if let Ok(mut groups) = GROUPS.lock() {
        groups.retain(|&g| g != pgid);
    }
}

fn register_dir(dir: &Path) {
    if let Ok(mut dirs) = DIRS.lock() {
        dirs.push(dir.to_path_buf());
    }
}

fn unregister_dir(dir: &Path) {
    if let Ok(mut dirs) = DIRS.lock() {
        dirs.retain(|d| d != dir);
    }
}

/// mpviz's side of the keeper: its standard input and output.
struct Keeper {
    _child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
}

impl Keeper {
    fn start(exe: &Path) -> anyhow::Result<Keeper> {
        // Both pipes are close-on-exec on mpviz's side: no other process
        // (the fork server, its children) holds the writing end, so the
        // keeper's input ends exactly when mpviz does.
        let mut child = Command::new(exe)
            .arg(KEEPER_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("could not start the process that cleans up after mpviz")?;
        let (Some(to), Some(from)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("the cleaning process has no pipes");
        };
        Ok(Keeper {
            _child: child,
            to,
            from: BufReader::new(from),
        })
    }

    fn new_dir(&mut self) -> anyhow::Result<PathBuf> {
        self.to.write_all(b"new\n")?;
        self.to.flush()?;
        let mut reply = Vec::new();
        self.from.read_until(b'\n', &mut reply)?;
        match reply.strip_suffix(b"\n") {
            Some(line) => match line.strip_prefix(b"ok ") {
                Some(path) => Ok(PathBuf::from(std::ffi::OsStr::from_bytes(path))),
                None => bail!("{}", String::from_utf8_lossy(line)),
            },
            None => bail!("the cleaning process has gone"),
        }
    }
}

/// Makes a directory for a run (`$TMPDIR/mpviz-XXXXXX`), by the keeper, which
/// is started first (from the mpviz binary `exe`) if it is not running yet.
pub fn make_run_dir(exe: &Path) -> anyhow::Result<PathBuf> {
    let mut keeper = KEEPER
        .lock()
        .map_err(|_| anyhow::anyhow!("the cleanup registry is poisoned"))?;
    if keeper.is_none() {
        *keeper = Some(Keeper::start(exe)?);
    }
    let Some(keeper) = keeper.as_mut() else {
        bail!("the cleaning process is not running");
    };
    let dir = keeper
        .new_dir()
        .context("could not create a temporary directory for the run")?;
    register_dir(&dir);
    Ok(dir)
}

/// Removes a run's directory; once it is gone, the keeper forgets it.
pub fn remove_run_dir(dir: &Path) {
    let removed = match std::fs::remove_dir_all(dir) {
        Ok(()) => true,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    };
    unregister_dir(dir);
    if !removed {
        // The keeper tries again when mpviz ends.
        return;
    }
    if let Ok(mut keeper) = KEEPER.lock() {
        if let Some(keeper) = keeper.as_mut() {
            let mut line = b"done ".to_vec();
            line.extend_from_slice(dir.as_os_str().as_bytes());
            line.push(b'\n');
            let _ = keeper.to.write_all(&line);
        }
    }
}

/// Kills every registered run and removes its files. Uses `try_lock`: it may
/// run while another thread holds a lock (a panic hook, a signal thread).
pub fn kill_everything() {
    if let Ok(groups) = GROUPS.try_lock() {
        for &pgid in groups.iter() {
            kill_descendants(pgid);
            let _ = killpg(NixPid::from_raw(pgid), Signal::SIGKILL);
        }
    }
    if let Ok(dirs) = DIRS.try_lock() {
        for dir in dirs.iter() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The processes descended from `root` (not `root` itself), as `/proc`
/// shows the tree now, each with its state letter (`Z`: ended, not yet
/// reaped). A process of a run that left its process group (`setsid()`, a
/// program's `start_new_session`) is still in the tree of the run's fork
/// server, which is a subreaper.
pub fn descendants(root: Pid) -> Vec<(Pid, char)> {
    let mut children: std::collections::HashMap<Pid, Vec<(Pid, char)>> = Default::default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<Pid>().ok()) {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let mut fields = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace())
            .into_iter()
            .flatten();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if let Some(ppid) = fields.next().and_then(|p| p.parse::<Pid>().ok()) {
            children.entry(ppid).or_default().push((pid, state));
        }
    }
    let mut found = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for &(child, state) in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            found.push((child, state));
            todo.push(child);
        }
    }
    found
}

/// Sends `signal` to every process descended from `root` (see
/// [`descendants`]); returns how many it was sent to.
pub fn signal_descendants(root: Pid, signal: Signal) -> usize {
    let found = descendants(root);
    for &(pid, _) in &found {
        let _ = nix::sys::signal::kill(NixPid::from_raw(pid), signal);
    }
    found.len()
}

/// Kills every process descended from `root`, a few times over for any
/// forked meanwhile.
pub fn kill_descendants(root: Pid) {
    for _ in 0..3 {
        if signal_descendants(root, Signal::SIGKILL) == 0 {
            return;
        }
    }
}

/// Asks every process descended from `root` to stop as a terminal's Ctrl-C
/// does (SIGINT: a Python program unwinds, its `finally` and `with` blocks
/// and `atexit` clean up), and waits until none runs, for at most `patience`.
pub fn interrupt_descendants(root: Pid, patience: std::time::Duration) {
    if signal_descendants(root, Signal::SIGINT) == 0 {
        return;
    }
    let deadline = std::time::Instant::now() + patience;
    while std::time::Instant::now() < deadline {
        if descendants(root)
            .iter()
            .all(|&(_, state)| state == 'Z' || state == 'X')
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Makes this thread the one that ends mpviz with its last word (a panic,
/// running out of memory), so that the end is one line whatever else fails
/// meanwhile: another thread that gets here waits for the end instead of
/// adding a line. Returns whether this is the thread's first claim (false
/// when the reporter fails again on its way out and comes back here).
pub fn claim_last_word() -> bool {
    use std::sync::atomic::{AtomicI32, Ordering};
    static REPORTER: AtomicI32 = AtomicI32::new(0);
    // SAFETY: gettid has no preconditions and does not allocate.
    let me = unsafe { nix::libc::gettid() };
    match REPORTER.compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => true,
        Err(reporter) if reporter == me => false,
        Err(_) => loop {
            // SAFETY: sleeps until a signal; the reporter ends the process.
            unsafe { nix::libc::pause() };
        },
    }
}

/// Writes `line` and a newline to standard error in one write, without
/// allocating: fit for a process out of memory, and no other thread's
/// line can land in the middle of it. A line over 255 bytes is cut.
pub fn say_at_once(line: std::fmt::Arguments) {
    use std::io::Write;
    let mut buffer = [0u8; 256];
    let mut cursor = std::io::Cursor::new(&mut buffer[..255]);
    let _ = cursor.write_fmt(line);
    let mut len = cursor.position() as usize;
    buffer[len] = b'\n';
    len += 1;
    let _ = nix::unistd::write(std::io::stderr(), &buffer[..len]);
}

/// On a panic in any thread: `restore` (the front end's: give the terminal
/// back), then kill every run and remove its files, print the message and
/// exit 101.
pub fn install_panic_hook(restore: fn()) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        claim_last_word();
        restore();
        kill_everything();
        // The standard library panics when a new thread cannot get the
        // small stack its signal handlers run on: the machine is out of
        // memory, not mpviz wrong. One line and exit 1, as for any other
        // exhausted resource.
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed to allocate an alternative stack") {
            // One write of the whole line, made without allocating: the
            // runtime's own out-of-memory line, written by another thread
            // at the same moment, cannot land in the middle of it.
            say_at_once(format_args!(
                "mpviz: error: out of memory: {message} (see ulimit -v)"
            ));
            std::process::exit(1);
        }
        default(info);
        // A panic in any thread is a bug: end the whole program now rather
        // than leave a screen that no longer answers.
        std::process::exit(101);
    }));
}

/// Entry point of `mpviz __keeper`: makes run directories when asked
/// (`new`), forgets those mpviz removed (`done PATH`), and when its input
/// ends — mpviz has ended, however — removes the rest.
pub fn keeper_main() -> ExitCode {
    // Only the end of mpviz ends the keeper: not the terminal's Ctrl-C,
    // Ctrl-\ or Ctrl-Z, nor a hangup, nor `kill` sent to every mpviz.
    for signal in [
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGTSTP,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGPIPE,
    ] {
        // SAFETY: ignoring a signal installs no handler.
        let _ = unsafe { nix::sys::signal::signal(signal, SigHandler::SigIgn) };
    }
    let mut made: Vec<PathBuf> = Vec::new();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().split(b'\n') {
        let Ok(line) = line else { break };
        if line == b"new" {
            let reply = match tempfile::Builder::new().prefix("mpviz-").tempdir() {
                Ok(dir) => {
                    let path = dir.keep();
                    made.push(path.clone());
                    let mut reply = b"ok ".to_vec();
                    reply.extend_from_slice(path.as_os_str().as_bytes());
                    reply
                }
                Err(e) => e.to_string().into_bytes(),
            };
            let _ = out.write_all(&reply);
            let _ = out.write_all(b"\n");
            let _ = out.flush();
        } else if let Some(path) = line.strip_prefix(b"done ") {
            made.retain(|d| d.as_os_str().as_bytes() != path);
        }
    }
    for dir in &made {
        remove_patiently(dir);
    }
    ExitCode::SUCCESS
}

/// Removes `dir`, trying again for a while if a process of the run, killed
/// but not yet gone, still writes in it.
fn remove_patiently(dir: &Path) {
    for _ in 0..100 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
