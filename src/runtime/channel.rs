//! The channel registry and the ChannelManager threads (DAEMON-002..006, DAEMON-013, MACHINE-001..004): one thread
//! per channel that has viewers, driving the core's `ChannelManager` with a
//! `crossbeam_channel::select!` loop and the system clock, owning the channel's engine child and
//! fan-out, and ending itself once the channel is idle.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use retrovue_core::channel::{
    ChannelAction, ChannelMachine, ChannelNotice, EngineReport, Severity,
};
use retrovue_core::engine::{Block, EngineExit};
use retrovue_core::manager::{Answer, PlaylogSource, SessionId, ViewerId};
use retrovue_core::model::{PlaylogEvent, UtcMs};
use retrovue_core::plan::{is_synthetic, plan_at, PlanOutcome};

use super::asrun::SessionRecord;
use super::cluster::{lease_of, LeaseGuard, Placement};
use super::engine::{EngineMessage, EngineProcess};
use super::fanout::{Chunk, Departure, FanOut};
use super::metrics::ChannelMetrics;
use super::{ChannelSchedule, Shared};
use crate::clock::now_ms;
use crate::engine::protocol::{self, Control, Evidence};

/// Messages to a ChannelManager thread.
pub enum Input {
    Join {
        viewer: ViewerId,
        queue: Sender<Chunk>,
        reply: Sender<Answer>,
    },
    Left(ViewerId),
    Dropped(ViewerId),
    Shutdown,
    /// Stop at once and leave the registry (the lease was lost, CLUSTER-006).
    Stop(String),
}

/// Why a tune-in got no stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The machine's (or the caps') answer.
    Answer(Answer),
    /// Another live node runs the channel (HTTP-040): its advertised URL.
    Elsewhere { node: String, url: String },
    /// No lease can be had from this node now (HTTP-042).
    Cluster(String),
}

impl From<Answer> for Refusal {
    fn from(answer: Answer) -> Refusal {
        Refusal::Answer(answer)
    }
}

struct Handle {
    generation: u64,
    inputs: Sender<Input>,
    thread: Option<JoinHandle<()>>,
}

/// The ChannelManager threads alive, by channel id.
#[derive(Default)]
pub struct Registry {
    threads: Mutex<BTreeMap<String, Handle>>,
    generations: std::sync::atomic::AtomicU64,
    closed: std::sync::atomic::AtomicBool,
}

/// A viewer's stream: the queue it reads, and a guard telling the manager when it goes.
pub struct ViewerStream {
    pub viewer: ViewerId,
    pub chunks: Receiver<Chunk>,
    inputs: Sender<Input>,
    _seat: Seat,
}

impl Drop for ViewerStream {
    fn drop(&mut self) {
        let _ = self.inputs.send(Input::Left(self.viewer));
    }
}

/// One of a channel's viewer places (DAEMON-013), given back when dropped.
struct Seat(Arc<Shared>, String);

impl Seat {
    fn take(shared: &Arc<Shared>, channel: &str) -> Option<Seat> {
        let admitted = &shared.metrics.channel(channel).admitted;
        let cap = shared.max_viewers_per_channel as i64;
        let taken = admitted.fetch_update(ORDER, ORDER, |n| (n < cap).then_some(n + 1));
        taken
            .is_ok()
            .then(|| Seat(Arc::clone(shared), channel.to_string()))
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.metrics.channel(&self.1).admitted.fetch_sub(1, ORDER);
    }
}

/// How long a tune-in may wait for its channel thread's answer: a safety net above the
/// machine's own bound (MGR-011, 3 s).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(6);

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Handle>> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tune a new viewer in: the channel's thread starts (or shares) playout and answers.
    pub fn tune_in(shared: &Arc<Shared>, channel: &str) -> Result<ViewerStream, Refusal> {
        if shared.channel(channel).is_none() {
            return Err(Answer::NotFound.into());
        }
        let Some(seat) = Seat::take(shared, channel) else {
            ChannelMetrics::add(&shared.metrics.channel(channel).refused_full, 1);
            log::warn!(
                "channel {channel}: full ({} viewers, --max-viewers-per-channel): tune-in refused",
                shared.max_viewers_per_channel
            );
            return Err(Answer::Unavailable {
                reason: format!(
                    "channel is full ({} viewers)",
                    shared.max_viewers_per_channel
                ),
            }
            .into());
        };
        let registry = &shared.registry;
        let viewer = shared.new_viewer_id();
        let (queue, chunks) = crossbeam_channel::bounded(shared.viewer_queue_chunks);
        let (reply, answer) = crossbeam_channel::bounded(1);
        let mut join = Input::Join {
            viewer,
            queue,
            reply,
        };
        // CLUSTER-005: in cluster mode a channel thread starts only under the channel's lease,
        // taken outside the registry lock (a database statement); at most twice, should the
        // running thread end in between.
        let mut lease: Option<LeaseGuard> = None;
        let inputs = loop {
            let mut threads = registry.lock();
            if registry.closed.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(Answer::Gap.into());
            }
            if let Some(handle) = threads.get(channel) {
                match handle.inputs.send(join) {
                    Ok(()) => break handle.inputs.clone(),
                    // The thread died (a panic): start a fresh one.
                    Err(e) => join = e.0,
                }
            }
            match (shared.cluster(), lease.take()) {
                (None, _) => break spawn_thread(shared, &mut threads, channel, join, None),
                (Some(_), Some(guard)) if guard.held() => {
                    break spawn_thread(shared, &mut threads, channel, join, Some(guard))
                }
                (Some(cluster), _) => {
                    drop(threads);
                    match cluster.claim(&lease_of(channel)) {
                        Placement::Here(guard) => lease = Some(guard),
                        Placement::Elsewhere { node, url } => {
                            return Err(Refusal::Elsewhere { node, url })
                        }
                        Placement::Unavailable(reason) => return Err(Refusal::Cluster(reason)),
                    }
                }
            }
        };
        drop(lease);
        match answer.recv_timeout(ANSWER_TIMEOUT) {
            Ok(Answer::Stream) => Ok(ViewerStream {
                viewer,
                chunks,
                inputs,
                _seat: seat,
            }),
            Ok(other) => Err(other.into()),
            Err(_) => Err(Answer::Unavailable {
                reason: format!("no answer from the channel within {ANSWER_TIMEOUT:?}"),
            }
            .into()),
        }
    }

    /// What a tune-in would be answered now, decided without the channel thread and without
    /// starting anything (HTTP-025): unknown, full, the plan at now (gap, missing asset), else
    /// a stream. Only an engine that fails to start can make a real tune-in answer otherwise.
    pub fn preview(shared: &Shared, channel: &str) -> Answer {
        if shared.channel(channel).is_none() {
            return Answer::NotFound;
        }
        let admitted = shared.metrics.channel(channel).admitted.load(ORDER);
        if admitted >= shared.max_viewers_per_channel as i64 {
            return Answer::Unavailable {
                reason: format!(
                    "channel is full ({} viewers)",
                    shared.max_viewers_per_channel
                ),
            };
        }
        let schedule = shared.schedule(channel);
        let source = ShellSource {
            schedule: &schedule,
            shared,
        };
        let now = now_ms();
        match plan_at(source.events(), now, now + 1, |a| source.asset_missing(a)) {
            PlanOutcome::Plan(_) => Answer::Stream,
            PlanOutcome::Gap { .. } => Answer::Gap,
            PlanOutcome::AssetFault { asset, .. } => Answer::AssetMissing { asset },
        }
    }

    /// Is a ChannelManager thread alive for this channel?
    pub fn is_active(&self, channel: &str) -> bool {
        self.lock().contains_key(channel)
    }

    /// Stop one channel's thread at once (its lease was lost, CLUSTER-006): its engine is killed
    /// and its viewers' streams end; it leaves the registry.
    pub fn stop(&self, channel: &str, reason: &str) {
        if let Some(handle) = self.lock().get(channel) {
            let _ = handle.inputs.send(Input::Stop(reason.to_string()));
        }
    }

    /// Shutdown: every channel thread stops its engine and closes its viewers; joined here.
    pub fn shutdown_all(&self) {
        let handles: Vec<Handle> = {
            let mut threads = self.lock();
            self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
            std::mem::take(&mut *threads).into_values().collect()
        };
        for handle in &handles {
            let _ = handle.inputs.send(Input::Shutdown);
        }
        for mut handle in handles {
            if let Some(thread) = handle.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

fn spawn_thread(
    shared: &Arc<Shared>,
    threads: &mut BTreeMap<String, Handle>,
    channel: &str,
    first: Input,
    lease: Option<LeaseGuard>,
) -> Sender<Input> {
    let (inputs_tx, inputs_rx) = crossbeam_channel::unbounded();
    let _ = inputs_tx.send(first);
    let generation = shared
        .registry
        .generations
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let worker_shared = Arc::clone(shared);
    let id = channel.to_string();
    let self_tx = inputs_tx.clone();
    let thread = std::thread::Builder::new()
        .name(format!("ch-{channel}"))
        .spawn(move || {
            // Isolation (DAEMON-006): a panic ends this channel's thread only; its engine is
            // killed by the unwinding drop and the viewers' queues close.
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                ChannelThread::new(&worker_shared, &id, self_tx, generation, lease).run(inputs_rx)
            }));
            if outcome.is_err() {
                log::error!("channel {id}: its thread panicked; the channel was reset");
                worker_shared.metrics.channel(&id).viewers.store(0, ORDER);
                worker_shared
                    .metrics
                    .channel(&id)
                    .engine_running
                    .store(0, ORDER);
                let mut threads = worker_shared.registry.lock();
                if threads.get(&id).is_some_and(|h| h.generation == generation) {
                    threads.remove(&id);
                }
            }
        })
        .expect("spawn channel thread");
    threads.insert(
        channel.to_string(),
        Handle {
            generation,
            inputs: inputs_tx.clone(),
            thread: Some(thread),
        },
    );
    inputs_tx
}

const ORDER: std::sync::atomic::Ordering = std::sync::atomic::Ordering::Relaxed;

/// The machine's view of the playlog: the published events and horizon, files checked on disk.
struct ShellSource<'a> {
    schedule: &'a ChannelSchedule,
    shared: &'a Shared,
}

impl PlaylogSource for ShellSource<'_> {
    fn events(&self) -> &[PlaylogEvent] {
        &self.schedule.events
    }

    fn asset_missing(&self, asset: &str) -> bool {
        match self.shared.asset_paths.get(asset) {
            Some(path) => !Path::new(path).is_file(),
            None => false,
        }
    }

    fn known_until(&self) -> UtcMs {
        self.schedule.known_until
    }
}

/// The engine protocol's evidence as the channel machine's report: a transport mapping only;
/// what it means is decided in core (MACHINE-001).
/// `session_started` says only that the process read its start message: the machine learns
/// the engine is up from its first output bytes instead (MGR-011), so it maps to nothing.
pub fn engine_report(evidence: &Evidence) -> Option<EngineReport> {
    Some(match evidence.clone() {
        Evidence::SessionStarted { .. } => return None,
        Evidence::BlockStarted { block_id, at } => EngineReport::BlockStarted {
            seq: block_id.parse().unwrap_or(u64::MAX),
            at,
        },
        Evidence::SegmentStarted { event_id, at } => EngineReport::SegmentStarted { event_id, at },
        Evidence::SegmentAired {
            event_id,
            actual_start,
            actual_end,
        } => EngineReport::SegmentAired {
            event_id,
            start: actual_start,
            end: actual_end,
        },
        Evidence::SegmentTruncated {
            event_id,
            actual_start,
            actual_end,
            reason,
        } => EngineReport::SegmentTruncated {
            event_id,
            start: actual_start,
            end: actual_end,
            reason,
        },
        Evidence::SegmentErrored {
            event_id,
            actual_start,
            actual_end,
            reason,
        } => EngineReport::SegmentErrored {
            event_id,
            start: actual_start,
            end: actual_end,
            reason,
        },
        Evidence::SegmentSkipped { event_id, reason } => {
            EngineReport::SegmentSkipped { event_id, reason }
        }
        Evidence::Starved { at } => EngineReport::Starved { at },
        Evidence::ProtocolError { line, reason } => EngineReport::ProtocolError { line, reason },
        Evidence::SessionEnded { reason } => EngineReport::SessionEnded { reason },
    })
}

/// How long a stopped engine may take to report its last evidence and exit.
const STOP_BOUND: Duration = Duration::from_millis(1_000);

struct ChannelThread<'a> {
    shared: &'a Arc<Shared>,
    id: String,
    generation: u64,
    machine: ChannelMachine,
    fanout: Arc<FanOut>,
    engine: Option<EngineProcess>,
    messages_tx: Sender<EngineMessage>,
    messages_rx: Receiver<EngineMessage>,
    /// Viewers asked to join, waiting for the machine's answer.
    pending: BTreeMap<ViewerId, (Sender<Chunk>, Sender<Answer>)>,
    metrics: &'a ChannelMetrics,
    /// The channel's cluster lease (CLUSTER-005), released when the thread ends.
    _lease: Option<LeaseGuard>,
}

/// Repeats of one notice kind within this window are counted instead of logged.
const REPEAT_WINDOW: Duration = Duration::from_secs(60);

impl<'a> ChannelThread<'a> {
    fn new(
        shared: &'a Arc<Shared>,
        id: &str,
        inputs: Sender<Input>,
        generation: u64,
        lease: Option<LeaseGuard>,
    ) -> ChannelThread<'a> {
        let (messages_tx, messages_rx) = crossbeam_channel::unbounded();
        let metrics = shared.metrics.channel(id);
        let mut fanout = FanOut::new(move |viewer, why| {
            let _ = inputs.send(match why {
                Departure::Left => Input::Left(viewer),
                Departure::Dropped => Input::Dropped(viewer),
            });
        });
        if let Some(hls) = shared.hls.get(id) {
            fanout = fanout.with_hls(Arc::clone(hls));
        }
        let fanout = Arc::new(fanout);
        ChannelThread {
            shared,
            id: id.to_string(),
            generation,
            machine: ChannelMachine::new(id, shared.manager.clone()),
            fanout,
            engine: None,
            messages_tx,
            messages_rx,
            pending: BTreeMap::new(),
            metrics,
            _lease: lease,
        }
    }

    fn run(mut self, inputs: Receiver<Input>) {
        loop {
            let schedule = self.shared.schedule(&self.id);
            let wait = self
                .machine
                .poll_timeout()
                .map(|at| Duration::from_millis(at.saturating_sub(now_ms()).max(0) as u64))
                .unwrap_or(Duration::from_secs(3600));
            crossbeam_channel::select! {
                recv(inputs) -> input => match input {
                    Ok(Input::Join { viewer, queue, reply }) => {
                        self.pending.insert(viewer, (queue, reply));
                        let source = ShellSource { schedule: &schedule, shared: self.shared };
                        self.machine.viewer_joined(now_ms(), viewer, &source);
                    }
                    Ok(Input::Left(viewer)) => self.viewer_gone(viewer, false),
                    Ok(Input::Dropped(viewer)) => self.viewer_gone(viewer, true),
                    Ok(Input::Shutdown) | Err(_) => {
                        self.machine.shutdown(now_ms());
                        self.carry_out();
                        self.fanout.clear();
                        self.clear_hls();
                        return;
                    }
                    Ok(Input::Stop(reason)) => {
                        log::warn!("channel {}: stopped at once: {reason}", self.id);
                        self.machine.shutdown(now_ms());
                        self.carry_out();
                        self.fanout.clear();
                        self.clear_hls();
                        self.metrics.viewers.store(0, ORDER);
                        let mut threads = self.shared.registry.lock();
                        if threads
                            .get(&self.id)
                            .is_some_and(|h| h.generation == self.generation)
                        {
                            threads.remove(&self.id);
                        }
                        return;
                    }
                },
                recv(self.messages_rx) -> message => {
                    if let Ok(message) = message {
                        self.engine_message(message);
                    }
                },
                default(wait) => {
                    let source = ShellSource { schedule: &schedule, shared: self.shared };
                    self.machine.timeout(now_ms(), &source);
                },
            }
            self.carry_out();
            self.metrics
                .viewers
                .store(self.machine.manager().viewers().len() as i64, ORDER);
            if self.machine.is_idle() {
                // Idle: leave the registry unless a join slipped in (checked under its lock).
                let mut threads = self.shared.registry.lock();
                if inputs.is_empty() {
                    if threads
                        .get(&self.id)
                        .is_some_and(|h| h.generation == self.generation)
                    {
                        threads.remove(&self.id);
                    }
                    self.clear_hls();
                    return;
                }
            }
        }
    }

    /// The channel stops: its HLS window is emptied (HTTP-022).
    fn clear_hls(&self) {
        if let Some(hls) = self.shared.hls.get(&self.id) {
            hls.clear();
        }
    }

    fn viewer_gone(&mut self, viewer: ViewerId, dropped: bool) {
        if !self.machine.manager().viewers().contains(&viewer) {
            return;
        }
        if dropped {
            log::warn!(
                "channel {}: viewer {viewer} fell behind and was dropped",
                self.id
            );
            ChannelMetrics::add(&self.metrics.dropped_viewers, 1);
        }
        self.fanout.remove(&[viewer]);
        self.machine.viewer_left(now_ms(), viewer);
    }

    fn engine_message(&mut self, message: EngineMessage) {
        let now = now_ms();
        match message {
            EngineMessage::Evidence(session, evidence) => {
                if let Some(report) = engine_report(&evidence) {
                    self.machine.engine_report(now, session, &report);
                }
            }
            EngineMessage::Output(session) => {
                self.machine
                    .engine_report(now, session, &EngineReport::Started);
            }
            EngineMessage::Closed(session) => {
                let Some(engine) = self.engine.take_if(|e| e.session == session) else {
                    return;
                };
                let status = engine.reap();
                let reason = match status {
                    Some(s) => format!("engine exited on its own ({s})"),
                    None => "engine vanished".to_string(),
                };
                log::warn!("channel {}: session {session}: {reason}", self.id);
                self.metrics.engine_running.store(0, ORDER);
                ChannelMetrics::add(&self.metrics.crashes, 1);
                self.machine
                    .engine_exited(now, session, &EngineExit::Crashed { reason });
            }
        }
    }

    /// Carry out the machine's actions in order.
    fn carry_out(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            match action {
                ChannelAction::SpawnEngine {
                    session,
                    join_at,
                    blocks,
                    restart,
                } => self.spawn(session, join_at, blocks, restart),
                ChannelAction::FeedBlock { session, block } => {
                    if let Some(engine) = self.engine.as_mut().filter(|e| e.session == session) {
                        let control = Control::Feed {
                            block: wire_block(&block, &self.shared.asset_paths),
                        };
                        engine.send(&control);
                    }
                }
                ChannelAction::StopEngine { session, reason } => {
                    if let Some(engine) = self.engine.take_if(|e| e.session == session) {
                        log::info!("channel {}: stopping engine ({reason})", self.id);
                        self.stop_engine(engine);
                    }
                }
                ChannelAction::AnswerViewer { viewer, answer } => {
                    if let Some((queue, reply)) = self.pending.remove(&viewer) {
                        if answer == Answer::Stream {
                            self.fanout.add(viewer, queue);
                        }
                        if reply.send(answer).is_err() {
                            // The HTTP side gave up waiting: the viewer is not watching.
                            self.fanout.remove(&[viewer]);
                            self.machine.viewer_left(now_ms(), viewer);
                        }
                    }
                }
                ChannelAction::CloseViewers { viewers, reason } => {
                    log::warn!(
                        "channel {}: closing {} viewers: {reason}",
                        self.id,
                        viewers.len()
                    );
                    self.fanout.remove(&viewers);
                }
                ChannelAction::AsRun { session, record } => {
                    if let Some(sender) = self.shared.asrun_sender() {
                        // ASRUN-003: <host>-<pid>-<start ms>-<channel run>.<engine session>
                        let session = format!(
                            "{}-{}.{session}",
                            self.shared.session_prefix, self.generation
                        );
                        let _ = sender.send(SessionRecord { session, record });
                    }
                }
                ChannelAction::Notice(notice) => self.log_notice(&notice),
            }
        }
    }

    /// Log a notice at its severity; repeats of one kind within a minute are counted, not
    /// logged, and the next one logged says how many were held back (DAEMON-014).
    fn log_notice(&self, notice: &ChannelNotice) {
        let level = match notice.severity() {
            Severity::Debug => log::Level::Debug,
            Severity::Info => log::Level::Info,
            Severity::Warn => log::Level::Warn,
        };
        let now = std::time::Instant::now();
        let mut repeats = self
            .shared
            .notice_repeats
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let entry = repeats
            .entry((self.id.clone(), notice.kind()))
            .or_insert((None, 0));
        if entry
            .0
            .is_some_and(|last| now.duration_since(last) < REPEAT_WINDOW)
        {
            entry.1 += 1;
            return;
        }
        let held_back = std::mem::take(&mut entry.1);
        entry.0 = Some(now);
        if held_back > 0 {
            log::log!(
                level,
                "channel {}: {} ({held_back} similar held back in the last minute)",
                self.id,
                notice.describe()
            );
        } else {
            log::log!(level, "channel {}: {}", self.id, notice.describe());
        }
    }

    /// Stop an engine: its last evidence (the segment it cut) and its exit reach the machine
    /// within a bound (MACHINE-002).
    fn stop_engine(&mut self, engine: EngineProcess) {
        let session = engine.session;
        drop(engine);
        self.metrics.engine_running.store(0, ORDER);
        let until = std::time::Instant::now() + STOP_BOUND;
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            match self.messages_rx.recv_timeout(left) {
                Ok(EngineMessage::Evidence(s, evidence)) if s == session => {
                    if let Some(report) = engine_report(&evidence) {
                        self.machine.engine_report(now_ms(), s, &report);
                    }
                }
                Ok(EngineMessage::Closed(s)) if s == session => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        self.machine
            .engine_exited(now_ms(), session, &EngineExit::Ended);
    }

    fn spawn(&mut self, session: SessionId, join_at: UtcMs, blocks: Vec<Block>, restart: bool) {
        self.engine = None;
        self.fanout.forget_latest();
        ChannelMetrics::add(&self.metrics.engine_starts, 1);
        if restart {
            ChannelMetrics::add(&self.metrics.restarts, 1);
            log::warn!(
                "channel {}: restarting the engine (session {session})",
                self.id
            );
        }
        let channel_args =
            super::engine::channel_args(&self.shared.engine, self.shared.channel(&self.id));
        match EngineProcess::spawn(
            &self.shared.engine,
            &self.id,
            &channel_args,
            session,
            self.messages_tx.clone(),
            Arc::clone(&self.fanout),
        ) {
            Ok(mut engine) => {
                let control = Control::Start {
                    channel: self.id.clone(),
                    join_at,
                    blocks: blocks
                        .iter()
                        .map(|b| wire_block(b, &self.shared.asset_paths))
                        .collect(),
                };
                engine.send(&control);
                log::info!(
                    "channel {}: engine session {session} pid {} joined at {}",
                    self.id,
                    engine.pid(),
                    retrovue_core::time::fmt_utc(join_at)
                );
                self.engine = Some(engine);
                self.metrics.engine_running.store(1, ORDER);
            }
            Err(e) => {
                log::error!("channel {}: cannot spawn the engine: {e}", self.id);
                let exit = EngineExit::Crashed {
                    reason: format!("spawn failed: {e}"),
                };
                self.machine.engine_exited(now_ms(), session, &exit);
            }
        }
    }
}

/// The wire block, with each asset id replaced by its file path (assets without a file are
/// rendered by the engine as `synthetic:ID`).
pub fn wire_block(block: &Block, paths: &BTreeMap<String, String>) -> protocol::Block {
    let mut wire = protocol::Block::from_core(block);
    for segment in &mut wire.segments {
        segment.asset_uri = segment.asset_uri.take().map(|asset| {
            if is_synthetic(&asset) {
                asset
            } else if let Some(path) = paths.get(&asset) {
                path.clone()
            } else {
                format!("synthetic:{asset}")
            }
        });
    }
    wire
}
