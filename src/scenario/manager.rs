//! Shared state through a server process (tutorial section 2.6.2).
//!
//! A Manager is a server process that holds the shared objects; other
//! processes hold only a connection to it. Here the server (slot 0) holds a
//! dict and a list; `N` workers each ask it, over a Unix socket, to set
//! `d[pid] = pid` and to append their PID to the list, and each also sets the
//! same key in its copy of the main process's plain dict (every process
//! has its own memory). The server knows who asks from the kernel (`SO_PEERCRED`). When
//! every worker has exited, the main process (mpviz) reads the shared dict
//! and list back through the server, as the tutorial's `print(d)` does, reads
//! its own plain dict (still empty), and shuts the server down.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Parent, ParentSide, Scenario, Spec};
use crate::model::Model;
use crate::protocol::{Body, Event, Pid};
use crate::scenario::texts::counted;
use crate::worker::Ctx;

pub const SERVER: &str = "manager";
pub const WORKER: &str = "worker";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManagerParams {
    pub workers: u32,
    /// The main process's plain dict as it was when the workers started:
    /// each worker gets a copy of it with its parameters (as a forked child
    /// gets a copy of its parent's memory).
    pub plain: BTreeMap<i64, i64>,
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

    fn params(&self) -> Value {
        serde_json::to_value(&self.params).unwrap_or(Value::Null)
    }

    fn processes(&self) -> u32 {
        self.params.workers.saturating_add(1)
    }

    fn process_name(&self, slot: u32) -> (String, &'static str) {
        match slot {
            0 => ("manager".into(), SERVER),
            n => (format!("worker-{}", n - 1), WORKER),
        }
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

    fn open_ipc(&self) -> anyhow::Result<Vec<OwnedFd>> {
        // An abstract socket: no file, gone with its last descriptor.
        let name = format!("mpviz-manager-{}-{}", std::process::id(), fastrand::u64(..));
        let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(name)?)?;
        Ok(vec![OwnedFd::from(listener)])
    }

    fn parent_side(&self, ipc: &[OwnedFd]) -> anyhow::Result<Option<Box<dyn ParentSide>>> {
        let listener = UnixListener::from(
            ipc.first()
                .ok_or_else(|| anyhow::anyhow!("the manager's socket was not opened"))?
                .try_clone()?,
        );
        Ok(Some(Box::new(MainProcess {
            address: listener.local_addr()?,
            workers: HashSet::new(),
            exited: 0,
            expected: self.params.workers,
            plain: self.params.plain.clone(),
            connection: None,
        })))
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        let Some(&fd) = ctx.ipc.first() else {
            return 2;
        };
        // SAFETY: the run's descriptors stay open for the child's whole life;
        // only a duplicate is wrapped (and closed).
        let listener = match unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned() {
            Ok(fd) => UnixListener::from(fd),
            Err(_) => return 2,
        };
        let result = if ctx.slot == 0 {
            serve(ctx, &listener)
        } else {
            work(ctx, &listener, self.params.plain.clone())
        };
        match result {
            Ok(()) => 0,
            Err(e) => {
                ctx.emit(Body::Error {
                    message: format!("{}: {e}", self.process_name(ctx.slot).0),
                });
                1
            }
        }
    }

    fn summary(&self, model: &Model) -> Map<String, Value> {
        let m = &model.manager;
        let back = m.reply.as_ref();
        let mut s = Map::new();
        s.insert("scenario".into(), json!("manager"));
        s.insert("workers".into(), json!(self.params.workers));
        s.insert("seed".into(), json!(model.seed));
        s.insert("server_pid".into(), json!(m.server));
        s.insert("requests".into(), json!(m.requests));
        s.insert("managed_dict".into(), json!(back.map(|b| b.dict.clone())));
        s.insert("managed_list".into(), json!(back.map(|b| b.list.clone())));
        s.insert("managed_dict_len".into(), json!(back.map(|b| b.dict.len())));
        s.insert("managed_list_len".into(), json!(back.map(|b| b.list.len())));
        s.insert("plain_dict_len".into(), json!(m.main_plain));
        s.insert(
            "worker_plain_lens".into(),
            json!(m.plain.values().collect::<Vec<_>>()),
        );
        s.insert(
            "exit_codes".into(),
            super::exit_codes_json(model, &[SERVER, WORKER]),
        );
        s
    }

    fn report(&self, model: &Model) -> String {
        let s = self.summary(model);
        let get = |k: &str| s.get(k).map_or_else(String::new, |v| v.to_string());
        format!(
            "manager: server PID {}, {} workers: the managed dict holds {}, the list {}; the main process's plain dict {}; exit codes {}",
            get("server_pid"),
            get("workers"),
            get("managed_dict_len"),
            get("managed_list_len"),
            get("plain_dict_len"),
            get("exit_codes"),
        )
    }

    fn variant(&self) -> String {
        let workers = counted(self.params.workers, "worker", "workers");
        format!("{workers}, one server")
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        let m = &model.manager;
        vec![
            ("managed dict", m.dict.len().to_string()),
            ("list", m.list.len().to_string()),
            (
                "main's plain dict",
                m.main_plain.map_or_else(|| "?".into(), |n| n.to_string()),
            ),
        ]
    }

    fn intro(&self) -> String {
        self.spec.texts.get("intro").unwrap_or_default().to_string()
    }
}

/// A request to the manager as Python would write it.
pub fn request(op: &str, key: Option<i64>, value: Option<i64>) -> String {
    let v = |x: Option<i64>| x.map_or_else(|| "?".into(), |x| x.to_string());
    match op {
        "dict_set" => format!("d[{}] = {}", v(key), v(value)),
        "list_append" => format!("l.append({})", v(value)),
        "read" => "print(d, l)".into(),
        other => other.to_string(),
    }
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
    dict: BTreeMap<i64, i64>,
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
        ctx.gate(format_args!(
            "serve {} for PID {}",
            request(&op, key, value),
            client.pid
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
            op: op.clone(),
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

/// A worker: two requests to the server, then its own copy of the plain dict.
fn work(
    ctx: &mut Ctx,
    listener: &UnixListener,
    mut plain: BTreeMap<i64, i64>,
) -> std::io::Result<()> {
    let stream = UnixStream::connect_addr(&listener.local_addr()?)?;
    let mut replies = BufReader::new(stream.try_clone()?);
    let me = i64::from(ctx.pid);
    let mut ask = |ctx: &mut Ctx, op: &str, key: Option<i64>, value: Option<i64>| {
        ctx.gate(format_args!("ask the manager: {}", request(op, key, value)));
        ctx.emit(Body::Request {
            op: op.into(),
            key,
            value,
        });
        (&stream).write_all(line_of(op, key, value).as_bytes())?;
        let mut reply = String::new();
        replies.read_line(&mut reply)?;
        if reply.trim() == "ok" {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("the manager said {reply:?}")))
        }
    };
    ask(ctx, "dict_set", Some(me), Some(me))?;
    ask(ctx, "list_append", None, Some(me))?;
    // The same in the plain dict: this process's own copy of the main
    // process's.
    ctx.gate(format_args!("set its own plain d[{me}] = {me}"));
    plain.insert(me, me);
    ctx.emit(Body::PlainSet {
        key: me,
        value: me,
        len: plain.len() as u32,
    });
    Ok(())
}

/// The main process's part: once every worker has exited, read the shared
/// dict and list back through the server, look at its own plain dict, and
/// shut the server down. Each step waits until the server's answer to the
/// last one is in the stream, so that the stream tells it in order.
struct MainProcess {
    address: SocketAddr,
    workers: HashSet<Pid>,
    exited: u32,
    expected: u32,
    /// The main process's plain dict: the workers set keys in their copies.
    plain: BTreeMap<i64, i64>,
    /// The connection to the server, once the main process has asked.
    connection: Option<(UnixStream, BufReader<UnixStream>)>,
}

impl MainProcess {
    fn ask(&mut self, op: &str, parent: &Parent) -> std::io::Result<()> {
        if self.connection.is_none() {
            let stream = UnixStream::connect_addr(&self.address)?;
            // The server may be paused: wait in short steps, so that
            // stopping the run is never held up here.
            stream.set_read_timeout(Some(Duration::from_millis(100)))?;
            let replies = BufReader::new(stream.try_clone()?);
            self.connection = Some((stream, replies));
        }
        let Some((stream, _)) = &self.connection else {
            return Ok(());
        };
        parent.emit(Body::Request {
            op: op.into(),
            key: None,
            value: None,
        });
        (&*stream).write_all(line_of(op, None, None).as_bytes())
    }

    /// The server's answer to the last request; `None` if the run stops first.
    fn answer(&mut self, parent: &Parent) -> std::io::Result<Option<String>> {
        let Some((_, replies)) = &mut self.connection else {
            return Ok(None);
        };
        let mut reply = String::new();
        loop {
            match replies.read_line(&mut reply) {
                Ok(_) => return Ok(Some(reply)),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if parent.stopping() {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The server has served the read: print what came back, look at the
    /// plain dict, and shut the server down.
    fn read_back(&mut self, parent: &Parent) -> std::io::Result<()> {
        let Some(reply) = self.answer(parent)? else {
            return Ok(());
        };
        let contents: Contents = serde_json::from_str(reply.trim())
            .map_err(|e| std::io::Error::other(format!("an unreadable answer: {e}")))?;
        parent.emit(Body::Reply {
            dict: contents.dict,
            list: contents.list,
        });
        parent.emit(Body::PlainRead {
            len: self.plain.len() as u32,
        });
        self.ask("shutdown", parent)
    }

    fn report(result: std::io::Result<()>, parent: &Parent) {
        if let Err(e) = result {
            if !parent.stopping() {
                parent.emit(Body::Error {
                    message: format!("the main process could not reach the manager: {e}"),
                });
            }
        }
    }
}

impl ParentSide for MainProcess {
    fn wants(&self) -> super::EventFilter {
        |event| {
            matches!(
                event.body,
                Body::Spawn { .. } | Body::Exit { .. } | Body::Served { .. }
            )
        }
    }

    fn on_event(&mut self, event: &Event, parent: &Parent) {
        match (&event.body, event.pid) {
            (Body::Spawn { role, .. }, Some(pid)) if role == WORKER => {
                self.workers.insert(pid);
            }
            (Body::Exit { .. }, Some(pid)) if self.workers.contains(&pid) => {
                self.exited += 1;
                if self.exited == self.expected {
                    let asked = self.ask("read", parent);
                    Self::report(asked, parent);
                }
            }
            (Body::Served { client, op, .. }, _) if *client == parent.pid && op == "read" => {
                let read = self.read_back(parent);
                Self::report(read, parent);
            }
            _ => {}
        }
    }

    fn tick(&mut self, _parent: &Parent) {}
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
