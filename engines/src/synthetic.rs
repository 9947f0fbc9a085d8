//! The synthetic engine's renderer (ENGINE-004, ENGINE-010): a constant-bitrate MPEG-TS mux of
//! hand-written H.264 test pictures and silent AAC-LC audio, paced in real time by slot and
//! stamped on the UTC playhead (ENGINE-012).

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use super::h264::{self, Picture, Ycbcr, BLACK, WHITE};
use super::timeline::Timeline;
use super::ts::{self, PendingPacket, StreamEntry};
use super::{aac, protocol::Segment};
use super::{EngineClock, Renderer, Sink};

pub const DEFAULT_BITRATE: u64 = 2_000_000;
/// A floor with headroom: a keyframe (about 8 KB) plus audio and tables leave within a few tens
/// of milliseconds, well inside the presentation delay.
pub const MIN_BITRATE: u64 = 1_500_000;
pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 720;
pub const MB_COLUMNS: u32 = WIDTH / 16;
pub const MB_ROWS: u32 = HEIGHT / 16;
pub const FRAMES_PER_SECOND: u32 = 30;
/// A keyframe at least every 2 s (ENGINE-010), besides the one at every segment start.
pub const KEYFRAME_INTERVAL_FRAMES: u64 = 2 * FRAMES_PER_SECOND as u64;
/// PTS lead over the PCR at which a frame is sent: the decoder's buffering time.
const PRESENTATION_DELAY_90KHZ: u64 = 18_000; // 200 ms
const PSI_INTERVAL_NS: u128 = 100_000_000;
const NS_PER_SECOND: u128 = 1_000_000_000;
const PACKET_BITS: u128 = (ts::PACKET_SIZE * 8) as u128;
const VIDEO_FRAME_TICKS_90KHZ: u64 = 90_000 / FRAMES_PER_SECOND as u64;

/// Constant-bitrate, slot-by-slot muxer following the timeline.
pub struct SyntheticRenderer {
    bitrate: u64,
    packetizer: ts::Packetizer,
    queue: VecDeque<PendingPacket>,
    next_slot: u128,
    next_video_frame: u64,
    next_audio_frame: u64,
    next_psi_ns: u128,
    /// The output time base at `join_at` (ENGINE-012): 27 MHz PCR and 90 kHz PTS.
    origin_pcr: u64,
    origin_90khz: u64,
    pat: Vec<u8>,
    pmt: Vec<u8>,
    encoder: h264::Encoder,
    /// The segment of the last coded frame (event id and planned start; `None` for pad), so a
    /// new segment starts with a keyframe.
    coded_segment: Option<Option<(String, i64)>>,
    last_keyframe: u64,
    audio_frame: Vec<u8>,
    out: Vec<u8>,
}

impl SyntheticRenderer {
    pub fn new(bitrate: u64) -> SyntheticRenderer {
        SyntheticRenderer {
            bitrate,
            packetizer: ts::Packetizer::new(),
            queue: VecDeque::new(),
            next_slot: 0,
            next_video_frame: 0,
            next_audio_frame: 0,
            next_psi_ns: 0,
            origin_pcr: 0,
            origin_90khz: 0,
            pat: ts::pat_section(1),
            pmt: ts::pmt_section(
                ts::VIDEO_PID,
                &[
                    StreamEntry {
                        stream_type: 0x1B, // H.264
                        pid: ts::VIDEO_PID,
                    },
                    StreamEntry {
                        stream_type: 0x0F, // AAC in ADTS
                        pid: ts::AUDIO_PID,
                    },
                ],
            ),
            encoder: h264::Encoder::new(MB_COLUMNS, MB_ROWS, FRAMES_PER_SECOND),
            coded_segment: None,
            last_keyframe: 0,
            audio_frame: aac::silent_adts_frame(),
            out: Vec::with_capacity(64 * ts::PACKET_SIZE),
        }
    }

    fn slot_time_ns(&self, slot: u128) -> u128 {
        slot * PACKET_BITS * NS_PER_SECOND / self.bitrate as u128
    }

    fn enqueue_due(
        &mut self,
        slot_ns: u128,
        clock: &EngineClock,
        timeline: &mut Timeline,
        sink: &mut Sink,
    ) {
        if slot_ns >= self.next_psi_ns {
            let pat = self.packetizer.section_packet(ts::PAT_PID, &self.pat);
            let pmt = self.packetizer.section_packet(ts::PMT_PID, &self.pmt);
            self.queue.extend([pat, pmt]);
            self.next_psi_ns += PSI_INTERVAL_NS;
        }
        loop {
            let frame = self.next_video_frame;
            let frame_ns = frame as u128 * NS_PER_SECOND / FRAMES_PER_SECOND as u128;
            if frame_ns > slot_ns {
                break;
            }
            let engine_ms = clock.join_at + (frame_ns / 1_000_000) as i64;
            sink.evidence_all(timeline.advance(engine_ms));
            let segment = timeline.on_air().map(|on_air| &on_air.segment);
            let picture = match segment {
                Some(segment) => picture_for_kind(&segment.kind, segment.is_pad(), frame),
                None => picture_for_kind("pad", true, frame),
            };
            let identity = segment.map(|s: &Segment| (s.event_id.clone(), s.start));
            let keyframe = self.coded_segment.as_ref() != Some(&identity)
                || frame - self.last_keyframe >= KEYFRAME_INTERVAL_FRAMES;
            if keyframe {
                self.last_keyframe = frame;
                self.coded_segment = Some(identity);
            }
            let access_unit = self.encoder.encode(&picture, keyframe);
            let pts =
                self.origin_90khz + PRESENTATION_DELAY_90KHZ + frame * VIDEO_FRAME_TICKS_90KHZ;
            let pes = ts::pes(0xE0, pts, None, &access_unit);
            self.queue
                .extend(self.packetizer.packetize(ts::VIDEO_PID, &pes, true));
            self.next_video_frame += 1;
        }
        loop {
            let frame = self.next_audio_frame;
            let ticks = frame * aac::FRAME_TICKS_90KHZ;
            if ticks as u128 * NS_PER_SECOND / 90_000 > slot_ns {
                break;
            }
            let pes = ts::pes(
                0xC0,
                self.origin_90khz + PRESENTATION_DELAY_90KHZ + ticks,
                None,
                &self.audio_frame,
            );
            self.queue
                .extend(self.packetizer.packetize(ts::AUDIO_PID, &pes, false));
            self.next_audio_frame += 1;
        }
    }
}

/// 75% colour bars, left to right.
pub const BARS: [Ycbcr; 7] = [
    Ycbcr(180, 128, 128),
    Ycbcr(162, 44, 142),
    Ycbcr(131, 156, 44),
    Ycbcr(112, 72, 58),
    Ycbcr(84, 184, 198),
    Ycbcr(65, 100, 212),
    Ycbcr(35, 212, 114),
];

/// The picture for a segment kind (ENGINE-010): bars for content, flat colours for
/// interstitials, black for pads, and a white macroblock that moves one column per frame so a
/// frozen picture is visible.
pub fn picture_for_kind(kind: &str, pad: bool, frame_number: u64) -> Picture {
    let background = move |column: u32| -> Ycbcr {
        if pad {
            return BLACK;
        }
        match kind {
            "commercial" => Ycbcr(81, 90, 240),  // red
            "promo" => Ycbcr(145, 54, 34),       // green
            "bumper" => Ycbcr(41, 240, 110),     // blue
            "station_id" => Ycbcr(210, 16, 146), // yellow
            "filler" => Ycbcr(106, 202, 222),    // magenta
            _ => BARS[(column * BARS.len() as u32 / MB_COLUMNS) as usize],
        }
    };
    let marker_column = (frame_number % MB_COLUMNS as u64) as u32;
    Picture::new(MB_COLUMNS, MB_ROWS, move |column, row| {
        if row == MB_ROWS - 3 && column == marker_column {
            WHITE
        } else {
            background(column)
        }
    })
}

impl Renderer for SyntheticRenderer {
    fn begin(&mut self, clock: &EngineClock, _sink: &mut Sink) {
        // ENGINE-012: stamped on the UTC playhead, so a later session continues forward.
        self.origin_pcr = ts::utc_pcr(clock.join_at);
        self.origin_90khz = ts::utc_90khz(clock.join_at);
    }

    fn pump(
        &mut self,
        clock: &EngineClock,
        timeline: &mut Timeline,
        sink: &mut Sink,
    ) -> io::Result<()> {
        let elapsed_ns = clock.elapsed().as_nanos();
        // Slots whose time has come (ENGINE-004: the PCR never runs ahead of the engine clock).
        let due_slots = elapsed_ns * self.bitrate as u128 / (PACKET_BITS * NS_PER_SECOND) + 1;
        while self.next_slot < due_slots {
            let slot_ns = self.slot_time_ns(self.next_slot);
            self.enqueue_due(slot_ns, clock, timeline, sink);
            let packet = match self.queue.pop_front() {
                Some(mut pending) => {
                    if pending.wants_pcr {
                        let pcr = self.origin_pcr + (slot_ns * 27 / 1000) as u64;
                        ts::set_pcr(&mut pending.bytes, pcr % ts::PCR_WRAP);
                    }
                    pending.bytes
                }
                None => ts::null_packet(),
            };
            self.out.extend_from_slice(&packet);
            self.next_slot += 1;
        }
        if self.out.is_empty() {
            return Ok(());
        }
        let result = sink.write_ts(&self.out);
        self.out.clear();
        result
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(10)
    }

    fn end(&mut self) {}
}
