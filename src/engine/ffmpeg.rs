//! The ffmpeg engine's renderer (ENGINE-009, ENGINE-011): one `ffmpeg` child per segment producing
//! MPEG-TS in one normalised format, spliced into a single stream by rewriting PCR/PTS/DTS onto
//! the engine clock and renumbering continuity counters, and paced by the children's PCR.
//!
//! Why one child per segment rather than a single ffmpeg on a concat list: segments are fed over
//! time, start at arbitrary in-points and must switch at planned times even when a file is
//! short, long or broken; a child per segment can be prepared ahead (hiding ffmpeg's start-up)
//! and killed at the boundary, and the engine keeps the only clock.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::Duration;

use crossbeam_channel::{Receiver, TryRecvError};
use retrovue_core::model::UtcMs;

use super::protocol::Segment;
use super::timeline::Timeline;
use super::ts::{self, Packet, PACKET_SIZE};
use super::{EngineClock, Renderer, Sink};

/// 27 MHz PCR of the engine clock's `join_at` (a positive origin keeps early PTS positive).
const OUTPUT_ORIGIN_27MHZ: u64 = 27_000_000;
const PCR_WRAP: u64 = ts::TIMESTAMP_WRAP * 300;
/// Prepare the next segment's child this long before the boundary.
const PREPARE_AHEAD_MS: i64 = 2_000;
/// While starved, pad in chunks of this length.
const PAD_CHUNK_MS: i64 = 2_000;

/// An ffmpeg child that is killed and reaped when dropped (ENGINE-009).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a child renders.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    File { path: String, position_ms: i64 },
    Lavfi { video: String },
}

/// One running child and the splice state of its output.
struct Feed {
    /// Which slot of the timeline this feed renders (event id, or a pad key).
    key: String,
    _child: ChildGuard,
    packets: Receiver<Packet>,
    stderr: Option<ChildStderr>,
    /// Engine time at which this feed's first PCR is due.
    play_start: UtcMs,
    base_pcr: Option<u64>,
    held: Vec<Packet>,
    sent: u64,
    is_pad: bool,
}

impl Feed {
    fn error_text(&mut self) -> String {
        let mut text = String::new();
        if let Some(stderr) = self.stderr.as_mut() {
            let _ = stderr.read_to_string(&mut text);
        }
        let text = text.trim();
        if text.is_empty() {
            "ffmpeg produced no output".into()
        } else {
            format!("ffmpeg: {}", text.lines().last().unwrap_or(text))
        }
    }
}

pub struct FfmpegRenderer {
    ffmpeg: String,
    current: Option<Feed>,
    prepared: Option<Feed>,
    counters: BTreeMap<u16, u8>,
    out: Vec<u8>,
    audio_cache: BTreeMap<String, bool>,
}

impl FfmpegRenderer {
    pub fn new(ffmpeg: String) -> FfmpegRenderer {
        FfmpegRenderer {
            ffmpeg,
            current: None,
            prepared: None,
            counters: BTreeMap::new(),
            out: Vec::new(),
            audio_cache: BTreeMap::new(),
        }
    }

    fn has_audio(&mut self, path: &str) -> bool {
        if let Some(known) = self.audio_cache.get(path) {
            return *known;
        }
        let probe = self.ffmpeg.replace("ffmpeg", "ffprobe");
        let found = Command::new(probe)
            .args([
                "-v",
                "error",
                "-select_streams",
                "a",
                "-show_entries",
                "stream=index",
                "-of",
                "csv=p=0",
            ])
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false);
        self.audio_cache.insert(path.to_string(), found);
        found
    }

    fn command_for(&mut self, source: &Source, duration_ms: i64) -> Command {
        let mut command = Command::new(&self.ffmpeg);
        command.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
        let (video_map, audio_map);
        match source {
            Source::File { path, position_ms } => {
                let audio = self.has_audio(path);
                command.args(["-ss", &seconds(*position_ms), "-i", path]);
                command.args(["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"]);
                let audio_in = if audio { "[0:a:0]" } else { "[1:a]" };
                let filter = format!(
                    "[0:v:0]scale=640:360:force_original_aspect_ratio=decrease,\
                     pad=640:360:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=30,format=yuv420p,\
                     tpad=stop=-1:stop_mode=clone[v];\
                     {audio_in}aresample=48000,aformat=channel_layouts=stereo,apad[a]"
                );
                command.args(["-filter_complex", &filter]);
                video_map = "[v]";
                audio_map = "[a]";
            }
            Source::Lavfi { video } => {
                command.args(["-f", "lavfi", "-i", video]);
                command.args(["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"]);
                video_map = "0:v";
                audio_map = "1:a";
            }
        }
        command.args([
            "-map",
            video_map,
            "-map",
            audio_map,
            "-t",
            &seconds(duration_ms),
        ]);
        command.args(["-c:v", "mpeg2video", "-q:v", "4", "-g", "15", "-bf", "0"]);
        command.args(["-c:a", "mp2", "-b:a", "128k", "-ar", "48000", "-ac", "2"]);
        command.args([
            "-f",
            "mpegts",
            "-muxdelay",
            "0.1",
            "-muxpreload",
            "0.1",
            "pipe:1",
        ]);
        command
    }

    /// Starts a child for `key` rendering `source` for `duration_ms` from engine time `play_start`.
    fn spawn(
        &mut self,
        key: String,
        source: Source,
        duration_ms: i64,
        play_start: UtcMs,
        is_pad: bool,
    ) -> io::Result<Feed> {
        let mut command = self.command_for(&source, duration_ms.max(40));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe; the closure touches no Rust state. The child gets
        // SIGKILL when the engine's main thread (which spawns every child) dies.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take();
        let (sender, packets) = crossbeam_channel::bounded(512);
        std::thread::Builder::new()
            .name("ffmpeg-reader".into())
            .spawn(move || {
                let mut reader = BufReader::with_capacity(64 * PACKET_SIZE, stdout);
                let mut packet = [0u8; PACKET_SIZE];
                while reader.read_exact(&mut packet).is_ok() {
                    if packet[0] == ts::SYNC_BYTE && sender.send(packet).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Feed {
            key,
            _child: ChildGuard(child),
            packets,
            stderr,
            play_start,
            base_pcr: None,
            held: Vec::new(),
            sent: 0,
            is_pad,
        })
    }

    fn source_for(segment: &Segment, position_ms: i64) -> Result<Source, String> {
        match segment.asset_uri.as_deref() {
            None => Ok(pad_source()),
            _ if segment.kind == "pad" => Ok(pad_source()),
            Some(uri) if uri.starts_with("synthetic:") => Ok(Source::Lavfi {
                video: if segment.kind == "content" {
                    "smptebars=s=640x360:r=30".into()
                } else {
                    "color=c=0x203080:s=640x360:r=30".into()
                },
            }),
            Some(path) if Path::new(path).is_file() => Ok(Source::File {
                path: path.to_string(),
                position_ms,
            }),
            Some(path) => Err(format!("file not found: {path}")),
        }
    }

    /// Makes `current` render what the timeline has on air at `now`.
    fn ensure_feed(&mut self, now: UtcMs, timeline: &mut Timeline, sink: &mut Sink) {
        let on_air = timeline.on_air().cloned();
        let wanted_key = match &on_air {
            Some(on_air) => on_air.segment.event_id.clone(),
            None => "pad".to_string(),
        };
        let finished = self.current.as_ref().is_some_and(|f| {
            f.held.is_empty()
                && f.packets.is_empty()
                && f.packets.try_recv() == Err(TryRecvError::Disconnected)
        });
        if let Some(feed) = &mut self.current {
            if feed.key == wanted_key && !finished {
                return;
            }
            if feed.key == wanted_key && finished && feed.sent == 0 && !feed.is_pad {
                let reason = feed.error_text();
                timeline.mark_errored(reason);
            }
        }
        self.current = None;
        if self.prepared.as_ref().is_some_and(|p| p.key == wanted_key) && !finished {
            self.current = self.prepared.take();
            return;
        }
        let (source, until, is_pad) = match &on_air {
            Some(on_air) => {
                let errored_now = finished; // the child died early: pad the rest of the slot
                match Self::source_for(&on_air.segment, on_air.media_position_ms(now)) {
                    Ok(_) | Err(_) if errored_now => (pad_source(), on_air.segment.end, true),
                    Ok(source) => (source, on_air.segment.end, on_air.segment.is_pad()),
                    Err(reason) => {
                        timeline.mark_errored(reason);
                        (pad_source(), on_air.segment.end, true)
                    }
                }
            }
            None => {
                let until = timeline
                    .next_segment()
                    .map_or(now + PAD_CHUNK_MS, |s| s.start.min(now + PAD_CHUNK_MS));
                (pad_source(), until.max(now + 40), true)
            }
        };
        match self.spawn(wanted_key, source, until - now, now, is_pad) {
            Ok(feed) => self.current = Some(feed),
            Err(error) => sink.diagnostic(&format!("cannot start {}: {error}", self.ffmpeg)),
        }
    }

    /// Starts the next segment's child ahead of its boundary.
    fn prepare_next(&mut self, now: UtcMs, timeline: &Timeline) {
        let (Some(on_air), Some(next)) = (timeline.on_air(), timeline.next_segment()) else {
            return;
        };
        if self
            .prepared
            .as_ref()
            .is_some_and(|p| p.key == next.event_id)
            || next.start != on_air.segment.end
            || next.start - now > PREPARE_AHEAD_MS
        {
            return;
        }
        let Ok(source) = Self::source_for(next, next.in_point_ms) else {
            return; // reported when it goes on air
        };
        let next = next.clone();
        self.prepared = self
            .spawn(
                next.event_id.clone(),
                source,
                next.duration_ms,
                next.start,
                next.is_pad(),
            )
            .ok();
    }

    /// Rewrites one packet onto the output timeline and appends it to the output.
    fn emit(&mut self, mut packet: Packet, base_pcr: u64, play_start: UtcMs, join_at: UtcMs) {
        let start_27 = OUTPUT_ORIGIN_27MHZ + ((play_start - join_at).max(0) as u64) * 27_000;
        if let Some(pcr) = ts::read_pcr(&packet) {
            let pcr_out = (pcr + PCR_WRAP - base_pcr + start_27) % PCR_WRAP;
            ts::set_pcr(&mut packet, pcr_out);
        }
        let shift = (start_27 / 300) as i64 - (base_pcr / 300) as i64;
        ts::shift_pes_timestamps(&mut packet, |t| ts::wrap_add(t, shift));
        let pid = ts::packet_pid(&packet);
        if ts::has_payload(&packet) {
            let counter = self.counters.entry(pid).or_insert(0x0F);
            *counter = (*counter + 1) & 0x0F;
            ts::set_continuity_counter(&mut packet, *counter);
        }
        self.out.extend_from_slice(&packet);
    }

    /// Moves the current feed's packets that are due by `now` to the output.
    fn drain_due(&mut self, now: UtcMs, join_at: UtcMs) {
        let Some(mut feed) = self.current.take() else {
            return;
        };
        loop {
            let packet = if !feed.held.is_empty() && feed.base_pcr.is_some() {
                feed.held.remove(0)
            } else {
                match feed.packets.try_recv() {
                    Ok(packet) => packet,
                    Err(_) => break,
                }
            };
            let pcr = ts::read_pcr(&packet);
            let base = match (feed.base_pcr, pcr) {
                (Some(base), _) => base,
                (None, Some(pcr)) => {
                    feed.base_pcr = Some(pcr);
                    pcr
                }
                (None, None) => {
                    feed.held.push(packet); // wait for the first PCR to know the offset
                    continue;
                }
            };
            if let Some(pcr) = pcr {
                let due = feed.play_start + ((pcr + PCR_WRAP - base) % PCR_WRAP / 27_000) as i64;
                if due > now {
                    feed.held.insert(0, packet);
                    break;
                }
            }
            self.emit(packet, base, feed.play_start, join_at);
            feed.sent += 1;
        }
        self.current = Some(feed);
    }
}

fn pad_source() -> Source {
    Source::Lavfi {
        video: "color=c=black:s=640x360:r=30".into(),
    }
}

fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

impl Renderer for FfmpegRenderer {
    fn begin(&mut self, _clock: &EngineClock, _sink: &mut Sink) {}

    fn pump(
        &mut self,
        clock: &EngineClock,
        timeline: &mut Timeline,
        sink: &mut Sink,
    ) -> io::Result<()> {
        let now = clock.now();
        sink.evidence_all(timeline.advance(now));
        self.ensure_feed(now, timeline, sink);
        self.prepare_next(now, timeline);
        self.drain_due(now, clock.join_at);
        if self.out.is_empty() {
            return Ok(());
        }
        let result = sink.write_ts(&self.out);
        self.out.clear();
        result
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(5)
    }

    fn end(&mut self) {
        self.current = None;
        self.prepared = None;
    }
}
