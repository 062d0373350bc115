//! SIGINT, SIGTERM, SIGHUP and SIGQUIT as messages, so that every front end
//! ends a run the same orderly way: kill the processes, remove the files,
//! restore the terminal. The thread that receives them never writes to
//! stdout, and a front end listens for them beside whatever else it waits
//! on, so that a blocked output cannot hold a signal back.

use anyhow::Context;
use crossbeam_channel::Receiver;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

/// The signals that end mpviz.
pub const ENDING: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

/// Delivers the [`ENDING`] signals, and `extra` (a front end's own, such as
/// the dashboard's SIGTSTP), on the returned channel.
pub fn watch(extra: &[i32]) -> anyhow::Result<Receiver<i32>> {
    let mut signals =
        Signals::new(ENDING.iter().chain(extra)).context("could not watch for signals")?;
    let (tx, rx) = crossbeam_channel::bounded(4);
    std::thread::Builder::new()
        .name("mpviz-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if tx.send(signal).is_err() {
                    return;
                }
            }
        })
        .context("could not start the mpviz-signals thread")?;
    Ok(rx)
}
