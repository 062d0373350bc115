use std::alloc::{GlobalAlloc, Layout, System};
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
/// exits 1 at once. One thread does it: another that runs out meanwhile
/// waits for the end instead of adding a second line; the reporting thread
/// itself, should giving the terminal back fail to allocate, goes straight
/// on to the line.
fn out_of_memory(size: usize) -> ! {
    use std::io::Write;
    use std::sync::atomic::{AtomicI32, Ordering};
    static REPORTER: AtomicI32 = AtomicI32::new(0);
    // SAFETY: gettid has no preconditions and does not allocate.
    let me = unsafe { nix::libc::gettid() };
    match REPORTER.compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => mpviz::ui::restore_terminal(),
        Err(reporter) if reporter == me => {}
        Err(_) => loop {
            // SAFETY: sleeps until a signal; the reporter ends the process.
            unsafe { nix::libc::pause() };
        },
    }
    let mut line = [0u8; 160];
    let mut cursor = std::io::Cursor::new(&mut line[..]);
    let _ = writeln!(
        cursor,
        "mpviz: error: out of memory: could not allocate {size} bytes (see ulimit -v)"
    );
    let len = cursor.position() as usize;
    // SAFETY: a write of a buffer we own, then the end of the process.
    unsafe {
        let _ = nix::libc::write(2, line.as_ptr().cast(), len);
        nix::libc::_exit(1);
    }
}
