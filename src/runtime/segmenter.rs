//! HLS from the shared engine (HTTP-020..024, DAEMON-020): the segmenter that cuts a channel's
//! spliced transport stream into keyframe-aligned segments held in memory, the window the
//! playlist is rendered from, and the HLS lease — one viewer of the channel machine standing for
//! every HLS client of the channel while they keep fetching.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use retrovue_core::manager::Answer;

use super::channel::{Refusal, Registry, ViewerStream};
use super::Shared;
use crate::engine::ts;

const PACKET_SIZE: usize = ts::PACKET_SIZE;

/// `#EXT-X-TARGETDURATION` (seconds): a cut waits for at least `MIN_SEGMENT` of video, and
/// engines put a keyframe at least every 2 s (ENGINE-010), so no segment exceeds it.
pub const TARGET_DURATION_S: u64 = 3;
/// The shortest segment cut at a keyframe (a session splice may cut a shorter one).
const MIN_SEGMENT_90KHZ: u64 = 90_000;
/// Complete segments held in memory (HTTP-022).
pub const WINDOW_HELD: usize = 8;
/// Segments listed in the playlist: the newest of those held.
pub const WINDOW_LISTED: usize = 5;
/// An HLS viewer watches while it fetched within this long (HTTP-024).
pub const LEASE: Duration = Duration::from_secs(3 * TARGET_DURATION_S);

const TIMESTAMP_MASK: u64 = ts::TIMESTAMP_WRAP - 1;

/// One complete segment.
#[derive(Debug, Clone)]
pub struct Segment {
    pub seq: u64,
    pub duration_s: f64,
    /// Preceded by `#EXT-X-DISCONTINUITY` (HTTP-023).
    pub discontinuity: bool,
    pub data: Arc<[u8]>,
}

/// The segment being cut.
#[derive(Debug)]
struct Building {
    data: Vec<u8>,
    first_pts: Option<u64>,
    last_pts: Option<u64>,
    /// The last step between video PTS, for the length of the last frame.
    frame_step: u64,
    discontinuity: bool,
}

impl Building {
    fn elapsed(&self, pts: u64) -> u64 {
        self.first_pts
            .map_or(0, |first| pts.wrapping_sub(first) & TIMESTAMP_MASK)
    }
}

/// Cuts a transport stream into segments (HTTP-021) and keeps the window (HTTP-022, HTTP-023).
#[derive(Debug, Default)]
pub struct Window {
    segments: VecDeque<Segment>,
    next_seq: u64,
    /// Discontinuities of segments no longer held.
    dropped_discontinuities: u64,
    building: Option<Building>,
    /// The next segment starts a new timeline.
    pending_discontinuity: bool,
    /// A segment was ever started: a later session is a splice.
    started_any: bool,
    pat: Option<[u8; PACKET_SIZE]>,
    pmt_pid: Option<u16>,
    pmt: Option<[u8; PACKET_SIZE]>,
    video_pid: Option<u16>,
    /// Continuity counters of the PAT and PMT as the segments carry them (renumbered).
    pat_counter: u8,
    pmt_counter: u8,
}

/// The first sequence number a session started at `now_ms` may use (HTTP-022): half-seconds
/// since the epoch, a floor that grows faster than any session numbers its segments.
pub fn sequence_floor(now_ms: i64) -> u64 {
    (now_ms.max(0) / 500) as u64
}

impl Window {
    /// The next segment is numbered at least `floor` (HTTP-022): numbers never go back across
    /// daemons and nodes.
    pub fn number_from_at_least(&mut self, floor: u64) {
        self.next_seq = self.next_seq.max(floor);
    }

    /// Whole packets of the channel's output; `new_session` when they begin an engine session.
    /// Returns how many segments were completed.
    pub fn push(&mut self, packets: &[u8], new_session: bool) -> usize {
        let mut completed = 0;
        if new_session {
            completed += self.close(None);
            self.building = None;
            self.pending_discontinuity |= self.started_any;
        }
        for packet in packets.chunks_exact(PACKET_SIZE) {
            if packet[0] != ts::SYNC_BYTE {
                continue;
            }
            let pid = ts::packet_pid(packet);
            if pid == ts::PAT_PID {
                if let Some(pmt_pid) = pat_pmt_pid(packet) {
                    self.pat = Some(packet.try_into().expect("one packet"));
                    self.pmt_pid = Some(pmt_pid);
                }
            } else if Some(pid) == self.pmt_pid {
                if let Some(video) = pmt_video_pid(packet) {
                    self.pmt = Some(packet.try_into().expect("one packet"));
                    self.video_pid = Some(video);
                }
            }
            let video_start = Some(pid) == self.video_pid && ts::payload_unit_start(packet);
            let pts = if video_start {
                ts::read_pes_timestamps(packet).0
            } else {
                None
            };
            if video_start && is_keyframe(packet) && self.pat.is_some() && self.pmt.is_some() {
                let long_enough = match (&self.building, pts) {
                    (None, _) => true,
                    (Some(b), Some(pts)) => b.elapsed(pts) >= MIN_SEGMENT_90KHZ,
                    (Some(_), None) => false,
                };
                if long_enough {
                    completed += self.close(pts);
                    self.open();
                }
            }
            if self.building.is_none() {
                continue;
            }
            let mut packet: [u8; PACKET_SIZE] = packet.try_into().expect("one packet");
            if pid == ts::PAT_PID {
                self.pat_counter = (self.pat_counter + 1) & 0x0F;
                ts::set_continuity_counter(&mut packet, self.pat_counter);
            } else if Some(pid) == self.pmt_pid {
                self.pmt_counter = (self.pmt_counter + 1) & 0x0F;
                ts::set_continuity_counter(&mut packet, self.pmt_counter);
            }
            let building = self.building.as_mut().expect("building");
            building.data.extend_from_slice(&packet);
            if let Some(pts) = pts {
                if let Some(last) = building.last_pts {
                    let step = pts.wrapping_sub(last) & TIMESTAMP_MASK;
                    if step > 0 && step < 90_000 {
                        building.frame_step = step;
                    }
                }
                building.first_pts.get_or_insert(pts);
                building.last_pts = Some(pts);
            }
        }
        completed
    }

    /// Start a segment with the latest PAT and PMT.
    fn open(&mut self) {
        let mut data = Vec::with_capacity(512 * 1024);
        for (table, counter) in [
            (self.pat, &mut self.pat_counter),
            (self.pmt, &mut self.pmt_counter),
        ] {
            if let Some(mut packet) = table {
                *counter = (*counter + 1) & 0x0F;
                ts::set_continuity_counter(&mut packet, *counter);
                data.extend_from_slice(&packet);
            }
        }
        self.building = Some(Building {
            data,
            first_pts: None,
            last_pts: None,
            frame_step: 3_000,
            discontinuity: std::mem::take(&mut self.pending_discontinuity),
        });
        self.started_any = true;
    }

    /// Complete the segment being cut, ending at `end_pts` (a keyframe) or after its last frame.
    fn close(&mut self, end_pts: Option<u64>) -> usize {
        let Some(building) = self.building.take() else {
            return 0;
        };
        let Some(last) = building.last_pts else {
            return 0;
        };
        let ticks = match end_pts {
            Some(end) => building.elapsed(end),
            None => building.elapsed(last) + building.frame_step,
        };
        let segment = Segment {
            seq: self.next_seq,
            duration_s: ticks as f64 / 90_000.0,
            discontinuity: building.discontinuity,
            data: Arc::from(building.data),
        };
        self.next_seq += 1;
        self.segments.push_back(segment);
        while self.segments.len() > WINDOW_HELD {
            if let Some(old) = self.segments.pop_front() {
                self.dropped_discontinuities += u64::from(old.discontinuity);
            }
        }
        1
    }

    /// The channel thread ended: forget the segments (the numbering goes on, and the next
    /// session starts a new timeline).
    pub fn clear(&mut self) {
        for old in self.segments.drain(..) {
            self.dropped_discontinuities += u64::from(old.discontinuity);
        }
        self.building = None;
        self.pending_discontinuity |= self.started_any;
    }

    pub fn segment(&self, seq: u64) -> Option<Segment> {
        self.segments.iter().find(|s| s.seq == seq).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Bytes held by the complete segments.
    pub fn held_bytes(&self) -> usize {
        self.segments.iter().map(|s| s.data.len()).sum()
    }

    /// The media playlist (HTTP-020); `url(seq)` is a segment's URL.
    pub fn playlist(&self, url: impl Fn(u64) -> String) -> String {
        let first = self.segments.len().saturating_sub(WINDOW_LISTED);
        let listed = self.segments.iter().skip(first);
        let discontinuity_seq = self.dropped_discontinuities
            + self
                .segments
                .iter()
                .take(first)
                .filter(|s| s.discontinuity)
                .count() as u64;
        let media_seq = self.segments.get(first).map_or(self.next_seq, |s| s.seq);
        let mut out = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{TARGET_DURATION_S}\n\
             #EXT-X-MEDIA-SEQUENCE:{media_seq}\n#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_seq}\n"
        );
        for segment in listed {
            if segment.discontinuity {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            let _ = writeln!(out, "#EXTINF:{:.3},", segment.duration_s);
            let _ = writeln!(out, "{}", url(segment.seq));
        }
        out
    }
}

/// The PMT PID of a PAT packet's first program.
fn pat_pmt_pid(packet: &[u8]) -> Option<u16> {
    let section = psi_section(packet, 0x00)?;
    // table header (8 bytes), then (program_number, PID) pairs, then the CRC.
    let len = section_length(section)?;
    let mut at = 8;
    while at + 4 <= 3 + len - 4 {
        let program = u16::from_be_bytes([section[at], section[at + 1]]);
        let pid = u16::from_be_bytes([section[at + 2], section[at + 3]]) & 0x1FFF;
        if program != 0 {
            return Some(pid);
        }
        at += 4;
    }
    None
}

/// The H.264 (stream type 0x1B) elementary PID of a PMT packet.
fn pmt_video_pid(packet: &[u8]) -> Option<u16> {
    let section = psi_section(packet, 0x02)?;
    let len = section_length(section)?;
    let end = 3 + len - 4;
    let program_info = (u16::from_be_bytes([section[10], section[11]]) & 0x0FFF) as usize;
    let mut at = 12 + program_info;
    while at + 5 <= end {
        let stream_type = section[at];
        let pid = u16::from_be_bytes([section[at + 1], section[at + 2]]) & 0x1FFF;
        let info = (u16::from_be_bytes([section[at + 3], section[at + 4]]) & 0x0FFF) as usize;
        if stream_type == 0x1B {
            return Some(pid);
        }
        at += 5 + info;
    }
    None
}

/// The PSI section starting in this packet, when it is of `table_id` and fits in the packet.
fn psi_section(packet: &[u8], table_id: u8) -> Option<&[u8]> {
    if !ts::payload_unit_start(packet) || !ts::has_payload(packet) {
        return None;
    }
    let payload = &packet[ts::payload_offset(packet).min(PACKET_SIZE)..];
    let pointer = *payload.first()? as usize;
    let section = payload.get(1 + pointer..)?;
    (section.first() == Some(&table_id)).then_some(section)
}

fn section_length(section: &[u8]) -> Option<usize> {
    let len = (u16::from_be_bytes([*section.get(1)?, *section.get(2)?]) & 0x0FFF) as usize;
    (len >= 9 && 3 + len <= section.len()).then_some(len)
}

/// Does this video PES start (its first packet) begin an H.264 keyframe? The adaptation field's
/// `random_access_indicator`, or an IDR (5) or SPS (7) NAL unit before any other slice in the
/// packet's payload.
pub fn is_keyframe(packet: &[u8]) -> bool {
    if packet[3] & 0x20 != 0 && packet[4] > 0 && packet[5] & 0x40 != 0 {
        return true;
    }
    let payload = &packet[ts::payload_offset(packet).min(PACKET_SIZE)..];
    if payload.len() < 9 || payload[..3] != [0, 0, 1] {
        return false;
    }
    let es = &payload[(9 + payload[8] as usize).min(payload.len())..];
    let mut i = 0;
    while i + 3 < es.len() {
        if es[i] == 0 && es[i + 1] == 0 && es[i + 2] == 1 {
            match es[i + 3] & 0x1F {
                5 | 7 => return true,
                1 => return false,
                _ => {}
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

/// One channel's HLS state: the window, and the lease.
#[derive(Default)]
pub struct HlsChannel {
    window: Mutex<Window>,
    /// Signalled when a segment completes.
    completed: Condvar,
    lease: Mutex<Option<Arc<Lease>>>,
    /// Held while a lease joins, so concurrent first fetches join once.
    joining: Mutex<()>,
}

/// The HLS viewer of one channel: when an HLS client last fetched.
pub struct Lease {
    last_fetch: Mutex<Instant>,
}

impl Lease {
    fn touch(&self) {
        *self.last_fetch.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn expired(&self) -> bool {
        self.last_fetch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
            >= LEASE
    }
}

impl HlsChannel {
    pub fn window(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lease(&self) -> MutexGuard<'_, Option<Arc<Lease>>> {
        self.lease.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fan-out's output (DAEMON-020).
    pub fn push(&self, packets: &[u8], new_session: bool) {
        let mut window = self.window();
        if new_session {
            // The segment being cut belongs to the previous session: close it first, then
            // number the new session from the clock's floor.
            let closed = window.push(&[], true);
            window.number_from_at_least(sequence_floor(crate::clock::now_ms()));
            if closed > 0 {
                self.completed.notify_all();
            }
        }
        let completed = window.push(packets, false);
        drop(window);
        if completed > 0 {
            self.completed.notify_all();
        }
    }

    /// The channel thread ended.
    pub fn clear(&self) {
        self.window().clear();
    }

    /// Wait at most `bound` for the window to hold a segment.
    pub fn wait_for_segment(&self, bound: Duration) {
        let guard = self.window();
        let _ = self
            .completed
            .wait_timeout_while(guard, bound, |w| w.is_empty());
    }

    /// Has the channel an HLS viewer now?
    pub fn has_lease(&self) -> bool {
        self.lease().is_some()
    }
}

/// An HLS GET of `channel` (HTTP-024): refresh its lease, or join the channel machine as its
/// HLS viewer (`Registry::tune_in`, the TS viewers' way) when it has none.
pub fn watch(shared: &Arc<Shared>, channel: &str) -> Result<(), Refusal> {
    let Some(hls) = shared.hls.get(channel) else {
        return Err(Answer::NotFound.into());
    };
    if let Some(lease) = hls.lease().as_ref() {
        lease.touch();
        return Ok(());
    }
    let _joining = hls.joining.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(lease) = hls.lease().as_ref() {
        lease.touch();
        return Ok(());
    }
    let stream = Registry::tune_in(shared, channel)?;
    let lease = Arc::new(Lease {
        last_fetch: Mutex::new(Instant::now()),
    });
    *hls.lease() = Some(Arc::clone(&lease));
    let hls = Arc::clone(hls);
    let id = channel.to_string();
    let spawned = std::thread::Builder::new()
        .name(format!("hls-{channel}"))
        .stack_size(128 * 1024)
        .spawn(move || keep(stream, &lease, &hls, &id));
    if let Err(e) = spawned {
        log::error!("channel {channel}: cannot start the HLS lease thread: {e}");
    }
    Ok(())
}

/// The lease thread: drains the HLS viewer's queue until the lease expires or the machine
/// closes the viewer; dropping the stream tells the machine the viewer left.
fn keep(stream: ViewerStream, lease: &Arc<Lease>, hls: &HlsChannel, channel: &str) {
    log::info!("channel {channel}: HLS viewer joined");
    let why = loop {
        match stream.chunks.recv_timeout(Duration::from_millis(250)) {
            Ok(_) | Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                let mut current = hls.lease();
                if current.as_ref().is_some_and(|l| Arc::ptr_eq(l, lease)) {
                    *current = None;
                }
                break "closed by the channel";
            }
        }
        if lease.expired() {
            let mut current = hls.lease();
            // Checked again under the lock: a fetch may have just refreshed it.
            if lease.expired() {
                if current.as_ref().is_some_and(|l| Arc::ptr_eq(l, lease)) {
                    *current = None;
                }
                break "no HLS fetch for 3 target durations";
            }
        }
    };
    log::info!("channel {channel}: HLS viewer left ({why})");
    drop(stream);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream as the synthetic engine writes it: PAT, PMT, then per frame a video PES
    /// (keyframe every `gop` frames) and an audio PES; 30 frames per second.
    fn stream(frames: u64, gop: u64, pts0: u64) -> Vec<u8> {
        let mut packetizer = ts::Packetizer::new();
        let mut out = Vec::new();
        let pmt = ts::pmt_section(
            ts::VIDEO_PID,
            &[
                ts::StreamEntry {
                    stream_type: 0x1B,
                    pid: ts::VIDEO_PID,
                },
                ts::StreamEntry {
                    stream_type: 0x0F,
                    pid: ts::AUDIO_PID,
                },
            ],
        );
        for frame in 0..frames {
            if frame % gop == 0 {
                out.extend_from_slice(&packetizer.section_packet(0, &ts::pat_section(1)).bytes);
                out.extend_from_slice(&packetizer.section_packet(ts::PMT_PID, &pmt).bytes);
            }
            let nal: &[u8] = if frame % gop == 0 {
                &[
                    0, 0, 0, 1, 9, 0x10, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x65, 0x88,
                ]
            } else {
                &[0, 0, 0, 1, 9, 0x30, 0, 0, 1, 0x41, 0x9A]
            };
            let pts = pts0 + frame * 3_000;
            for p in packetizer.packetize(ts::VIDEO_PID, &ts::pes(0xE0, pts, None, nal), true) {
                out.extend_from_slice(&p.bytes);
            }
            for p in packetizer.packetize(ts::AUDIO_PID, &ts::pes(0xC0, pts, None, &[0; 50]), false)
            {
                out.extend_from_slice(&p.bytes);
            }
        }
        out
    }

    #[test]
    fn segments_start_at_keyframes_with_pat_and_pmt_and_the_window_is_bounded() {
        // contract: HTTP-021
        // contract: HTTP-022
        let mut window = Window::default();
        // 30 s at 30 fps, a keyframe every 2 s.
        window.push(&stream(900, 60, 1_000_000), true);
        assert_eq!(window.next_seq, 14, "15 keyframes: 14 complete segments");
        assert_eq!(window.segments.len(), WINDOW_HELD);
        for segment in &window.segments {
            assert!((segment.duration_s - 2.0).abs() < 1e-9, "{segment:?}");
            let data = &segment.data;
            assert_eq!(ts::packet_pid(&data[..188]), ts::PAT_PID);
            assert_eq!(ts::packet_pid(&data[188..376]), ts::PMT_PID);
            let first_video = data
                .chunks(188)
                .find(|p| ts::packet_pid(p) == ts::VIDEO_PID)
                .unwrap();
            assert!(is_keyframe(first_video));
            assert!(!segment.discontinuity);
        }
        // PSI counters continue from one segment to the next.
        let all: Vec<u8> = window
            .segments
            .iter()
            .flat_map(|s| s.data.to_vec())
            .collect();
        let pat: Vec<u8> = all
            .chunks(188)
            .filter(|p| ts::packet_pid(p) == ts::PAT_PID)
            .map(ts::continuity_counter)
            .collect();
        assert!(pat.windows(2).all(|w| w[1] == (w[0] + 1) & 0x0F), "{pat:?}");
        let list = window.playlist(|seq| format!("/s/{seq}.ts"));
        assert!(list.contains("#EXT-X-MEDIA-SEQUENCE:9\n"), "{list}");
        assert_eq!(list.matches("#EXTINF:2.000,").count(), WINDOW_LISTED);
        assert!(list.ends_with("/s/13.ts\n"), "{list}");
    }

    #[test]
    fn a_new_session_closes_the_segment_and_marks_a_discontinuity() {
        // contract: HTTP-023
        let mut window = Window::default();
        window.push(&stream(100, 60, 0), true);
        assert_eq!(window.next_seq, 1);
        // The splice: the building segment (40 frames) closes at its last frame.
        window.push(&stream(130, 60, 9_000_000), true);
        let durations: Vec<f64> = window.segments.iter().map(|s| s.duration_s).collect();
        assert_eq!(durations[..3], [2.0, 40.0 / 30.0, 2.0]);
        let marks: Vec<bool> = window.segments.iter().map(|s| s.discontinuity).collect();
        assert_eq!(marks[..3], [false, false, true]);
        let list = window.playlist(|seq| format!("{seq}.ts"));
        assert!(
            list.contains("#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n2.ts\n"),
            "{list}"
        );
        // Cleared when the channel stops; the numbering goes on with a new timeline.
        window.clear();
        assert!(window.is_empty());
        window.push(&stream(61, 60, 0), true);
        assert_eq!(window.segments[0].seq, 4);
        assert!(window.segments[0].discontinuity);
        assert!(window
            .playlist(|seq| format!("{seq}.ts"))
            .contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
    }

    #[test]
    fn numbering_takes_the_clock_floor_and_never_goes_back() {
        // contract: HTTP-022
        assert_eq!(sequence_floor(1_000), 2, "half-seconds");
        assert_eq!(sequence_floor(-5), 0);
        let mut window = Window::default();
        window.number_from_at_least(100);
        window.push(&stream(100, 60, 0), true);
        assert_eq!(window.segments.front().map(|s| s.seq), Some(100));
        window.number_from_at_least(50);
        window.push(&stream(130, 60, 9_000_000), true);
        let seqs: Vec<u64> = window.segments.iter().map(|s| s.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
        assert!(seqs[0] >= 100, "{seqs:?}");
    }
}
