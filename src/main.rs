use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;

fn main() -> ExitCode {
    // A run's children are forked by a helper: this same binary started as
    // `mpviz __forkserver`, before anything else could start a thread. Run
    // directories are made by another: `mpviz __keeper` (see `cleanup`).
    match std::env::args_os().nth(1) {
        Some(a) if a == mpviz::engine::forkserver::ARG => mpviz::engine::forkserver::main(),
        Some(a) if a == mpviz::cleanup::KEEPER_ARG => mpviz::cleanup::keeper_main(),
        _ => {
            on_abort_exit_1();
            mpviz::app::main()
        }
    }
}

/// The C library gives up on its own when it runs out of memory where it
/// cannot report it (a thread's first thread-local destructor: "Fatal glibc
/// error: ... out of memory"): it prints that one line and aborts. mpviz
/// then ends with exit 1, as for its own allocations, instead of SIGABRT
/// (the shell's "Aborted", exit 134); the keeper and the fork server, which
/// see it end, remove what the run left.
fn on_abort_exit_1() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    extern "C" fn exit_1(_: nix::libc::c_int) {
        // Only async-signal-safe calls: one write of fixed bytes, _exit.
        if mpviz::ui::terminal_taken() {
            // Mouse off, cursor shown, the main screen back.
            const GIVE_BACK: &[u8] =
                b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?25h\x1b[?1049l";
            // SAFETY: a write of a static buffer, then the end of the process.
            unsafe {
                let _ = nix::libc::write(1, GIVE_BACK.as_ptr().cast(), GIVE_BACK.len());
            }
        }
        // SAFETY: ends the process at once.
        unsafe { nix::libc::_exit(1) };
    }
    let action = SigAction::new(
        SigHandler::Handler(exit_1),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler makes only async-signal-safe calls.
    let _ = unsafe { sigaction(Signal::SIGABRT, &action) };
}

/// The system's allocator, except that running out of memory (`ulimit -v`)
/// ends mpviz with one line and exit 1, where Rust's default prints a line
/// and aborts (exit 134, and the shell adds its own). What the run leaves
/// is removed by the keeper and the fork server, which see mpviz end.
struct Allocator;

// SAFETY: every call is the system allocator's; a failure does not return.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        checked(unsafe { System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        checked(unsafe { System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        checked(unsafe { System.realloc(ptr, layout, new_size) }, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Allocator = Allocator;

fn checked(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() {
        out_of_memory(size);
    }
    ptr
}

/// Gives the terminal back, says so in one line without allocating, and
/// exits 1 at once; one thread does it (see `cleanup::claim_last_word`).
fn out_of_memory(size: usize) -> ! {
    if mpviz::cleanup::claim_last_word() {
        mpviz::ui::restore_terminal();
    }
    mpviz::cleanup::say_at_once(format_args!(
        "mpviz: error: out of memory: could not allocate {size} bytes (see ulimit -v)"
    ));
    // SAFETY: the end of the process, at once.
    unsafe { nix::libc::_exit(1) }
}
