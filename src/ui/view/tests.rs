//! Views drawn into ratatui's `TestBackend` from models folded from events.

use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;

use super::*;
use crate::protocol::{Body, Event, Outcome};
use crate::scenario::ticket::{Ticket, TicketParams};

fn ticket(buyers: u32, lock: bool) -> Ticket {
    Ticket::new(TicketParams {
        buyers,
        tickets: 3,
        lock,
        delay_ms: 100,
    })
    .unwrap()
}

/// A paused run of `buyers` buyers: buyer-0 holds the lock, buyers 1 and 2
/// wait for it, buyer 3 is at the gate, the rest have exited.
fn midway(buyers: u32) -> Model {
    let mut m = Model::new();
    let mut t = 0;
    let mut push = |m: &mut Model, pid: Option<Pid>, body: Body| {
        t += 1_000_000;
        m.apply(&Event::new(t, pid, body));
    };
    push(
        &mut m,
        None,
        Body::Start {
            scenario: "ticket".into(),
            seed: 7,
            parent_pid: 100,
            params: serde_json::json!({}),
        },
    );
    push(
        &mut m,
        Some(101),
        Body::Spawn {
            name: "fork server".into(),
            role: "forkserver".into(),
            slot: 0,
            ppid: 100,
        },
    );
    let pid = |slot: u32| 1000 + slot as Pid;
    for slot in 0..buyers {
        push(
            &mut m,
            Some(pid(slot)),
            Body::Spawn {
                name: format!("buyer-{slot}"),
                role: "buyer".into(),
                slot,
                ppid: 101,
            },
        );
        push(&mut m, Some(pid(slot)), Body::State { state: 'S' });
    }
    let lock = || "tickets".to_string();
    for slot in 4..buyers {
        push(&mut m, Some(pid(slot)), Body::LockAcquire { lock: lock() });
        push(
            &mut m,
            Some(pid(slot)),
            Body::Outcome {
                result: Outcome::Fail,
            },
        );
        push(&mut m, Some(pid(slot)), Body::LockRelease { lock: lock() });
        push(&mut m, Some(pid(slot)), Body::Exit { exitcode: 0 });
    }
    push(&mut m, Some(pid(0)), Body::LockWait { lock: lock() });
    push(&mut m, Some(pid(0)), Body::LockAcquire { lock: lock() });
    push(&mut m, Some(pid(1)), Body::LockWait { lock: lock() });
    push(&mut m, Some(pid(2)), Body::LockWait { lock: lock() });
    push(
        &mut m,
        Some(pid(0)),
        Body::Read {
            file: "tickets.json".into(),
            value: Some(3),
            text: "{\"count\":3}".into(),
            landed: None,
            reset: None,
        },
    );
    push(
        &mut m,
        None,
        Body::File {
            file: "tickets.json".into(),
            content: "{\"count\":3}".into(),
        },
    );
    push(
        &mut m,
        Some(pid(3)),
        Body::Ready {
            action: "take the lock".into(),
        },
    );
    push(
        &mut m,
        None,
        Body::Pace {
            paused: true,
            speed: Some(10.0),
        },
    );
    m
}

fn render(
    model: &Model,
    view: &ViewState,
    scenario: &dyn Scenario,
    width: u16,
    height: u16,
    color: bool,
) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let screen = Screen {
        model,
        view,
        scenario,
        theme: Theme { color },
    };
    terminal.draw(|f| draw(f, &screen)).unwrap();
    terminal.backend().buffer().clone()
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut s = String::new();
    for y in 0..area.height {
        for x in 0..area.width {
            s.push_str(buffer[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// The spawn of a process named `name` with `role`, as the fork server reports it.
fn spawned(pid: Pid, slot: u32, name: &str, role: &str) -> Event {
    Event::new(
        1,
        Some(pid),
        Body::Spawn {
            name: name.into(),
            role: role.into(),
            slot,
            ppid: 1,
        },
    )
}

fn view() -> ViewState {
    ViewState {
        elapsed: Duration::from_millis(12_300),
        ..ViewState::default()
    }
}

#[test]
fn a_paused_run_at_80x24() {
    let buffer = render(&midway(6), &view(), &ticket(6, true), 80, 24, false);
    insta::assert_snapshot!(text(&buffer));
}

#[test]
fn a_wide_terminal_shows_more_of_everything() {
    let buffer = render(&midway(40), &view(), &ticket(40, true), 160, 48, false);
    insta::assert_snapshot!(text(&buffer));
}

#[test]
fn the_lock_panel_names_the_holder_and_the_line_in_order() {
    let s = text(&render(
        &midway(6),
        &view(),
        &ticket(6, true),
        100,
        30,
        false,
    ));
    assert!(s.contains("holder  buyer-0 PID 1000"), "{s}");
    let first = s.find("1. buyer-1 PID 1001").expect("first waiter");
    let second = s.find("2. buyer-2 PID 1002").expect("second waiter");
    assert!(first < second);
    assert!(s.contains("waiting 2"), "{s}");
}

#[test]
fn the_header_says_paused_running_or_finished() {
    let mut m = midway(6);
    assert!(text(&render(&m, &view(), &ticket(6, true), 100, 30, false)).contains("⏸ PAUSED"));
    m.apply(&Event::new(
        1,
        None,
        Body::Pace {
            paused: false,
            speed: None,
        },
    ));
    let s = text(&render(&m, &view(), &ticket(6, true), 100, 30, false));
    assert!(s.contains("▶ running") && s.contains("speed max"), "{s}");
    m.apply(&Event::new(2, None, Body::End));
    assert!(text(&render(&m, &view(), &ticket(6, true), 100, 30, false)).contains("■ finished"));
}

#[test]
fn the_table_scrolls_to_keep_the_selected_process_on_screen_with_a_thousand_rows() {
    let m = midway(1000);
    let mut v = view();
    v.selected = Some(1000 + 999);
    let s = text(&render(&m, &v, &ticket(1000, true), 80, 24, false));
    assert!(s.contains("buyer-999"), "{s}");
    assert!(
        !s.contains("1000    buyer-0"),
        "the first rows scrolled away: {s}"
    );
    // Selecting the top brings the first rows back.
    v.selected = Some(101);
    let s = text(&render(&m, &v, &ticket(1000, true), 80, 24, false));
    assert!(
        s.contains("fork server") && s.contains("1000    buyer-0"),
        "{s}"
    );
}

#[test]
fn sorting_by_pid_orders_the_rows_by_pid() {
    let m = midway(6);
    let order = row_order(&m, SortKey::Pid);
    let pids: Vec<Pid> = order.iter().map(|&i| m.procs[i].pid).collect();
    let mut sorted = pids.clone();
    sorted.sort();
    assert_eq!(pids, sorted);
    // Start order puts the fork server first, then buyers by slot.
    let start = row_order(&m, SortKey::Start);
    assert_eq!(m.procs[start[0]].role, "forkserver");
    assert_eq!(m.procs[start[1]].name, "buyer-0");
}

#[test]
fn no_color_draws_no_colour() {
    let m = midway(6);
    let plain = render(&m, &view(), &ticket(6, true), 100, 30, false);
    assert!(plain
        .content
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    let coloured = render(&m, &view(), &ticket(6, true), 100, 30, true);
    assert!(coloured.content.iter().any(|c| c.fg != Color::Reset));
}

#[test]
fn the_help_lists_every_key() {
    let mut v = view();
    v.help = true;
    let s = text(&render(&midway(6), &v, &ticket(6, true), 100, 30, false));
    for b in crate::ui::keys::BINDINGS
        .iter()
        .filter(|b| !b.keys.is_empty())
    {
        assert!(s.contains(b.does), "help lacks {:?}", b.does);
    }
}

#[test]
fn an_emptied_file_is_shown_as_such_and_no_lock_runs_say_so() {
    let mut m = midway(6);
    m.apply(&Event::new(
        1,
        None,
        Body::File {
            file: "tickets.json".into(),
            content: String::new(),
        },
    ));
    let mut no_lock = Model::new();
    no_lock.apply(&Event::new(
        0,
        None,
        Body::Pace {
            paused: true,
            speed: Some(1.0),
        },
    ));
    let s = text(&render(&m, &view(), &ticket(6, true), 100, 30, false));
    assert!(s.contains("(empty: being rewritten)"), "{s}");
    let s = text(&render(
        &no_lock,
        &view(),
        &ticket(6, false),
        100,
        30,
        false,
    ));
    assert!(s.contains("No lock taken in this run."), "{s}");
    assert!(
        s.contains("lost updates"),
        "a no-lock header counts lost updates: {s}"
    );
}

#[test]
fn a_torn_read_reset_to_100_is_counted_logged_and_explained() {
    let mut m = Model::new();
    m.apply(&spawned(50, 0, "buyer-0", "buyer"));
    m.apply(&Event::new(
        1,
        Some(50),
        Body::Read {
            file: "tickets.json".into(),
            value: None,
            text: String::new(),
            landed: None,
            reset: Some(100),
        },
    ));
    let s = text(&render(&m, &view(), &ticket(6, false), 120, 30, false));
    assert!(s.contains("resets to 100 1"), "the header counts it: {s}");
    assert!(s.contains("torn read → count 100"), "the log says it: {s}");
    assert!(s.contains("bare except: sets the count to 100"), "{s}");
}

#[test]
fn the_explanation_line_explains_the_last_event_in_words() {
    let m = midway(6);
    let s = text(&render(&m, &view(), &ticket(6, true), 100, 30, false));
    // The last notable event is the pause.
    assert!(s.contains("» Paused: no process gets a permit"), "{s}");
}

#[test]
fn the_append_panel_marks_torn_lines_and_shows_both_orders() {
    use crate::scenario::append::{Append, AppendParams};
    let scenario = Append::new(AppendParams {
        writers: 3,
        chunks: 2,
        lock: false,
    })
    .unwrap();
    let mut m = Model::new();
    for slot in 0..3 {
        m.apply(&spawned(
            10 + slot as Pid,
            slot,
            &format!("writer-{slot}"),
            "writer",
        ));
    }
    m.apply(&Event::new(
        2,
        None,
        Body::File {
            file: "a.txt".into(),
            content: "writer 2\nwriwriter 0\nter 1\n".into(),
        },
    ));
    let s = text(&render(&m, &view(), &scenario, 100, 30, false));
    assert!(s.contains("3 lines, 2 torn"), "{s}");
    assert!(s.contains("\"wriwriter 0\"  ✗ torn"), "{s}");
    assert!(!s.contains("\"writer 2\"  ✗"), "{s}");
    assert!(s.contains("started:     0 1 2"), "{s}");
    assert!(s.contains("in the file: 2 "), "{s}");
}

#[test]
fn the_queue_panel_shows_depth_blocked_processes_and_a_stale_qsize() {
    use crate::scenario::queue::{QueueParams, QueueScenario};
    let scenario = QueueScenario::new(QueueParams {
        producers: 1,
        consumers: 1,
        maxsize: 2,
        items: 5,
        timeout_ms: None,
    })
    .unwrap();
    let mut m = Model::new();
    let q = || "queue".to_string();
    for (slot, role) in [(0u32, "producer"), (1, "consumer")] {
        m.apply(&spawned(10 + slot as Pid, slot, &format!("{role}-0"), role));
    }
    m.apply(&Event::new(
        2,
        None,
        Body::QueueDepth {
            queue: q(),
            depth: 0,
            maxsize: 2,
        },
    ));
    m.apply(&Event::new(
        3,
        Some(11),
        Body::Qsize {
            queue: q(),
            value: 0,
        },
    ));
    m.apply(&Event::new(
        4,
        Some(10),
        Body::Put {
            queue: q(),
            item: 0,
            depth: 1,
        },
    ));
    m.apply(&Event::new(
        5,
        Some(10),
        Body::Put {
            queue: q(),
            item: 1,
            depth: 2,
        },
    ));
    m.apply(&Event::new(
        6,
        Some(10),
        Body::Blocked {
            queue: q(),
            op: "put".into(),
        },
    ));
    let s = text(&render(&m, &view(), &scenario, 100, 30, false));
    assert!(s.contains("depth 2/2"), "{s}");
    assert!(s.contains("consumer-0: qsize() = 0, real 2"), "{s}");
    assert!(s.contains("blocked: producer-0 (put, full)"), "{s}");
    assert!(
        s.contains("blocked: queue full"),
        "the table row says it too: {s}"
    );
}

#[test]
fn the_pool_panel_shows_each_async_result_and_where_its_callback_ran() {
    use crate::scenario::pool::{Pool, PoolParams};
    let scenario = Pool::new(PoolParams {
        workers: 1,
        tasks: 3,
        fail: 1,
        sync: false,
        queue_size: 3,
        crawl: false,
    })
    .unwrap();
    let mut m = Model::new();
    m.apply(&Event::new(
        0,
        None,
        Body::Start {
            scenario: "pool".into(),
            seed: 1,
            parent_pid: 100,
            params: serde_json::json!({}),
        },
    ));
    m.apply(&Event::new(
        1,
        Some(10),
        Body::Spawn {
            name: "worker-0".into(),
            role: "worker".into(),
            slot: 0,
            ppid: 1,
        },
    ));
    for task in 0..3 {
        m.apply(&Event::new(2, Some(100), Body::TaskSubmit { task }));
    }
    m.apply(&Event::new(3, Some(10), Body::TaskStart { task: 0 }));
    m.apply(&Event::new(
        4,
        Some(10),
        Body::TaskDone {
            task: 0,
            ok: false,
            result: None,
            error: Some("ValueError".into()),
            page: None,
        },
    ));
    m.apply(&Event::new(
        5,
        Some(100),
        Body::Callback {
            task: 0,
            thread: "mpviz-main".into(),
            ok: false,
            parsed: None,
        },
    ));
    m.apply(&Event::new(6, Some(10), Body::TaskStart { task: 1 }));
    let s = text(&render(&m, &view(), &scenario, 140, 30, false));
    assert!(
        s.contains("task 0   failed ✗ in worker-0 · error cb in PID 100 (mpviz-main)"),
        "{s}"
    );
    assert!(s.contains("task 1   running on worker-0"), "{s}");
    assert!(s.contains("task 2   pending"), "{s}");
}

#[test]
fn tiny_and_odd_terminal_sizes_draw_without_panicking() {
    let m = midway(30);
    let mut v = view();
    v.selected = Some(1010);
    v.help = true;
    for (w, h) in [(1, 1), (10, 5), (20, 8), (79, 23), (300, 10), (40, 100)] {
        let s = text(&render(&m, &v, &ticket(30, true), w, h, true));
        assert_eq!(s.lines().count(), h as usize);
    }
}

#[test]
fn the_counter_panel_shows_memory_expected_lost_and_how_an_update_was_lost() {
    use crate::scenario::race::{Race, RaceParams};
    let scenario = Race::new(RaceParams {
        workers: 2,
        increments: 3,
        lock: false,
        threads: false,
    })
    .unwrap();
    let mut m = Model::new();
    // Each read and write with its place among the writes that landed.
    let counter = |value: i64, read: bool, place: u64| {
        if read {
            Body::Read {
                file: "counter".into(),
                value: Some(value),
                text: value.to_string(),
                landed: Some(place),
                reset: None,
            }
        } else {
            Body::Write {
                file: "counter".into(),
                value: Some(value),
                bytes: None,
                landed: Some(place),
            }
        }
    };
    m.apply(&spawned(10, 0, "worker-0", "worker"));
    m.apply(&spawned(11, 1, "worker-1", "worker"));
    // Both read 0; worker-1 writes 1 and ends; worker-0 writes 1 over it:
    // nobody holds a read any more, the loss is certain.
    let steps = [
        (10, counter(0, true, 0)),
        (11, counter(0, true, 0)),
        (11, counter(1, false, 1)),
        (11, Body::Exit { exitcode: 0 }),
        (10, counter(1, false, 2)),
        (
            1,
            Body::File {
                file: "counter".into(),
                content: "1".into(),
            },
        ),
    ];
    for (t, (pid, body)) in steps.into_iter().enumerate() {
        m.apply(&Event::new(t as u64, Some(pid), body));
    }
    let s = text(&render(&m, &view(), &scenario, 100, 30, false));
    assert!(s.contains("Counter in shared memory"), "{s}");
    assert!(s.contains("in memory now   1 "), "{s}");
    assert!(s.contains("expected        6 "), "{s}");
    assert!(s.contains("+1s written     2  lost 1 "), "{s}");
    assert!(s.contains("  worker-1 read 0, wrote 1 "), "{s}");
    assert!(s.contains("✗ worker-0 read 0, wrote 1 "), "{s}");
    assert!(
        s.contains("wrote 1 (lost update)"),
        "the table marks the row: {s}"
    );
    // The header counts the same.
    assert!(s.contains("counter 1 · expected 6 · lost 1"), "{s}");
}

#[test]
fn the_manager_panel_shows_the_servers_dict_and_list_beside_the_plain_dicts() {
    use crate::scenario::manager::{Manager, ManagerParams};
    let scenario = Manager::new(ManagerParams { workers: 2 }).unwrap();
    let mut m = Model::new();
    let served = |client: Pid, op: &str, key: Option<i64>, dict_len, list_len| {
        Event::new(
            2,
            Some(30),
            Body::Served {
                client,
                op: op.into(),
                key,
                value: Some(i64::from(client)),
                dict_len,
                list_len,
            },
        )
    };
    // Main puts its own key in its plain dict, then forks the server and
    // the workers: a worker's copy holds main's key and its own.
    let plain_set = |pid: Pid, len| {
        Event::new(
            3,
            Some(pid),
            Body::PlainSet {
                key: i64::from(pid),
                value: i64::from(pid),
                len,
            },
        )
    };
    for e in [
        spawned(29, 0, "main", "main"),
        plain_set(29, 1),
        spawned(30, 1, "manager", "manager"),
        spawned(31, 1, "worker-0", "worker"),
        spawned(32, 2, "worker-1", "worker"),
        served(31, "dict_set", Some(31), 1, 0),
        served(32, "dict_set", Some(32), 2, 0),
        served(32, "list_append", None, 2, 1),
        plain_set(32, 2),
        Event::new(4, Some(29), Body::PlainRead { len: 1 }),
    ] {
        m.apply(&e);
    }
    let s = text(&render(&m, &view(), &scenario, 100, 30, false));
    assert!(s.contains("Managed dict and list server PID 30"), "{s}");
    assert!(s.contains("dict 2 · list 1"), "{s}");
    assert!(s.contains("l = [32]"), "{s}");
    assert!(s.contains(" d[31] = 31"), "{s}");
    assert!(s.contains(" d[32] = 32"), "{s}");
    assert!(s.contains("in the main process: 1 item "), "{s}");
    assert!(s.contains("workers' own copies: 1 × 2 items"), "{s}");
    assert!(
        s.contains("served for 32") || s.contains("l.append(32)"),
        "{s}"
    );
}

#[test]
fn a_semaphore_held_by_the_dead_is_named_a_deadlock_and_the_calls_are_listed() {
    use crate::scenario::lifecycle::{Lifecycle, LifecycleParams, LockKind};
    let scenario = Lifecycle::new(LifecycleParams {
        lock_kind: LockKind::Semaphore,
        waiters: 1,
    })
    .unwrap();
    let mut m = Model::new();
    let lock = || "lock".to_string();
    for e in [
        spawned(40, 0, "main", "main"),
        spawned(41, 1, "holder", "holder"),
        spawned(42, 2, "waiter-1", "waiter"),
        Event::new(
            2,
            Some(40),
            Body::LockMade {
                lock: lock(),
                lock_kind: "semaphore".into(),
            },
        ),
        Event::new(3, Some(41), Body::LockAcquire { lock: lock() }),
        Event::new(4, Some(42), Body::LockWait { lock: lock() }),
        Event::new(
            5,
            Some(40),
            Body::ProcessCall {
                call: "h.terminate()".into(),
                target: Some(41),
                result: "sent SIGTERM".into(),
                timeout_ms: None,
                alive: None,
            },
        ),
        Event::new(6, Some(41), Body::Exit { exitcode: -15 }),
    ] {
        m.apply(&e);
    }
    assert!(
        m.locks["lock"].deadlocked(),
        "the dead still hold a semaphore"
    );
    let s = text(&render(&m, &view(), &scenario, 120, 30, false));
    assert!(s.contains("Lock \"lock\" (semaphore)"), "{s}");
    assert!(s.contains("holder PID 41: DEAD (exit -15)"), "{s}");
    assert!(s.contains("DEADLOCK: nobody will let it go"), "{s}");
    assert!(s.contains("1. waiter-1 PID 42"), "{s}");
    assert!(s.contains("main: h.terminate() → sent SIGTERM"), "{s}");
    assert!(s.contains("deadlock yes"), "{s}");
}
