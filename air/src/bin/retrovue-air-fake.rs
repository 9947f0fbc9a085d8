//! `retrovue-air-fake --address 127.0.0.1:PORT`: a stand-in AIR for the adapter's tests
//! (contracts/engine-air.md). It serves the PlayoutControl RPCs the adapter uses with AIR's
//! rules (attach before start, contiguous seeds, queue depth 2 with BlockStarted as credit, Stop
//! idempotent), connects to the Unix socket and writes MPEG-TS from our own muxer, plays blocks on
//! the wall clock, and streams evidence that waits for each ack. Legacy RPCs abort it, like AIR
//! during a session. Test knobs (environment): FAKE_AIR_LOG=FILE (every call, one line each),
//! FAKE_AIR_CRASH_AFTER_MS=N (exit 3 N ms after Start), FAKE_AIR_RECONNECT_AFTER=K (drop the
//! evidence stream after record K, reconnect and replay every record from 1).

use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use retrovue::engine::ts::{self, Packetizer, StreamEntry};
use retrovue_engine_air::evidence_proto::evidence_from_air::Payload;
use retrovue_engine_air::evidence_proto::execution_evidence_service_client::ExecutionEvidenceServiceClient;
use retrovue_engine_air::evidence_proto::{
    BlockFence, BlockStart, ChannelTerminated, EvidenceFromAir, Hello, SegmentEnd, SegmentStart,
};
use retrovue_engine_air::playout::block_event::Event as AirEvent;
use retrovue_engine_air::playout::playout_control_server::{PlayoutControl, PlayoutControlServer};
use retrovue_engine_air::playout::*;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn log(line: &str) {
    if let Ok(path) = std::env::var("FAKE_AIR_LOG") {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            // One append per line: `writeln!` writes the text and the newline separately, so
            // two threads logging at once interleaved them ("hello-acked 0Subscribe 1").
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
    }
}

fn describe(plan: &BlockPlan) -> String {
    let segments: Vec<String> = plan
        .segments
        .iter()
        .map(|s| {
            format!(
                "{}:{}:{}:{}:{}",
                s.segment_index,
                s.event_id,
                s.segment_type,
                s.asset_start_offset_ms,
                s.segment_duration_ms
            )
        })
        .collect();
    format!(
        "{}@{}-{}[{}]",
        plan.block_id,
        plan.start_utc_ms,
        plan.end_utc_ms,
        segments.join(",")
    )
}

type EventSender = mpsc::Sender<Result<BlockEvent, Status>>;

/// One BlockPlan session.
struct Session {
    queue: Mutex<VecDeque<BlockPlan>>,
    stop: AtomicBool,
    stop_reason: Mutex<String>,
    done: AtomicBool,
    executed: AtomicU64,
    subscriber: Mutex<Option<EventSender>>,
    evidence: Option<mpsc::UnboundedSender<Payload>>,
    emitted: AtomicU64,
    acked: Arc<AtomicU64>,
}

impl Session {
    fn evidence(&self, payload: Payload) {
        if let Some(sender) = &self.evidence {
            self.emitted.fetch_add(1, Ordering::SeqCst);
            let _ = sender.send(payload);
        }
    }

    async fn event(&self, event: AirEvent) {
        let sender = self.subscriber.lock().unwrap().clone();
        if let Some(sender) = sender {
            let _ = sender
                .send(Ok(BlockEvent {
                    channel_id: 1,
                    event: Some(event),
                }))
                .await;
        }
    }

    fn pending(&self) -> usize {
        // The head of the queue is the preroll block; the rest is the pending queue.
        self.queue.lock().unwrap().len().saturating_sub(1)
    }
}

#[derive(Default)]
struct Fake {
    socket: Mutex<Option<(i32, UnixStream)>>,
    session: Mutex<Option<Arc<Session>>>,
}

async fn sleep_until(at: i64, session: &Session) -> bool {
    while now_ms() < at {
        if session.stop.load(Ordering::SeqCst) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    !session.stop.load(Ordering::SeqCst)
}

/// Plays the queue on the wall clock, emitting block events and evidence like AIR.
async fn play(session: Arc<Session>) {
    'blocks: while !session.stop.load(Ordering::SeqCst) {
        let block = session.queue.lock().unwrap().pop_front();
        let Some(block) = block else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let taken = now_ms();
        session.evidence(Payload::BlockStart(BlockStart {
            block_id: block.block_id.clone(),
            actual_start_utc_ms: taken,
            ..BlockStart::default()
        }));
        log(&format!("event BlockStarted {}", block.block_id));
        session
            .event(AirEvent::BlockStarted(BlockStarted {
                block_id: block.block_id.clone(),
                block_start_utc_ms: block.start_utc_ms,
                block_end_utc_ms: block.end_utc_ms,
            }))
            .await;
        let mut scheduled = block.start_utc_ms;
        for segment in &block.segments {
            let started = now_ms();
            session.evidence(Payload::SegmentStart(SegmentStart {
                block_id: block.block_id.clone(),
                event_id: segment.event_id.clone(),
                segment_index: segment.segment_index,
                actual_start_utc_ms: started,
                scheduled_duration_ms: segment.segment_duration_ms,
                join_in_progress: Some(false),
                ..SegmentStart::default()
            }));
            scheduled += segment.segment_duration_ms;
            if !sleep_until(scheduled, &session).await {
                break 'blocks;
            }
            let ended = now_ms();
            session.evidence(Payload::SegmentEnd(SegmentEnd {
                block_id: block.block_id.clone(),
                event_id_ref: segment.event_id.clone(),
                actual_start_utc_ms: started,
                actual_end_utc_ms: ended,
                computed_duration_ms: ended - started,
                status: "AIRED".into(),
                ..SegmentEnd::default()
            }));
        }
        session.evidence(Payload::BlockFence(BlockFence {
            block_id: block.block_id.clone(),
            actual_end_utc_ms: now_ms(),
            ..BlockFence::default()
        }));
        session.executed.fetch_add(1, Ordering::SeqCst);
        session
            .event(AirEvent::BlockCompleted(BlockCompleted {
                block_id: block.block_id.clone(),
                block_start_utc_ms: block.start_utc_ms,
                block_end_utc_ms: block.end_utc_ms,
                ..BlockCompleted::default()
            }))
            .await;
    }
    let reason = session.stop_reason.lock().unwrap().clone();
    for reason in ["stopped".to_string(), reason] {
        session.evidence(Payload::ChannelTerminated(ChannelTerminated {
            termination_utc_ms: now_ms(),
            reason,
            detail: String::new(),
        }));
    }
    session
        .event(AirEvent::SessionEnded(SessionEnded {
            reason: "stopped".into(),
            ..SessionEnded::default()
        }))
        .await;
    *session.subscriber.lock().unwrap() = None;
    session.done.store(true, Ordering::SeqCst);
}

/// Writes PAT, PMT and null packets to the socket every 20 ms until the session ends.
fn write_ts(mut socket: UnixStream, session: Arc<Session>) {
    std::thread::spawn(move || {
        let mut packetizer = Packetizer::new();
        let pmt = ts::pmt_section(
            ts::VIDEO_PID,
            &[StreamEntry {
                stream_type: 0x1B,
                pid: ts::VIDEO_PID,
            }],
        );
        while !session.done.load(Ordering::SeqCst) {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(
                &packetizer
                    .section_packet(ts::PAT_PID, &ts::pat_section(1))
                    .bytes,
            );
            bytes.extend_from_slice(&packetizer.section_packet(ts::PMT_PID, &pmt).bytes);
            for _ in 0..5 {
                bytes.extend_from_slice(&ts::null_packet());
            }
            if socket.write_all(&bytes).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The socket reaches EOF when the session ends, before DetachStream (AIR.md §4).
        let _ = socket.shutdown(std::net::Shutdown::Both);
    });
}

/// AIR's evidence client: Hello, wait for its ack, replay, then one record at a time, each
/// waiting for its ack.
async fn evidence_client(
    endpoint: String,
    channel: String,
    session_id: String,
    mut payloads: mpsc::UnboundedReceiver<Payload>,
    acked: Arc<AtomicU64>,
) {
    let reconnect_after: Option<u64> = std::env::var("FAKE_AIR_RECONNECT_AFTER")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut spool: Vec<EvidenceFromAir> = Vec::new();
    let mut replay_all = false;
    let mut reconnected = false;
    'connect: loop {
        let client = loop {
            match ExecutionEvidenceServiceClient::connect(format!("http://{endpoint}")).await {
                Ok(client) => break client,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let mut client = client;
        let (outbound, rx) = mpsc::channel(64);
        let Ok(response) = client.evidence_stream(ReceiverStream::new(rx)).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut acks = response.into_inner();
        let hello = EvidenceFromAir {
            schema_version: 1,
            channel_id: channel.clone(),
            playout_session_id: session_id.clone(),
            sequence: 0,
            event_uuid: "hello".into(),
            payload: Some(Payload::Hello(Hello {
                first_sequence_available: 1,
                last_sequence_emitted: spool.len() as u64,
            })),
            ..EvidenceFromAir::default()
        };
        let _ = outbound.send(hello).await;
        let resume = match tokio::time::timeout(Duration::from_secs(5), acks.message()).await {
            Ok(Ok(Some(ack))) => ack.acked_sequence,
            _ => {
                log("hello-ack-timeout");
                continue 'connect;
            }
        };
        log(&format!("hello-acked {resume}"));
        let from = if replay_all { 0 } else { resume };
        let mut backlog: VecDeque<EvidenceFromAir> = spool
            .iter()
            .filter(|r| r.sequence > from)
            .cloned()
            .collect();
        loop {
            let record = match backlog.pop_front() {
                Some(record) => record,
                None => {
                    let Some(payload) = payloads.recv().await else {
                        return;
                    };
                    let record = EvidenceFromAir {
                        schema_version: 1,
                        channel_id: channel.clone(),
                        playout_session_id: session_id.clone(),
                        sequence: spool.len() as u64 + 1,
                        event_uuid: format!("uuid-{}", spool.len() + 1),
                        emitted_utc: now_ms().to_string(),
                        payload: Some(payload),
                    };
                    spool.push(record.clone());
                    record
                }
            };
            let sequence = record.sequence;
            if outbound.send(record).await.is_err() {
                continue 'connect;
            }
            loop {
                match tokio::time::timeout(Duration::from_secs(5), acks.message()).await {
                    Ok(Ok(Some(ack))) => {
                        acked.fetch_max(ack.acked_sequence, Ordering::SeqCst);
                        if ack.acked_sequence >= sequence {
                            break;
                        }
                    }
                    _ => {
                        log(&format!("ack-timeout {sequence}"));
                        continue 'connect;
                    }
                }
            }
            if reconnect_after == Some(sequence) && !reconnected {
                reconnected = true;
                replay_all = true;
                log(&format!("reconnecting after {sequence}"));
                continue 'connect;
            }
        }
    }
}

#[tonic::async_trait]
impl PlayoutControl for Fake {
    async fn start_channel(
        &self,
        _: Request<StartChannelRequest>,
    ) -> Result<Response<StartChannelResponse>, Status> {
        legacy("StartChannel")
    }
    async fn update_plan(
        &self,
        _: Request<UpdatePlanRequest>,
    ) -> Result<Response<UpdatePlanResponse>, Status> {
        legacy("UpdatePlan")
    }
    async fn stop_channel(
        &self,
        _: Request<StopChannelRequest>,
    ) -> Result<Response<StopChannelResponse>, Status> {
        legacy("StopChannel")
    }
    async fn load_preview(
        &self,
        _: Request<LoadPreviewRequest>,
    ) -> Result<Response<LoadPreviewResponse>, Status> {
        legacy("LoadPreview")
    }
    async fn switch_to_live(
        &self,
        _: Request<SwitchToLiveRequest>,
    ) -> Result<Response<SwitchToLiveResponse>, Status> {
        legacy("SwitchToLive")
    }

    async fn get_version(
        &self,
        _: Request<ApiVersionRequest>,
    ) -> Result<Response<ApiVersion>, Status> {
        log("GetVersion");
        Ok(Response::new(ApiVersion {
            version: "1.0.0".into(),
        }))
    }

    async fn attach_stream(
        &self,
        request: Request<AttachStreamRequest>,
    ) -> Result<Response<AttachStreamResponse>, Status> {
        let request = request.into_inner();
        log(&format!(
            "AttachStream {} {} replace={}",
            request.channel_id, request.transport, request.replace_existing
        ));
        let fail = |message: String| {
            Ok(Response::new(AttachStreamResponse {
                success: false,
                message,
                ..AttachStreamResponse::default()
            }))
        };
        if request.transport != StreamTransport::UnixDomainSocket as i32 {
            return fail("Phase 9.0: only UNIX_DOMAIN_SOCKET transport is supported".into());
        }
        let mut socket = self.socket.lock().unwrap();
        if socket.is_some() && !request.replace_existing {
            return fail("Already attached; set replace_existing=true to replace".into());
        }
        match UnixStream::connect(&request.endpoint) {
            Ok(stream) => {
                *socket = Some((request.channel_id, stream));
                Ok(Response::new(AttachStreamResponse {
                    success: true,
                    message: "Attached".into(),
                    negotiated_transport: StreamTransport::UnixDomainSocket as i32,
                    negotiated_endpoint: request.endpoint,
                }))
            }
            Err(error) => fail(format!("connect() failed: {error}")),
        }
    }

    async fn detach_stream(
        &self,
        request: Request<DetachStreamRequest>,
    ) -> Result<Response<DetachStreamResponse>, Status> {
        log(&format!(
            "DetachStream force={}",
            request.into_inner().force
        ));
        let was = self.socket.lock().unwrap().take();
        Ok(Response::new(DetachStreamResponse {
            success: true,
            message: if was.is_some() {
                "Detached".into()
            } else {
                "Not attached (idempotent)".into()
            },
        }))
    }

    async fn start_block_plan_session(
        &self,
        request: Request<StartBlockPlanSessionRequest>,
    ) -> Result<Response<StartBlockPlanSessionResponse>, Status> {
        let request = request.into_inner();
        let a = request.block_a.unwrap_or_default();
        let b = request.block_b.unwrap_or_default();
        log(&format!(
            "Start join={} a={} b={} depth={} channel={} format={}",
            request.join_utc_ms,
            describe(&a),
            describe(&b),
            request.max_queue_depth,
            request.channel_id_str,
            request.program_format_json
        ));
        let refuse = |code: BlockPlanResultCode, message: &str| {
            Ok(Response::new(StartBlockPlanSessionResponse {
                success: false,
                message: message.into(),
                result_code: code as i32,
            }))
        };
        if self.session.lock().unwrap().is_some() {
            return refuse(BlockPlanResultCode::BlockplanResultAlreadyActive, "active");
        }
        let socket = match &*self.socket.lock().unwrap() {
            Some((id, stream)) if *id == request.channel_id => stream.try_clone().ok(),
            _ => None,
        };
        let Some(socket) = socket else {
            return refuse(
                BlockPlanResultCode::BlockplanResultStreamNotAttached,
                "not attached",
            );
        };
        if a.end_utc_ms != b.start_utc_ms {
            return refuse(BlockPlanResultCode::BlockplanResultNotContiguous, "gap");
        }
        let session_id = format!("PS-{}-{}", request.channel_id_str, now_ms());
        let acked = Arc::new(AtomicU64::new(0));
        let evidence = if request.evidence_endpoint.is_empty() {
            None
        } else {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(evidence_client(
                request.evidence_endpoint.clone(),
                request.channel_id_str.clone(),
                session_id,
                receiver,
                Arc::clone(&acked),
            ));
            Some(sender)
        };
        let session = Arc::new(Session {
            queue: Mutex::new(VecDeque::from([a, b])),
            stop: AtomicBool::new(false),
            stop_reason: Mutex::new(String::new()),
            done: AtomicBool::new(false),
            executed: AtomicU64::new(0),
            subscriber: Mutex::new(None),
            evidence,
            emitted: AtomicU64::new(0),
            acked,
        });
        *self.session.lock().unwrap() = Some(Arc::clone(&session));
        write_ts(socket, Arc::clone(&session));
        // The first block goes live about 20 ms after Start, as with AIR.
        let player = Arc::clone(&session);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            play(player).await;
        });
        if let Some(ms) = std::env::var("FAKE_AIR_CRASH_AFTER_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                log("crash");
                std::process::exit(3);
            });
        }
        Ok(Response::new(StartBlockPlanSessionResponse {
            success: true,
            message: "started".into(),
            result_code: BlockPlanResultCode::BlockplanResultOk as i32,
        }))
    }

    async fn feed_block_plan(
        &self,
        request: Request<FeedBlockPlanRequest>,
    ) -> Result<Response<FeedBlockPlanResponse>, Status> {
        let request = request.into_inner();
        let block = request.block.unwrap_or_default();
        let session = self.session.lock().unwrap().clone();
        let Some(session) = session.filter(|_| request.channel_id == 1) else {
            log(&format!("Feed {} no-session", describe(&block)));
            return Ok(Response::new(FeedBlockPlanResponse {
                success: false,
                message: "No active BlockPlan session".into(),
                result_code: BlockPlanResultCode::BlockplanResultNoSession as i32,
                queue_full: false,
            }));
        };
        if session.pending() >= 2 {
            log(&format!("Feed {} full", describe(&block)));
            return Ok(Response::new(FeedBlockPlanResponse {
                success: false,
                message: "queue full".into(),
                result_code: BlockPlanResultCode::BlockplanResultQueueFull as i32,
                queue_full: true,
            }));
        }
        log(&format!("Feed {} accepted", describe(&block)));
        session.queue.lock().unwrap().push_back(block);
        Ok(Response::new(FeedBlockPlanResponse {
            success: true,
            message: "accepted".into(),
            result_code: BlockPlanResultCode::BlockplanResultOk as i32,
            queue_full: false,
        }))
    }

    async fn stop_block_plan_session(
        &self,
        request: Request<StopBlockPlanSessionRequest>,
    ) -> Result<Response<StopBlockPlanSessionResponse>, Status> {
        let request = request.into_inner();
        log(&format!("Stop reason={}", request.reason));
        let session = self.session.lock().unwrap().take();
        let Some(session) = session else {
            return Ok(Response::new(StopBlockPlanSessionResponse {
                success: true,
                message: "No active session (idempotent)".into(),
                ..StopBlockPlanSessionResponse::default()
            }));
        };
        *session.stop_reason.lock().unwrap() = request.reason;
        session.stop.store(true, Ordering::SeqCst);
        for _ in 0..400 {
            let flushed = session.acked.load(Ordering::SeqCst)
                >= session.emitted.load(Ordering::SeqCst)
                || session.evidence.is_none();
            if session.done.load(Ordering::SeqCst) && flushed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(Response::new(StopBlockPlanSessionResponse {
            success: true,
            message: "Session stopped".into(),
            final_ct_ms: 0,
            blocks_executed: session.executed.load(Ordering::SeqCst) as i32,
        }))
    }

    type SubscribeBlockEventsStream = ReceiverStream<Result<BlockEvent, Status>>;

    async fn subscribe_block_events(
        &self,
        request: Request<SubscribeBlockEventsRequest>,
    ) -> Result<Response<Self::SubscribeBlockEventsStream>, Status> {
        log(&format!("Subscribe {}", request.into_inner().channel_id));
        let session = self.session.lock().unwrap().clone();
        let Some(session) = session else {
            return Err(Status::not_found("No active BlockPlan session for channel"));
        };
        let (sender, receiver) = mpsc::channel(64);
        *session.subscriber.lock().unwrap() = Some(sender);
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

fn legacy<T>(name: &str) -> Result<Response<T>, Status> {
    // AIR aborts on legacy RPCs during a BlockPlan session (AIR.md §1.4); the fake always does.
    log(&format!("LEGACY {name}"));
    std::process::abort();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let address = match args.as_slice() {
        [flag, address] if flag == "--address" || flag == "-a" => address.clone(),
        _ => {
            eprintln!("usage: retrovue-air-fake --address HOST:PORT");
            std::process::exit(2);
        }
    };
    log(&format!("pid {}", std::process::id()));
    println!("gRPC Server: {address}");
    let address = address.parse().expect("HOST:PORT");
    let fake = Fake::default();
    if let Err(error) = tonic::transport::Server::builder()
        .add_service(PlayoutControlServer::new(fake))
        .serve(address)
        .await
    {
        eprintln!("retrovue-air-fake: {error}");
        std::process::exit(1);
    }
}
