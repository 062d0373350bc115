use super::*;
use crate::protocol::{Name, Outcome, SeenBlocked};

fn ev(t: u64, pid: Option<Pid>, body: Body) -> Event {
    Event::new(t, pid, body)
}

fn spawn(pid: Pid, slot: u32) -> Event {
    ev(
        1,
        Some(pid),
        Body::Spawn {
            name: format!("buyer-{slot}"),
            role: "buyer".into(),
            slot,
            ppid: 1,
        },
    )
}

/// mpviz's fork server, `pid`: the parent of the scenario's processes.
fn forkserver(pid: Pid) -> Event {
    ev(
        0,
        Some(pid),
        Body::Spawn {
            name: "forkserver".into(),
            role: "forkserver".into(),
            slot: 0,
            ppid: 0,
        },
    )
}

fn lock(kind: &str, pid: Pid) -> Event {
    let lock = Name::from("tickets");
    let body = match kind {
        "wait" => Body::LockWait { lock },
        "acquire" => Body::LockAcquire { lock },
        _ => Body::LockRelease { lock },
    };
    ev(2, Some(pid), body)
}

fn fold(events: &[Event]) -> Model {
    let mut m = Model::new();
    for e in events {
        m.apply(e);
    }
    m
}

#[test]
fn the_lock_panel_follows_holder_and_line_of_waiters() {
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        spawn(12, 2),
        lock("wait", 10),
        lock("acquire", 10),
        lock("wait", 11),
        lock("wait", 12),
    ]);
    let l = &m.locks["tickets"];
    assert_eq!(l.holder, Some(10));
    assert_eq!(l.waiters.iter().collect::<Vec<_>>(), vec![11, 12]);
    assert_eq!(
        m.proc(11).unwrap().activity,
        Activity::WaitingForLock("tickets".into())
    );

    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        spawn(12, 2),
        lock("wait", 10),
        lock("acquire", 10),
        lock("wait", 11),
        lock("wait", 12),
        lock("release", 10),
        lock("acquire", 12),
    ]);
    let l = &m.locks["tickets"];
    assert_eq!(l.holder, Some(12));
    assert_eq!(l.waiters.iter().collect::<Vec<_>>(), vec![11]);
    assert_eq!(l.acquisitions, 2);
    assert_eq!(l.overlaps, 0);
}

#[test]
fn an_acquire_while_another_holds_is_counted_as_an_overlap() {
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        lock("acquire", 10),
        lock("acquire", 11),
    ]);
    assert_eq!(m.locks["tickets"].overlaps, 1);
}

#[test]
fn a_holder_that_dies_is_shown_dead_until_the_next_acquire_shows_the_lock_let_go() {
    let died = [
        spawn(10, 0),
        spawn(11, 1),
        lock("acquire", 10),
        lock("wait", 11),
        ev(3, Some(10), Body::Exit { exitcode: -9 }),
    ];
    let m = fold(&died);
    // Its death is seen; that anything let go of the lock is not, yet.
    let l = &m.locks["tickets"];
    assert_eq!(l.holder, Some(10));
    assert!(l.holder_dead);
    assert!(!l.deadlocked(), "a dead holder alone is no deadlock");
    let p = m.proc(10).unwrap();
    assert_eq!(p.exitcode, Some(-9));
    assert!(!p.alive());
    assert_eq!(m.exit_codes("buyer").get(&-9), Some(&1));
    // The next waiter takes it: now it is seen let go, and no overlap.
    let mut then = died.to_vec();
    then.push(lock("acquire", 11));
    let m = fold(&then);
    let l = &m.locks["tickets"];
    assert_eq!(l.holder, Some(11));
    assert!(!l.holder_dead);
    assert_eq!(
        l.taken_after_death,
        Some(TakenAfterDeath { dead: 10, by: 11 })
    );
    assert_eq!(l.overlaps, 0);
}

/// A semaphore lock taken by 10, 11 and 12 waiting, and 10 terminated.
fn semaphore_holder_died() -> Vec<Event> {
    let lock = || Name::from("lock");
    vec![
        spawn(10, 0),
        spawn(11, 1),
        spawn(12, 2),
        ev(
            2,
            Some(1),
            Body::LockMade {
                lock: lock(),
                lock_kind: "semaphore".into(),
            },
        ),
        ev(2, Some(10), Body::LockAcquire { lock: lock() }),
        ev(2, Some(11), Body::LockWait { lock: lock() }),
        ev(2, Some(12), Body::LockWait { lock: lock() }),
        ev(3, Some(10), Body::Exit { exitcode: -15 }),
    ]
}

#[test]
fn a_semaphore_holder_that_died_is_no_deadlock_until_the_evidence_comes() {
    let mut events = semaphore_holder_died();
    let m = fold(&events);
    let l = &m.locks["lock"];
    assert!(l.holder_dead);
    assert_eq!(l.waiters.len(), 2);
    assert!(!l.deadlocked(), "named before anything was checked");
    assert_eq!(m.locks.deadlocks, 0);
    let seen = |pid| SeenBlocked {
        pid,
        state: 'S',
        wchan: "futex_do_wait".into(),
        syscall: "202 0x7f0000001000".into(),
    };
    events.push(ev(
        4,
        Some(1),
        Body::Deadlock {
            lock: "lock".into(),
            holder: 10,
            waiters: vec![11, 12],
            value: 0,
            seen: vec![seen(11), seen(12)],
        },
    ));
    let m = fold(&events);
    let l = &m.locks["lock"];
    assert!(l.deadlocked());
    let evidence = l.deadlock.as_ref().unwrap();
    assert_eq!(evidence.value, 0);
    assert_eq!(evidence.seen, vec![seen(11), seen(12)]);
    assert_eq!(m.locks.deadlocks, 1);
}

#[test]
fn outcomes_are_counted_and_kept_per_process() {
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        spawn(12, 2),
        ev(
            3,
            Some(10),
            Body::Outcome {
                result: Outcome::Success,
            },
        ),
        ev(
            3,
            Some(11),
            Body::Outcome {
                result: Outcome::Fail,
            },
        ),
        ev(
            3,
            Some(12),
            Body::Outcome {
                result: Outcome::Success,
            },
        ),
    ]);
    assert_eq!(
        m.procs.outcomes,
        Outcomes {
            success: 2,
            fail: 1,
        }
    );
    assert_eq!(m.proc(11).unwrap().outcome, Some(Outcome::Fail));
    assert_eq!(m.proc(12).unwrap().outcome, Some(Outcome::Success));
}

fn read(pid: Pid, value: i64) -> Event {
    ev(
        3,
        Some(pid),
        Body::Read {
            file: "tickets.json".into(),
            value: Some(value),
            text: String::new(),
            landed: None,
            reset: None,
        },
    )
}

fn write(pid: Pid, value: i64) -> Event {
    ev(
        4,
        Some(pid),
        Body::Write {
            file: "tickets.json".into(),
            value: Some(value),
            bytes: None,
            landed: None,
        },
    )
}

#[test]
fn a_write_based_on_an_overtaken_read_is_a_lost_update() {
    // 10 and 11 both read 10; 10 writes 9; 11 writes 9 over it.
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        read(10, 10),
        read(11, 10),
        write(10, 9),
        write(11, 9),
    ]);
    assert_eq!(m.files.lost_writes, 1);
    assert_eq!(m.proc(11).unwrap().overwrote, Some(10));
    assert_eq!(m.proc(10).unwrap().overwrote, None);

    // A stale write that even raises the count: 12 read 10 long ago.
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        spawn(12, 2),
        read(12, 10),
        read(10, 10),
        write(10, 9),
        read(11, 9),
        write(11, 8),
        write(12, 9),
    ]);
    assert_eq!(m.files.lost_writes, 1);
    assert_eq!(m.proc(12).unwrap().overwrote, Some(11));
}

#[test]
fn counting_up_two_reads_of_one_value_lose_an_increment_and_show_how() {
    // 10 and 11 both read 4; 11 writes 5; 10 writes 5 over it.
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        read(10, 4),
        read(11, 4),
        write(11, 5),
        write(10, 5),
    ]);
    assert_eq!(m.files.lost_writes, 1);
    assert_eq!(m.files.writes_of("tickets.json"), 2);
    assert_eq!(
        m.files.last_lost,
        Some(LostUpdate {
            file: "tickets.json".into(),
            writer: 10,
            read: Some(4),
            wrote: 5,
            over: 11,
            over_read: Some(4),
            over_wrote: 5,
        })
    );
}

#[test]
fn a_write_that_carries_the_count_on_past_a_stale_one_undoes_nothing() {
    // 12 read 3 long ago and writes 4 after 11 wrote 6: that write loses two
    // increments. 10 had read 6, and its 7 goes on past the stale 4.
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        spawn(12, 2),
        read(12, 3),
        read(11, 5),
        write(11, 6),
        read(10, 6),
        write(12, 4),
        write(10, 7),
    ]);
    assert_eq!(m.files.lost_writes, 1);
    assert_eq!(m.proc(12).unwrap().overwrote, Some(11));
    assert_eq!(m.proc(10).unwrap().overwrote, None);
    assert_eq!(m.files.last_lost.as_ref().map(|l| l.writer), Some(12));
}

#[test]
fn reading_and_writing_in_turn_loses_nothing() {
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        read(10, 10),
        write(10, 9),
        read(11, 9),
        write(11, 8),
    ]);
    assert_eq!(m.files.lost_writes, 0);
}

#[test]
fn gates_are_shown_until_the_next_action() {
    let mut m = fold(&[
        spawn(10, 0),
        ev(
            2,
            Some(10),
            Body::Ready {
                action: "read".into(),
            },
        ),
    ]);
    assert_eq!(m.proc(10).unwrap().at_gate, Some("read".into()));
    assert_eq!(m.waiting_at_gates(), 1);
    assert_eq!(m.actions, 0);
    m.apply(&ev(
        3,
        Some(10),
        Body::Read {
            file: "tickets.json".into(),
            value: Some(3),
            text: "{\"count\":3}".into(),
            landed: None,
            reset: None,
        },
    ));
    assert_eq!(m.proc(10).unwrap().at_gate, None);
    assert_eq!(m.actions, 1);
    assert_eq!(m.proc(10).unwrap().activity, Activity::Read(Some(3)));
    // Waiting for a lock and getting it is one action; so is a write and its outcome.
    m.apply(&lock("wait", 10));
    m.apply(&lock("acquire", 10));
    m.apply(&ev(
        5,
        Some(10),
        Body::Outcome {
            result: Outcome::Fail,
        },
    ));
    assert_eq!(m.actions, 2);
}

#[test]
fn a_process_seen_a_zombie_after_its_last_permit_is_no_longer_at_a_gate() {
    let m = fold(&[
        spawn(10, 0),
        ev(
            2,
            Some(10),
            Body::Ready {
                action: "f() returns".into(),
            },
        ),
        ev(3, Some(10), Body::State { state: 'Z' }),
    ]);
    let p = m.proc(10).unwrap();
    assert_eq!(p.at_gate, None);
    assert_eq!(p.state, Some('Z'));
    assert_eq!(m.waiting_at_gates(), 0);
}

#[test]
fn samples_of_a_dead_process_do_not_bring_it_back() {
    let m = fold(&[
        spawn(10, 0),
        ev(2, Some(10), Body::State { state: 'S' }),
        ev(3, Some(10), Body::Exit { exitcode: 0 }),
        ev(4, Some(10), Body::State { state: 'R' }),
    ]);
    assert_eq!(m.proc(10).unwrap().state, Some('S'));
}

#[test]
fn the_log_skips_samples_and_gates_and_keeps_its_capacity() {
    let mut m = fold(&[spawn(10, 0)]);
    for t in 0..(LOG_CAPACITY as u64 + 10) {
        m.apply(&ev(t, Some(10), Body::State { state: 'S' }));
        m.apply(&ev(t, Some(10), Body::Sleep { ms: t }));
    }
    assert_eq!(m.log.len(), LOG_CAPACITY);
    assert!(m.log.iter().all(|e| e.kind() == "sleep"));
    assert_eq!(m.now_ns, LOG_CAPACITY as u64 + 9);
}

#[test]
fn pace_start_file_and_end_are_state_too() {
    let m = fold(&[
        ev(
            0,
            None,
            Body::Start {
                scenario: "ticket".into(),
                seed: 7,
                parent_pid: 99,
                params: serde_json::json!({"buyers": 2}),
            },
        ),
        ev(
            1,
            None,
            Body::Pace {
                paused: true,
                speed: Some(2.0),
            },
        ),
        ev(
            2,
            None,
            Body::File {
                file: "tickets.json".into(),
                content: "{\"count\":1}".into(),
            },
        ),
        ev(3, None, Body::End),
    ]);
    assert_eq!(m.scenario, "ticket");
    assert_eq!(m.seed, 7);
    assert!(m.pace.paused);
    assert_eq!(m.pace.speed, Some(2.0));
    assert_eq!(m.files["tickets.json"], "{\"count\":1}");
    assert!(m.ended);
}

#[test]
fn leaving_the_middle_of_a_long_line_keeps_the_order_of_the_rest() {
    let mut events = Vec::new();
    for pid in 0..1000 {
        events.push(spawn(pid, pid as u32));
        events.push(lock("wait", pid));
    }
    events.push(lock("acquire", 500));
    events.push(ev(9, Some(3), Body::Exit { exitcode: -9 }));
    let m = fold(&events);
    let line: Vec<Pid> = m.locks["tickets"].waiters.iter().collect();
    assert_eq!(line.len(), 998);
    assert_eq!(&line[..5], &[0, 1, 2, 4, 5]);
    assert!(!line.contains(&500));
}

#[test]
fn a_blocked_get_is_one_action_begun_by_the_block_and_a_step_of_main_counts() {
    let q = || Name::from("q");
    let blocked = vec![
        ev(
            0,
            None,
            Body::Start {
                scenario: "queue".into(),
                seed: 1,
                parent_pid: 99,
                params: serde_json::Value::Null,
            },
        ),
        spawn(10, 0),
        // A step lets the consumer try: the queue is empty, it blocks.
        ev(
            2,
            Some(10),
            Body::Blocked {
                queue: q(),
                op: "get".into(),
            },
        ),
    ];
    let m = fold(&blocked);
    assert_eq!(m.actions, 1, "the step's action is the blocked get");
    let mut events = blocked;
    events.extend([
        // The main process's paced put, then the get the block held up.
        ev(
            3,
            Some(99),
            Body::Put {
                queue: q(),
                item: 0,
                depth: 1,
            },
        ),
        ev(
            4,
            Some(10),
            Body::Get {
                queue: q(),
                item: 0,
                depth: 0,
            },
        ),
        ev(
            5,
            Some(10),
            Body::Get {
                queue: q(),
                item: 1,
                depth: 0,
            },
        ),
    ]);
    let m = fold(&events);
    assert_eq!(
        m.actions, 3,
        "block+get is one; the put and the next get one each"
    );
}

/// A read (`write: false`) or write of the race's counter at its `place`
/// among the writes that landed.
fn counted(pid: Pid, write: bool, place: u64, value: i64) -> Event {
    let file = Name::from("counter");
    let body = if write {
        Body::Write {
            file,
            value: Some(value),
            bytes: None,
            landed: Some(place),
        }
    } else {
        Body::Read {
            file,
            value: Some(value),
            text: value.to_string(),
            landed: Some(place),
            reset: None,
        }
    };
    ev(5, Some(pid), body)
}

#[test]
fn a_lost_update_counts_only_once_no_pending_write_can_make_up_for_it() {
    // The fork server (1) starts workers 10 and 11. 11 reads 1 and stalls;
    // 10 counts up to 5 and reads 5; 11 writes its stale 2 (six writes, the
    // memory says 2); then 10 writes the 6 it had computed: in the end one
    // update is lost, not four.
    let mut events = vec![
        forkserver(1),
        spawn(10, 0),
        spawn(11, 1),
        counted(10, false, 0, 0),
        counted(10, true, 1, 1),
        counted(11, false, 1, 1),
    ];
    for k in 1..5 {
        events.push(counted(10, false, k, k as i64));
        events.push(counted(10, true, k + 1, k as i64 + 1));
    }
    events.push(counted(10, false, 5, 5));
    let stale = events.len();
    events.push(counted(11, true, 6, 2));
    events.push(counted(10, true, 7, 6));
    events.push(ev(9, Some(11), Body::Exit { exitcode: 0 }));
    events.push(ev(9, Some(10), Body::Exit { exitcode: 0 }));
    let mut m = Model::new();
    let mut shown = Vec::new();
    for e in &events {
        m.apply(e);
        shown.push(m.files.landings.lost);
    }
    assert_eq!(m.files.landings.lost, 1, "seven writes, the memory holds 6");
    assert_eq!(m.files.landings.settled, 7);
    // Right after the stale write, the memory held 2 after six writes, but
    // 10 held a read of 5: nothing was certain yet.
    assert_eq!(shown[stale], 0);
    assert!(shown.iter().all(|&lost| lost <= 1), "{shown:?}");
    // Before the stale write, 11 had reported nothing since its read after
    // write 1 (its write might have landed since, unreported, and a read
    // after it): only write 1 is settled. The fork server starts others and
    // reads nothing: it holds nothing up.
    let m = fold(&events[..stale]);
    assert_eq!(m.files.landings.settled, 1);
}

#[test]
fn a_stale_write_is_marked_a_lost_update_once_the_loss_is_certain_not_before() {
    // As above: 11's stale 2 lands sixth while 10 holds a read of 5. The
    // loss is certain only once 10 has written back its 6: then 11's write
    // (logged earlier) and 11's row are marked, and 11 is said to have
    // written over 10's 5 (write 5, the one that landed just before it).
    let mut events = vec![spawn(10, 0), spawn(11, 1)];
    events.push(counted(10, false, 0, 0));
    events.push(counted(10, true, 1, 1));
    events.push(counted(11, false, 1, 1));
    for k in 1..5 {
        events.push(counted(10, false, k, k as i64));
        events.push(counted(10, true, k + 1, k as i64 + 1));
    }
    events.push(counted(10, false, 5, 5));
    events.push(counted(11, true, 6, 2));
    events.push(counted(10, true, 7, 6));
    let mut m = Model::new();
    for e in &events {
        m.apply(e);
        let lost = m.files.landings.lost;
        let marked = m.moment_count(Moment::LostUpdate);
        assert_eq!(marked > 0, lost > 0, "after {e:?}");
        assert_eq!(m.files.last_lost.is_some(), lost > 0, "after {e:?}");
    }
    assert_eq!(m.files.landings.lost, 1);
    assert_eq!(m.moment_count(Moment::LostUpdate), 1);
    assert_eq!(m.marked.get(&11), Some(&Moment::LostUpdate));
    assert_eq!(m.marked.get(&10), None);
    let lost = m.files.last_lost.as_ref().unwrap();
    assert_eq!((lost.writer, lost.over, lost.over_wrote), (11, 10, 5));
    let marked: Vec<_> = m
        .log
        .iter()
        .filter(|e| e.moment == Some(Moment::LostUpdate))
        .map(|e| (e.pid, e.body.clone()))
        .collect();
    assert_eq!(
        marked,
        vec![(Some(11), events[events.len() - 2].body.clone())]
    );
    // 11's newest write is that one: its row says whom it overwrote.
    assert_eq!(m.proc(11).unwrap().overwrote, Some(10));
}

/// Two buyers of a ticket run without the lock, as a paced step reports it:
/// both read 3, buyer-0 writes 2, then buyer-1 writes 2 over it (its read
/// predates that write), gets its ticket and exits; the pacer re-announces
/// the pause.
fn a_lost_update_then_routine() -> Vec<Event> {
    let file = || Name::from("tickets.json");
    let read = |t, pid| {
        ev(
            t,
            Some(pid),
            Body::Read {
                file: file(),
                value: Some(3),
                text: "{\"count\": 3}".into(),
                landed: None,
                reset: None,
            },
        )
    };
    let write = |t, pid| {
        ev(
            t,
            Some(pid),
            Body::Write {
                file: file(),
                value: Some(2),
                bytes: None,
                landed: None,
            },
        )
    };
    let pause = |t| {
        ev(
            t,
            None,
            Body::Pace {
                paused: true,
                speed: Some(10.0),
            },
        )
    };
    vec![
        ev(
            0,
            None,
            Body::Start {
                scenario: "ticket".into(),
                seed: 7,
                parent_pid: 99,
                params: serde_json::json!({"buyers": 2, "tickets": 3, "lock": false}),
            },
        ),
        pause(1),
        spawn(10, 0),
        spawn(11, 1),
        read(2, 10),
        read(3, 11),
        write(4, 10),
        ev(
            5,
            Some(10),
            Body::Outcome {
                result: Outcome::Success,
            },
        ),
        ev(6, Some(10), Body::Exit { exitcode: 0 }),
        write(7, 11),
        ev(
            8,
            None,
            Body::File {
                file: file(),
                content: "{\"count\": 2}".into(),
            },
        ),
        ev(
            9,
            Some(11),
            Body::Outcome {
                result: Outcome::Success,
            },
        ),
        ev(10, Some(11), Body::Exit { exitcode: 0 }),
        pause(11),
    ]
}

#[test]
fn the_narration_keeps_a_lost_update_over_the_exit_and_the_pause_after_it() {
    let m = fold(&a_lost_update_then_routine());
    let told = m.last_notable().expect("a narration");
    assert_eq!(told.kind(), "write");
    assert_eq!(told.pid, Some(11));
    assert_eq!(told.moment, Some(Moment::LostUpdate));
    // The loss is marked where it happened, and stays marked.
    assert_eq!(m.marked.get(&11), Some(&Moment::LostUpdate));
    assert_eq!(m.marked.get(&10), None);
    assert_eq!(m.moment_count(Moment::LostUpdate), 1);
    let lost_line = m.log.iter().find(|e| e.moment.is_some()).unwrap();
    assert_eq!((lost_line.kind(), lost_line.pid), ("write", Some(11)));
    // The pause that changed nothing is not logged: the log ends with the exit.
    assert_eq!(m.log.back().unwrap().kind(), "exit");
}

#[test]
fn the_next_action_takes_the_narration_from_a_notable_moment() {
    let mut events = a_lost_update_then_routine();
    events.insert(2, spawn(12, 2));
    events.push(ev(12, Some(12), Body::Sleep { ms: 5 }));
    let m = fold(&events);
    let told = m.last_notable().unwrap();
    assert_eq!((told.kind(), told.pid), ("sleep", Some(12)));
    // The row stays marked after the narration moved on.
    assert_eq!(m.marked.get(&11), Some(&Moment::LostUpdate));
}

#[test]
fn a_routine_line_tells_what_happened_when_nothing_matters_more() {
    let mut m = fold(&[spawn(10, 0)]);
    m.apply(&ev(2, Some(10), Body::Sleep { ms: 5 }));
    m.apply(&ev(3, Some(10), Body::Exit { exitcode: 0 }));
    assert_eq!(m.last_notable().unwrap().kind(), "sleep");
    // A blocked wait for a held lock outranks the holder's next routine line.
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        lock("acquire", 10),
        lock("wait", 11),
        ev(3, Some(10), Body::Exit { exitcode: 0 }),
    ]);
    let told = m.last_notable().unwrap();
    assert_eq!(
        (told.kind(), told.salience),
        ("lock_wait", Salience::Notable)
    );
}

#[test]
fn a_write_that_landed_first_is_not_taken_for_one_over_a_later_one_reported_first() {
    // 10 and 11 read 0; 10's write lands first, 11's over it; but 11's
    // report reaches the stream first. The memory's count says who wrote
    // over whom: 10's write was not overtaken.
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        counted(10, false, 0, 0),
        counted(11, false, 0, 0),
        counted(11, true, 2, 1),
        counted(10, true, 1, 1),
    ]);
    assert_eq!(m.proc(10).unwrap().overwrote, None);
    assert_eq!(
        m.files.lost_writes, 0,
        "nothing is claimed the stream cannot tell"
    );
}

#[test]
fn a_write_overwrites_the_one_that_landed_just_before_it_whatever_order_they_are_reported_in() {
    // 11 reads 0 and stalls; 10 reads 0, writes 1 (it lands first) and
    // exits; 12 reads that 1. 11's stale 1 lands second, over 10's 1; 12's
    // 2 lands third. 12's report reaches the stream before 11's: the last
    // write in the stream when 11's arrives is 12's, which landed after it.
    let m = fold(&[
        spawn(10, 0),
        spawn(11, 1),
        spawn(12, 2),
        counted(11, false, 0, 0),
        counted(10, false, 0, 0),
        counted(10, true, 1, 1),
        ev(5, Some(10), Body::Exit { exitcode: 0 }),
        counted(12, false, 1, 1),
        counted(12, true, 3, 2),
        counted(11, true, 2, 1),
    ]);
    assert_eq!(m.files.landings.lost, 1, "three writes, the memory holds 2");
    assert_eq!(m.proc(11).unwrap().overwrote, Some(10));
    let lost = m.files.last_lost.as_ref().unwrap();
    assert_eq!((lost.writer, lost.over, lost.over_wrote), (11, 10, 1));
    // 12's write went on past 11's: it undid nothing.
    assert_eq!(m.proc(12).unwrap().overwrote, None);
    assert_eq!(m.files.lost_writes, 1);
}

fn start(scenario: &str) -> Event {
    ev(
        0,
        None,
        Body::Start {
            scenario: scenario.into(),
            seed: 1,
            parent_pid: 1,
            params: serde_json::json!({}),
        },
    )
}

fn paced() -> Event {
    ev(
        0,
        None,
        Body::Pace {
            paused: true,
            speed: Some(1.0),
        },
    )
}

fn ready(pid: Pid, action: &str) -> Event {
    ev(
        3,
        Some(pid),
        Body::Ready {
            action: action.into(),
        },
    )
}

/// The line (from 0) of ticket.py holding `piece`.
fn ticket_line(piece: &str) -> u32 {
    let source = crate::code::program("ticket").unwrap();
    source.lines().position(|l| l.contains(piece)).unwrap() as u32
}

#[test]
fn a_process_stands_at_its_gates_line_runs_it_when_let_through_and_leaves_when_it_exits() {
    let acquire = ticket_line("lock.acquire()");
    let read = ticket_line("json.loads(f.read())");
    let mut m = fold(&[start("ticket"), paced(), spawn(10, 0), spawn(11, 1)]);
    m.apply(&ready(10, "take_lock"));
    m.apply(&ready(11, "take_lock"));
    assert_eq!(m.code.get(10), Some(Place::waiting(acquire)));
    assert_eq!(m.code.counts(40)[acquire as usize], 2);
    assert_eq!(m.code.last, None);
    // Let through: it runs the line, and stays there until its next gate.
    m.apply(&lock("wait", 10));
    assert_eq!(m.code.last, Some((10, acquire)));
    assert_eq!(m.code.get(10).map(|p| p.at_gate), Some(false));
    m.apply(&lock("acquire", 10));
    m.apply(&ready(10, "read_file"));
    assert_eq!(m.code.get(10).map(|p| p.line), Some(read));
    assert_eq!(m.code.last, Some((10, acquire)), "waiting is no step");
    // Its read finds no ticket, and it says so at once: the same step. It
    // goes on to the print; the step stays the line its permit ran.
    m.apply(&ev(
        4,
        Some(10),
        Body::Read {
            file: "tickets.json".into(),
            value: Some(0),
            text: "{\"count\": 0}".into(),
            landed: None,
            reset: None,
        },
    ));
    m.apply(&ev(
        4,
        Some(10),
        Body::Outcome {
            result: Outcome::Fail,
        },
    ));
    let print = ticket_line("found no ticket left");
    assert_eq!(m.code.get(10).map(|p| p.line), Some(print));
    assert_eq!(m.code.last, Some((10, read)));
    m.apply(&ev(5, Some(10), Body::Exit { exitcode: 0 }));
    assert_eq!(m.code.get(10), None);
    assert_eq!(m.code.counts(40).iter().sum::<u32>(), 1);
    // The run's end: no one stands anywhere (mpviz's own main process
    // reports no exit).
    m.apply(&ev(6, None, Body::End));
    assert!(!m.code.any());
    assert_eq!(m.code.unplaced, 0);
}

#[test]
fn paced_an_action_or_a_gate_the_program_has_no_line_for_is_counted() {
    let mut m = fold(&[start("ticket"), paced(), spawn(10, 0)]);
    // A gate for an action ticket.py does not do.
    m.apply(&ready(10, "put_item"));
    assert_eq!(m.code.unplaced, 1);
    assert_eq!(m.code.get(10), None);
    // An action with no gate before it, paced.
    m.apply(&lock("release", 10));
    assert_eq!(m.code.unplaced, 2);
    assert_eq!(
        m.code.unplaced_said,
        [
            "ready Act { action: \"put_item\", args: {} }",
            "lock_release"
        ]
    );
    // Unpaced, the same action is no fault: no gate says where anyone is.
    let mut m = fold(&[start("ticket"), spawn(10, 0)]);
    m.apply(&lock("release", 10));
    assert_eq!(m.code.unplaced, 0);
}

/// Task `task`'s callback, run by the main process's result handler.
fn callback(task: u32) -> Body {
    Body::Callback {
        task,
        thread: "mpviz-result-handler".into(),
        ok: true,
        parsed: None,
        tid: 2,
        result: Some(1),
        error_type: None,
        error: None,
    }
}

#[test]
fn a_callback_on_another_thread_leaves_the_main_process_at_its_gate() {
    let mut m = fold(&[start("pool"), paced()]);
    // The main process (1) waits to submit; its result handler runs a
    // callback meanwhile.
    m.apply(&ready(1, "submit_task"));
    let source = crate::code::program("pool").unwrap();
    let line = |piece: &str| source.lines().position(|l| l.contains(piece)).unwrap() as u32;
    m.apply(&ev(4, Some(1), callback(0)));
    assert_eq!(
        m.code.last,
        Some((1, line("logging.info('callback got %s'")))
    );
    assert_eq!(
        m.code.get(1),
        Some(Place::waiting(line("res = pool.apply_async(")))
    );
    m.apply(&ev(5, Some(1), Body::TaskSubmit { task: 1 }));
    assert_eq!(m.code.last, Some((1, line("res = pool.apply_async("))));
    // A call with no gate before it is a step of its own; a callback while
    // the main thread is in join() leaves it there.
    m.apply(&ev(
        6,
        Some(1),
        Body::PoolCall {
            call: "join".into(),
        },
    ));
    let join = line("pool.join()");
    assert_eq!(m.code.last, Some((1, join)));
    m.apply(&ev(7, Some(1), callback(1)));
    assert_eq!(m.code.get(1).map(|p| p.line), Some(join));
    assert_eq!(m.code.unplaced, 0);
    // A report that is a line of the program, which the program lacks.
    let mut m = fold(&[start("ticket"), paced()]);
    m.apply(&ev(
        8,
        Some(1),
        Body::PoolCall {
            call: "close".into(),
        },
    ));
    assert_eq!(m.code.unplaced_said, ["pool_call"]);
}

fn named_lock(name: &str, kind: &str, pid: Pid) -> Event {
    let lock = Name::from(name);
    let body = match kind {
        "wait" => Body::LockWait { lock },
        "acquire" => Body::LockAcquire { lock },
        "release" => Body::LockRelease { lock },
        made => Body::LockMade {
            lock,
            lock_kind: made.into(),
        },
    };
    ev(2, Some(pid), body)
}

#[test]
fn a_counting_semaphore_has_every_holder_and_a_lock_may_be_let_go_by_another() {
    let mut events = vec![spawn(11, 0), spawn(12, 1), spawn(13, 2)];
    events.push(named_lock("s", "Semaphore", 11));
    for pid in [11, 12, 13] {
        events.push(named_lock("s", "wait", pid));
        events.push(named_lock("s", "acquire", pid));
    }
    let m = fold(&events);
    let s = &m.locks["s"];
    assert_eq!((s.holder, s.also_held_by.clone()), (Some(11), vec![12, 13]));
    assert_eq!(
        s.overlaps, 0,
        "three holders of a semaphore overlap nothing"
    );
    events.push(named_lock("s", "release", 12));
    events.push(named_lock("s", "release", 11));
    let m = fold(&events);
    let s = &m.locks["s"];
    assert_eq!((s.holder, s.also_held_by.clone()), (Some(13), vec![]));

    // Python's Lock: released by a process that does not hold it.
    let mut events = vec![spawn(11, 0), spawn(12, 1)];
    events.push(named_lock("l", "Lock", 11));
    events.push(named_lock("l", "acquire", 11));
    events.push(named_lock("l", "release", 12));
    assert_eq!(fold(&events).locks["l"].holder, None);
    // An flock is let go by its holder only.
    let mut events = vec![spawn(11, 0), spawn(12, 1)];
    events.push(named_lock("f", "flock", 11));
    events.push(named_lock("f", "acquire", 11));
    events.push(named_lock("f", "release", 12));
    assert_eq!(fold(&events).locks["f"].holder, Some(11));
}

/// Two workers, paced, alternate read, read, write, write: each round loses
/// one update. A worker waiting at its gate reads nothing until its grant,
/// so the last write settles at once: the loss is certain when it lands,
/// not only once the other worker reports again. Free running, a `ready`
/// proves nothing (the gates are open) and the last write waits.
#[test]
fn a_worker_waiting_at_its_gate_holds_back_no_write_from_settling() {
    let play = |paced: bool| {
        let mut events = vec![
            forkserver(1),
            ev(
                0,
                None,
                Body::Pace {
                    paused: paced,
                    speed: None,
                },
            ),
            spawn(10, 0),
            spawn(11, 1),
        ];
        let grant = |pid: Pid, slot: u32| ev(5, Some(pid), Body::Grant { slot, permit: 1 });
        let mut place = 0;
        for round in 0..3 {
            let value = round;
            for (pid, slot) in [(10, 0), (11, 1)] {
                events.push(ready(pid, "read"));
                events.push(grant(pid, slot));
                events.push(counted(pid, false, place, value));
            }
            for (pid, slot) in [(10, 0), (11, 1)] {
                events.push(ready(pid, "write"));
                events.push(grant(pid, slot));
                place += 1;
                events.push(counted(pid, true, place, value + 1));
            }
        }
        // Both wait at their gates for their next read.
        events.push(ready(10, "read"));
        events.push(ready(11, "read"));
        let m = fold(&events);
        (m.files.landings.lost, m.files.landings.settled)
    };
    assert_eq!(play(true), (3, 6), "paced: six writes, the memory holds 3");
    let (lost, settled) = play(false);
    assert!(
        settled < 6 && lost < 3,
        "free: {lost} lost, {settled} settled"
    );
}
