//! A process pool (tutorial section 2.5).
//!
//! `W` worker processes are started once and take tasks from one task queue
//! (a queue in shared memory, [`crate::ipc::queue`]) until they get a stop signal. The main process
//! (mpviz itself, as the scenario's parent side) submits the tasks with
//! `apply_async` from a feeder thread, or with blocking `apply` (`--sync`),
//! and runs each task's callback, or its error callback, when the result
//! comes back. `--fail K` makes K tasks raise an error; the worker survives.

use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Parent, ParentSide, Scenario, Spec};
use crate::ipc::queue::{self, Queue, Timed};
use crate::model::{Model, TaskState};
use crate::protocol::{Body, Event, Pid};
use crate::scenario::texts::counted;
use crate::worker::Ctx;

pub const ROLE: &str = "worker";
pub const TASK_QUEUE: &str = "tasks";
/// How long the main process waits for the last task's result before it
/// gives up once (`AsyncResult.wait(timeout)`).
pub const WAIT_MS: u64 = 50;
/// The work of one task: the tutorial's `calc`, a count to this number.
const WORK: u64 = 1_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PoolParams {
    pub workers: u32,
    pub tasks: u32,
    pub fail: u32,
    pub sync: bool,
    /// How many tasks the task queue holds (at most ten: the feeder runs a
    /// little ahead of the workers).
    pub queue_size: u32,
    /// Tasks fetch pages from a web server the main process runs on 127.0.0.1.
    #[serde(default)]
    pub crawl: bool,
}

impl PoolParams {
    /// Whether `task` is one of the `fail` tasks that raise: spread evenly.
    pub fn fails(&self, task: u32) -> bool {
        self.fail > 0
            && (0..self.fail).any(|i| {
                (u64::from(i) * u64::from(self.tasks) / u64::from(self.fail)) as u32 == task
            })
    }
}

pub struct Pool {
    params: PoolParams,
    spec: Spec,
}

impl Pool {
    pub fn new(params: PoolParams) -> anyhow::Result<Pool> {
        Ok(Pool {
            params,
            spec: super::spec("pool")?,
        })
    }
}

impl Scenario for Pool {
    fn name(&self) -> &'static str {
        "pool"
    }

    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn params(&self) -> Value {
        serde_json::to_value(&self.params).unwrap_or(Value::Null)
    }

    fn processes(&self) -> u32 {
        self.params.workers
    }

    fn process_name(&self, slot: u32) -> (String, &'static str) {
        (format!("worker-{slot}"), ROLE)
    }

    fn prepare(&self, _dir: &Path) -> anyhow::Result<()> {
        Ok(())
    }

    fn watched_files(&self) -> Vec<String> {
        Vec::new()
    }

    fn open_ipc(&self) -> anyhow::Result<Vec<OwnedFd>> {
        let mut ipc = vec![queue::create(self.params.queue_size)?];
        if self.params.crawl {
            // Bound before any worker starts: a worker learns the port from
            // the descriptor it inherits. Loopback only: no outside network.
            let listener = TcpListener::bind(("127.0.0.1", 0))?;
            ipc.push(OwnedFd::from(listener));
        }
        Ok(ipc)
    }

    fn parent_side(&self, ipc: &[OwnedFd]) -> anyhow::Result<Option<Box<dyn ParentSide>>> {
        let queue = Queue::open(
            ipc.first()
                .ok_or_else(|| anyhow::anyhow!("the task queue was not opened"))?,
        )?;
        let server = match ipc.get(1) {
            Some(fd) => Some(TcpListener::from(fd.try_clone()?)),
            None => None,
        };
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Ok(Some(Box::new(MainProcess {
            server,
            params: self.params.clone(),
            queue: Arc::new(queue),
            done_tx,
            done_rx: Some(done_rx),
            results: 0,
            last_depth: None,
        })))
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        let Some(&fd) = ctx.ipc.first() else {
            return 2;
        };
        // With --crawl, the main process's listening socket is inherited:
        // its address says where to fetch pages.
        let port = ctx.ipc.get(1).and_then(|&fd| {
            // SAFETY: the inherited socket stays open for the child's life;
            // only a duplicate is wrapped (and closed).
            let socket = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            let listener = TcpListener::from(socket.try_clone_to_owned().ok()?);
            listener.local_addr().ok().map(|a| a.port())
        });
        // SAFETY: the run's descriptors stay open for the child's whole life.
        let Ok(queue) = Queue::open(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }) else {
            return 2;
        };
        match work(ctx, &queue, &self.params, port) {
            Ok(()) => 0,
            Err(e) => {
                ctx.emit(Body::Error {
                    message: format!("worker-{}: {}", ctx.slot, e.desc()),
                });
                1
            }
        }
    }

    fn summary(&self, model: &Model) -> Map<String, Value> {
        // The pool's processes, started once, whether or not a task reached them.
        let workers: BTreeSet<Pid> = model.role(ROLE).map(|p| p.pid).collect();
        let callbacks: BTreeSet<Pid> = model
            .tasks
            .values()
            .filter_map(|t| t.callback.as_ref().map(|c| c.0))
            .collect();
        let ready = |ok: bool| {
            model
                .tasks
                .values()
                .filter(|t| matches!(t.state, TaskState::Ready { ok: o, .. } if o == ok))
                .count()
        };
        let p = &self.params;
        let mut s = Map::new();
        s.insert("scenario".into(), json!("pool"));
        s.insert("workers".into(), json!(p.workers));
        s.insert("worker_pids".into(), json!(workers));
        s.insert("tasks".into(), json!(p.tasks));
        s.insert("sync".into(), json!(p.sync));
        s.insert("seed".into(), json!(model.seed));
        s.insert("ok".into(), json!(ready(true)));
        s.insert("errors".into(), json!(ready(false)));
        s.insert("callback_pids".into(), json!(callbacks));
        s.insert("exit_codes".into(), super::exit_codes_json(model, &[ROLE]));
        s
    }

    fn report(&self, model: &Model) -> String {
        let s = self.summary(model);
        let get = |k: &str| s.get(k).map_or_else(String::new, |v| v.to_string());
        format!(
            "pool: {} workers, {} tasks{}: ok {}, errors {}; worker PIDs {}, callback PIDs {}; exit codes {}",
            get("workers"),
            get("tasks"),
            if self.params.sync { " (apply, one at a time)" } else { "" },
            get("ok"),
            get("errors"),
            get("worker_pids"),
            get("callback_pids"),
            get("exit_codes"),
        )
    }

    fn variant(&self) -> String {
        let p = &self.params;
        let call = if p.sync { "apply" } else { "apply_async" };
        let fail = if p.fail > 0 {
            format!(", {} fail", p.fail)
        } else {
            String::new()
        };
        let workers = counted(p.workers, "worker", "workers");
        let tasks = counted(p.tasks, "task", "tasks");
        format!("{workers}, {tasks}, {call}{fail}")
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        let count =
            |f: &dyn Fn(&TaskState) -> bool| model.tasks.values().filter(|t| f(&t.state)).count();
        vec![
            (
                "running",
                count(&|s| matches!(s, TaskState::Running(_))).to_string(),
            ),
            (
                "ready",
                format!(
                    "{}/{}",
                    count(&|s| matches!(s, TaskState::Ready { .. })),
                    self.params.tasks
                ),
            ),
            (
                "callbacks",
                model
                    .tasks
                    .values()
                    .filter(|t| t.callback.is_some())
                    .count()
                    .to_string(),
            ),
        ]
    }

    fn intro(&self) -> String {
        let key = if self.params.sync {
            "intro_sync"
        } else {
            "intro"
        };
        self.spec.texts.get(key).unwrap_or_default().to_string()
    }
}

/// The tutorial's `calc`: count to `n`, one by one.
fn calc(n: u64) -> i64 {
    let mut sum = 0i64;
    for _ in 0..std::hint::black_box(n) {
        sum = std::hint::black_box(sum + 1);
    }
    sum
}

/// A worker's life: take tasks until the stop signal.
fn work(ctx: &mut Ctx, queue: &Queue, p: &PoolParams, port: Option<u16>) -> nix::Result<()> {
    loop {
        ctx.gate("take a task");
        let task = match queue.get_within(None)? {
            Timed::Done((task, _)) => task,
            Timed::TimedOut => {
                ctx.emit(Body::Blocked {
                    queue: TASK_QUEUE.into(),
                    op: "get".into(),
                });
                match queue.get_patiently(None, || ctx.flush())? {
                    Timed::Done((task, _)) => task,
                    Timed::TimedOut => continue,
                }
            }
        };
        if task >= u64::from(p.tasks) {
            return Ok(());
        }
        let task = task as u32;
        ctx.emit(Body::TaskStart { task });
        let page = match port {
            Some(port) => {
                ctx.gate(format_args!("fetch /page/{task}"));
                Some(fetch(port, task))
            }
            None => {
                ctx.gate(format_args!("run task {task}"));
                None
            }
        };
        let done = match page {
            _ if p.fails(task) => Body::TaskDone {
                task,
                ok: false,
                result: None,
                error: Some(format!("ValueError: task {task} fails on purpose (--fail)")),
                page: None,
            },
            Some(Err(e)) => Body::TaskDone {
                task,
                ok: false,
                result: None,
                error: Some(format!("ConnectionError: {e}")),
                page: None,
            },
            Some(Ok(page)) => Body::TaskDone {
                task,
                ok: true,
                result: Some(page.len() as i64),
                error: None,
                page: Some(page.chars().take(1000).collect()),
            },
            None => Body::TaskDone {
                task,
                ok: true,
                result: Some(calc(WORK)),
                error: None,
                page: None,
            },
        };
        ctx.emit(done);
    }
}

/// A worker's request: `GET /page/N` from the main process's server.
fn fetch(port: u16, task: u32) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    // One write: `write!` would send the pieces of a formatted request as
    // separate writes, and a server may read just the first.
    let request = format!("GET /page/{task} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.0 200") => Ok(body.to_string()),
        _ => Err(std::io::Error::other(format!(
            "unexpected response: {}",
            response.lines().next().unwrap_or_default()
        ))),
    }
}

/// The page the server sends for `/page/N`: a title and a few links.
pub fn page(n: u32) -> String {
    let links: String = (0..n % 5)
        .map(|i| format!("<a href=\"/page/{}\">next {i}</a>\n", n + i + 1))
        .collect();
    format!(
        "<html><head><title>Page {n}</title></head><body>\n<p>{}</p>\n{links}</body></html>\n",
        "A page of the little web mpviz serves on 127.0.0.1. ".repeat(1 + n as usize % 4)
    )
}

/// What the callback finds in a page: its title and how many links it has.
pub fn parse(page: &str) -> String {
    let title = page
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map_or("(no title)", |(title, _)| title);
    format!(
        "{title}: {} links, {} bytes",
        page.matches("<a ").count(),
        page.len()
    )
}

/// A request's head: read until the blank line that ends it (a request may
/// arrive in several segments), at most 1 KiB.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::with_capacity(128);
    let mut buf = [0u8; 256];
    while head.len() < 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            // A signal meant for another thread (a resize) may land here.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// The main process's web server: one thread, one connection at a time,
/// until the run stops.
fn serve(listener: TcpListener, parent: Parent) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !parent.stopping() {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let request = read_head(&mut stream);
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let reply = match path.strip_prefix("/page/").and_then(|n| n.parse().ok()) {
                    Some(n) => {
                        let body = page(n);
                        format!(
                            "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    }
                    None => "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
                };
                let _ = stream.write_all(reply.as_bytes());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// The main process's part: a feeder thread submits the tasks (Python's task
/// handler); this side, fed the stream, runs the callbacks when results come
/// back (Python's result handler), then closes and joins the pool.
struct MainProcess {
    server: Option<TcpListener>,
    params: PoolParams,
    queue: Arc<Queue>,
    done_tx: Sender<u32>,
    done_rx: Option<Receiver<u32>>,
    results: u32,
    last_depth: Option<u32>,
}

impl MainProcess {
    fn measure(&mut self, parent: &Parent) {
        let depth = self.queue.depth();
        if self.last_depth != Some(depth) {
            self.last_depth = Some(depth);
            parent.emit(Body::QueueDepth {
                queue: TASK_QUEUE.into(),
                depth,
                maxsize: self.params.queue_size,
            });
        }
    }

    fn start_feeder(&mut self, parent: &Parent) {
        let Some(done) = self.done_rx.take() else {
            return;
        };
        if let Some(listener) = self.server.take() {
            let parent = parent.clone();
            let _ = std::thread::Builder::new()
                .name("mpviz-web".into())
                .spawn(move || serve(listener, parent));
        }
        let (params, queue, parent) = (self.params.clone(), self.queue.clone(), parent.clone());
        let _ = std::thread::Builder::new()
            .name("mpviz-task-handler".into())
            .spawn(move || feed(&params, &queue, &parent, &done));
    }

    fn close_and_join(&self, parent: &Parent) {
        parent.emit(Body::PoolCall {
            call: "join".into(),
        });
        let queue = &self.queue;
        for w in 0..self.params.workers {
            if !put_patiently(queue, u64::from(self.params.tasks) + u64::from(w), parent) {
                return;
            }
        }
    }
}

/// Puts `item`, waiting in short steps so that stopping the run is never held up.
fn put_patiently(queue: &Queue, item: u64, parent: &Parent) -> bool {
    loop {
        match queue.put_within(item, Some(Duration::from_millis(100))) {
            Ok(Timed::Done(_)) => return true,
            Ok(Timed::TimedOut) if !parent.stopping() => continue,
            _ => return false,
        }
    }
}

fn feed(p: &PoolParams, queue: &Queue, parent: &Parent, done: &Receiver<u32>) {
    let mut finished = HashSet::new();
    // Waits until `task` is done, or until `until`; false if the run stops.
    let mut wait_for = |task: u32, until: Option<Instant>| -> Option<bool> {
        while !finished.contains(&task) {
            let step = Duration::from_millis(100);
            let step = until.map_or(step, |u| {
                u.saturating_duration_since(Instant::now()).min(step)
            });
            match done.recv_timeout(step) {
                Ok(t) => {
                    finished.insert(t);
                }
                Err(_) if parent.stopping() => return None,
                Err(_) if until.is_some_and(|u| Instant::now() >= u) => return Some(false),
                Err(_) => {}
            }
        }
        Some(true)
    };
    for task in 0..p.tasks {
        // Reported before the put, like every write: the worker's start follows.
        parent.emit(Body::TaskSubmit { task });
        if !put_patiently(queue, u64::from(task), parent) {
            return;
        }
        if p.sync && wait_for(task, None).is_none() {
            return;
        }
    }
    parent.emit(Body::PoolCall {
        call: "close".into(),
    });
    if !p.sync {
        let last = p.tasks - 1;
        let until = Instant::now() + Duration::from_millis(WAIT_MS);
        if let Some(ready) = wait_for(last, Some(until)) {
            parent.emit(Body::ResultWait {
                task: last,
                timeout_ms: WAIT_MS,
                expired: !ready,
            });
        }
    }
}

impl ParentSide for MainProcess {
    fn wants(&self) -> super::EventFilter {
        |event| matches!(event.body, Body::Spawn { .. } | Body::TaskDone { .. })
    }

    fn on_event(&mut self, event: &Event, parent: &Parent) {
        if self.last_depth.is_none() {
            self.measure(parent);
            self.start_feeder(parent);
        }
        if let Body::TaskDone { task, ok, page, .. } = &event.body {
            // The callback really runs here, in the main process: with
            // --crawl it parses the page, as the tutorial's urlparser does.
            let parsed = page.as_deref().map(parse);
            parent.emit(Body::Callback {
                task: *task,
                thread: parent.thread.clone(),
                ok: *ok,
                parsed,
            });
            let _ = self.done_tx.send(*task);
            self.results += 1;
            if self.results == self.params.tasks {
                self.close_and_join(parent);
            }
        }
    }

    fn tick(&mut self, parent: &Parent) {
        self.measure(parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_reads_a_request_that_arrives_in_pieces() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream.set_nodelay(true).unwrap();
            stream.write_all(b"GET /pa").unwrap();
            std::thread::sleep(Duration::from_millis(50)); // two segments
            stream.write_all(b"ge/7 HTTP/1.0\r\n\r\n").unwrap();
        });
        let (mut stream, _) = listener.accept().unwrap();
        assert_eq!(read_head(&mut stream), "GET /page/7 HTTP/1.0\r\n\r\n");
        client.join().unwrap();
    }

    #[test]
    fn the_failing_tasks_are_spread_and_exactly_as_many_as_asked() {
        let p = PoolParams {
            workers: 2,
            tasks: 10,
            fail: 3,
            sync: false,
            queue_size: 4,
            crawl: false,
        };
        let failing: Vec<u32> = (0..10).filter(|&t| p.fails(t)).collect();
        assert_eq!(failing, vec![0, 3, 6]);
        let none = PoolParams { fail: 0, ..p };
        assert!((0..10).all(|t| !none.fails(t)));
    }

    #[test]
    fn the_callback_finds_the_title_and_links_of_a_page() {
        assert_eq!(
            parse(&page(3)),
            format!("Page 3: 3 links, {} bytes", page(3).len())
        );
        assert!(parse("nothing").starts_with("(no title): 0 links"));
    }
}
