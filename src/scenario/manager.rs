//! Shared state through a server process (tutorial section 2.6.2).
//!
//! One child, `main`, plays the tutorial's main program. It puts its own
//! key in a plain dict, in its own memory; starts the Manager, a server
//! process (its child) that holds a dict and a list; and forks `N` workers.
//! Each worker asks the server, over a Unix socket, to set `d[pid] = pid` and
//! to append its PID to the list, and sets the same key in its plain dict:
//! its own copy of main's memory, made by the fork (copy on write). The
//! server knows who asks from the kernel (`SO_PEERCRED`). Once every worker
//! has exited, main reads the shared dict and list back through the server,
//! as the tutorial's `print(d)` does, looks at its own plain dict (its key
//! only: the workers changed their copies), and shuts the server down.
//!
//! Main is the real parent of the server and the workers: it forks them,
//! reaps them with `waitpid` and reports their exit codes as the OS gave
//! them. Only the server holds the listening socket (main binds it, as
//! Python's Manager has the server bind its address, and lets go once the
//! server has it): if the server dies, a worker's request fails at once
//! instead of waiting in the socket's backlog for an answer that never comes.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Height, Panel, Scenario, Show, Side, Spec};
use crate::model::Model;
use crate::protocol::{Body, Pid, PyValue};
use crate::scenario::texts::summary_value;
use crate::worker::{Ctx, MAIN_ROLE};

pub const SERVER: &str = "manager";
pub const WORKER: &str = "worker";

/// The gates: main's (slot 0, forked by the fork server), the server's, then
/// the workers'.
const SERVER_SLOT: u32 = 1;
const FIRST_WORKER: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManagerParams {
    pub workers: u32,
}

pub struct Manager {
    params: ManagerParams,
    spec: Spec,
}

impl Manager {
    pub fn new(params: ManagerParams) -> anyhow::Result<Manager> {
        Ok(Manager {
            params,
            spec: super::spec("manager")?,
        })
    }
}

impl Scenario for Manager {
    fn name(&self) -> &'static str {
        "manager"
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
        // Main; it starts every other process itself.
        1
    }

    fn gate_slots(&self) -> u32 {
        self.params.workers.saturating_add(FIRST_WORKER)
    }

    fn process_name(&self, _slot: u32) -> (String, &'static str) {
        ("main".into(), MAIN_ROLE)
    }

    fn batches_events(&self) -> bool {
        // Few events, and each request must show before it is served.
        false
    }

    fn prepare(&self, _dir: &Path) -> anyhow::Result<()> {
        Ok(())
    }

    fn watched_files(&self) -> Vec<String> {
        Vec::new()
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        let result = main(ctx, self.params.workers);
        exit_code(ctx, "main", result)
    }

    fn summary(&self, model: &Model) -> Map<String, Value> {
        let m = &model.manager;
        let back = m.reply.as_ref();
        let main = model.role(MAIN_ROLE).next().map(|p| p.pid);
        let mut s = Map::new();
        s.insert("scenario".into(), json!("manager"));
        s.insert("workers".into(), json!(self.params.workers));
        s.insert("seed".into(), json!(model.seed));
        s.insert("main_pid".into(), json!(main));
        s.insert("server_pid".into(), json!(m.server));
        s.insert("requests".into(), json!(m.requests));
        s.insert("managed_dict".into(), json!(back.map(|b| b.dict.clone())));
        s.insert("managed_list".into(), json!(back.map(|b| b.list.clone())));
        s.insert("managed_dict_len".into(), json!(back.map(|b| b.dict.len())));
        s.insert("managed_list_len".into(), json!(back.map(|b| b.list.len())));
        // Whether the list holds the PIDs in the order of the dict's keys:
        // each worker sets its key, then appends, in two requests.
        s.insert(
            "same_order".into(),
            json!(back.map(|b| b.dict.iter().map(|(k, _)| *k).eq(b.list.iter().copied()))),
        );
        s.insert("plain_dict_len".into(), json!(m.main_plain));
        s.insert(
            "worker_plain_lens".into(),
            json!(model
                .role(WORKER)
                .filter_map(|w| m.plain.get(&w.pid))
                .collect::<Vec<_>>()),
        );
        s.insert(
            "exit_codes".into(),
            super::exit_codes_json(model, &[MAIN_ROLE, SERVER, WORKER]),
        );
        s
    }

    fn report(&self, model: &Model) -> String {
        let s = self.summary(model);
        let texts = &self.spec.texts;
        texts.say_by("report", |hole| summary_value(texts, &s, hole))
    }

    fn variant(&self) -> String {
        let workers = self.params.workers;
        self.spec.texts.say("variant", &[("workers", &workers)])
    }

    fn show(&self) -> Show {
        Show::panels(&[
            (Panel::Manager, Height::Percent(55)),
            (Panel::Log, Height::Rest),
        ])
        .side(Side::HalfWhenWide)
        .log_under_table()
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        let m = &model.manager;
        vec![
            ("managed_dict", m.dict.len().to_string()),
            ("list", m.list.len().to_string()),
            (
                "main_plain_dict",
                m.main_plain.map_or_else(
                    || self.spec.texts.say("word_unknown", &[]),
                    |n| n.to_string(),
                ),
            ),
        ]
    }

    fn intro(&self) -> String {
        self.spec.texts.get("intro").unwrap_or_default().to_string()
    }
}

/// A process's exit code: 0, or 1 after reporting what failed (as Python
/// exits after an uncaught exception).
fn exit_code(ctx: &Ctx, name: &str, result: std::io::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            ctx.emit(Body::Error {
                message: format!("{name}: {e}"),
            });
            1
        }
    }
}

/// The tutorial's main program, with a plain dict beside the managed ones.
fn main(ctx: &mut Ctx, workers: u32) -> std::io::Result<()> {
    // A plain dict in this process's memory, with a key of its own: a
    // worker's copy starts with it, so a copy cannot pass for a new, empty
    // dict.
    let mut plain: BTreeMap<i64, i64> = BTreeMap::new();
    let me = i64::from(ctx.pid);
    set_plain(ctx, &mut plain, me);

    // m = Manager(): the server process, with the listening socket.
    let name = format!("mpviz-manager-{}-{}", ctx.pid, fastrand::u64(..));
    let address = SocketAddr::from_abstract_name(name)?;
    let listener = UnixListener::bind_addr(&address)?;
    let server = ctx.fork_child(SERVER_SLOT, "manager", SERVER, |c| {
        let served = serve(c, &listener);
        exit_code(c, "manager", served)
    })?;
    drop(listener);

    // for i in range(N): Process(target=worker, args=(d, l)).start()
    let mut started = Vec::new();
    let mut failed = None;
    for i in 0..workers {
        let forked = ctx.fork_child(FIRST_WORKER + i, &format!("worker-{i}"), WORKER, |c| {
            let worked = work(c, &address, &mut plain);
            exit_code(c, &format!("worker-{i}"), worked)
        });
        match forked {
            Ok(pid) => started.push(pid),
            Err(e) => {
                failed = Some(std::io::Error::from(e));
                break;
            }
        }
    }
    // for p in p_l: p.join()
    for pid in started {
        ctx.wait_child(pid, None);
    }
    // print(d); print(l) — and main's own plain dict.
    let read = failed.map_or_else(|| read_back(ctx, &address, &plain), Err);
    // The manager shuts down when main is done with it; if it cannot be
    // asked, it is ended, as Python's Manager is when its owner goes.
    let asked = read.as_ref().ok().map(|connection| connection.is_some());
    if asked != Some(true) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(server),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    ctx.wait_child(server, None);
    read.map(|_| ())
}

/// Reads the managed dict and list back through the server, looks at main's
/// own plain dict, and asks the server to shut down. `Some` once the
/// shutdown was asked.
fn read_back(
    ctx: &mut Ctx,
    address: &SocketAddr,
    plain: &BTreeMap<i64, i64>,
) -> std::io::Result<Option<()>> {
    let mut server = Connection::open(address)?;
    let reply = server.ask(ctx, "read", None, None)?;
    let contents: Contents = serde_json::from_str(reply.trim())
        .map_err(|e| std::io::Error::other(format!("an unreadable answer: {e}")))?;
    ctx.emit(Body::Reply {
        dict: contents.dict,
        list: contents.list,
    });
    ctx.gate("look_at_plain");
    ctx.emit(Body::PlainRead {
        len: plain.len() as u32,
    });
    server.ask(ctx, "shutdown", None, None)?;
    Ok(Some(()))
}

/// A request to the manager as Python would write it (`d[1] = 2`).
pub fn request(op: &str, key: Option<i64>, value: Option<i64>) -> String {
    super::texts::request(super::texts::common(), op, key, value)
}

/// A request on the wire: one line of words.
fn line_of(op: &str, key: Option<i64>, value: Option<i64>) -> String {
    let mut line = op.to_string();
    for n in [key, value].into_iter().flatten() {
        line.push(' ');
        line.push_str(&n.to_string());
    }
    line.push('\n');
    line
}

fn parse(line: &str) -> Option<(String, Option<i64>, Option<i64>)> {
    let mut words = line.split_whitespace();
    let op = words.next()?.to_string();
    let mut number = || words.next().and_then(|w| w.parse().ok());
    match op.as_str() {
        "dict_set" => {
            let (key, value) = (number()?, number()?);
            Some((op, Some(key), Some(value)))
        }
        "list_append" => Some((op, None, Some(number()?))),
        "read" | "shutdown" => Some((op, None, None)),
        _ => None,
    }
}

#[derive(Serialize, Deserialize)]
struct Contents {
    dict: Vec<(i64, i64)>,
    list: Vec<i64>,
}

/// One connection to the server: who is on the other end (as the kernel
/// says) and what it has sent that is not a whole line yet.
struct Client {
    stream: UnixStream,
    pid: Pid,
    unread: Vec<u8>,
    closed: bool,
}

/// The server: serves every connection as requests come (one thread, like
/// a select loop), until told to shut down.
fn serve(ctx: &mut Ctx, listener: &UnixListener) -> std::io::Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::io::Read;
    use std::os::fd::AsFd;

    let mut shared = Shared::default();
    let mut clients: Vec<Client> = Vec::new();
    listener.set_nonblocking(true)?;
    loop {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = std::iter::once(listener.as_fd())
                .chain(clients.iter().map(|c| c.stream.as_fd()))
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            fds.iter().map(|fd| fd.any().unwrap_or(false)).collect()
        };
        if ready[0] {
            loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false)?;
                        // Who is asking, as the kernel says.
                        let pid = nix::sys::socket::getsockopt(
                            &stream,
                            nix::sys::socket::sockopt::PeerCredentials,
                        )
                        .map_or(0, |c| c.pid());
                        clients.push(Client {
                            stream,
                            pid,
                            unread: Vec::new(),
                            closed: false,
                        });
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        for (client, _) in clients
            .iter_mut()
            .zip(&ready[1..])
            .filter(|(_, &ready)| ready)
        {
            let mut buf = [0u8; 4096];
            // Readable: this read returns at once.
            match (&client.stream).read(&mut buf) {
                Ok(0) => client.closed = true,
                Ok(n) => client.unread.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => client.closed = true,
            }
            while let Some(end) = client.unread.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = client.unread.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                if shared.serve(ctx, client, line.trim_end())? {
                    return Ok(());
                }
            }
        }
        clients.retain(|c| !c.closed);
    }
}

/// What the server holds.
#[derive(Default)]
struct Shared {
    /// In the order its keys were first set: a Python dict's order, which
    /// `print(d)` shows.
    dict: IndexMap<i64, i64>,
    list: Vec<i64>,
}

impl Shared {
    /// Serves one request line; true once told to shut down.
    fn serve(&mut self, ctx: &mut Ctx, client: &Client, line: &str) -> std::io::Result<bool> {
        let mut answer = &client.stream;
        let Some((op, key, value)) = parse(line) else {
            answer.write_all(b"error\n")?;
            return Ok(false);
        };
        // Made into an action only if the gate is closed.
        ctx.gate((
            "serve",
            [
                ("request", PyValue::from(request(&op, key, value))),
                ("client", PyValue::from(client.pid)),
            ],
        ));
        let reply = match (op.as_str(), key, value) {
            ("dict_set", Some(k), Some(v)) => {
                self.dict.insert(k, v);
                "ok".to_string()
            }
            ("list_append", _, Some(v)) => {
                self.list.push(v);
                "ok".to_string()
            }
            ("read", _, _) => serde_json::to_string(&Contents {
                dict: self.dict.iter().map(|(&k, &v)| (k, v)).collect(),
                list: self.list.clone(),
            })
            .unwrap_or_default(),
            _ => "ok".to_string(),
        };
        ctx.emit(Body::Served {
            client: client.pid,
            op: op.as_str().into(),
            key,
            value,
            dict_len: self.dict.len() as u32,
            list_len: self.list.len() as u32,
        });
        // A client that has gone does not stop the server.
        let _ = answer
            .write_all(reply.as_bytes())
            .and_then(|()| answer.write_all(b"\n"));
        Ok(op == "shutdown")
    }
}

/// A connection to the server.
struct Connection {
    stream: UnixStream,
    replies: BufReader<UnixStream>,
}

impl Connection {
    fn open(address: &SocketAddr) -> std::io::Result<Connection> {
        let stream = UnixStream::connect_addr(address)?;
        let replies = BufReader::new(stream.try_clone()?);
        Ok(Connection { stream, replies })
    }

    /// Sends one request, as one instrumented action, and returns the
    /// server's answer. A server that has gone is an error, not a wait.
    fn ask(
        &mut self,
        ctx: &mut Ctx,
        op: &str,
        key: Option<i64>,
        value: Option<i64>,
    ) -> std::io::Result<String> {
        ctx.gate(("ask_manager", [("request", request(op, key, value))]));
        ctx.emit(Body::Request {
            op: op.into(),
            key,
            value,
        });
        (&self.stream).write_all(line_of(op, key, value).as_bytes())?;
        let mut reply = String::new();
        if self.replies.read_line(&mut reply)? == 0 {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                "the manager closed the connection",
            ));
        }
        Ok(reply)
    }
}

/// A worker: two requests to the server, then a key in its own copy of main's
/// plain dict.
fn work(
    ctx: &mut Ctx,
    address: &SocketAddr,
    plain: &mut BTreeMap<i64, i64>,
) -> std::io::Result<()> {
    let mut server = Connection::open(address)?;
    let me = i64::from(ctx.pid);
    for (op, key) in [("dict_set", Some(me)), ("list_append", None)] {
        let reply = server.ask(ctx, op, key, Some(me))?;
        if reply.trim() != "ok" {
            return Err(std::io::Error::other(format!("the manager said {reply:?}")));
        }
    }
    // The same in the plain dict: this process's copy of main's memory.
    set_plain(ctx, plain, me);
    Ok(())
}

/// `plain[key] = key` in this process's own plain dict, as a paced step
/// that reports the dict's new size.
fn set_plain(ctx: &mut Ctx, plain: &mut BTreeMap<i64, i64>, key: i64) {
    ctx.gate(("set_plain", [("key", key)]));
    plain.insert(key, key);
    ctx.emit(Body::PlainSet {
        key,
        value: key,
        len: plain.len() as u32,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_cross_the_socket_as_lines_and_back() {
        for (op, key, value) in [
            ("dict_set", Some(12), Some(12)),
            ("list_append", None, Some(-3)),
            ("read", None, None),
            ("shutdown", None, None),
        ] {
            let line = line_of(op, key, value);
            assert_eq!(parse(&line), Some((op.to_string(), key, value)), "{line}");
        }
        assert_eq!(parse("dict_set 1"), None);
        assert_eq!(parse("drop_table"), None);
    }
}
