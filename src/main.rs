use std::process::ExitCode;

fn main() -> ExitCode {
    // A run's children are forked by a helper: this same binary started as
    // `mpviz __forkserver`, before anything else could start a thread.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == mpviz::engine::forkserver::ARG)
    {
        return mpviz::engine::forkserver::main();
    }
    mpviz::app::main()
}
