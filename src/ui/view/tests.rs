//! Views drawn into ratatui's `TestBackend` from models folded from events.

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;

use super::*;
use crate::model::Moment;
use crate::protocol::{Body, Event, Name, Outcome};
use crate::scenario::texts::common;
use crate::scenario::ticket::{Ticket, TicketParams};
use crate::ui::theme::MARK;

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
    let lock = || Name::from("tickets");
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
            action: "take_lock".into(),
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
        timeline: None,
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
    ViewState::default()
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
        !s.contains("1000 buyer-0 "),
        "the first rows scrolled away: {s}"
    );
    // Selecting the top brings the first rows back.
    v.selected = Some(101);
    let s = text(&render(&m, &v, &ticket(1000, true), 80, 24, false));
    assert!(
        s.contains("fork server") && s.contains("1000 buyer-0 "),
        "{s}"
    );
}

#[test]
fn sorting_by_pid_orders_the_rows_by_pid() {
    let m = midway(6);
    let order = row_order(&m, SortKey::Pid, common());
    let pids: Vec<Pid> = order.iter().map(|&i| m.procs[i].pid).collect();
    let mut sorted = pids.clone();
    sorted.sort();
    assert_eq!(pids, sorted);
    // Start order puts the fork server first, then buyers by slot.
    let start = row_order(&m, SortKey::Start, common());
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
        let does = crate::scenario::texts::common().say(b.does, &[]);
        assert!(s.contains(&does), "help lacks {does:?}");
    }
    // Ctrl-Z is handled apart from the other keys, and listed too.
    assert!(s.contains("Ctrl-Z"), "{s}");
}

#[test]
fn a_long_help_line_goes_on_under_its_own_text_at_80_columns() {
    let mut v = view();
    v.help = true;
    let s = text(&render(&midway(6), &v, &ticket(6, true), 80, 40, false));
    // The gate's line is longer than the popup at 80 columns: its second
    // row goes on under its text (the popup's border, then 17 columns of
    // keys left blank), not from the border.
    let rows: Vec<&str> = s.lines().collect();
    let first = rows
        .iter()
        .position(|r| r.contains("⏸  held at the pacer's gate"))
        .unwrap_or_else(|| panic!("{s}"));
    let under = format!("│{}next action", " ".repeat(17));
    assert!(rows[first + 1].contains(&under), "{s}");
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
    assert!(s.contains("left in file empty (being rewritten)"), "{s}");
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
    assert!(
        s.contains("lost updates n/a after a reset"),
        "sold minus tickets gone no longer counts losses: {s}"
    );
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
    let q = || Name::from("queue");
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
        s.contains("queue full (blocked)"),
        "the table row says it too: {s}"
    );
    // Narrow, the title is cut where a word ends, with an ellipsis.
    let s = text(&render(&m, &view(), &scenario, 80, 24, false));
    assert!(s.contains("┌ Queue maxsize 2 · shared…─"), "{s}");
}

/// A pool of one worker for `tasks` tasks (`fail` of them failing), and a
/// model that has seen its start, mpviz's PID 100.
fn a_pool(tasks: u32, fail: u32, crawl: bool) -> (crate::scenario::pool::Pool, Model) {
    use crate::scenario::pool::{Pool, PoolParams};
    let scenario = Pool::new(PoolParams {
        workers: 1,
        tasks,
        fail,
        sync: false,
        queue_size: tasks,
        crawl,
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
    (scenario, m)
}

#[test]
fn the_pool_panel_shows_each_async_result_and_where_its_callback_ran() {
    let (scenario, mut m) = a_pool(3, 1, false);
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
            shown: None,
            task: 0,
            ok: false,
            result: None,
            error: Some("division by zero".into()),
            page: None,
            error_type: Some("ZeroDivisionError".into()),
        },
    ));
    m.apply(&Event::new(
        5,
        Some(100),
        Body::Callback {
            task: 0,
            thread: "mpviz-result-handler".into(),
            ok: false,
            parsed: None,
            tid: 104,
            result: None,
            error_type: Some("ZeroDivisionError".into()),
            error: Some("division by zero".into()),
        },
    ));
    m.apply(&Event::new(6, Some(10), Body::TaskStart { task: 1 }));
    let s = text(&render(&m, &view(), &scenario, 140, 30, false));
    assert!(
        s.contains("task 0   ✗ in worker-0 · error cb PID 100 (mpviz-result-handler)"),
        "{s}"
    );
    assert!(s.contains("task 1   runs on worker-0"), "{s}");
    assert!(s.contains("task 2   pending"), "{s}");
}

#[test]
fn a_crawl_shows_the_page_fetched_and_what_the_callback_parsed_at_80x24() {
    use crate::scenario::pool::{page, parse};
    let (scenario, mut m) = a_pool(4, 0, true);
    m.apply(&spawned(10, 0, "worker-0", "worker"));
    m.apply(&Event::new(2, Some(100), Body::TaskSubmit { task: 3 }));
    m.apply(&Event::new(3, Some(10), Body::TaskStart { task: 3 }));
    m.apply(&Event::new(
        4,
        Some(10),
        Body::TaskDone {
            shown: None,
            task: 3,
            ok: true,
            result: Some(page(3).len() as i64),
            error: None,
            page: Some(page(3)),
            error_type: None,
        },
    ));
    m.apply(&Event::new(
        5,
        Some(100),
        Body::Callback {
            task: 3,
            thread: "mpviz-result-handler".into(),
            ok: true,
            parsed: Some(parse(&page(3))),
            tid: 104,
            result: None,
            error_type: None,
            error: None,
        },
    ));
    let s = text(&render(&m, &view(), &scenario, 80, 24, false));
    assert!(s.contains("fetched page 3 (worker-0)"), "{s}");
    assert!(s.contains("<title>Page 3</title>"), "the page itself: {s}");
    assert!(
        s.contains("callback parsed 3: Page 3: 3 links"),
        "what the callback parsed: {s}"
    );
    // Lines break between words: the page's size is not split.
    let size = format!("{} bytes", page(3).len());
    assert!(s.contains(&size), "{size}: {s}");
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
    assert!(s.contains("+1s written     2 "), "{s}");
    assert!(s.contains("lost for sure   1 "), "{s}");
    assert!(s.contains("  worker-1 read 0, wrote 1 "), "{s}");
    assert!(s.contains("✗ worker-0 read 0, wrote 1 "), "{s}");
    assert!(
        s.contains("wrote 1 (lost update)"),
        "the table marks the row: {s}"
    );
    // The header counts the same.
    assert!(s.contains("counter 1 · expected 6 · ✗ lost 1"), "{s}");
}

#[test]
fn the_table_says_a_managers_request_as_python_writes_it() {
    let texts = &crate::scenario::spec("manager").unwrap().texts;
    let mut m = Model::new();
    for (pid, name) in [(30, "server"), (31, "worker-0")] {
        let spawn = Body::Spawn {
            name: name.into(),
            role: "worker".into(),
            slot: 0,
            ppid: 1,
        };
        m.apply(&Event::new(0, Some(pid), spawn));
    }
    let (key, value) = (Some(3), Some(9));
    m.apply(&Event::new(
        1,
        Some(31),
        Body::Request {
            op: "dict_set".into(),
            key,
            value,
        },
    ));
    m.apply(&Event::new(
        2,
        Some(30),
        Body::Served {
            client: 31,
            op: "list_append".into(),
            key: None,
            value,
            dict_len: 1,
            list_len: 1,
        },
    ));
    let doing = |pid| procs::doing(texts, m.proc(pid).unwrap());
    assert_eq!(doing(31), "asked d[3] = 9");
    assert_eq!(doing(30), "served l.append(9) for 31");
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
    assert!(s.contains("main process: 1 item "), "{s}");
    assert!(s.contains("workers' copies: 1 × 2 items"), "{s}");
    assert!(
        s.contains("served for 32") || s.contains("l.append(32)"),
        "{s}"
    );
    // At 80×24 the side panels are narrow: the server moves out of the
    // title into the first line, and every line is shown whole.
    let s = text(&render(&m, &view(), &scenario, 80, 24, false));
    assert!(s.contains("│server PID 30 "), "{s}");
    for whole in [
        "dict 2 · list 1",
        "main process: 1 item",
        "workers' copies: 1 × 2 items",
        "(each has its own memory)",
    ] {
        assert!(s.contains(whole), "{whole}:\n{s}");
    }
    // In Chinese, a row of wide characters wraps inside the borders.
    let mut scenario = scenario;
    scenario
        .spec_mut()
        .speak(crate::lang::Lang::named("zh").unwrap());
    let buffer = render(&m, &view(), &scenario, 80, 24, false);
    assert_right_borders_in_place(&buffer);
    // (A wide character's second cell reads as a space.)
    let words: String = text(&buffer).chars().filter(|c| *c != ' ').collect();
    assert!(
        words.contains("工作进程的副本：1份，各2"),
        "{}",
        text(&buffer)
    );
}

/// Every row that starts with a panel's left border ends with a right one
/// (or the table's scroll bar): nothing drawn ran over it.
fn assert_right_borders_in_place(buffer: &Buffer) {
    let area = buffer.area;
    for y in 0..area.height {
        if ["┌", "│", "└"].contains(&buffer[(0, y)].symbol()) {
            let last = buffer[(area.width - 1, y)].symbol();
            assert!(
                ["┐", "│", "┘", "▲", "▼", "█", "║"].contains(&last),
                "row {y} ends in {last:?}:\n{}",
                text(buffer)
            );
        }
    }
}

/// Lifecycle's lock scene: main (40) made a lock of `kind`, the holder (41)
/// holds it, waiter-1 (42) waits for it.
fn a_holder_and_a_waiter(
    kind: crate::scenario::lifecycle::LockKind,
) -> (crate::scenario::lifecycle::Lifecycle, Model) {
    use crate::scenario::lifecycle::{Lifecycle, LifecycleParams, LockKind};
    let lock_kind = match kind {
        LockKind::Semaphore => "semaphore",
        LockKind::Flock => "flock",
    };
    let scenario = Lifecycle::new(LifecycleParams {
        lock_kind: kind,
        waiters: 1,
    })
    .unwrap();
    let lock = || Name::from("lock");
    let m = fold(&[
        spawned(40, 0, "main", "main"),
        spawned(41, 1, "holder", "holder"),
        spawned(42, 2, "waiter-1", "waiter"),
        Event::new(
            2,
            Some(40),
            Body::LockMade {
                lock: lock(),
                lock_kind: lock_kind.into(),
            },
        ),
        Event::new(3, Some(41), Body::LockAcquire { lock: lock() }),
        Event::new(4, Some(42), Body::LockWait { lock: lock() }),
    ]);
    (scenario, m)
}

#[test]
fn a_dead_holder_is_shown_as_seen_and_a_deadlock_only_once_named_on_evidence() {
    use crate::protocol::{PyValue, SeenBlocked};
    use crate::scenario::lifecycle::LockKind;
    let (scenario, mut m) = a_holder_and_a_waiter(LockKind::Semaphore);
    let lock = || Name::from("lock");
    for e in [
        Event::new(
            5,
            Some(40),
            Body::ProcessCall {
                call: "h.terminate()".into(),
                target: Some(41),
                result: PyValue::None,
                timeout_ms: None,
                alive: None,
                exitcode: None,
            },
        ),
        Event::new(6, Some(41), Body::Exit { exitcode: -15 }),
        Event::new(
            7,
            Some(40),
            Body::ProcessCall {
                call: "h.join()".into(),
                target: Some(41),
                result: PyValue::None,
                timeout_ms: None,
                alive: Some(false),
                exitcode: Some(-15),
            },
        ),
    ] {
        m.apply(&e);
    }
    // What was seen: the holder died holding it. Nothing was checked yet.
    let s = text(&render(&m, &view(), &scenario, 120, 30, false));
    assert!(s.contains("Lock \"lock\" (semaphore)"), "{s}");
    assert!(s.contains("holder  holder PID 41"), "{s}");
    assert!(s.contains("died holding the lock (exit -15)"), "{s}");
    assert!(s.contains("not seen let go yet"), "{s}");
    assert!(!s.contains("DEADLOCK"), "{s}");
    assert!(s.contains("deadlock no"), "{s}");
    assert!(s.contains("1. waiter-1 PID 42"), "{s}");
    assert!(s.contains("main: h.terminate() → None"), "{s}");
    assert!(s.contains("main: h.join() → None (exit code -15)"), "{s}");
    // The evidence: value 0, the waiter asleep on the semaphore.
    m.apply(&Event::new(
        8,
        Some(40),
        Body::Deadlock {
            lock: lock(),
            holder: 41,
            waiters: vec![42],
            value: 0,
            seen: vec![SeenBlocked {
                pid: 42,
                state: 'S',
                wchan: "futex_do_wait".into(),
                syscall: "202 0x7f0000001000".into(),
            }],
        },
    ));
    let s = text(&render(&m, &view(), &scenario, 120, 30, false));
    assert!(
        s.contains("DEADLOCK: value 0; 1 asleep on it (futex)"),
        "{s}"
    );
    assert!(s.contains("deadlock yes"), "{s}");
}

#[test]
fn a_dead_holders_flock_is_shown_let_go_only_when_the_next_waiter_takes_it() {
    use crate::scenario::lifecycle::LockKind;
    let (scenario, mut m) = a_holder_and_a_waiter(LockKind::Flock);
    let lock = || Name::from("lock");
    m.apply(&Event::new(6, Some(41), Body::Exit { exitcode: -15 }));
    let s = text(&render(&m, &view(), &scenario, 120, 30, false));
    assert!(s.contains("died holding the lock (exit -15)"), "{s}");
    assert!(s.contains("not seen let go yet"), "{s}");
    assert!(!s.contains("nobody: the lock is free"), "{s}");
    m.apply(&Event::new(7, Some(42), Body::LockAcquire { lock: lock() }));
    let s = text(&render(&m, &view(), &scenario, 120, 30, false));
    assert!(s.contains("holder  waiter-1 PID 42"), "{s}");
    assert!(s.contains("the kernel let go for dead PID 41"), "{s}");
    assert_eq!(m.locks["lock"].overlaps, 0);
}

/// Streams of real runs: every scenario, drawn from what it really
/// reported. Recorded (the summary line dropped) with
/// `mpviz ARGS --seed 3 --json | grep -v '"kind":"summary"' > fixtures/FILE`:
///
/// | FILE | ARGS |
/// | --- | --- |
/// | ticket.jsonl | `ticket --no-lock --buyers 6 --tickets 3 --delay-ms 50` |
/// | ticket_lock.jsonl | `ticket --buyers 5 --tickets 3 --delay-ms 20 --speed 500` |
/// | race.jsonl | `race --workers 3 --increments 4 --speed 500` |
/// | append.jsonl | `append --writers 4 --chunks 3 --speed 500` |
/// | lifecycle.jsonl | `lifecycle --speed max` |
/// | pool.jsonl | `pool --speed 500` |
/// | queue.jsonl | `queue --producers 2 --consumers 2 --items 10 --speed 500` |
/// | manager.jsonl | `manager --workers 4 --speed 500` |
///
/// Record them again when the protocol changes; the tests assert what any
/// such run shows (the ticket run must lose an update and oversell), and
/// the two snapshots of the ticket run show its PIDs: review them again.
const RECORDED: &[(&str, &str)] = &[
    ("ticket", include_str!("fixtures/ticket.jsonl")),
    ("ticket_lock", include_str!("fixtures/ticket_lock.jsonl")),
    ("race", include_str!("fixtures/race.jsonl")),
    ("append", include_str!("fixtures/append.jsonl")),
    ("lifecycle", include_str!("fixtures/lifecycle.jsonl")),
    ("pool", include_str!("fixtures/pool.jsonl")),
    ("queue", include_str!("fixtures/queue.jsonl")),
    ("manager", include_str!("fixtures/manager.jsonl")),
];

fn recorded(name: &str) -> Vec<Event> {
    let (_, jsonl) = RECORDED.iter().find(|(n, _)| *n == name).unwrap();
    jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
        .collect()
}

/// The scenario a stream's `start` names, with its parameters.
fn scenario_of(events: &[Event]) -> Box<dyn Scenario> {
    match &events[0].body {
        Body::Start {
            scenario, params, ..
        } => crate::scenario::from_params(scenario, params).unwrap(),
        other => panic!("a stream starts with start, not {other:?}"),
    }
}

fn fold(events: &[Event]) -> Model {
    let mut m = Model::new();
    for e in events {
        m.apply(e);
    }
    m
}

/// The screen's text with its lines joined and runs of spaces made one, to
/// find a sentence that wraps.
fn flat(screen: &str) -> String {
    screen.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The rows of the process table (the lines that start with a PID).
fn table_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| {
            l.strip_prefix('│')
                .and_then(|r| r.split_whitespace().next())
                .is_some_and(|w| w.parse::<u32>().is_ok())
        })
        .collect()
}

#[test]
fn every_scenario_is_readable_at_80x24_and_120x40() {
    for (name, _) in RECORDED {
        let events = recorded(name);
        let scenario = scenario_of(&events);
        // Mid-run (paused, as a class would look at it) and at the end.
        let mut midway = events[..events.len() / 2].to_vec();
        midway.push(Event::new(
            events[events.len() / 2].t_ns,
            None,
            Body::Pace {
                paused: true,
                speed: Some(2.0),
            },
        ));
        for (when, stream) in [("midway", &midway[..]), ("at the end", &events[..])] {
            let m = fold(stream);
            for (w, h) in [(80, 24), (120, 40)] {
                let s = text(&render(&m, &view(), &*scenario, w, h, false));
                let at = format!("{name} {when} at {w}x{h}:\n{s}");
                assert!(!s.contains("terminal too small"), "{at}");
                // Every process has its row, its PID whole, its activity
                // not cut to nothing.
                let rows = table_rows(&s);
                for p in &m.procs {
                    let pid = p.pid.to_string();
                    let row = rows
                        .iter()
                        .find(|r| r[3..].trim_start().split(' ').next() == Some(pid.as_str()))
                        .unwrap_or_else(|| panic!("no row for PID {pid}: {at}"));
                    let doing = procs::doing(&scenario.spec().texts, p);
                    let shown = doing.split(' ').take(2).collect::<Vec<_>>().join(" ");
                    assert!(row.contains(&shown), "{shown:?} cut in {row:?}: {at}");
                }
                // The header's counts, whole: processes (without the fork
                // server, as the table's title says) and actions.
                let children = m.procs.iter().filter(|p| p.role != "forkserver");
                let alive = children.clone().filter(|p| p.alive()).count();
                let counted = format!("{alive}/{} alive", children.count());
                assert!(
                    s.lines().take(4).any(|l| l.contains(&counted)),
                    "{counted}: {at}"
                );
                assert!(s.contains(&format!("{counted} + fork server")), "{at}");
                assert!(s.contains(&format!("{} actions", m.actions)), "{at}");
                // The summary, every word of it, once the run ended.
                // (A long word, such as a JSON object, may wrap inside.)
                if m.ended {
                    let squash = |s: &str| s.split_whitespace().collect::<String>();
                    let report = squash(&format!("Finished. {}", scenario.report(&m)));
                    assert!(squash(&s).contains(&report), "summary cut: {report}\n{at}");
                }
            }
        }
    }
}

/// A ticket run without the lock, up to the step that lost an update (and
/// the routine lines after it: the outcome, the exit, the parent's reading,
/// the pacer's pause).
fn up_to_the_first_loss() -> (Model, Box<dyn Scenario>) {
    let events = recorded("ticket");
    let scenario = scenario_of(&events);
    let mut m = Model::new();
    let mut events = events.into_iter();
    for e in events.by_ref() {
        m.apply(&e);
        if m.files.lost_writes > 0 {
            break;
        }
    }
    for e in events.take_while(|e| !e.is_action()) {
        m.apply(&e);
    }
    m.apply(&Event::new(
        m.now_ns,
        None,
        Body::Pace {
            paused: true,
            speed: Some(2.0),
        },
    ));
    (m, scenario)
}

#[test]
fn a_lost_update_stays_in_the_narration_and_is_marked_where_it_happened() {
    let (m, scenario) = up_to_the_first_loss();
    let loser = m.procs.iter().find(|p| p.overwrote.is_some()).unwrap();
    for (w, h) in [(80, 24), (120, 40)] {
        let s = text(&render(&m, &view(), &*scenario, w, h, false));
        let f = flat(&s);
        assert!(f.contains("An update is lost."), "{w}x{h}:\n{s}");
        assert!(
            f.contains(&format!("✗ {} (PID {})", loser.name, loser.pid)),
            "{s}"
        );
        // Its row, its log line and the header's counter, each with the glyph.
        let row = table_rows(&s)
            .into_iter()
            .find(|r| r.contains(&format!("{} ", loser.pid)))
            .unwrap();
        assert!(row.contains(MARK), "{row}");
        assert!(
            s.lines()
                .any(|l| l.contains(&loser.pid.to_string()) && l.contains("✗ wrote")),
            "{s}"
        );
        let (_, lost) = scenario
            .headline(&m)
            .into_iter()
            .find(|(key, _)| *key == "lost_updates")
            .unwrap();
        assert!(f.contains(&format!("✗ lost updates {lost}")), "{s}");
    }
    // With colours, the marks are red too.
    let coloured = render(&m, &view(), &*scenario, 80, 24, true);
    let marks: Vec<_> = coloured
        .content
        .iter()
        .filter(|c| c.symbol() == MARK)
        .collect();
    assert!(marks.len() >= 4, "row, log line, header, narration");
    assert!(marks.iter().all(|c| c.fg == Color::Red), "{marks:?}");
    insta::assert_snapshot!(text(&render(&m, &view(), &*scenario, 80, 24, false)));
    insta::assert_snapshot!(text(&render(&m, &view(), &*scenario, 120, 40, false)));
}

#[test]
fn the_events_panel_follows_at_the_bottom_and_stays_where_it_was_scrolled() {
    let events = recorded("ticket_lock");
    let scenario = scenario_of(&events);
    let half = events.len() / 2;
    let first = fold(&events[..half]);
    let texts = &scenario.spec().texts;
    let last_line = |m: &Model| texts.log_line(&m.log.back().unwrap().event, m);
    // Following: the newest entry is on screen, before and after more come.
    let s = text(&render(&first, &view(), &*scenario, 120, 40, false));
    assert!(s.contains(&last_line(&first)), "{s}");
    // Scrolled to an older entry: it stays the first line as more come.
    let mut v = view();
    let top = &first.log[3];
    v.log_top = Some(top.seq);
    let later = fold(&events);
    for m in [&first, &later] {
        let s = text(&render(m, &v, &*scenario, 120, 40, false));
        let panel_top = s
            .lines()
            .skip_while(|l| !l.contains("┌ Events"))
            .nth(1)
            .unwrap();
        assert!(panel_top.contains(&texts.log_line(&top.event, m)), "{s}");
        assert!(s.contains("newer ↓ End"), "{s}");
    }
    // The first row a scrolled panel shows is the one it was scrolled to,
    // and following shows the newest page.
    assert_eq!(log::first_row(&later, Some(top.seq), 5), 3);
    assert_eq!(log::first_row(&later, None, 5), later.log.len() - 5);
}

#[test]
fn below_80x24_the_screen_says_it_is_too_small() {
    let m = midway(6);
    for (w, h) in [(79, 24), (80, 23), (40, 10)] {
        let s = text(&render(&m, &view(), &ticket(6, true), w, h, false));
        assert!(
            flat(&s).contains("terminal too small (need 80×24"),
            "{w}x{h}: {s}"
        );
    }
    let s = text(&render(&m, &view(), &ticket(6, true), 80, 24, false));
    assert!(!s.contains("too small"), "{s}");
}

#[test]
fn the_help_scrolls_to_its_last_line_at_80x24() {
    let mut v = view();
    v.help = true;
    let s = text(&render(&midway(6), &v, &ticket(6, true), 80, 24, false));
    assert!(s.contains("pause / resume"), "{s}");
    assert!(s.contains("↑ ↓ scroll"), "the help says it scrolls: {s}");
    v.help_scroll = 100;
    let s = text(&render(&midway(6), &v, &ticket(6, true), 80, 24, false));
    assert!(!s.contains("pause / resume"), "{s}");
    let intro = ticket(6, true).intro();
    let last_words: Vec<&str> = intro.split_whitespace().rev().take(3).collect();
    assert!(
        flat(&s).contains(&last_words.into_iter().rev().collect::<Vec<_>>().join(" ")),
        "{s}"
    );
}

#[test]
fn counts_and_plurals_say_one_thing_in_the_singular() {
    let one = Ticket::new(TicketParams {
        buyers: 1,
        tickets: 1,
        lock: true,
        delay_ms: 10,
    })
    .unwrap();
    let s = text(&render(&midway(1), &view(), &one, 120, 40, false));
    assert!(s.contains("1 buyer, 1 ticket, with a lock"), "{s}");
    assert!(!s.contains("1 tickets") && !s.contains("1 buyers"), "{s}");
}

/// Asserts that `label` is whole at a panel's left on `screen`, a bar of
/// the two glyphs beside it.
fn assert_gauge_beside(screen: &str, label: &str) {
    let line = screen
        .lines()
        .find(|l| l.contains(&format!("│{label}")))
        .unwrap_or_else(|| panic!("the label {label:?}, whole, at the panel's left: {screen}"));
    let bar: String = line
        .split(label)
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| "█░".contains(*c))
        .collect();
    assert!(bar.chars().count() > 5, "{line}");
}

#[test]
fn the_queue_gauge_does_not_print_over_its_label() {
    let events = recorded("queue");
    let scenario = scenario_of(&events);
    let m = fold(&events[..events.len() / 2]);
    let q = m.queues.values().next().unwrap();
    let s = text(&render(&m, &view(), &*scenario, 80, 24, false));
    assert_gauge_beside(&s, &format!("depth {}/{} ", q.depth, q.maxsize));
}

#[test]
fn the_pool_ring_gauge_does_not_print_over_its_label() {
    let events = recorded("pool");
    let scenario = scenario_of(&events);
    for (w, h) in [(80, 24), (120, 40)] {
        let m = fold(&events[..events.len() / 3]);
        let q = m.queues.values().next().unwrap();
        let label = scenario.spec().texts.say(
            "ring_label",
            &[("depth", &q.depth), ("maxsize", &q.maxsize)],
        );
        let s = text(&render(&m, &view(), &*scenario, w, h, false));
        assert_gauge_beside(&s, &label);
    }
}

#[test]
fn every_pool_pid_shows_whole_at_80x24_and_120x40() {
    let events = recorded("pool");
    let scenario = scenario_of(&events);
    let m = fold(&events);
    // And seven-digit PIDs (pid_max is 4194304 on many systems), each an
    // error callback, the longest words.
    let mut long = m.clone();
    for v in long.pool.tasks.values_mut() {
        if let Some(run) = &mut v.callback {
            (run.pid, run.ok) = (4_194_303, false);
        }
        if let crate::model::TaskState::Ready { ok, .. } = &mut v.state {
            *ok = false;
        }
    }
    for (m, w, h) in [(&m, 80, 24), (&m, 120, 40), (&long, 80, 24)] {
        let s = text(&render(m, &view(), &*scenario, w, h, false));
        let mut callbacks = 0;
        for (task, v) in &m.pool.tasks {
            let Some(pid) = v.callback.as_ref().map(|run| run.pid) else {
                continue;
            };
            let Some(line) = s.lines().find(|l| l.contains(&format!("task {task:<3} "))) else {
                continue;
            };
            let pid = format!("PID {pid}");
            let after = line.split(&pid).nth(1);
            assert!(
                after.is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit())),
                "{w}×{h}: {pid} whole in {line:?}"
            );
            callbacks += 1;
        }
        assert!(
            callbacks > 0,
            "{w}×{h}: no task with a callback on screen: {s}"
        );
    }
}

#[test]
fn the_lock_panel_says_what_kind_of_lock_it_is_and_how_pythons_differs() {
    let scenario = ticket(6, true);
    let about = scenario.spec().texts.get("lock_about_flock").unwrap();
    assert!(about.contains("flock") && about.contains("not Python's POSIX semaphore"));
    // Wide enough, it is one line of the panel.
    let s = text(&render(
        &midway(6),
        &view(),
        &ticket(6, true),
        200,
        40,
        false,
    ));
    assert!(s.contains(about), "{s}");
    // It sits under the title, above the holder; the waiting count is
    // followed by its list, whatever the size.
    for (w, h) in [(80, 24), (120, 40), (200, 40)] {
        let s = text(&render(&midway(6), &view(), &ticket(6, true), w, h, false));
        let lines: Vec<&str> = s.lines().collect();
        let at = |what: &str| {
            lines
                .iter()
                .position(|l| l.contains(what))
                .unwrap_or_else(|| panic!("{w}×{h}: no {what:?}: {s}"))
        };
        assert_eq!(
            at("waiting 2") + 1,
            at("1. buyer-1 PID 1001"),
            "{w}×{h}: {s}"
        );
        assert!(at("an flock(2)") < at("holder  buyer-0"), "{w}×{h}: {s}");
    }
}

#[test]
fn an_empty_ticket_file_is_said_to_be_empty() {
    let mut m = midway(6);
    m.apply(&Event::new(
        m.now_ns + 1,
        Some(1000),
        Body::Truncate {
            file: "tickets.json".into(),
        },
    ));
    m.apply(&Event::new(
        m.now_ns + 1,
        None,
        Body::File {
            file: "tickets.json".into(),
            content: String::new(),
        },
    ));
    let narration = ticket(6, true)
        .spec()
        .texts
        .explain_entry(m.log.back().unwrap(), &m)
        .unwrap();
    assert!(
        narration.contains("tickets.json from disk: it is empty"),
        "{narration}"
    );
}

#[test]
fn why_a_step_cannot_happen_is_shown_whole_at_80x24() {
    let m = midway(6);
    let mut v = view();
    let why = match crate::ui::step::selected(&ticket(6, true).spec().texts, &m, Some(1001)) {
        crate::ui::step::Plan::Refuse(why) => why,
        other => panic!("{other:?}"),
    };
    v.status = Some(why.clone());
    let s = text(&render(&m, &v, &ticket(6, true), 80, 24, false));
    assert!(flat(&s).contains(&flat(&why)), "{why}\n{s}");
}

#[test]
fn an_oversold_run_marks_its_sold_counter_and_the_buyers_past_the_last_ticket() {
    let events = recorded("ticket");
    let scenario = scenario_of(&events);
    let m = fold(&events);
    let tickets = 3;
    assert!(
        m.procs.outcomes.success > tickets,
        "the recorded run oversold"
    );
    let s = text(&render(&m, &view(), &*scenario, 120, 40, false));
    assert!(
        s.contains(&format!("✗ sold {}/{tickets}", m.procs.outcomes.success)),
        "{s}"
    );
    // Every buyer whose sale came after the last ticket is marked.
    let oversold: Vec<_> = m
        .log
        .iter()
        .filter(|e| e.moment == Some(Moment::Oversold))
        .filter_map(|e| e.pid)
        .collect();
    assert_eq!(oversold.len() as u32, m.procs.outcomes.success - tickets);
    for pid in oversold {
        assert!(m.marked.contains_key(&pid), "{pid}");
    }
}

#[test]
fn torn_lines_light_the_append_counter_and_a_clean_run_lights_nothing() {
    let events = recorded("append");
    let scenario = scenario_of(&events);
    let s = text(&render(&fold(&events), &view(), &*scenario, 120, 40, false));
    assert!(s.contains("✗ torn 4"), "{s}");
    let events = recorded("ticket_lock");
    let scenario = scenario_of(&events);
    let s = text(&render(&fold(&events), &view(), &*scenario, 120, 40, false));
    assert!(!s.contains(MARK), "nothing went wrong with the lock: {s}");
}

#[test]
fn a_counter_lights_by_its_number_whatever_words_show_it() {
    use crate::scenario::append::Append;
    let events = recorded("append");
    let params = match &events[0].body {
        Body::Start { params, .. } => serde_json::from_value(params.clone()).unwrap(),
        other => panic!("{other:?}"),
    };
    let append = Append::new(params).unwrap();
    let show = append.show();
    let worded = Declared {
        inner: append,
        show,
        worded: "about ",
    };
    let s = text(&render(&fold(&events), &view(), &worded, 120, 40, false));
    assert!(s.contains("✗ torn about 4"), "{s}");
}

#[test]
fn where_not_every_long_row_can_wrap_the_first_ones_still_do() {
    // Ten buyers, each about to do something too long for one line: one
    // line each fits, two each does not. The lines left over go to the
    // first rows, whole; the others are cut.
    let action = "open the file for writing and write the count it computed";
    let mut m = midway(10);
    for slot in 0..10 {
        m.apply(&Event::new(
            m.now_ns + 1,
            Some(1000 + slot),
            Body::Ready {
                action: crate::protocol::Act::new("py").with("code", action),
            },
        ));
    }
    let v = view();
    let s = text(&render(&m, &v, &ticket(10, true), 80, 24, false));
    let wrapped = v.row_heights.borrow().iter().filter(|&&h| h == 2).count();
    assert!((1..10).contains(&wrapped), "{wrapped} rows wrapped:\n{s}");
    let order = row_order(&m, v.sort, common());
    let first_long = m.procs[order[1]].pid;
    let table = s
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| l.chars().skip(1).take(48).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat(&table).contains("⏸ open the file for writing and write the"),
        "{first_long}:\n{s}"
    );
    assert!(s.contains("⏸ open the file for…"), "{s}");
}

#[test]
fn a_few_processes_with_long_actions_wrap_them_instead_of_cutting() {
    let action = "open the file for writing and write the count it computed";
    let mut m = midway(3);
    m.apply(&Event::new(
        m.now_ns + 1,
        Some(1002),
        Body::Ready {
            action: crate::protocol::Act::new("py").with("code", action),
        },
    ));
    let v = view();
    let s = text(&render(&m, &v, &ticket(3, true), 80, 24, false));
    // The table's column, inside its borders.
    let rows = s
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| l.chars().skip(1).take(48).collect::<String>());
    let table: String = rows.collect::<Vec<_>>().join(" ");
    let words = flat(&table);
    assert!(words.contains("⏸ open the file for writing and"), "{s}");
    assert_eq!(
        v.row_heights.borrow().iter().filter(|&&h| h == 2).count(),
        1
    );
    // A click finds the row under it, two-line rows counted: buyer-2's
    // two lines are rows 3 and 4 (fork server, buyer-0, buyer-1 above).
    let order = row_order(&m, v.sort, common());
    let name = |y| &m.procs[order[row_at(&v, y)]].name;
    assert_eq!((name(3).as_str(), name(4).as_str()), ("buyer-2", "buyer-2"));
    assert_eq!(name(2), "buyer-1");
    // With a thousand rows there is no room: each is one line, cut.
    let mut many = midway(1000);
    many.apply(&Event::new(
        many.now_ns + 1,
        Some(1002),
        Body::Ready {
            action: crate::protocol::Act::new("py").with("code", action),
        },
    ));
    let s = text(&render(&many, &v, &ticket(1000, true), 80, 24, false));
    assert!(v.row_heights.borrow().is_empty());
    assert!(s.contains("⏸ open the file for…"), "{s}");
}

#[test]
fn every_text_on_screen_is_in_the_files_with_its_holes_filled() {
    use crate::model::{Activity, QueueOp, Request};
    use crate::scenario::texts::tests::unfinished;
    for (name, _) in RECORDED {
        let events = recorded(name);
        let scenario = scenario_of(&events);
        let texts = &scenario.spec().texts;
        // Each action a process waited to do, in words.
        for e in &events {
            if let Body::Ready { action } = &e.body {
                let said = texts.act(action);
                assert!(!unfinished(&said), "{name}: {action}: {said}");
            }
        }
        // Every line of the events panel, as the model stood when it came.
        let mut m = Model::new();
        for e in &events {
            m.apply(e);
            if e.is_logged() {
                let said = texts.log_line(e, &m);
                assert!(!unfinished(&said), "{name}: {e:?}: {said}");
            }
        }
        let ends = [events.len() / 3, events.len() / 2, events.len()];
        for (n, sort) in ends
            .into_iter()
            .zip([SortKey::Start, SortKey::Doing, SortKey::Exit])
        {
            let m = fold(&events[..n]);
            // Its summary line and the words on how it is set up.
            for said in [scenario.report(&m), scenario.variant()] {
                assert!(!unfinished(&said), "{name}: {said}");
            }
            // Every narration the run's log gives.
            for entry in &m.log {
                if let Some(said) = texts.explain_entry(entry, &m) {
                    assert!(!unfinished(&said), "{name}: {:?}: {said}", entry.event);
                }
            }
            // The screen (its header, table, panels, narration, footer),
            // sorted, and with its help at two sizes (scrolled or not).
            let mut v = view();
            v.sort = sort;
            for help in [false, true] {
                v.help = help;
                for (w, h) in [(80, 24), (120, 40)] {
                    // (Without the code panel: Python's braces are no holes.)
                    v.code = Some(false);
                    let s = text(&render(&m, &v, &*scenario, w, h, false));
                    assert!(!unfinished(&s), "{name} after {n} events:\n{s}");
                }
            }
        }
        // Every state the table can say, at the gate or not.
        let m = fold(&events);
        let mut p = m.procs.last().unwrap().clone();
        let activities = [
            Activity::Started,
            Activity::WaitingForLock("l".into()),
            Activity::HoldingLock("l".into()),
            Activity::Read(Some(3)),
            Activity::Read(None),
            Activity::Sleeping(10),
            Activity::Truncated("f".into()),
            Activity::Wrote(2),
            Activity::Appended("f".into(), 12),
            Activity::Finished(Outcome::Success),
            Activity::Finished(Outcome::Fail),
            Activity::Released("l".into()),
            Activity::Blocked(QueueOp::Put),
            Activity::Blocked(QueueOp::Get),
            Activity::Put(1),
            Activity::Got(1),
            Activity::GaveUp(QueueOp::Put),
            Activity::GaveUp(QueueOp::Get),
            Activity::AskedSize(2),
            Activity::RunningTask(4),
            Activity::FinishedTask(4, true),
            Activity::FinishedTask(4, false),
            Activity::Requested(Request::new("dict_set", Some(1), Some(1))),
            Activity::Requested(Request::new("list_append", None, Some(1))),
            Activity::Served(Request::new("read", None, None), 7),
            Activity::SetPlain(1),
            Activity::Exited(0),
            Activity::Joined,
        ];
        for activity in activities {
            for (overwrote, outcome) in [(None, None), (Some(1), Some(Outcome::Success))] {
                p.activity = activity.clone();
                p.overwrote = overwrote;
                p.outcome = outcome;
                let said = procs::doing(texts, &p);
                assert!(!unfinished(&said), "{name}: {activity:?}: {said}");
            }
        }
        p.at_gate = Some("take_lock".into());
        assert!(!unfinished(&procs::doing(texts, &p)));
    }
}

/// A scenario that runs as `inner` does but declares `show` instead, and
/// words each of its headline's values after `worded`.
struct Declared<S> {
    inner: S,
    show: crate::scenario::Show,
    worded: &'static str,
}

impl<S: Scenario> Scenario for Declared<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn spec(&self) -> &crate::scenario::Spec {
        self.inner.spec()
    }
    fn spec_mut(&mut self) -> &mut crate::scenario::Spec {
        self.inner.spec_mut()
    }
    fn params(&self) -> serde_json::Value {
        self.inner.params()
    }
    fn processes(&self) -> u32 {
        self.inner.processes()
    }
    fn process_name(&self, slot: u32) -> (String, &'static str) {
        self.inner.process_name(slot)
    }
    fn prepare(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        self.inner.prepare(dir)
    }
    fn watched_files(&self) -> Vec<String> {
        self.inner.watched_files()
    }
    fn run_child(&self, ctx: &mut crate::worker::Ctx) -> i32 {
        self.inner.run_child(ctx)
    }
    fn summary(&self, model: &Model) -> serde_json::Map<String, serde_json::Value> {
        self.inner.summary(model)
    }
    fn report(&self, model: &Model) -> String {
        self.inner.report(model)
    }
    fn variant(&self) -> String {
        self.inner.variant()
    }
    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        let mut headline = self.inner.headline(model);
        for (_, value) in &mut headline {
            value.insert_str(0, self.worded);
        }
        headline
    }
    fn alarm_count(&self, key: &str, model: &Model) -> Option<u64> {
        self.inner.alarm_count(key, model)
    }
    fn show(&self) -> crate::scenario::Show {
        self.show.clone()
    }
    fn intro(&self) -> String {
        self.inner.intro()
    }
}

#[test]
fn the_panels_and_the_lit_counters_are_the_ones_the_scenario_declares() {
    use crate::scenario::{Height, Panel, Show};
    let events = recorded("ticket");
    let m = fold(&events);
    let params = match &events[0].body {
        Body::Start { params, .. } => serde_json::from_value(params.clone()).unwrap(),
        other => panic!("{other:?}"),
    };
    let ticket = Ticket::new(params).unwrap();
    let s = text(&render(&m, &view(), &ticket, 120, 40, false));
    assert!(s.contains("File on disk") && s.contains("┌ Lock"), "{s}");
    assert!(
        s.contains(&format!("{MARK} sold")),
        "the oversell lights it:\n{s}"
    );
    // Same run, same name: another declaration, another screen.
    let declared = Declared {
        inner: ticket,
        show: Show::panels(&[(Panel::Calls, Height::Rest), (Panel::Log, Height::Rest)]),
        worded: "",
    };
    let s = text(&render(&m, &view(), &declared, 120, 40, false));
    assert!(s.contains("Calls on Process objects"), "{s}");
    assert!(!s.contains("File on disk") && !s.contains("┌ Lock"), "{s}");
    assert!(
        s.contains(" sold ") && !s.contains(&format!("{MARK} sold")),
        "{s}"
    );
}

#[test]
fn a_run_with_threads_heads_their_ids_tid_and_cuts_none_at_80x24() {
    use crate::scenario::race::{Race, RaceParams};
    use crate::worker::THREAD_ROLE;
    let scenario = Race::new(RaceParams {
        workers: 4,
        increments: 3,
        lock: false,
        threads: true,
    })
    .unwrap();
    let head = |s: &str| {
        s.lines()
            .find(|l| l.contains("NAME") && l.contains("DOING"))
            .unwrap_or_else(|| panic!("no table head: {s}"))
            .split_whitespace()
            .next()
            .unwrap()
            .trim_start_matches('│')
            .to_string()
    };
    // The fork server, the process, and its threads (seven-digit TIDs).
    let mut m = Model::new();
    m.apply(&spawned(101, 0, "fork server", "forkserver"));
    m.apply(&spawned(4_000_000, 1, "threads", "threads"));
    let tids = 4_000_001..4_000_005;
    for (slot, tid) in tids.clone().enumerate() {
        let name = format!("thread-{slot}");
        m.apply(&spawned(tid, slot as u32 + 2, &name, THREAD_ROLE));
    }
    for (w, h) in [(80, 24), (120, 40)] {
        let s = text(&render(&m, &view(), &scenario, w, h, false));
        assert_eq!(head(&s), "PID/TID", "{w}×{h}: {s}");
        assert!(s.contains("┌ Processes and threads 5/5 alive"), "{s}");
        for tid in tids.clone() {
            assert!(
                s.contains(&format!("│{tid} ")),
                "{w}×{h}: TID {tid} whole: {s}"
            );
        }
    }
    // Threads alone: TIDs; processes alone: PIDs.
    let mut only_threads = Model::new();
    only_threads.apply(&spawned(4_000_001, 0, "thread-0", THREAD_ROLE));
    let s = text(&render(&only_threads, &view(), &scenario, 80, 24, false));
    assert_eq!(head(&s), "TID", "{s}");
    let s = text(&render(
        &midway(6),
        &view(),
        &ticket(6, true),
        80,
        24,
        false,
    ));
    assert_eq!(head(&s), "PID", "{s}");
    assert!(s.contains("┌ Processes 4/6 alive"), "{s}");
}

#[test]
fn a_free_lock_is_said_whole_at_80x24() {
    let events = recorded("lifecycle");
    let scenario = scenario_of(&events);
    let made = events
        .iter()
        .position(|e| matches!(e.body, Body::LockMade { .. }))
        .unwrap();
    let m = fold(&events[..=made]);
    let free = scenario.spec().texts.say("lock_free", &[]);
    for (w, h) in [(80, 24), (120, 40)] {
        let s = text(&render(&m, &view(), &*scenario, w, h, false));
        // Every word of it whole (wrapped, not cut).
        let words: Vec<&str> = s.split_whitespace().collect();
        for word in free.split_whitespace() {
            assert!(words.contains(&word), "{w}×{h}: {word:?} whole: {s}");
        }
    }
}

#[test]
fn a_cut_falls_between_words_so_that_no_number_is_shown_in_part() {
    let doing = "⏸ served l.append(17540) for PID 17540";
    let shown = super::cut(doing, 34);
    assert_eq!(shown, "⏸ served l.append(17540) for PID…");
    assert!(shown.width() <= 33);
    // With no space late enough, the cut falls inside the word.
    assert_eq!(super::cut("l.append(17540)", 10), "l.append(…");
    // By display width: a Chinese character takes two columns.
    let zh = super::cut("进程 17540 持有锁", 9);
    assert_eq!(zh, "进程…");
    assert!(zh.width() <= 9);
    // Chinese breaks between any two characters: what fits is kept.
    assert_eq!(
        super::cut("join() → 已返回，工作进程已退出", 20),
        "join() → 已返回，工…"
    );
    assert_eq!(super::cut("short", 5), "short");
}

#[test]
fn a_wrapped_row_of_chinese_never_runs_past_its_width_and_keeps_its_styles() {
    use ratatui::style::Style;
    let bold = Style::new().bold();
    let line = Line::from(vec![
        Span::raw("工作进程的副本："),
        Span::styled("1 份，各 2 项", bold),
    ]);
    let rows = super::wrap_line(&line, 27);
    assert!(rows.len() > 1, "{rows:?}");
    for row in &rows {
        assert!(row.width() <= 27, "{row:?}");
    }
    let joined: String = rows.iter().map(|r| r.to_string()).collect();
    assert_eq!(joined, "工作进程的副本：1 份，各 2 项");
    // The styled words keep their style on whichever row they land.
    let last = rows.last().unwrap();
    assert!(last.spans.iter().all(|s| s.style == bold), "{last:?}");
    assert_eq!(super::wrapped_height(&line, 27), rows.len() as u16);
}

#[test]
fn a_row_of_chinese_never_starts_with_closing_punctuation() {
    // Ten columns: five wide characters fill the row, and the 。 after
    // them would start the next one; the character before it goes with it.
    let rows = super::wrap_line(&Line::raw("稍后会再试。好"), 10);
    let rows: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    assert_eq!(rows, ["稍后会再", "试。好"]);
    // Where it fits, nothing changes.
    let rows = super::wrap_line(&Line::raw("稍后会再试。"), 12);
    assert_eq!(rows.len(), 1);
}

/// The rows of `screen` from the one holding `title` to the panel's bottom
/// border (the rows of the panel `title` names, at the left).
fn panel_rows<'a>(screen: &'a str, title: &str) -> Vec<&'a str> {
    let rows: Vec<&str> = screen.lines().collect();
    let top = rows
        .iter()
        .position(|r| r.contains(title))
        .unwrap_or_else(|| panic!("no panel {title:?}:\n{screen}"));
    rows[top..]
        .iter()
        .take_while(|r| !r.starts_with('└'))
        .copied()
        .collect()
}

/// Midway (buyer-3 at its gate, to take the lock), buyer-3 selected.
fn midway_selected() -> (Model, ViewState) {
    let view = ViewState {
        selected: Some(1003),
        ..view()
    };
    (midway(6), view)
}

#[test]
fn the_code_panel_counts_who_stands_at_each_line_and_marks_the_selected_and_the_last_step() {
    let (mut m, view) = midway_selected();
    let scenario = ticket(6, true);
    // Shown by default at 120 columns: the table above, the code under it.
    let s = text(&render(&m, &view, &scenario, 120, 40, false));
    let code = panel_rows(&s, "Code: ticket.py");
    let acquire = code
        .iter()
        .find(|r| r.contains("lock.acquire()"))
        .expect("the lock's line");
    // One process (buyer-3) stands at it, the selected one: marked.
    assert!(acquire.contains("   1 ▶ 21"), "{acquire}");
    assert!(s.contains("▶ buyer-3 PID 1003"), "{s}");
    assert!(s.contains("PID  NAME"), "the table stays above:\n{s}");
    assert!(!s.contains("last step"), "no step yet:\n{s}");

    // Buyer-3 is let through: it runs the line.
    m.apply(&Event::new(
        90_000_000,
        Some(1003),
        Body::LockWait {
            lock: Name::from("tickets"),
        },
    ));
    let buffer = render(&m, &view, &scenario, 120, 40, true);
    let s = text(&buffer);
    assert!(s.contains("last step: buyer-3 PID 1003, line 21"), "{s}");
    // The line it ran is highlighted, and no other.
    let highlighted: Vec<u16> = (0..buffer.area.height)
        .filter(|&y| (0..buffer.area.width).any(|x| buffer[(x, y)].bg == Color::Yellow))
        .collect();
    let rows: Vec<&str> = s.lines().collect();
    assert_eq!(highlighted.len(), 2, "the line and the legend:\n{s}");
    assert!(
        rows[usize::from(highlighted[0])].contains("lock.acquire()"),
        "{s}"
    );
    // A process that exits stands nowhere.
    m.apply(&Event::new(
        91_000_000,
        Some(1003),
        Body::Exit { exitcode: 0 },
    ));
    let s = text(&render(&m, &view, &scenario, 120, 40, false));
    let code = panel_rows(&s, "Code: ticket.py");
    let acquire = code.iter().find(|r| r.contains("lock.acquire()")).unwrap();
    assert!(acquire.contains("      21"), "{acquire}");
}

#[test]
fn c_shows_the_code_in_the_tables_place_at_80x24_in_chinese_and_hides_it_at_120() {
    let (m, mut view) = midway_selected();
    let mut scenario = ticket(6, true);
    scenario
        .spec_mut()
        .speak(crate::lang::Lang::named("zh").unwrap());
    // Hidden by default at 80 columns.
    let s = text(&render(&m, &view, &scenario, 80, 24, false));
    // (A wide character's second cell reads as a space.)
    let words = |s: &str| s.chars().filter(|c| *c != ' ').collect::<String>();
    assert!(!words(&s).contains("代码：ticket.py"), "{s}");
    assert!(
        words(&s).contains("c代码?帮助"),
        "the key bar names the key:\n{s}"
    );
    view.toggle_code();
    assert_eq!(view.code, Some(true));
    let buffer = render(&m, &view, &scenario, 80, 24, false);
    let s = text(&buffer);
    let code = panel_rows(&s, "ticket.py");
    assert!(
        !words(&s).contains("PID名称"),
        "the code took the table's place:\n{s}"
    );
    // The comments are Chinese; the code stays code; the selected
    // process's line is in view.
    assert!(
        words(&code.join("\n")).contains("#对读写文件的部分加锁"),
        "{s}"
    );
    assert!(
        code.iter()
            .any(|r| r.contains("1 ▶") && r.contains("lock.acquire()")),
        "{s}"
    );
    assert!(s.contains("▶ buyer-3 PID 1003"), "{s}");
    // Every row of the panel ends on its right border, wide characters
    // and cuts included.
    let right = code[0].chars().position(|c| c == '┐').expect("a corner");
    for y in 0..buffer.area.height {
        let row: Vec<&str> = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        if row[0] == "│" && y < 20 {
            assert!(
                ["│", "┤"].contains(&row[right]),
                "row {y}: {:?}\n{s}",
                row[right]
            );
        }
    }
    assert_right_borders_in_place(&buffer);
    // Asked for, it stays shown at 120 columns; there the same key hides it,
    // and hidden it stays on a narrower terminal.
    let s = text(&render(&m, &view, &scenario, 120, 40, false));
    assert!(words(&s).contains("代码：ticket.py"), "{s}");
    view.toggle_code();
    let s = text(&render(&m, &view, &scenario, 100, 40, false));
    assert!(!words(&s).contains("代码：ticket.py"), "{s}");
    // Shown by default on a wide but short terminal, it goes under the
    // table, which stays.
    let s = text(&render(
        &m,
        &ViewState { code: None, ..view },
        &scenario,
        120,
        24,
        false,
    ));
    assert!(words(&s).contains("代码：ticket.py"), "{s}");
    assert!(words(&s).contains("PID名称"), "{s}");
}

#[test]
fn at_full_speed_the_code_panel_says_no_gate_places_anyone() {
    let mut m = midway(6);
    let mut at = 95_000_000;
    let mut apply = |m: &mut Model, pid: Option<Pid>, body: Body| {
        at += 1_000_000;
        m.apply(&Event::new(at, pid, body));
    };
    let tickets = || Name::from("tickets");
    apply(
        &mut m,
        None,
        Body::Pace {
            paused: false,
            speed: None,
        },
    );
    // Buyer-3 was at its gate when the pace changed: its action is a step
    // that ran its line.
    apply(&mut m, Some(1003), Body::LockWait { lock: tickets() });
    let s = text(&render(&m, &view(), &ticket(6, true), 120, 40, false));
    assert!(s.contains("last step: buyer-3 PID 1003, line 21"), "{s}");
    // Then actions with no gate before them: no line is known, and none is
    // shown as if it were.
    apply(&mut m, Some(1000), Body::LockRelease { lock: tickets() });
    apply(&mut m, Some(1003), Body::LockAcquire { lock: tickets() });
    apply(
        &mut m,
        Some(1003),
        Body::Read {
            file: "tickets.json".into(),
            value: Some(3),
            text: "{\"count\":3}".into(),
            landed: None,
            reset: None,
        },
    );
    assert_eq!(m.code.unplaced, 0, "unpaced, a gateless action is no fault");
    let s = text(&render(&m, &view(), &ticket(6, true), 120, 40, false));
    assert!(!s.contains("last step"), "{s}");
    let code = panel_rows(&s, "Code: ticket.py");
    // The count column (after the border) is blank on every row.
    assert!(
        code[1..]
            .iter()
            .all(|r| r.chars().skip(1).take(4).all(|c| c == ' ')),
        "no one stands anywhere:\n{s}"
    );
    assert!(s.contains("at full speed no gate says"), "{s}");
}

#[test]
fn the_events_panel_says_an_outcome_in_words_in_each_language() {
    let m = midway(6);
    let ev = Event::new(
        1,
        Some(1004),
        Body::Outcome {
            result: Outcome::Success,
        },
    );
    let mut scenario = ticket(6, true);
    assert_eq!(
        scenario.spec().texts.log_line(&ev, &m),
        "outcome: got a ticket"
    );
    scenario
        .spec_mut()
        .speak(crate::lang::Lang::named("zh").unwrap());
    assert_eq!(scenario.spec().texts.log_line(&ev, &m), "结果：买到票");
}

/// The history of `events` as the dashboard keeps it, with checkpoints
/// close enough that a fixture's short stream crosses several.
fn history_of(events: &[Event]) -> (crate::ui::history::History, Model) {
    let mut history = crate::ui::history::History::every(64);
    let mut live = Model::new();
    for event in events {
        let moments: u32 = live.moments.values().sum();
        live.apply(event);
        let notable = crate::ui::history::notable(event, &live, moments);
        history.push(event.clone(), &live, notable);
    }
    (history, live)
}

#[test]
fn a_screen_stepped_back_to_is_the_screen_the_stream_drew_there() {
    for name in ["ticket", "queue", "pool", "race"] {
        let events = recorded(name);
        let scenario = scenario_of(&events);
        let (history, live) = history_of(&events);
        let n = history.len();
        let screen = |m: &Model, w, h| render(m, &view(), &*scenario, w, h, false);
        // At the end, the history is the live run.
        assert_eq!(
            screen(&history.model_at(n), 120, 40),
            screen(&live, 120, 40)
        );
        // Anywhere, it is the fold of the events up to there (the
        // checkpoints' own test, in ui::history, crosses several).
        for k in [1, n / 3, n / 2, n - 1] {
            let prefix = fold(&events[..k]);
            let back = history.model_at(k);
            assert_eq!(
                screen(&back, 80, 24),
                screen(&prefix, 80, 24),
                "{name} at event {k} of {n}"
            );
            assert_eq!(screen(&back, 120, 40), screen(&prefix, 120, 40));
        }
    }
}

#[test]
fn the_history_jumps_land_on_the_moments() {
    // The no-lock ticket run loses updates and oversells: every event the
    // model marked as a moment is a place the jumps land, just after it.
    let events = recorded("ticket");
    let (history, live) = history_of(&events);
    let mut targets = Vec::new();
    let mut at = 0;
    while let Some(next) = history.moment_after(at) {
        targets.push(next);
        at = next;
    }
    let marked: Vec<usize> = live
        .log
        .iter()
        .filter(|entry| entry.moment.is_some())
        .map(|entry| events.iter().position(|e| *e == entry.event).unwrap() + 1)
        .collect();
    assert!(!marked.is_empty(), "the run has moments");
    for k in &marked {
        assert!(
            targets.contains(k),
            "a jump lands after event {k}: {targets:?}"
        );
    }
    // And back: from the last, `[` walks them in reverse.
    let last = *targets.last().unwrap();
    assert_eq!(
        history.moment_before(last),
        targets.iter().rev().nth(1).copied()
    );
    assert_eq!(history.moment_before(targets[0]), None);
    assert_eq!(history.moment_after(history.len()), None);
}

/// The timeline of `events` after `k` of them (`None`: all, the live edge),
/// drawn `width`×`height` with the timeline shown.
fn timeline_screen(
    events: &[Event],
    k: Option<usize>,
    view: &ViewState,
    scenario: &dyn Scenario,
    (width, height): (u16, u16),
    color: bool,
) -> Buffer {
    let mut timeline = crate::ui::timeline::Timeline::new();
    for (i, e) in events.iter().enumerate() {
        timeline.push(e, i);
    }
    let model = fold(&events[..k.unwrap_or(events.len())]);
    let mut view = view.clone();
    view.timeline.shown = true;
    view.history = k.map(|k| (k, events.len()));
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let screen = Screen {
        model: &model,
        view: &view,
        scenario,
        theme: Theme { color },
        timeline: Some(&timeline),
    };
    terminal.draw(|f| draw(f, &screen)).unwrap();
    terminal.backend().buffer().clone()
}

/// The rows of the timeline panel: the lines between its title and its
/// bottom border.
fn timeline_rows(s: &str) -> Vec<String> {
    s.lines()
        .skip_while(|l| !l.contains("Timeline") && !l.contains("时间线"))
        .skip(1)
        .take_while(|l| !l.starts_with('└'))
        .map(String::from)
        .collect()
}

#[test]
fn the_timeline_shows_each_lane_with_its_name_pid_and_glyphs() {
    let events = recorded("ticket_lock");
    let scenario = scenario_of(&events);
    for (width, height) in [(80, 24), (120, 40)] {
        let s = text(&timeline_screen(
            &events,
            None,
            &view(),
            &*scenario,
            (width, height),
            false,
        ));
        eprintln!("{s}");
        let live = fold(&events);
        // A lane for every process on screen, name and PID at the left.
        let rows = timeline_rows(&s);
        for p in live.procs.iter().take(rows.len().saturating_sub(1)) {
            assert!(
                rows.iter()
                    .any(|r| r.contains(&p.name[..6]) && r.contains(&p.pid.to_string())),
                "{} {}:\n{s}",
                p.name,
                p.pid
            );
        }
        // Without colour, the glyphs say what each process did: held,
        // waited for the lock, exited 0.
        for glyph in ["█", "░", "0"] {
            assert!(rows[1..].iter().any(|r| r.contains(glyph)), "{glyph}:\n{s}");
        }
        // The legend names them, the cursor is marked on the scale.
        assert!(s.contains("█ lock") && s.contains("░ wait"), "{s}");
        assert!(rows[0].contains('▼'), "{s}");
        assert!(s.contains("Timeline"), "{s}");
    }
}

const POOL_ZOOM: u64 = 200_000;

#[test]
fn every_state_has_a_glyph_of_its_own_without_colour() {
    // (recording, the glyphs its lanes must show, the legend's words)
    let cases = [
        (
            "ticket_lock",
            &["█", "░", "·", "-", "0"][..],
            &["█ lock", "░ wait", "· gate"][..],
        ),
        ("ticket", &["z"], &["z sleep"]),
        ("queue", &["▒"], &["▒ queue"]),
        // (A task is short: zoomed in, as the view below does for it.)
        ("pool", &["="], &["= task"]),
        ("lifecycle", &["1", MARK], &["0-9 exit"]),
    ];
    for (name, glyphs, words) in cases {
        let events = recorded(name);
        let scenario = scenario_of(&events);
        let mut view = view();
        if name == "pool" {
            view.timeline.zoom = Some(POOL_ZOOM);
        }
        let s = text(&timeline_screen(
            &events,
            None,
            &view,
            &*scenario,
            (120, 40),
            false,
        ));
        let rows = timeline_rows(&s);
        for glyph in glyphs {
            // Right of the names and PIDs.
            assert!(
                rows[1..]
                    .iter()
                    .any(|r| r.split('│').nth(1).is_some_and(|l| {
                        l.chars().skip(20).collect::<String>().contains(glyph)
                    })),
                "{name}: {glyph}\n{s}"
            );
        }
        for word in words {
            assert!(s.contains(word), "{name}: {word}\n{s}");
        }
    }
}

#[test]
fn a_timeline_stepped_back_to_is_the_timeline_of_the_prefix() {
    for name in ["ticket_lock", "queue", "pool", "lifecycle"] {
        let events = recorded(name);
        let scenario = scenario_of(&events);
        let n = events.len();
        for k in [1, 2, n / 3, n / 2, n - 1] {
            for size in [(80, 24), (120, 40)] {
                let back = timeline_screen(&events, Some(k), &view(), &*scenario, size, false);
                // The same cursor over a timeline built from the prefix only.
                let mut prefix = timeline_screen_of(&events[..k], &*scenario, size);
                prefix.history = Some((k, n));
                assert_eq!(back, prefix.draw(), "{name} at event {k} of {n}, {size:?}");
            }
        }
    }
}

/// A timeline screen to draw later, with its view open to changes.
struct TimelineScreen<'a> {
    events: &'a [Event],
    scenario: &'a dyn Scenario,
    size: (u16, u16),
    history: Option<(usize, usize)>,
}

impl TimelineScreen<'_> {
    fn draw(&self) -> Buffer {
        let mut timeline = crate::ui::timeline::Timeline::new();
        for (i, e) in self.events.iter().enumerate() {
            timeline.push(e, i);
        }
        let model = fold(self.events);
        let mut view = view();
        view.timeline.shown = true;
        view.history = self.history;
        let mut terminal = Terminal::new(TestBackend::new(self.size.0, self.size.1)).unwrap();
        let screen = Screen {
            model: &model,
            view: &view,
            scenario: self.scenario,
            theme: Theme { color: false },
            timeline: Some(&timeline),
        };
        terminal.draw(|f| draw(f, &screen)).unwrap();
        terminal.backend().buffer().clone()
    }
}

fn timeline_screen_of<'a>(
    events: &'a [Event],
    scenario: &'a dyn Scenario,
    size: (u16, u16),
) -> TimelineScreen<'a> {
    TimelineScreen {
        events,
        scenario,
        size,
        history: None,
    }
}

#[test]
fn the_selected_lane_is_the_selected_row_of_the_table() {
    let events = recorded("ticket_lock");
    let scenario = scenario_of(&events);
    let live = fold(&events);
    let pid = live.procs[3].pid;
    let view = ViewState {
        selected: Some(pid),
        ..view()
    };
    // The row drawn reversed, in the table and in the timeline, holds the
    // same PID.
    let reversed_row = |buffer: &Buffer| {
        let area = buffer.area;
        (0..area.height)
            .find(|&y| {
                (1..10).all(|x| {
                    buffer[(x, y)]
                        .modifier
                        .contains(ratatui::style::Modifier::REVERSED)
                })
            })
            .map(|y| {
                (0..area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    let table = render(&live, &view, &*scenario, 80, 24, false);
    let lanes = timeline_screen(&events, None, &view, &*scenario, (80, 24), false);
    for buffer in [&table, &lanes] {
        let row = reversed_row(buffer);
        assert!(row.contains(&pid.to_string()), "{row}\n{}", text(buffer));
    }
    assert!(reversed_row(&lanes).contains(&live.procs[3].name));
}

#[test]
fn the_timeline_zooms_and_speaks_chinese_in_its_borders() {
    let events = recorded("ticket_lock");
    let mut scenario = scenario_of(&events);
    let mut zoomed = view();
    zoomed.timeline.zoom = Some(2_000_000);
    let s = text(&timeline_screen(
        &events,
        None,
        &zoomed,
        &*scenario,
        (80, 24),
        false,
    ));
    assert!(s.contains("Timeline · 2ms a column"), "{s}");
    // Following the cursor: it is in the last column.
    let rows = timeline_rows(&s);
    assert!(rows[0].contains("▼││"), "{s}");
    scenario
        .spec_mut()
        .speak(crate::lang::Lang::named("zh").unwrap());
    for (size, v) in [((80, 24), view()), ((120, 40), view()), ((80, 24), zoomed)] {
        let buffer = timeline_screen(&events, None, &v, &*scenario, size, false);
        assert_right_borders_in_place(&buffer);
        let s = text(&buffer);
        // (A wide character's second cell reads as a space.)
        let words: String = s.chars().filter(|c| *c != ' ').collect();
        for word in ["时间线", "█持锁", "░等锁", "·闸口"] {
            assert!(words.contains(word), "{word}:\n{s}");
        }
    }
}

#[test]
fn the_lanes_scroll_to_keep_the_selected_one_in_view() {
    let mut events = vec![Event::new(
        0,
        None,
        Body::Start {
            scenario: "ticket".into(),
            seed: 1,
            parent_pid: 1,
            params: serde_json::json!({"buyers": 60, "tickets": 3, "lock": true, "delay_ms": 0}),
        },
    )];
    for slot in 0..60 {
        let mut e = spawned(2000 + slot as Pid, slot, &format!("buyer-{slot}"), "buyer");
        e.t_ns = u64::from(slot + 1) * 1_000_000;
        events.push(e);
    }
    let scenario = scenario_of(&events);
    let view = ViewState {
        selected: Some(2050),
        ..view()
    };
    let s = text(&timeline_screen(
        &events,
        None,
        &view,
        &*scenario,
        (80, 24),
        false,
    ));
    assert!(s.contains("│buyer-50 2050 "), "{s}");
    assert!(!s.contains("│buyer-0 "), "{s}");
    // Stepped back to before its spawn, it has no lane.
    let s = text(&timeline_screen(
        &events,
        Some(40),
        &view,
        &*scenario,
        (80, 24),
        false,
    ));
    assert!(!s.contains("2050"), "{s}");
    assert!(s.contains("buyer-38"), "{s}");
}

#[test]
fn before_the_first_action_the_introduction_is_shown_whole_at_80x24() {
    // The longest introductions take more than the narration's usual three
    // lines at 80 columns: before anything moves, they get the room.
    for (name, end) in [
        ("ticket", "jumps to 99."),
        ("manager", "which the main process never sees."),
    ] {
        let events = recorded(name);
        let scenario = scenario_of(&events);
        let mut m = Model::new();
        m.apply(&events[0]);
        let screen = text(&render(&m, &view(), &*scenario, 80, 24, false));
        let flat: String = screen
            .split('\n')
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            flat.contains(end),
            "{name}: the introduction is cut:\n{screen}"
        );
    }
}
