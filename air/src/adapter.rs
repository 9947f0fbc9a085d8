//! The adapter's control loop (contracts/engine-air.md AIR-001..AIR-007): our engine protocol on
//! stdin/stdout/stderr outside, one AIR process driven over gRPC inside — spawn on a free loopback
//! port, bounded readiness, the Unix socket drained to stdout, Start with two seeds at the join,
//! feeding on each BlockStarted, and Stop → Detach → terminate on the way out.

use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use retrovue::engine::protocol::{parse_control, Control, Evidence};
use retrovue::engine::ts::PACKET_SIZE;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Endpoint, Server};

use crate::evidence::{write_line, Evidences};
use crate::evidence_proto::execution_evidence_service_server::ExecutionEvidenceServiceServer;
use crate::plan::{split, Planned, Planner, CHANNEL_ID};
use crate::playout::block_event::Event as AirEvent;
use crate::playout::playout_control_client::PlayoutControlClient;
use crate::playout::{
    ApiVersionRequest, AttachStreamRequest, BlockEvent, BlockPlanResultCode, DetachStreamRequest,
    FeedBlockPlanRequest, StartBlockPlanSessionRequest, StopBlockPlanSessionRequest,
    StreamTransport, SubscribeBlockEventsRequest,
};

/// The output format asked of AIR: the daemon's 720p30 profile (AIR always sends 48 kHz stereo).
pub const DEFAULT_PROGRAM_FORMAT: &str = r#"{"video":{"width":1280,"height":720,"frame_rate":"30/1"},"audio":{"sample_rate":48000,"channels":2}}"#;
/// AIR's evidence spool lives under this directory, which AIR does not create (AIR-008).
pub const SPOOL_PARENT: &str = "/opt/retrovue/data/logs";
pub const USAGE: &str =
    "usage: retrovue-engine-air [--air=PATH] [--program-format=JSON] (or RETROVUE_AIR=PATH)";
/// AIR's pending-queue depth (AIR-005).
const QUEUE_DEPTH: i32 = 2;
/// Readiness bound: TCP connect plus GetVersion (AIR-002).
const READY_WITHIN: Duration = Duration::from_secs(10);
const RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// What the command line and environment chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub air: PathBuf,
    pub program_format: String,
}

/// `--air=PATH` / `--air PATH`, else `env_air` (RETROVUE_AIR); `--program-format=JSON`.
pub fn parse_args(args: &[String], env_air: Option<String>) -> Result<Options, String> {
    let mut air = None;
    let mut program_format = DEFAULT_PROGRAM_FORMAT.to_string();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if let Some(path) = arg.strip_prefix("--air=") {
            air = Some(path.to_string());
        } else if arg == "--air" {
            air = Some(iter.next().ok_or("--air needs a path")?.clone());
        } else if let Some(json) = arg.strip_prefix("--program-format=") {
            program_format = json.to_string();
        } else if arg == "--help" || arg == "-h" {
            return Err(USAGE.to_string());
        } else {
            return Err(format!("unknown argument `{arg}`; {USAGE}"));
        }
    }
    let air = air.or(env_air.filter(|p| !p.is_empty())).ok_or_else(|| {
        format!("no AIR executable: set RETROVUE_AIR or pass --air=PATH; {USAGE}")
    })?;
    Ok(Options {
        air: PathBuf::from(air),
        program_format,
    })
}

/// Everything the control loop waits for.
enum Event {
    Line(u64, String),
    Eof,
    Signal,
    Block(BlockEvent),
    BlockStreamClosed(String),
    AirExited(String),
    OutputClosed,
}

type Events = mpsc::UnboundedSender<Event>;

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn emit(event: &Evidence) {
    // A supervisor that stopped reading evidence cannot be told anything anyway.
    let _ = write_line(event);
}

fn diagnostic(message: &str) {
    eprintln!("engine-air: {}", message.trim_start_matches('{'));
}

fn protocol_error(line: u64, reason: &str) {
    emit(&Evidence::ProtocolError {
        line,
        reason: reason.to_string(),
    });
}

fn spawn_stdin(events: Events) {
    std::thread::Builder::new()
        .name("air-stdin".into())
        .spawn(move || {
            let mut number = 0;
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                number += 1;
                if events.send(Event::Line(number, line)).is_err() {
                    return;
                }
            }
            let _ = events.send(Event::Eof);
        })
        .expect("spawn stdin reader");
}

fn spawn_signals(events: Events) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        diagnostic("cannot install signal handlers");
        return;
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = events.send(Event::Signal);
    });
}

/// Copies every connection AIR makes to the socket onto stdout, in whole TS packets (AIR-003).
fn spawn_drain(listener: UnixListener, events: Events) {
    std::thread::Builder::new()
        .name("air-drain".into())
        .spawn(move || {
            let mut out = std::io::stdout().lock();
            let mut buf = vec![0u8; 64 * 1024];
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut held = 0;
                loop {
                    let n = match conn.read(&mut buf[held..]) {
                        // A signal is not the end of AIR's stream.
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    held += n;
                    let whole = held / PACKET_SIZE * PACKET_SIZE;
                    if whole > 0 {
                        if out
                            .write_all(&buf[..whole])
                            .and_then(|_| out.flush())
                            .is_err()
                        {
                            let _ = events.send(Event::OutputClosed);
                            return;
                        }
                        buf.copy_within(whole..held, 0);
                        held -= whole;
                    }
                }
            }
        })
        .expect("spawn socket drain");
}

/// A Unix socket path under the temp directory, or /tmp when that would be too long (< 108 bytes).
fn socket_path() -> PathBuf {
    let name = format!("rv-air-{}-{}.sock", std::process::id(), wall_ms());
    let preferred = std::env::temp_dir().join(&name);
    if preferred.as_os_str().len() < 100 {
        preferred
    } else {
        PathBuf::from("/tmp").join(name)
    }
}

/// The running AIR process and the adapter's side of its session.
struct Session {
    options: Options,
    channel: String,
    events: Events,
    evidences: Evidences,
    planner: Planner,
    pending: VecDeque<Planned>,
    client: Option<PlayoutControlClient<Channel>>,
    pid: Option<i32>,
    exited: Option<watch::Receiver<Option<String>>>,
    socket: Option<PathBuf>,
    evidence_endpoint: String,
    attached: bool,
    started: bool,
    may_feed: bool,
}

impl Session {
    /// Evidence server, spool parent, AIR on a free port, readiness, socket and attach.
    async fn launch(&mut self) -> Result<(), String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot bind the evidence server: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("evidence server address: {e}"))?;
        self.evidence_endpoint = addr.to_string();
        let service = ExecutionEvidenceServiceServer::new(self.evidences.clone());
        tokio::spawn(async move {
            let served = Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await;
            if let Err(error) = served {
                diagnostic(&format!("evidence server stopped: {error}"));
            }
        });
        if let Err(error) = std::fs::create_dir_all(SPOOL_PARENT) {
            diagnostic(&format!(
                "cannot create AIR's spool parent {SPOOL_PARENT}: {error}"
            ));
        }

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        self.spawn_air(port)?;

        // Readiness: TCP connect, then GetVersion, within READY_WITHIN in all (AIR-002).
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = self.exit_status() {
                return Err(format!("AIR exited before it was ready: {status}"));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!("AIR did not listen on port {port} in time"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .map_err(|e| format!("AIR endpoint: {e}"))?
            .connect_timeout(remaining);
        let channel = timeout(remaining, endpoint.connect())
            .await
            .map_err(|_| "AIR did not accept a gRPC connection in time".to_string())?
            .map_err(|e| format!("cannot connect to AIR: {e}"))?;
        let mut client = PlayoutControlClient::new(channel);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let version = timeout(remaining, client.get_version(ApiVersionRequest {}))
            .await
            .map_err(|_| "AIR did not answer GetVersion in time".to_string())?
            .map_err(|e| format!("GetVersion failed: {e}"))?
            .into_inner()
            .version;
        diagnostic(&format!("AIR API version {version} on port {port}"));
        self.client = Some(client);

        // The socket is bound and drained before AttachStream: AIR is its client (AIR-003).
        let path = socket_path();
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
        self.socket = Some(path.clone());
        spawn_drain(listener, self.events.clone());
        let reply = timeout(
            RPC_TIMEOUT,
            self.client().attach_stream(AttachStreamRequest {
                channel_id: CHANNEL_ID,
                transport: StreamTransport::UnixDomainSocket as i32,
                endpoint: path.to_string_lossy().to_string(),
                replace_existing: true,
            }),
        )
        .await
        .map_err(|_| "AttachStream timed out".to_string())?
        .map_err(|e| format!("AttachStream failed: {e}"))?
        .into_inner();
        if !reply.success {
            return Err(format!("AttachStream refused: {}", reply.message));
        }
        self.attached = true;
        Ok(())
    }

    fn client(&mut self) -> &mut PlayoutControlClient<Channel> {
        self.client.as_mut().expect("connected to AIR")
    }

    fn spawn_air(&mut self, port: u16) -> Result<(), String> {
        let mut command = tokio::process::Command::new(&self.options.air);
        command
            .arg("--address")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill AIR with us.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start AIR {}: {e}", self.options.air.display()))?;
        self.pid = child.id().map(|p| p as i32);
        for out in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|o| Box::new(o) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("air: {line}");
                }
            });
        }
        let (set_exit, exited) = watch::channel(None);
        self.exited = Some(exited);
        let events = self.events.clone();
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => status.to_string(),
                Err(error) => format!("wait failed: {error}"),
            };
            let _ = set_exit.send(Some(status.clone()));
            let _ = events.send(Event::AirExited(status));
        });
        Ok(())
    }

    fn exit_status(&self) -> Option<String> {
        self.exited.as_ref().and_then(|e| e.borrow().clone())
    }

    /// StartBlockPlanSession with two seeds, then SubscribeBlockEvents (AIR-004, AIR-005).
    async fn start_session(&mut self) -> Result<(), String> {
        let (a, b) = if self.pending.len() >= 2 {
            let a = self.pending.pop_front().expect("two blocks");
            let b = self.pending.pop_front().expect("two blocks");
            (a, b)
        } else {
            split(self.pending.pop_front().expect("one block"))
        };
        {
            let mut state = self.evidences.state.lock().expect("evidence state");
            state.translator.register(&a);
            state.translator.register(&b);
        }
        let request = StartBlockPlanSessionRequest {
            channel_id: CHANNEL_ID,
            join_utc_ms: a.plan.start_utc_ms,
            block_a: Some(a.plan),
            block_b: Some(b.plan),
            program_format_json: self.options.program_format.clone(),
            max_queue_depth: QUEUE_DEPTH,
            evidence_endpoint: self.evidence_endpoint.clone(),
            channel_id_str: self.channel.clone(),
        };
        // From here a session may exist in AIR even when Start fails: Stop clears it (AIR-007).
        self.started = true;
        let reply = timeout(RPC_TIMEOUT, self.client().start_block_plan_session(request))
            .await
            .map_err(|_| "StartBlockPlanSession timed out".to_string())?
            .map_err(|e| format!("StartBlockPlanSession failed: {e}"))?
            .into_inner();
        if !reply.success {
            return Err(format!(
                "StartBlockPlanSession refused ({:?}): {}",
                BlockPlanResultCode::try_from(reply.result_code)
                    .unwrap_or(BlockPlanResultCode::BlockplanResultUnspecified),
                reply.message
            ));
        }
        let mut stream = timeout(
            RPC_TIMEOUT,
            self.client()
                .subscribe_block_events(SubscribeBlockEventsRequest {
                    channel_id: CHANNEL_ID,
                }),
        )
        .await
        .map_err(|_| "SubscribeBlockEvents timed out".to_string())?
        .map_err(|e| format!("SubscribeBlockEvents failed: {e}"))?
        .into_inner();
        let events = self.events.clone();
        tokio::spawn(async move {
            let why = loop {
                match stream.message().await {
                    Ok(Some(event)) => {
                        if events.send(Event::Block(event)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break "AIR closed the block event stream".to_string(),
                    Err(status) => break format!("block event stream failed: {status}"),
                }
            };
            let _ = events.send(Event::BlockStreamClosed(why));
        });
        self.may_feed = false;
        Ok(())
    }

    /// Starts the session once there is a block, then feeds while AIR has room (AIR-005).
    async fn feed_pending(&mut self) -> Result<(), String> {
        if !self.started {
            if !self.pending.is_empty() {
                self.start_session().await?;
            }
            return Ok(());
        }
        while self.may_feed {
            let Some(front) = self.pending.front() else {
                break;
            };
            let planned = front.clone();
            self.evidences
                .state
                .lock()
                .expect("evidence state")
                .translator
                .register(&planned);
            let reply = timeout(
                RPC_TIMEOUT,
                self.client().feed_block_plan(FeedBlockPlanRequest {
                    channel_id: CHANNEL_ID,
                    block: Some(planned.plan.clone()),
                }),
            )
            .await
            .map_err(|_| "FeedBlockPlan timed out".to_string())?
            .map_err(|e| format!("FeedBlockPlan failed: {e}"))?
            .into_inner();
            if reply.queue_full {
                // AIR dropped it: keep it for the next credit.
                self.may_feed = false;
                break;
            }
            self.pending.pop_front();
            if !reply.success {
                if reply.result_code == BlockPlanResultCode::BlockplanResultNoSession as i32 {
                    return Err(format!("AIR has no session: {}", reply.message));
                }
                diagnostic(&format!(
                    "FeedBlockPlan refused block {}: {}",
                    planned.plan.block_id, reply.message
                ));
            }
        }
        Ok(())
    }

    /// SIGTERM to AIR (it has no handler), SIGKILL if it lingers; reaped by the wait task.
    async fn terminate_air(&mut self) {
        let Some(pid) = self.pid else { return };
        let Some(mut exited) = self.exited.clone() else {
            return;
        };
        if exited.borrow().is_some() {
            return;
        }
        // SAFETY: plain kill(2) on the pid of our own child, which is not reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        if timeout(Duration::from_secs(2), exited.wait_for(|s| s.is_some()))
            .await
            .is_err()
        {
            // SAFETY: as above.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            let _ = timeout(Duration::from_secs(2), exited.wait_for(|s| s.is_some())).await;
        }
    }

    async fn stop_rpc(&mut self, reason: &str, within: Duration) {
        if self.client.is_none() {
            return;
        }
        let request = StopBlockPlanSessionRequest {
            channel_id: CHANNEL_ID,
            reason: reason.to_string(),
        };
        match timeout(within, self.client().stop_block_plan_session(request)).await {
            Ok(Ok(_)) => {}
            Ok(Err(status)) => diagnostic(&format!("StopBlockPlanSession failed: {status}")),
            Err(_) => diagnostic("StopBlockPlanSession timed out"),
        }
    }

    /// Writes the end of the session: the segment on air truncated, then `session_ended`.
    fn close_evidence(&mut self, reason: &str, truncation: &str) {
        let mut state = self.evidences.state.lock().expect("evidence state");
        state.closed = true;
        let at = state.terminated_at.unwrap_or_else(wall_ms);
        for line in state.translator.finish(at, truncation) {
            emit(&line);
        }
        emit(&Evidence::SessionEnded {
            reason: reason.to_string(),
        });
        if let Some(path) = &self.socket {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Stop → wait for ChannelTerminated → Detach → terminate AIR; exit 0 (AIR-006).
    async fn shutdown(&mut self, reason: &str) -> i32 {
        if self.started && self.exit_status().is_none() {
            let terminated = self.evidences.terminated.clone();
            let notified = terminated.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.stop_rpc(reason, Duration::from_secs(3)).await;
            let already = self
                .evidences
                .state
                .lock()
                .expect("evidence state")
                .terminated_at
                .is_some();
            if !already {
                let _ = timeout(Duration::from_secs(1), notified).await;
            }
        }
        if self.attached && self.exit_status().is_none() {
            let request = DetachStreamRequest {
                channel_id: CHANNEL_ID,
                force: true,
            };
            if let Ok(Err(status)) =
                timeout(Duration::from_secs(1), self.client().detach_stream(request)).await
            {
                diagnostic(&format!("DetachStream failed: {status}"));
            }
        }
        self.terminate_air().await;
        self.close_evidence(reason, reason);
        0
    }

    /// AIR died or refused: clear a half-made session, terminate AIR, exit 1 (AIR-007).
    async fn fatal(&mut self, message: &str) -> i32 {
        diagnostic(message);
        if self.started && self.exit_status().is_none() {
            self.stop_rpc("error", Duration::from_secs(1)).await;
        }
        self.terminate_air().await;
        self.close_evidence(&format!("error: {message}"), "error");
        1
    }
}

/// Runs one engine session over stdin/stdout/stderr and returns the process exit code.
pub async fn run(options: Options) -> i32 {
    let (events, mut inbox) = mpsc::unbounded_channel();
    spawn_stdin(events.clone());
    spawn_signals(events.clone());

    let (channel, join_at, blocks, start_line) = loop {
        match inbox.recv().await {
            Some(Event::Line(number, line)) => match parse_control(&line) {
                Ok(Control::Start {
                    channel,
                    join_at,
                    blocks,
                }) => break (channel, join_at, blocks, number),
                Ok(Control::Feed { .. }) => protocol_error(number, "feed before start"),
                Ok(Control::Stop) => {
                    emit(&Evidence::SessionEnded {
                        reason: "stop".into(),
                    });
                    return 0;
                }
                Err(reason) => protocol_error(number, &reason),
            },
            Some(Event::Signal) => {
                emit(&Evidence::SessionEnded {
                    reason: "signal".into(),
                });
                return 0;
            }
            Some(Event::Eof) | None => {
                emit(&Evidence::SessionEnded {
                    reason: "eof".into(),
                });
                return 0;
            }
            Some(_) => {}
        }
    };
    emit(&Evidence::SessionStarted {
        channel: channel.clone(),
        join_at,
        wall_ms: wall_ms(),
    });

    let mut session = Session {
        options,
        channel,
        events,
        evidences: Evidences::default(),
        planner: Planner::new(),
        pending: VecDeque::new(),
        client: None,
        pid: None,
        exited: None,
        socket: None,
        evidence_endpoint: String::new(),
        attached: false,
        started: false,
        may_feed: false,
    };
    for block in &blocks {
        match session.planner.translate(block, join_at, false) {
            Ok((planned, evidence)) => {
                evidence.iter().for_each(emit);
                session.pending.extend(planned);
            }
            Err(reason) => protocol_error(start_line, &reason),
        }
    }
    if let Err(message) = session.launch().await {
        return session.fatal(&message).await;
    }
    if let Err(message) = session.feed_pending().await {
        return session.fatal(&message).await;
    }

    loop {
        let Some(event) = inbox.recv().await else {
            return session.shutdown("eof").await;
        };
        let outcome = match event {
            Event::Line(number, line) => match parse_control(&line) {
                Ok(Control::Feed { block }) => {
                    match session.planner.translate(&block, wall_ms(), true) {
                        Ok((planned, evidence)) => {
                            evidence.iter().for_each(emit);
                            session.pending.extend(planned);
                            // Fed at once when AIR last had room (or starved), else at the
                            // next BlockStarted.
                            session.feed_pending().await
                        }
                        Err(reason) => {
                            protocol_error(number, &reason);
                            Ok(())
                        }
                    }
                }
                Ok(Control::Stop) => return session.shutdown("stop").await,
                Ok(Control::Start { .. }) => {
                    protocol_error(number, "second start");
                    Ok(())
                }
                Err(reason) => {
                    protocol_error(number, &reason);
                    Ok(())
                }
            },
            Event::Eof => return session.shutdown("eof").await,
            Event::Signal => return session.shutdown("signal").await,
            Event::OutputClosed => return session.shutdown("output_closed").await,
            Event::Block(block_event) => match block_event.event {
                Some(AirEvent::BlockStarted(_)) => {
                    session.may_feed = true;
                    session.feed_pending().await
                }
                Some(AirEvent::SessionEnded(ended)) => {
                    Err(format!("AIR ended the session: {}", ended.reason))
                }
                Some(AirEvent::BlockCompleted(_)) | None => Ok(()),
            },
            Event::BlockStreamClosed(why) => Err(why),
            Event::AirExited(status) => Err(format!("AIR exited: {status}")),
        };
        if let Err(message) = outcome {
            return session.fatal(&message).await;
        }
    }
}
