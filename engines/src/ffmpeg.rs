//! The ffmpeg engine's renderer (ENGINE-009, ENGINE-011): one `ffmpeg` child per segment producing
//! MPEG-TS in one normalised format, spliced into a single stream by rewriting PCR/PTS/DTS onto
//! the engine clock's UTC time base (ENGINE-012) and renumbering continuity counters, and paced by
//! the children's PCR.
//!
//! Each child's output is placed at its planned start on the output timeline, then pushed later
//! if needed so that no stream's DTS (nor the PCR) steps back or repeats across a splice
//! (ENGINE-004): the planned offset alone is not enough, because the previous child's output may
//! reach past the moment the next one is placed (its tail, or a child started late).
//!
//! Why one child per segment rather than a single ffmpeg on a concat list: segments are fed over
//! time, start at arbitrary in-points and must switch at planned times even when a file is
//! short, long or broken; a child per segment can be prepared ahead (hiding ffmpeg's start-up)
//! and killed at the boundary, and the engine keeps the only clock.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use retrovue_core::model::UtcMs;

use super::profile::{self, OutputProfile};
use super::protocol::Segment;
use super::timeline::Timeline;
use super::ts::{self, Packet, PACKET_SIZE};
use super::{EngineClock, Renderer, Sink};

const PCR_WRAP: u64 = ts::PCR_WRAP;
/// Prepare the next segment's child this long before the boundary.
const PREPARE_AHEAD_MS: i64 = 2_000;
/// While starved, pad in chunks of this length.
const PAD_CHUNK_MS: i64 = 2_000;
/// A child that reaches end of file this close to the end of its slot finished normally: ffmpeg's
/// muxer stamps its PCR one mux delay (0.1 s) before the DTS, and everything after the last PCR
/// is sent at once, so a healthy child is drained about 0.1–0.2 s before its slot ends.
const EOF_GRACE_MS: i64 = 500;
/// How far (90 kHz) a splice may move a feed from its planned place to keep the video
/// frame-continuous: three frames at 30 fps.
const SPLICE_TOLERANCE_90KHZ: i64 = 9_000;
/// How many packets of a new child to look at, at most, to find the first timestamp of each
/// stream before placing it on the output timeline.
const LOOKAHEAD_PACKETS: usize = 400;

/// The first pause before retrying a failed child spawn (ENGINE-023); it doubles up to
/// `SPAWN_BACKOFF_MAX`.
const SPAWN_BACKOFF_MIN: Duration = Duration::from_millis(100);
const SPAWN_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What the ffmpeg engine was asked for on its command line.
#[derive(Debug, Clone)]
pub struct FfmpegConfig {
    /// The `ffmpeg` executable (`ffprobe` is found by the same name with `ffprobe` in it).
    pub ffmpeg: String,
    pub profile: OutputProfile,
    /// The TS service name (ENGINE-024); the start message's `channel` when `None`.
    pub channel_name: Option<String>,
}

impl FfmpegConfig {
    pub fn new(ffmpeg: impl Into<String>) -> FfmpegConfig {
        FfmpegConfig {
            ffmpeg: ffmpeg.into(),
            profile: OutputProfile::default(),
            channel_name: None,
        }
    }

    /// The `ffprobe` next to (named like) `ffmpeg`.
    pub fn ffprobe(&self) -> String {
        match self.ffmpeg.rfind("ffmpeg") {
            Some(at) => format!("{}ffprobe{}", &self.ffmpeg[..at], &self.ffmpeg[at + 6..]),
            None => "ffprobe".into(),
        }
    }
}

/// ENGINE-023: both `ffmpeg` and `ffprobe` can be run at all — found as executable files on
/// `PATH` (or at the path given) — without starting either; `Err` names the one that cannot.
pub fn check_tools(config: &FfmpegConfig) -> Result<(), String> {
    for tool in [config.ffmpeg.clone(), config.ffprobe()] {
        find_executable(&tool).map_err(|why| format!("cannot run `{tool}`: {why}"))?;
    }
    Ok(())
}

/// Where `name` would be run from: itself when it contains a `/`, else the first executable
/// file of that name in `PATH`.
fn find_executable(name: &str) -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |path: &Path| {
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let path = Path::new(name);
        return if runnable(path) {
            Ok(path.to_path_buf())
        } else {
            Err("no executable file there".into())
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| runnable(candidate))
        .ok_or_else(|| format!("not found on PATH ({})", path.to_string_lossy()))
}

/// The audio streams of a file as ffprobe reports them.
#[derive(Debug, Clone, Default, PartialEq)]
struct AudioStream {
    index: u32,
    language: Option<String>,
    default: bool,
}

/// ENGINE-022: the audio stream to play — the first in `preferences` order whose language tag
/// matches, else the default-flagged one, else the first; `None` when the file has no audio.
fn choose_audio(streams: &[AudioStream], preferences: &[String]) -> Option<u32> {
    for wanted in preferences {
        if let Some(s) = streams.iter().find(|s| {
            s.language
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(wanted))
        }) {
            return Some(s.index);
        }
    }
    streams
        .iter()
        .find(|s| s.default)
        .or(streams.first())
        .map(|s| s.index)
}

/// Parses `ffprobe -show_entries stream=index:stream_tags=language:stream_disposition=default
/// -of json` output.
fn parse_audio_streams(json: &str) -> Vec<AudioStream> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let Some(streams) = value.get("streams").and_then(|s| s.as_array()) else {
        return Vec::new();
    };
    streams
        .iter()
        .filter_map(|s| {
            Some(AudioStream {
                index: s.get("index")?.as_u64()? as u32,
                language: s
                    .pointer("/tags/language")
                    .and_then(|l| l.as_str())
                    .filter(|l| !l.is_empty() && *l != "und")
                    .map(str::to_string),
                default: s.pointer("/disposition/default").and_then(|d| d.as_u64()) == Some(1),
            })
        })
        .collect()
}

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
    File {
        path: String,
        position_ms: i64,
    },
    /// A lavfi video source name with options but without size and rate (`smptebars`,
    /// `color=c=black`), with silence.
    Lavfi {
        video: String,
    },
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
    /// Engine time at which this feed's slot ends.
    end_at: UtcMs,
    /// The child's first PCR: the origin of its pacing.
    base_pcr: Option<u64>,
    /// 90 kHz offset from the child's timestamps to the output's, once placed.
    shift: Option<i64>,
    /// Packets read from the child but not yet sent.
    held: VecDeque<Packet>,
    sent: u64,
    is_pad: bool,
}

impl Feed {
    /// The child has exited and every packet it wrote has been taken.
    fn is_finished(&self) -> bool {
        self.held.is_empty()
            && self.packets.is_empty()
            && self.packets.try_recv() == Err(TryRecvError::Disconnected)
    }

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

/// The last timestamp written on one output PID.
#[derive(Debug, Clone, Copy)]
struct LastTimestamp {
    /// DTS (or PTS when the PES has no DTS) of the last PES written, 90 kHz.
    at: u64,
    /// Distance from the PES before it: the stream's frame duration, 90 kHz.
    step: u64,
}

pub struct FfmpegRenderer {
    config: FfmpegConfig,
    /// The TS service name: the configured channel name or the start message's channel.
    service_name: String,
    /// When a failed spawn may be retried, and the pause after the next failure.
    retry_at: Option<Instant>,
    backoff: Duration,
    current: Option<Feed>,
    prepared: Option<Feed>,
    counters: BTreeMap<u16, u8>,
    last_timestamps: BTreeMap<u16, LastTimestamp>,
    last_pcr: Option<u64>,
    out: Vec<u8>,
    audio_cache: BTreeMap<String, Option<u32>>,
}

impl FfmpegRenderer {
    pub fn new(config: FfmpegConfig) -> FfmpegRenderer {
        FfmpegRenderer {
            service_name: config.channel_name.clone().unwrap_or_default(),
            config,
            retry_at: None,
            backoff: SPAWN_BACKOFF_MIN,
            current: None,
            prepared: None,
            counters: BTreeMap::new(),
            last_timestamps: BTreeMap::new(),
            last_pcr: None,
            out: Vec::new(),
            audio_cache: BTreeMap::new(),
        }
    }

    /// The index of the audio stream to play from `path` (ENGINE-022), `None` for no audio.
    fn audio_stream(&mut self, path: &str) -> Option<u32> {
        if let Some(known) = self.audio_cache.get(path) {
            return *known;
        }
        let streams = Command::new(self.config.ffprobe())
            .args([
                "-v",
                "error",
                "-select_streams",
                "a",
                "-show_entries",
                "stream=index:stream_tags=language:stream_disposition=default",
                "-of",
                "json",
            ])
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .map(|o| parse_audio_streams(&String::from_utf8_lossy(&o.stdout)))
            .unwrap_or_default();
        let chosen = choose_audio(&streams, &self.config.profile.audio_languages);
        self.audio_cache.insert(path.to_string(), chosen);
        chosen
    }

    fn command_for(&mut self, source: &Source, duration_ms: i64) -> Command {
        let profile = self.config.profile.clone();
        let mut command = Command::new(&self.config.ffmpeg);
        command.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
        // Every child's output starts both streams at exactly 0 and never runs past its slot,
        // so consecutive children splice without a gap or an overlap (ENGINE-004): the video
        // is resampled onto the profile's frame grid starting at 0 (the source's first frame
        // may sit a few ms in, e.g. after AAC priming), the audio is padded to start at 0 and
        // cut to whole audio frames — the encoder would otherwise pad the last frame past the
        // slot's end.
        let filter = match source {
            Source::File { path, position_ms } => {
                let audio = self.audio_stream(path);
                // ENGINE-025: `-ss` before `-i` seeks accurately (decodes from the keyframe
                // before the in-point and drops the frames before it).
                command.args(["-accurate_seek", "-ss", &seconds(*position_ms), "-i", path]);
                command.args(["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"]);
                let audio_chain = match audio {
                    Some(index) => {
                        profile::audio_filter(&profile, &format!("[0:{index}]"), duration_ms, true)
                    }
                    None => profile::audio_filter(&profile, "[1:a]", duration_ms, false),
                };
                format!(
                    "{}[v];{audio_chain}[a]",
                    profile::file_video_filter(&profile, "[0:v:0]")
                )
            }
            Source::Lavfi { video } => {
                command.args(["-f", "lavfi", "-i", &profile::lavfi_video(&profile, video)]);
                command.args(["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"]);
                format!(
                    "[0:v]null[v];{}[a]",
                    profile::audio_filter(&profile, "[1:a]", duration_ms, false)
                )
            }
        };
        command.args(["-filter_complex", &filter]);
        command.args(["-map", "[v]", "-map", "[a]", "-t", &seconds(duration_ms)]);
        command.args(profile::encoder_args(&profile));
        // ENGINE-024: the channel's name in the SDT.
        command.args(["-metadata", &format!("service_name={}", self.service_name)]);
        command.args(["-metadata", "service_provider=RetroVue"]);
        // One audio frame per PES (`-pes_payload_size 0`), so a PES's DTS step is the frame
        // duration the splice uses to place the next child after the last frame written.
        command.args([
            "-f",
            "mpegts",
            "-pes_payload_size",
            "0",
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
        let end_at = play_start + duration_ms;
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
        let mut child = match command.spawn() {
            Ok(child) => {
                self.retry_at = None;
                self.backoff = SPAWN_BACKOFF_MIN;
                child
            }
            Err(error) => {
                // ENGINE-023: back off, doubling, and say why.
                let pause = self.backoff;
                self.retry_at = Some(Instant::now() + pause);
                self.backoff = (pause * 2).min(SPAWN_BACKOFF_MAX);
                return Err(io::Error::new(
                    error.kind(),
                    format!(
                        "cannot start {}: {error}; retrying in {} ms",
                        self.config.ffmpeg,
                        pause.as_millis()
                    ),
                ));
            }
        };
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
            end_at,
            base_pcr: None,
            shift: None,
            held: VecDeque::new(),
            sent: 0,
            is_pad,
        })
    }

    /// A failed spawn is not retried before its back-off has passed (ENGINE-023).
    fn may_spawn(&self) -> bool {
        self.retry_at.is_none_or(|at| Instant::now() >= at)
    }

    fn source_for(segment: &Segment, position_ms: i64) -> Result<Source, String> {
        match segment.asset_uri.as_deref() {
            None => Ok(pad_source()),
            _ if segment.kind == "pad" => Ok(pad_source()),
            Some(uri) if uri.starts_with("synthetic:") => Ok(Source::Lavfi {
                video: if segment.kind == "content" {
                    "smptebars".into()
                } else {
                    "color=c=0x203080".into()
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
    fn ensure_feed(
        &mut self,
        now: UtcMs,
        join_at: UtcMs,
        timeline: &mut Timeline,
        sink: &mut Sink,
    ) {
        let on_air = timeline.on_air().cloned();
        let wanted_key = match &on_air {
            Some(on_air) => on_air.segment.event_id.clone(),
            None => "pad".to_string(),
        };
        let mut died_early = false;
        if let Some(feed) = &mut self.current {
            if feed.key == wanted_key {
                if !feed.is_finished() {
                    return;
                }
                if now < feed.end_at {
                    if feed.sent > 0 && now + EOF_GRACE_MS >= feed.end_at {
                        return; // a healthy end: its output already covers the slot
                    }
                    // The child died early: pad the rest of the slot.
                    died_early = true;
                    if feed.sent == 0 && !feed.is_pad {
                        let reason = feed.error_text();
                        timeline.mark_errored(reason);
                    }
                }
                // Otherwise a pad chunk ran out while still starved: start the next one.
            }
        }
        if let Some(mut previous) = self.current.take() {
            // Whatever the previous child delivered for its slot goes out before the next one.
            self.drain_feed(&mut previous, now, join_at);
        }
        if !died_early && self.prepared.as_ref().is_some_and(|p| p.key == wanted_key) {
            self.current = self.prepared.take();
            return;
        }
        if !self.may_spawn() {
            return;
        }
        let (source, until, is_pad) = match &on_air {
            Some(on_air) if died_early => (pad_source(), on_air.segment.end, true),
            Some(on_air) => {
                match Self::source_for(&on_air.segment, on_air.media_position_ms(now)) {
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
            Err(error) => sink.diagnostic(&error.to_string()),
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
            || !self.may_spawn()
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

    /// Places a new feed on the output timeline (ENGINE-004): its first video frame follows the
    /// last one written, one frame later, when that is within `SPLICE_TOLERANCE_90KHZ` of its
    /// planned start (`play_start`); otherwise (a real gap, or the first feed) at the planned
    /// start. Then later still if any stream's DTS or the PCR would step back or repeat.
    ///
    /// Why not the planned start alone: a child's first DTS sits a few milliseconds off its
    /// first PCR, and its last frame a frame short of its slot, depending on the source's own
    /// start offset (AAC priming, B-frame delay) — so planned placement leaves gaps of two
    /// frames and overlaps. Staying within the tolerance of the plan keeps the output on the
    /// engine clock, so the small corrections never accumulate.
    fn placement(&self, feed: &Feed, base_pcr: u64, join_at: UtcMs) -> i64 {
        // ENGINE-012: the output time base is the UTC playhead, so the planned place of a feed
        // is its start's UTC time, whichever session it belongs to.
        let start_90khz = ts::utc_pcr(feed.play_start.max(join_at)) / 300;
        let planned = wrap_diff(start_90khz, base_pcr / 300);
        let mut firsts: BTreeMap<u16, u64> = BTreeMap::new();
        for packet in &feed.held {
            if let Some(first) = pes_decode_time(packet) {
                firsts.entry(ts::packet_pid(packet)).or_insert(first);
            }
        }
        let mut shift = planned;
        if let (Some(last), Some(first)) = (
            self.last_timestamps.get(&ts::VIDEO_PID),
            firsts.get(&ts::VIDEO_PID),
        ) {
            if last.step > 0 {
                let continuous = wrap_diff(ts::wrap_add(last.at, last.step as i64), *first);
                let off_plan =
                    wrap_diff(ts::wrap_add(0, continuous), ts::wrap_add(0, planned)).abs();
                if off_plan <= SPLICE_TOLERANCE_90KHZ {
                    shift = continuous;
                }
            }
        }
        let mut shortfall = 0i64;
        for (pid, first) in firsts {
            if let Some(last) = self.last_timestamps.get(&pid) {
                let placed = ts::wrap_add(first, shift);
                let wanted = last.step.max(1) as i64;
                shortfall = shortfall.max(wanted - wrap_diff(placed, last.at));
            }
        }
        if let Some(last_pcr) = self.last_pcr {
            let placed = ts::wrap_add(base_pcr / 300, shift);
            shortfall = shortfall.max(1 - wrap_diff(placed, last_pcr / 300));
        }
        shift + shortfall
    }

    /// A new feed is ready to place once its first PCR and the first timestamp of every stream
    /// already on the output are known (or the child has nothing more to show).
    fn ready_to_place(&self, feed: &Feed, disconnected: bool) -> bool {
        if feed.base_pcr.is_none() {
            return false;
        }
        if disconnected || feed.held.len() >= LOOKAHEAD_PACKETS {
            return true;
        }
        self.last_timestamps.keys().all(|pid| {
            feed.held
                .iter()
                .any(|packet| ts::packet_pid(packet) == *pid && pes_decode_time(packet).is_some())
        })
    }

    /// Rewrites one packet onto the output timeline and appends it to the output.
    fn emit(&mut self, mut packet: Packet, shift: i64) {
        if let Some(pcr) = ts::read_pcr(&packet) {
            let pcr_out = (pcr as i64 + shift * 300).rem_euclid(PCR_WRAP as i64) as u64;
            ts::set_pcr(&mut packet, pcr_out);
            self.last_pcr = Some(pcr_out);
        }
        ts::shift_pes_timestamps(&mut packet, |t| ts::wrap_add(t, shift));
        let pid = ts::packet_pid(&packet);
        if let Some(at) = pes_decode_time(&packet) {
            let step = match self.last_timestamps.get(&pid) {
                Some(last) => wrap_diff(at, last.at).max(0) as u64,
                None => 0,
            };
            self.last_timestamps.insert(pid, LastTimestamp { at, step });
        }
        if ts::has_payload(&packet) {
            let counter = self.counters.entry(pid).or_insert(0x0F);
            *counter = (*counter + 1) & 0x0F;
            ts::set_continuity_counter(&mut packet, *counter);
        }
        self.out.extend_from_slice(&packet);
    }

    /// Moves the current feed's packets that are due by `now` to the output.
    fn drain_due(&mut self, now: UtcMs, join_at: UtcMs) {
        if let Some(mut feed) = self.current.take() {
            self.drain_feed(&mut feed, now, join_at);
            self.current = Some(feed);
        }
    }

    /// Moves `feed`'s packets that are due by `now` to the output, placing the feed first.
    fn drain_feed(&mut self, feed: &mut Feed, now: UtcMs, join_at: UtcMs) {
        let shift = match feed.shift {
            Some(shift) => shift,
            None => {
                // Read ahead (without sending) until the feed can be placed.
                let mut disconnected = false;
                while !self.ready_to_place(feed, disconnected) {
                    match feed.packets.try_recv() {
                        Ok(packet) => {
                            if feed.base_pcr.is_none() {
                                feed.base_pcr = ts::read_pcr(&packet);
                            }
                            feed.held.push_back(packet);
                        }
                        Err(TryRecvError::Empty) => return,
                        Err(TryRecvError::Disconnected) => disconnected = true,
                    }
                    if disconnected && feed.base_pcr.is_none() {
                        return; // nothing placeable: it is reported as produced no output
                    }
                }
                let base = feed.base_pcr.expect("ready means a PCR was seen");
                let shift = self.placement(feed, base, join_at);
                feed.shift = Some(shift);
                shift
            }
        };
        let base = feed.base_pcr.expect("placed feeds have a base PCR");
        loop {
            let packet = match feed.held.pop_front() {
                Some(packet) => packet,
                None => match feed.packets.try_recv() {
                    Ok(packet) => packet,
                    Err(_) => break,
                },
            };
            if let Some(pcr) = ts::read_pcr(&packet) {
                let due = feed.play_start + ((pcr + PCR_WRAP - base) % PCR_WRAP / 27_000) as i64;
                if due > now {
                    feed.held.push_front(packet);
                    break;
                }
            }
            self.emit(packet, shift);
            feed.sent += 1;
        }
    }
}

/// The DTS of a PES header starting in `packet` (its PTS when it has no DTS).
fn pes_decode_time(packet: &Packet) -> Option<u64> {
    let (pts, dts) = ts::read_pes_timestamps(packet);
    dts.or(pts)
}

/// `a - b` for 33-bit timestamps, taking the shorter way round the wrap.
fn wrap_diff(a: u64, b: u64) -> i64 {
    let wrap = ts::TIMESTAMP_WRAP as i64;
    (a as i64 - b as i64 + wrap / 2).rem_euclid(wrap) - wrap / 2
}

fn pad_source() -> Source {
    Source::Lavfi {
        video: "color=c=black".into(),
    }
}

fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

impl Renderer for FfmpegRenderer {
    fn begin(&mut self, _clock: &EngineClock, _sink: &mut Sink) {}

    fn session(&mut self, channel: &str) {
        if self.config.channel_name.is_none() {
            self.service_name = channel.to_string();
        }
    }

    fn pump(
        &mut self,
        clock: &EngineClock,
        timeline: &mut Timeline,
        sink: &mut Sink,
    ) -> io::Result<()> {
        let now = clock.now();
        sink.evidence_all(timeline.advance(now));
        self.ensure_feed(now, clock.join_at, timeline, sink);
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

#[cfg(test)]
mod tests {
    use super::*;

    // contract: ENGINE-022
    #[test]
    fn the_audio_track_follows_the_language_preference_then_the_default_then_the_first() {
        let json = r#"{"streams":[
            {"index":1,"disposition":{"default":0},"tags":{"language":"und"}},
            {"index":2,"disposition":{"default":1},"tags":{"language":"fre"}},
            {"index":3,"disposition":{"default":0},"tags":{"language":"ENG"}}]}"#;
        let streams = parse_audio_streams(json);
        assert_eq!(streams.len(), 3);
        assert_eq!(streams[0].language, None);
        let prefer =
            |codes: &[&str]| -> Vec<String> { codes.iter().map(|c| c.to_string()).collect() };
        assert_eq!(choose_audio(&streams, &prefer(&["deu", "eng"])), Some(3));
        assert_eq!(choose_audio(&streams, &prefer(&["fre", "eng"])), Some(2));
        assert_eq!(choose_audio(&streams, &prefer(&["deu"])), Some(2));
        assert_eq!(choose_audio(&streams[..1], &[]), Some(1));
        assert_eq!(choose_audio(&[], &prefer(&["eng"])), None);
        assert_eq!(parse_audio_streams("not json"), Vec::new());
        let config = FfmpegConfig::new("/opt/ffmpeg-6/bin/ffmpeg");
        assert_eq!(config.ffprobe(), "/opt/ffmpeg-6/bin/ffprobe");
    }
}
