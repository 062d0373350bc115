//! Leave nothing behind: the last line of defence when mpviz ends abnormally.
//!
//! Every run registers its process group and its directory here. Normal ends
//! go through [`crate::engine::Run::stop`]; a panic in any thread goes through
//! the hook installed by [`install_panic_hook`], which restores the terminal,
//! kills every registered group and removes every registered directory
//! before the panic message is printed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid as NixPid;

use crate::protocol::Pid;

static GROUPS: Mutex<Vec<Pid>> = Mutex::new(Vec::new());
static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);

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

pub fn register_dir(dir: &Path) {
    if let Ok(mut dirs) = DIRS.lock() {
        dirs.push(dir.to_path_buf());
    }
}

pub fn unregister_dir(dir: &Path) {
    if let Ok(mut dirs) = DIRS.lock() {
        dirs.retain(|d| d != dir);
    }
}

/// The TUI says it has the terminal in raw mode and the alternate screen.
pub fn terminal_taken(taken: bool) {
    TERMINAL_TAKEN.store(taken, Ordering::SeqCst);
}

pub fn restore_terminal() {
    if TERMINAL_TAKEN.swap(false, Ordering::SeqCst) {
        ratatui::restore();
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    }
}

/// Kills every registered run and removes its files. Uses `try_lock`: it may
/// run while another thread holds a lock (a panic hook, a signal thread).
pub fn kill_everything() {
    if let Ok(groups) = GROUPS.try_lock() {
        for &pgid in groups.iter() {
            let _ = killpg(NixPid::from_raw(pgid), Signal::SIGKILL);
        }
    }
    if let Ok(dirs) = DIRS.try_lock() {
        for dir in dirs.iter() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        kill_everything();
        default(info);
        // A panic in any thread is a bug: end the whole program now rather
        // than leave a screen that no longer answers.
        std::process::exit(101);
    }));
}
