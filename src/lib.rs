//! mpviz: real processes, one event stream, a live dashboard.
//!
//! See ARCHITECTURE.md for the map of the modules and the path of an event
//! from a child process to a cell on the screen.

pub mod app;
pub mod challenge;
pub mod cleanup;
pub mod cli;
pub mod code;
pub mod engine;
pub mod export;
pub mod headless;
pub mod ipc;
pub mod lang;
pub mod launch;
pub mod model;
pub mod order;
pub mod program;
pub mod protocol;
pub mod record;
pub mod replay;
pub mod rerun;
pub mod scenario;
pub mod signals;
pub mod ui;
pub mod worker;
