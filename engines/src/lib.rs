//! RetroVue's playout engines (contracts/engine-protocol.md, ENGINE-001..025): the engine
//! protocol's one wire model (`protocol`, used by the daemon and by every engine binary alike),
//! MPEG-TS, H.264 and AAC writers, the playhead timeline, the synthetic and ffmpeg renderers, and
//! the control loop shared by the engine binaries `retrovue-engine-synthetic` and
//! `retrovue-engine-ffmpeg`. A crate of its own, so the engines' code is built and tested apart
//! from the daemon, which uses only the wire model and the TS helpers.

pub mod aac;
pub mod ffmpeg;
pub mod h264;
pub mod profile;
pub mod protocol;
pub mod synthetic;
pub mod timeline;
pub mod ts;

use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use retrovue_core::model::UtcMs;

use self::protocol::{parse_control, Control, Evidence};
use self::timeline::Timeline;

/// The system clock in UTC milliseconds (reported, never used for pacing).
pub fn wall_ms() -> UtcMs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as UtcMs)
}

/// The engine clock (ENGINE-003): `join_at` plus monotonic time since `start` was read.
#[derive(Debug, Clone, Copy)]
pub struct EngineClock {
    pub join_at: UtcMs,
    pub started: Instant,
}

impl EngineClock {
    pub fn new(join_at: UtcMs) -> EngineClock {
        EngineClock {
            join_at,
            started: Instant::now(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn now(&self) -> UtcMs {
        self.join_at + self.elapsed().as_millis() as UtcMs
    }
}

/// Where an engine's output goes: TS on stdout, evidence lines on stderr (ENGINE-004, -005).
pub struct Sink {
    stdout: io::Stdout,
    stderr: io::Stderr,
}

impl Default for Sink {
    fn default() -> Sink {
        Sink {
            stdout: io::stdout(),
            stderr: io::stderr(),
        }
    }
}

impl Sink {
    /// Writes whole packets and flushes, so the reader sees them now.
    pub fn write_ts(&mut self, bytes: &[u8]) -> io::Result<()> {
        debug_assert_eq!(bytes.len() % ts::PACKET_SIZE, 0);
        let mut out = self.stdout.lock();
        out.write_all(bytes)?;
        out.flush()
    }

    pub fn evidence(&mut self, event: &Evidence) {
        // A supervisor that stopped reading evidence cannot be told anything anyway.
        let _ = writeln!(self.stderr.lock(), "{}", event.to_line());
    }

    pub fn evidence_all(&mut self, events: impl IntoIterator<Item = Evidence>) {
        for event in events {
            self.evidence(&event);
        }
    }

    /// A free-text diagnostic line (never starts with `{`, ENGINE-005).
    pub fn diagnostic(&mut self, message: &str) {
        let _ = writeln!(
            self.stderr.lock(),
            "engine: {}",
            message.trim_start_matches('{')
        );
    }
}

/// What an engine binary plugs into the shared control loop.
pub trait Renderer {
    /// The `start` message named this channel (called before `begin`).
    fn session(&mut self, _channel: &str) {}
    /// `start` was accepted: output begins at `clock.join_at`.
    fn begin(&mut self, clock: &EngineClock, sink: &mut Sink);
    /// Writes the output due up to the clock's now, advancing the timeline as it goes.
    fn pump(
        &mut self,
        clock: &EngineClock,
        timeline: &mut Timeline,
        sink: &mut Sink,
    ) -> io::Result<()>;
    /// How long the loop may wait for control input before calling `pump` again.
    fn poll_interval(&self) -> Duration;
    /// The session is over: release every resource (children are killed and reaped).
    fn end(&mut self);
}

enum Input {
    Line(u64, String),
    Eof,
}

fn spawn_stdin_reader() -> Receiver<Input> {
    let (sender, receiver) = crossbeam_channel::unbounded();
    std::thread::Builder::new()
        .name("engine-stdin".into())
        .spawn(move || {
            let stdin = io::stdin();
            let mut number = 0;
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                number += 1;
                if sender.send(Input::Line(number, line)).is_err() {
                    return;
                }
            }
            let _ = sender.send(Input::Eof);
        })
        .expect("spawn stdin reader");
    receiver
}

/// SIGTERM and SIGINT set a flag the loop checks at every wake-up (ENGINE-008).
fn termination_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // Registration only fails for forbidden signals, which these are not.
        let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
    }
    flag
}

/// Runs one engine session over stdin/stdout/stderr and returns the process exit code.
pub fn run(renderer: &mut dyn Renderer) -> i32 {
    let mut sink = Sink::default();
    let terminate = termination_flag();
    let input = spawn_stdin_reader();

    // Wait for `start`.
    let (channel, join_at, blocks, start_line) = loop {
        if terminate.load(Ordering::SeqCst) {
            sink.evidence(&Evidence::SessionEnded {
                reason: "signal".into(),
            });
            return 0;
        }
        match input.recv_timeout(Duration::from_millis(50)) {
            Ok(Input::Line(number, line)) => match parse_control(&line) {
                Ok(Control::Start {
                    channel,
                    join_at,
                    blocks,
                }) => break (channel, join_at, blocks, number),
                Ok(Control::Feed { .. }) => protocol_error(&mut sink, number, "feed before start"),
                Ok(Control::Stop) => {
                    sink.evidence(&Evidence::SessionEnded {
                        reason: "stop".into(),
                    });
                    return 0;
                }
                Err(reason) => protocol_error(&mut sink, number, &reason),
            },
            Ok(Input::Eof) | Err(RecvTimeoutError::Disconnected) => {
                sink.evidence(&Evidence::SessionEnded {
                    reason: "eof".into(),
                });
                return 0;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    };

    renderer.session(&channel);
    let clock = EngineClock::new(join_at);
    let mut timeline = Timeline::new(join_at);
    sink.evidence(&Evidence::SessionStarted {
        channel,
        join_at,
        wall_ms: wall_ms(),
    });
    for block in blocks {
        match timeline.feed(block, join_at) {
            Ok(events) => sink.evidence_all(events),
            Err(reason) => protocol_error(&mut sink, start_line, &reason),
        }
    }
    renderer.begin(&clock, &mut sink);

    let reason = loop {
        if let Err(error) = renderer.pump(&clock, &mut timeline, &mut sink) {
            break if error.kind() == io::ErrorKind::BrokenPipe {
                "output_closed".to_string()
            } else {
                format!("error: {error}")
            };
        }
        if terminate.load(Ordering::SeqCst) {
            break "signal".into();
        }
        match input.recv_timeout(renderer.poll_interval()) {
            Ok(Input::Line(number, line)) => match parse_control(&line) {
                Ok(Control::Feed { block }) => match timeline.feed(block, clock.now()) {
                    Ok(events) => sink.evidence_all(events),
                    Err(reason) => protocol_error(&mut sink, number, &reason),
                },
                Ok(Control::Stop) => break "stop".into(),
                Ok(Control::Start { .. }) => protocol_error(&mut sink, number, "second start"),
                Err(reason) => protocol_error(&mut sink, number, &reason),
            },
            Ok(Input::Eof) | Err(RecvTimeoutError::Disconnected) => break "eof".into(),
            Err(RecvTimeoutError::Timeout) => {}
        }
    };
    renderer.end();
    let events = timeline.finish(clock.now(), &reason);
    sink.evidence_all(events);
    sink.evidence(&Evidence::SessionEnded { reason });
    0
}

fn protocol_error(sink: &mut Sink, line: u64, reason: &str) {
    sink.evidence(&Evidence::ProtocolError {
        line,
        reason: reason.to_string(),
    });
}
