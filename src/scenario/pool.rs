//! A process pool (tutorial section 2.5), built as CPython's
//! `multiprocessing.Pool` is.
//!
//! `W` worker processes are started once and take tasks from one task queue
//! (a ring in shared memory, [`crate::ipc::queue`]) until they get a stop
//! signal. Each worker sends every result, or the error its task failed with,
//! back over the pool's result pipe (Python's `outqueue`). The main process
//! is mpviz itself (the scenario's parent side), with Python's threads:
//! `mpviz-caller` plays the program's main thread (`apply_async`, or `apply`
//! with `--sync`, then `wait`, `close`, `join`) and puts each task into an
//! unbounded in-process queue (Python's `_taskqueue`); `mpviz-task-handler`
//! moves the tasks into the shared ring (Python's `_handle_tasks` into the
//! `inqueue` pipe); `mpviz-result-handler` reads the result pipe, runs each
//! task's callback or error callback and then sets its AsyncResult (Python's
//! `_handle_results`). `--fail K` gives K tasks an argument their code fails
//! with (a division by zero; with `--crawl`, a page that is not there); the
//! worker survives.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Height, Panel, Parent, ParentSide, Scenario, Show, Side, Spec};
use crate::ipc::queue::{self, Queue, Timed};
use crate::ipc::sink::PIPE_BUF;
use crate::model::{Model, TaskState};
use crate::order::Rule;
use crate::protocol::{Body, Event, Pid};
use crate::scenario::texts::summary_value;
use crate::worker::Ctx;

pub const ROLE: &str = "worker";
pub const TASK_QUEUE: &str = "tasks";
/// How long the main process waits for the slow task's result before it
/// gives up once (`AsyncResult.wait(timeout)`).
pub const WAIT_MS: u64 = 10;
/// The task the main process waits for: the first, which is slow.
pub const SLOW_TASK: u32 = 0;
/// How long the slow task sleeps (the tutorial's network delay): several
/// times the wait. The wait begins right after the submit, and the task's
/// result cannot be set before the task has slept this long after the same
/// submit (paced, after its worker's permits too), so the wait, which counts
/// a result only if it was set before its deadline, expires while the task
/// still runs.
pub const SLOW_MS: u64 = 7 * WAIT_MS;
/// The work of one task: the tutorial's `calc`, a count to this number.
const WORK: u64 = 1_000;
/// The stop signal in the task queue (Python puts `None`).
const STOP: u64 = u64::MAX;
/// The threads of the main process, named for the roles of Python's.
pub const CALLER_THREAD: &str = "mpviz-caller";
pub const TASK_HANDLER_THREAD: &str = "mpviz-task-handler";
pub const RESULT_HANDLER_THREAD: &str = "mpviz-result-handler";
const WEB_THREAD: &str = "mpviz-web";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PoolParams {
    pub workers: u32,
    pub tasks: u32,
    pub fail: u32,
    pub sync: bool,
    /// How many tasks the shared ring between the task handler and the
    /// workers holds (the queue `apply_async` puts into is unbounded).
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

    /// Whether `task` is the slow one the main process waits for (only
    /// `apply_async` returns at once and leaves something to wait for).
    pub fn slow(&self, task: u32) -> bool {
        !self.sync && task == SLOW_TASK
    }

    /// What goes into the task queue for `task`: its number and its
    /// argument, the divisor its code divides by (0 for a failing task).
    fn item(&self, task: u32) -> u64 {
        let divisor = u64::from(!self.fails(task));
        u64::from(task) | divisor << 32
    }
}

/// What a task returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Returned {
    Number(i64),
    /// A fetched page (`--crawl`), as the tutorial's `geturl` returns it.
    Page(String),
}

/// The error a task failed with: its type and its message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Raised {
    pub kind: String,
    pub message: String,
}

impl Raised {
    fn new(kind: &str, message: impl Into<String>) -> Raised {
        Raised {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

/// One message of the result pipe: a task's result, or the task handler's
/// sentinel (Python's `None`) that tells the result handler no more tasks
/// come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    Result {
        task: u32,
        value: Result<Returned, Raised>,
    },
    Sentinel,
}

impl Message {
    /// The message as one frame: its length (two bytes, little-endian), then
    /// the message in `postcard`'s form. A frame is at most `PIPE_BUF` bytes,
    /// so one write puts it whole into the pipe, never interleaved with
    /// another worker's (Python's `SimpleQueue` takes a lock around each
    /// send instead, as a pickled result may be longer); a longer result is
    /// replaced by the error Python would send for it.
    pub fn frame(&self) -> Vec<u8> {
        let body = postcard::to_stdvec(self).unwrap_or_default();
        if body.len() + 2 > PIPE_BUF {
            if let Message::Result { task, .. } = self {
                return Message::Result {
                    task: *task,
                    value: Err(Raised::new(
                        "MaybeEncodingError",
                        format!("the result ({} bytes) is too long to send", body.len()),
                    )),
                }
                .frame();
            }
        }
        let mut out = Vec::with_capacity(body.len() + 2);
        out.extend_from_slice(&(body.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// The first frame of `bytes`: the message (`None` if unreadable) and the
    /// frame's length, or `None` if the frame is not all there yet.
    pub fn unframe(bytes: &[u8]) -> Option<(Option<Message>, usize)> {
        let len = usize::from(u16::from_le_bytes([*bytes.first()?, *bytes.get(1)?]));
        let frame = bytes.get(2..2 + len)?;
        Some((postcard::from_bytes(frame).ok(), 2 + len))
    }

    /// Sends the message in one write.
    fn send(&self, fd: BorrowedFd) -> nix::Result<()> {
        let frame = self.frame();
        loop {
            match nix::unistd::write(fd, &frame) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
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

    fn spec_mut(&mut self) -> &mut Spec {
        &mut self.spec
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
        // The task queue, then the result pipe's write end (every worker's)
        // and read end (the main process's), then the web server's socket.
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let mut ipc = vec![queue::create(self.params.queue_size)?, write, read];
        if self.params.crawl {
            // Bound before any worker starts: a worker learns the port from
            // the descriptor it inherits. Loopback only: no outside network.
            let listener = TcpListener::bind(("127.0.0.1", 0))?;
            ipc.push(OwnedFd::from(listener));
        }
        Ok(ipc)
    }

    fn parent_side(&self, ipc: &[OwnedFd]) -> anyhow::Result<Option<Box<dyn ParentSide>>> {
        let [queue, write, read, ..] = ipc else {
            anyhow::bail!("the pool's task queue and result pipe were not opened");
        };
        let server = match ipc.get(3) {
            Some(fd) => Some(TcpListener::from(fd.try_clone()?)),
            None => None,
        };
        Ok(Some(Box::new(MainProcess {
            server,
            params: self.params.clone(),
            queue: Arc::new(Queue::open(queue)?),
            results: Some((read.try_clone()?, write.try_clone()?)),
            shared: Arc::new(Shared::default()),
            caller: None,
            started: false,
            last_depth: None,
        })))
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        let (Some(&queue), Some(&results)) = (ctx.ipc.first(), ctx.ipc.get(1)) else {
            return 2;
        };
        // With --crawl, the main process's listening socket is inherited:
        // its address says where to fetch pages.
        let port = ctx.ipc.get(3).and_then(|&fd| {
            // SAFETY: the inherited socket stays open for the child's life;
            // only a duplicate is wrapped (and closed).
            let socket = unsafe { BorrowedFd::borrow_raw(fd) };
            let listener = TcpListener::from(socket.try_clone_to_owned().ok()?);
            listener.local_addr().ok().map(|a| a.port())
        });
        // SAFETY: the run's descriptors stay open for the child's whole life.
        let (queue, results) = unsafe {
            (
                BorrowedFd::borrow_raw(queue),
                BorrowedFd::borrow_raw(results),
            )
        };
        let Ok(queue) = Queue::open(queue) else {
            return 2;
        };
        match work(ctx, &queue, results, &self.params, port) {
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
            .pool
            .tasks
            .values()
            .filter_map(|t| t.callback.as_ref().map(|c| c.pid))
            .collect();
        let ready = |ok: bool| {
            model
                .pool
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
        // The same by name: "main" for the main process, as the tutorial
        // says, or a worker's name.
        let by: Vec<String> = callbacks
            .iter()
            .map(|&pid| match model.proc(pid) {
                Some(p) if p.role == ROLE => p.name.to_string(),
                _ => "main".to_string(),
            })
            .collect();
        s.insert("callbacks_run_by".into(), json!(by.join(", ")));
        let threads: BTreeSet<&str> = model
            .pool
            .tasks
            .values()
            .filter_map(|t| t.callback.as_ref().map(|c| c.thread.as_str()))
            .collect();
        s.insert("callback_threads".into(), json!(threads));
        s.insert("joined".into(), json!(model.pool.joined.is_some()));
        s.insert("exit_codes".into(), super::exit_codes_json(model, &[ROLE]));
        s
    }

    fn report(&self, model: &Model) -> String {
        let s = self.summary(model);
        let texts = &self.spec.texts;
        let sync = if self.params.sync {
            texts.say("report_sync", &[])
        } else {
            String::new()
        };
        texts.say_by("report", |hole| match hole {
            "sync" => Some(sync.clone()),
            _ => summary_value(texts, &s, hole),
        })
    }

    fn variant(&self) -> String {
        let p = &self.params;
        let texts = &self.spec.texts;
        // Python's names: the same in every language.
        let call = if p.sync { "apply" } else { "apply_async" };
        let fail = if p.fail > 0 {
            texts.say("variant_fail", &[("fail", &p.fail)])
        } else {
            String::new()
        };
        let crawl = if p.crawl {
            texts.say("variant_crawl", &[])
        } else {
            String::new()
        };
        texts.say(
            "variant",
            &[
                ("workers", &p.workers),
                ("tasks", &p.tasks),
                ("call", &call),
                ("fail", &fail),
                ("crawl", &crawl),
            ],
        )
    }

    fn show(&self) -> Show {
        Show::panels(&[
            (Panel::Pool, Height::Percent(60)),
            (Panel::Log, Height::Rest),
        ])
        .side(Side::Half)
        .log_under_table()
        .order(&[Rule::Tasks, Rule::Results])
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        let count = |f: &dyn Fn(&TaskState) -> bool| {
            model.pool.tasks.values().filter(|t| f(&t.state)).count()
        };
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
                    .pool
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

/// A worker's life: take tasks until the stop signal, and send each result
/// back to the main process (Python's `worker()`).
fn work(
    ctx: &mut Ctx,
    queue: &Queue,
    results: BorrowedFd,
    p: &PoolParams,
    port: Option<u16>,
) -> nix::Result<()> {
    loop {
        ctx.gate("take_task");
        let item = match queue.get_within(None)? {
            Timed::Done((item, _)) => item,
            Timed::TimedOut => {
                // Whether reports are kept back, seen before this one is made: a
                // pause in between must not leave it unsent.
                let keeps_back = ctx.keeps_back();
                ctx.emit(Body::Blocked {
                    queue: TASK_QUEUE.into(),
                    op: "get".into(),
                });
                match queue.get_patiently(None, keeps_back.then_some(|| ctx.flush()))? {
                    Timed::Done((item, _)) => item,
                    Timed::TimedOut => continue,
                }
            }
        };
        if item == STOP {
            return Ok(());
        }
        let (task, divisor) = (item as u32, (item >> 32) as i64);
        ctx.emit(Body::TaskStart { task });
        if p.slow(task) {
            ctx.gate(("sleep", [("ms", SLOW_MS)]));
            ctx.sleep(SLOW_MS);
        }
        let value = match port {
            Some(port) => {
                // A failing task's argument is a page that is not there.
                let path = match divisor {
                    0 => format!("/missing/{task}"),
                    _ => format!("/page/{task}"),
                };
                ctx.gate(("fetch", [("path", path.as_str())]));
                fetch(port, &path).map(Returned::Page)
            }
            None => {
                ctx.gate(("run_task", [("task", task)]));
                calc(WORK)
                    .checked_div(divisor)
                    .map(Returned::Number)
                    .ok_or_else(|| Raised::new("ZeroDivisionError", "division by zero"))
            }
        };
        ctx.emit(match &value {
            Ok(Returned::Number(n)) => Body::TaskDone {
                shown: None,
                task,
                ok: true,
                result: Some(*n),
                error: None,
                page: None,
                error_type: None,
            },
            Ok(Returned::Page(page)) => Body::TaskDone {
                shown: None,
                task,
                ok: true,
                result: Some(page.len() as i64),
                error: None,
                page: Some(page.chars().take(1000).collect()),
                error_type: None,
            },
            Err(raised) => Body::TaskDone {
                shown: None,
                task,
                ok: false,
                result: None,
                error: Some(raised.message.clone()),
                page: None,
                error_type: Some(raised.kind.clone()),
            },
        });
        // The report goes before the result, which the main process acts on
        // (and a write to a full pipe may wait).
        ctx.flush();
        Message::Result { task, value }.send(results)?;
    }
}

/// A worker's request: `GET path` from the main process's server.
fn fetch(port: u16, path: &str) -> Result<String, Raised> {
    let connection = |e: std::io::Error| Raised::new("ConnectionError", e.to_string());
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(connection)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(connection)?;
    // One write: `write!` would send the pieces of a formatted request as
    // separate writes, and a server may read just the first.
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(connection)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(connection)?;
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.0 200") => Ok(body.to_string()),
        _ => {
            let status = response.lines().next().unwrap_or_default();
            let status = status.strip_prefix("HTTP/1.0 ").unwrap_or(status);
            Err(Raised::new("HTTPError", format!("{status} for {path}")))
        }
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

/// The main process's pool as its threads share it: Python's result cache
/// (the AsyncResults not yet ready) and what the main process has seen.
#[derive(Default)]
struct PoolState {
    /// The AsyncResults that are ready: what each task returned or raised.
    ready: HashMap<u32, Result<Returned, Raised>>,
    /// When each was set (a timed wait counts only those set before its
    /// deadline).
    ready_at: HashMap<u32, Instant>,
    /// Submitted and not yet ready.
    outstanding: u32,
    /// The result handler has had the task handler's sentinel: no more
    /// tasks come.
    sentinel: bool,
    /// The result handler has returned: no more results will be set.
    handler_done: bool,
    /// The pool's workers, from their spawns, and those whose exit their
    /// reaper (the fork server's `waitpid`) has reported.
    workers: BTreeSet<Pid>,
    exited: BTreeSet<Pid>,
    /// A pidfd for each worker, opened when its spawn is seen (it cannot
    /// have exited then: a worker exits only on a stop signal, sent after
    /// `close()`, which comes after every worker is known). `join()` waits on
    /// them. `None`: the worker was already gone.
    pidfds: Vec<Option<OwnedFd>>,
    /// The caller waits in `join()` for the workers' exits.
    joining: bool,
}

impl PoolState {
    fn all_exited(&self, workers: u32) -> bool {
        self.workers.len() == workers as usize && self.workers.is_subset(&self.exited)
    }

    /// Whether `task`'s AsyncResult was set before `deadline`.
    fn set_before(&self, task: u32, deadline: Instant) -> bool {
        self.ready_at.get(&task).is_some_and(|&at| at < deadline)
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<PoolState>,
    /// Notified whenever the state changes (Python's `threading.Event` of
    /// each AsyncResult, one condition for all).
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut PoolState)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits until `done` holds (true), `deadline` passes (false), or the
    /// run is being stopped (false).
    fn wait_until(
        &self,
        parent: &Parent,
        deadline: Option<Instant>,
        done: impl Fn(&PoolState) -> bool,
    ) -> bool {
        let mut state = self.lock();
        loop {
            if done(&state) {
                return true;
            }
            let step = Duration::from_millis(100);
            let step = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(step),
                    _ => return false,
                },
                None => step,
            };
            if parent.stop_requested() {
                return false;
            }
            state = match self.changed.wait_timeout(state, step) {
                Ok((state, _)) => state,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

/// The main process's part: it starts the pool's threads, and tells them
/// what it sees in the stream (the workers' spawns and exits, the slow
/// task's start).
struct MainProcess {
    server: Option<TcpListener>,
    params: PoolParams,
    queue: Arc<Queue>,
    /// The result pipe's read end (the result handler's) and a write end
    /// (the task handler's, for its sentinel).
    results: Option<(OwnedFd, OwnedFd)>,
    shared: Arc<Shared>,
    caller: Option<JoinHandle<()>>,
    started: bool,
    last_depth: Option<u32>,
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| format!("could not start the {name} thread: {e}"))
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

    /// Starts the pool's threads. A thread that cannot be started ends the
    /// run: the error, reported by the run as a whole, stops every process.
    fn start(&mut self, parent: &Parent) {
        self.started = true;
        if let Err(message) = self.start_threads(parent) {
            parent.emit_as(None, Body::Error { message });
        }
    }

    fn start_threads(&mut self, parent: &Parent) -> Result<(), String> {
        let Some((read, write)) = self.results.take() else {
            return Ok(());
        };
        if let Some(listener) = self.server.take() {
            let parent = parent.clone();
            spawn(WEB_THREAD, move || serve(listener, parent))?;
        }
        let (tasks_tx, tasks_rx) = crossbeam_channel::unbounded();
        let task_handler = {
            let (queue, parent, workers) =
                (self.queue.clone(), parent.clone(), self.params.workers);
            spawn(TASK_HANDLER_THREAD, move || {
                hand_tasks(&tasks_rx, &queue, workers, write.as_fd(), &parent)
            })?
        };
        let result_handler = {
            let (shared, parent, sync) = (self.shared.clone(), parent.clone(), self.params.sync);
            spawn(RESULT_HANDLER_THREAD, move || {
                handle_results(read, &shared, sync, &parent)
            })?
        };
        let (params, shared, parent) = (self.params.clone(), self.shared.clone(), parent.clone());
        self.caller = Some(spawn(CALLER_THREAD, move || {
            call(
                &params,
                &shared,
                &parent,
                tasks_tx,
                [task_handler, result_handler],
            )
        })?);
        Ok(())
    }

    /// Once the run's processes are gone (or it is stopped), waits for the
    /// caller to finish, so that what it still reports (join's return)
    /// enters the stream, unless it waits for a worker's exit that is not
    /// yet handed to this side (then events must flow first).
    fn finish(&mut self, parent: &Parent) {
        let Some(caller) = self.caller.take() else {
            return;
        };
        loop {
            if caller.is_finished() {
                let _ = caller.join();
                return;
            }
            let state = self.shared.lock();
            if parent.stop_requested() || (state.joining && !state.all_exited(self.params.workers))
            {
                drop(state);
                self.caller = Some(caller);
                return;
            }
            let _ = self
                .shared
                .changed
                .wait_timeout(state, Duration::from_millis(10));
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

/// The task handler (Python's `_handle_tasks`): moves each task from the
/// unbounded in-process queue into the shared ring, blocking while the ring
/// is full; once the pool is closed, tells the result handler (the sentinel)
/// and each worker (a stop signal) that no more tasks come.
fn hand_tasks(
    tasks: &Receiver<u64>,
    queue: &Queue,
    workers: u32,
    results: BorrowedFd,
    parent: &Parent,
) {
    loop {
        match tasks.recv_timeout(Duration::from_millis(100)) {
            Ok(item) => {
                if !put_patiently(queue, item, parent) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) if parent.stop_requested() => return,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = Message::Sentinel.send(results);
    for _ in 0..workers {
        if !put_patiently(queue, STOP, parent) {
            return;
        }
    }
}

/// The result handler (Python's `_handle_results`): reads each result from
/// the result pipe, runs the task's callback or error callback (none for
/// `apply`), then sets its AsyncResult. Returns once the sentinel has come
/// and no result is outstanding, or when no result can come any more.
fn handle_results(read: OwnedFd, shared: &Shared, sync: bool, parent: &Parent) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let thread = std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string();
    let mut pipe = std::fs::File::from(read);
    let mut buf = vec![0u8; 1 << 16];
    let mut partial: Vec<u8> = Vec::new();
    loop {
        {
            let state = shared.lock();
            if state.sentinel && state.outstanding == 0 {
                break;
            }
        }
        if parent.stop_requested() {
            break;
        }
        let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            // Nothing came: once every process of the run is gone, nothing will.
            Ok(0) if parent.stopping() => break,
            Ok(0) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
            Ok(_) => {}
        }
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        partial.extend_from_slice(&buf[..n]);
        let mut used = 0;
        while let Some((message, len)) = Message::unframe(&partial[used..]) {
            used += len;
            match message {
                Some(Message::Result { task, value }) => {
                    if !sync {
                        run_callback(task, &value, &thread, parent);
                    }
                    shared.update(|s| {
                        s.ready.insert(task, value);
                        s.ready_at.insert(task, Instant::now());
                        s.outstanding = s.outstanding.saturating_sub(1);
                    });
                }
                Some(Message::Sentinel) => shared.update(|s| s.sentinel = true),
                None => parent.emit(Body::Error {
                    message: "the result pipe carried an unreadable message".into(),
                }),
            }
        }
        partial.drain(..used);
    }
    shared.update(|s| s.handler_done = true);
}

/// Runs `task`'s callback, or its error callback, on this thread: with
/// `--crawl` the callback parses the page, as the tutorial's `urlparser`
/// does. Reported as this thread sees itself as it runs: the PID from
/// `getpid()`, the thread's id from `gettid()`.
fn run_callback(task: u32, value: &Result<Returned, Raised>, thread: &str, parent: &Parent) {
    let (ok, result, parsed, raised) = match value {
        Ok(Returned::Number(n)) => (true, Some(*n), None, None),
        Ok(Returned::Page(page)) => (true, None, Some(parse(page)), None),
        Err(raised) => (false, None, None, Some(raised)),
    };
    let pid = nix::unistd::getpid().as_raw();
    let tid = nix::unistd::gettid().as_raw();
    parent.emit_as(
        Some(pid),
        Body::Callback {
            task,
            thread: thread.to_string(),
            ok,
            parsed,
            tid,
            result,
            error_type: raised.map(|r| r.kind.clone()),
            error: raised.map(|r| r.message.clone()),
        },
    );
}

/// The main process's program, on its own thread (Python's main thread):
/// submit every task (waiting for the slow one for a moment), close, join.
fn call(
    p: &PoolParams,
    shared: &Shared,
    parent: &Parent,
    tasks: Sender<u64>,
    handlers: [JoinHandle<()>; 2],
) {
    let ready = |task: u32| move |s: &PoolState| s.ready.contains_key(&task) || s.handler_done;
    // `Pool()` returns once its workers are started: the main process has
    // each one in hand (here a pidfd) before it submits anything.
    if !shared.wait_until(parent, None, |s| {
        s.workers.len() == p.workers as usize || parent.stopping()
    }) || parent.stopping()
    {
        return;
    }
    for task in 0..p.tasks {
        // Paced as a child is: paused, the main process submits nothing.
        if !parent.gate(("submit_task", [("task", task)])) {
            return;
        }
        // Reported before the put, like every write: the worker's start follows.
        parent.emit(Body::TaskSubmit { task });
        shared.lock().outstanding += 1;
        if tasks.send(p.item(task)).is_err() {
            return;
        }
        if p.sync {
            // `apply` is `apply_async(...).get()`: the caller gets the value,
            // or the error is raised in it.
            if !shared.wait_until(parent, None, ready(task)) {
                return;
            }
            let Some(value) = shared.lock().ready.get(&task).cloned() else {
                return;
            };
            parent.emit(got(task, &value));
        }
        if p.slow(task) && !wait_for_the_slow_task(shared, parent) {
            return;
        }
    }
    parent.emit(Body::PoolCall {
        call: "close".into(),
    });
    drop(tasks);
    parent.emit(Body::PoolCall {
        call: "join".into(),
    });
    // Python's join: the handler threads, then each worker process, whose
    // exit the main process sees itself on the worker's pidfd.
    for handler in handlers {
        let _ = handler.join();
    }
    let pidfds = std::mem::take(&mut shared.lock().pidfds);
    if !wait_exits(pidfds.iter().flatten(), || parent.stop_requested()) {
        return;
    }
    // Reported once the fork server's reports of those exits have entered
    // the stream too, so that the stream never shows join returned before
    // the exits it waited for.
    shared.update(|s| s.joining = true);
    if shared.wait_until(parent, None, |s| s.all_exited(p.workers)) {
        let workers = shared.lock().workers.iter().copied().collect();
        parent.emit(Body::PoolJoined { workers });
    }
}

/// Opens a pidfd for `pid` (Linux ≥ 5.3): a descriptor that becomes readable
/// when the process exits, for a process that is not this one's child too.
fn pidfd_open(pid: Pid) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor
    // (or -1), which only the `OwnedFd` made here owns.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until the process of every pidfd has exited (the kernel makes a
/// pidfd readable then): true, or false if `stop()` says so first.
fn wait_exits<'a>(pidfds: impl Iterator<Item = &'a OwnedFd>, stop: impl Fn() -> bool) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut left: Vec<BorrowedFd> = pidfds.map(|fd| fd.as_fd()).collect();
    while !left.is_empty() {
        if stop() {
            return false;
        }
        let mut fds: Vec<PollFd> = left
            .iter()
            .map(|&fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return false,
        }
        let exited: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        left = left
            .into_iter()
            .zip(exited)
            .filter_map(|(fd, exited)| (!exited).then_some(fd))
            .collect();
    }
    true
}

/// As the tutorial's loop does right after `apply_async` of the slow task:
/// `wait(0.02)` on it. The task sleeps for longer, so the wait expires while
/// it still runs. False if the run is being stopped.
fn wait_for_the_slow_task(shared: &Shared, parent: &Parent) -> bool {
    let until = Instant::now() + Duration::from_millis(WAIT_MS);
    let set = timed_wait(shared, parent, SLOW_TASK, until);
    if parent.stop_requested() {
        return false;
    }
    let expired = !set;
    parent.emit(Body::ResultWait {
        task: SLOW_TASK,
        timeout_ms: WAIT_MS,
        expired,
    });
    true
}

/// `AsyncResult.wait()` until `deadline`: whether `task`'s result was set
/// before it. As with the kernel's timed wait that Python's `Event.wait`
/// rests on, a result set after the deadline does not count, however late
/// this thread wakes to look.
fn timed_wait(shared: &Shared, parent: &Parent, task: u32, deadline: Instant) -> bool {
    shared.wait_until(parent, Some(deadline), |s| {
        s.set_before(task, deadline) || s.handler_done
    });
    shared.lock().set_before(task, deadline)
}

/// What the caller's `get()` returned, or raised.
fn got(task: u32, value: &Result<Returned, Raised>) -> Body {
    let (result, raised) = match value {
        Ok(Returned::Number(n)) => (Some(*n), None),
        Ok(Returned::Page(page)) => (Some(page.len() as i64), None),
        Err(raised) => (None, Some(raised)),
    };
    Body::ResultGet {
        task,
        ok: raised.is_none(),
        result,
        error_type: raised.map(|r| r.kind.clone()),
        error: raised.map(|r| r.message.clone()),
    }
}

impl ParentSide for MainProcess {
    fn wants(&self) -> super::EventFilter {
        |event| matches!(event.body, Body::Spawn { .. } | Body::Exit { .. })
    }

    fn on_event(&mut self, event: &Event, parent: &Parent) {
        if !self.started {
            self.measure(parent);
            self.start(parent);
        }
        let Some(pid) = event.pid else {
            return;
        };
        match &event.body {
            Body::Spawn { role, .. } if role == ROLE => {
                let pidfd = match pidfd_open(pid) {
                    Ok(fd) => Some(fd),
                    // Already exited and reaped: nothing to wait for.
                    Err(e) if e.raw_os_error() == Some(nix::libc::ESRCH) => None,
                    Err(e) => {
                        let message = format!("could not watch worker PID {pid} (pidfd_open): {e}");
                        parent.emit_as(None, Body::Error { message });
                        None
                    }
                };
                self.shared.update(|s| {
                    s.workers.insert(pid);
                    s.pidfds.push(pidfd);
                });
            }
            Body::Exit { .. } => self.shared.update(|s| {
                if s.workers.contains(&pid) {
                    s.exited.insert(pid);
                }
            }),
            _ => {}
        }
    }

    fn tick(&mut self, parent: &Parent) {
        self.measure(parent);
        if parent.stopping() {
            self.finish(parent);
        }
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

    fn parent() -> Parent {
        let flag = || Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (out, _) = crossbeam_channel::unbounded();
        Parent::new(crate::ipc::RunClock::start(), out, flag(), flag())
    }

    #[test]
    fn a_timed_wait_counts_a_result_only_if_it_was_set_before_the_deadline() {
        let (shared, parent) = (Shared::default(), parent());
        // Set before the deadline: the wait returns it, at once.
        let deadline = Instant::now() + Duration::from_secs(60);
        shared.update(|s| {
            s.ready.insert(1, Ok(Returned::Number(1)));
            s.ready_at.insert(1, Instant::now());
        });
        assert!(timed_wait(&shared, &parent, 1, deadline));
        // Set after the deadline, and there by the time the waiter looks (as
        // when its thread wakes late): the wait expired all the same.
        let deadline = Instant::now();
        while Instant::now() <= deadline {
            std::hint::spin_loop();
        }
        shared.update(|s| {
            s.ready.insert(SLOW_TASK, Ok(Returned::Number(1)));
            s.ready_at.insert(SLOW_TASK, Instant::now());
        });
        assert!(!timed_wait(&shared, &parent, SLOW_TASK, deadline));
    }

    #[test]
    fn the_join_wait_returns_only_once_the_process_has_exited() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.3")
            .spawn()
            .unwrap();
        let pidfd = pidfd_open(child.id() as Pid).unwrap();
        assert!(!wait_exits([&pidfd].into_iter(), || true), "stopped first");
        assert!(wait_exits([&pidfd].into_iter(), || false));
        // Exited (a zombie until now): reaping it does not wait.
        assert!(child.try_wait().unwrap().is_some());
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
