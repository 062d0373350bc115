//! A thousand and five thousand buyers: a normal run. In a file of its own,
//! so that its load never runs beside the paced tests of ticket_headless.

mod support;

use std::collections::HashSet;

use mpviz::engine::limits::processes_available;
use support::*;

fn buy(buyers: u64) {
    let run = run_json(&[
        "--buyers",
        &buyers.to_string(),
        "--tickets",
        "100",
        "--delay-ms",
        "0",
    ]);
    let s = &run.summary;
    assert_eq!(s["sold"], 100);
    assert_eq!(s["oversold"], 0);
    assert_eq!(s["distinct_pids"], buyers);
    assert_eq!(s["exit_codes"]["0"], buyers);
    assert_eq!(
        run.pids("buyer").iter().collect::<HashSet<_>>().len(),
        buyers as usize
    );
}

#[test]
fn a_thousand_and_five_thousand_buyers_run_with_the_default_limits() {
    buy(1000);
    // Five thousand, if this machine (or its container's pids.max) has room
    // for them; if it has not, mpviz says so in one line before it starts.
    let room = processes_available();
    if room > 5500 {
        buy(5000);
    } else if room < 4500 {
        let tmp = tempfile::tempdir().unwrap();
        let out = mpviz(tmp.path(), &["ticket", "--headless", "--buyers", "5000"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--buyers 5000 is more processes"), "{err}");
        assert_dir_empty(tmp.path());
    } else {
        eprintln!("5000 buyers not tried: room for {room} processes is too close to call");
    }
}
