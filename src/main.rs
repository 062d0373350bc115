use std::process::ExitCode;

fn main() -> ExitCode {
    // A run's children are forked by a helper: this same binary started as
    // `mpviz __forkserver`, before anything else could start a thread. Run
    // directories are made by another: `mpviz __keeper` (see `cleanup`).
    match std::env::args_os().nth(1) {
        Some(a) if a == mpviz::engine::forkserver::ARG => mpviz::engine::forkserver::main(),
        Some(a) if a == mpviz::cleanup::KEEPER_ARG => mpviz::cleanup::keeper_main(),
        _ => mpviz::app::main(),
    }
}
