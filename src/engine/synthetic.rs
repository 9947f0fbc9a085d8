//! The synthetic engine's renderer (ENGINE-004, ENGINE-010): a constant-bitrate MPEG-TS mux of
//! hand-written MPEG-1 pictures and silent Layer II audio, paced in real time by slot and stamped
//! on the UTC playhead (ENGINE-012).

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use super::mpeg1;
use super::timeline::Timeline;
use super::ts::{self, PendingPacket, StreamEntry};
use super::{EngineClock, Renderer, Sink};

pub const DEFAULT_BITRATE: u64 = 2_000_000;
/// Below this a picture plus audio and tables no longer fit in one frame interval.
pub const MIN_BITRATE: u64 = 1_500_000;
/// PTS lead over the PCR at which a frame is sent: the decoder's buffering time.
const PRESENTATION_DELAY_90KHZ: u64 = 18_000; // 200 ms
const PSI_INTERVAL_NS: u128 = 100_000_000;
const NS_PER_SECOND: u128 = 1_000_000_000;
const PACKET_BITS: u128 = (ts::PACKET_SIZE * 8) as u128;
const VIDEO_FRAME_TICKS_90KHZ: u64 = 90_000 / mpeg1::FRAMES_PER_SECOND as u64;

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
    audio_frame: [u8; 192],
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
                        stream_type: 0x01,
                        pid: ts::VIDEO_PID,
                    },
                    StreamEntry {
                        stream_type: 0x03,
                        pid: ts::AUDIO_PID,
                    },
                ],
            ),
            audio_frame: mpeg1::silent_layer2_frame(),
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
            let frame_ns = frame as u128 * NS_PER_SECOND / mpeg1::FRAMES_PER_SECOND as u128;
            if frame_ns > slot_ns {
                break;
            }
            let engine_ms = clock.join_at + (frame_ns / 1_000_000) as i64;
            sink.evidence_all(timeline.advance(engine_ms));
            let picture = match timeline.on_air() {
                Some(on_air) => {
                    mpeg1::picture_for_kind(&on_air.segment.kind, on_air.segment.is_pad(), frame)
                }
                None => mpeg1::picture_for_kind("pad", true, frame),
            };
            let pts =
                self.origin_90khz + PRESENTATION_DELAY_90KHZ + frame * VIDEO_FRAME_TICKS_90KHZ;
            let pes = ts::pes(0xE0, pts, None, &picture);
            self.queue
                .extend(self.packetizer.packetize(ts::VIDEO_PID, &pes, true));
            self.next_video_frame += 1;
        }
        loop {
            let frame = self.next_audio_frame;
            let ticks = frame * mpeg1::AUDIO_FRAME_TICKS_90KHZ;
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
