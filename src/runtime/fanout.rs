//! Fan-out of one channel's transport stream (DAEMON-005): shared chunks of whole 188-byte
//! packets go to every viewer's bounded queue with `try_send`; a full queue drops that viewer so
//! it can never slow the engine or the others. Each engine session's packets are spliced onto
//! what the viewers already received (DAEMON-007): continuity counters continue across sessions
//! and the splice is signalled with `discontinuity_indicator`.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use retrovue_core::manager::ViewerId;

use super::segmenter::HlsChannel;
use crate::engine::ts;

pub const PACKET_SIZE: usize = 188;

/// A piece of the stream: whole TS packets, shared by every viewer.
pub type Chunk = Arc<[u8]>;

/// Why a viewer left the fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// Its HTTP side went away.
    Left,
    /// Its queue was full: it fell behind.
    Dropped,
}

/// The viewers of one channel; survives engine restarts.
pub struct FanOut {
    viewers: Mutex<Vec<(ViewerId, Sender<Chunk>)>>,
    /// The latest chunk, handed to a joining viewer at once so its first bytes need not wait
    /// for the engine's next write.
    latest: Mutex<Option<Chunk>>,
    on_departure: Box<dyn Fn(ViewerId, Departure) + Send + Sync>,
    /// Splice state across engine sessions; held while a chunk is spliced and offered, so the
    /// chunks of two sessions never interleave.
    splicer: Mutex<Splicer>,
    sessions: AtomicU64,
    /// The channel's HLS segmenter (DAEMON-020), handed every chunk the viewers are offered.
    hls: Option<Arc<HlsChannel>>,
}

impl FanOut {
    pub fn new(on_departure: impl Fn(ViewerId, Departure) + Send + Sync + 'static) -> FanOut {
        FanOut {
            viewers: Mutex::new(Vec::new()),
            latest: Mutex::new(None),
            on_departure: Box::new(on_departure),
            splicer: Mutex::new(Splicer::default()),
            sessions: AtomicU64::new(0),
            hls: None,
        }
    }

    /// Also hand every spliced chunk to this HLS segmenter (DAEMON-020).
    pub fn with_hls(mut self, hls: Arc<HlsChannel>) -> FanOut {
        self.hls = Some(hls);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(ViewerId, Sender<Chunk>)>> {
        self.viewers.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, viewer: ViewerId, queue: Sender<Chunk>) {
        let mut viewers = self.lock();
        if let Some(latest) = self
            .latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            let _ = queue.try_send(latest);
        }
        viewers.push((viewer, queue));
    }

    /// A new engine session starts: the previous session's packets are no longer current.
    pub fn forget_latest(&self) {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Forget viewers (their queues close, so their streams end).
    pub fn remove(&self, viewers: &[ViewerId]) {
        self.lock().retain(|(id, _)| !viewers.contains(id));
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An engine session's output begins (one per engine process): its number, higher than
    /// every earlier one (DAEMON-007).
    pub fn begin_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Splices whole packets of `session` onto the output (DAEMON-007) and offers them to every
    /// viewer; packets of a session older than one already delivered are dropped.
    pub fn deliver(&self, session: u64, packets: &[u8]) {
        let mut splicer = self.splicer.lock().unwrap_or_else(|e| e.into_inner());
        let new_session = session > splicer.session;
        if let Some(bytes) = splicer.splice(session, packets) {
            if !bytes.is_empty() {
                if let Some(hls) = &self.hls {
                    hls.push(&bytes, new_session);
                }
                self.broadcast(&Chunk::from(bytes));
            }
        }
    }

    /// Offer a chunk to every viewer without ever blocking.
    pub fn broadcast(&self, chunk: &Chunk) {
        let mut departed = Vec::new();
        let mut viewers = self.lock();
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(chunk));
        viewers.retain(|(id, queue)| match queue.try_send(Arc::clone(chunk)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                departed.push((*id, Departure::Dropped));
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                departed.push((*id, Departure::Left));
                false
            }
        });
        drop(viewers);
        for (id, why) in departed {
            (self.on_departure)(id, why);
        }
    }
}

/// What the fan-out remembers of one PID across engine sessions (DAEMON-007).
#[derive(Debug, Clone, Copy)]
struct PidSplice {
    /// Continuity counter of the last packet sent on this PID.
    last_counter: u8,
    /// Added (mod 16) to the engine's counters during the current session.
    offset: u8,
    /// The current session has sent a packet on this PID.
    in_session: bool,
    /// The PID has carried a PCR: it is the PCR PID.
    carries_pcr: bool,
    /// The PID has carried PES timestamps.
    carries_pes: bool,
    /// The PCR PID waits for the current session's first PCR, to mark it.
    mark_next_pcr: bool,
}

/// Splices engine sessions into one stream (DAEMON-007): per PID, continuity counters continue
/// across sessions, and the first packet of a new session is marked with
/// `discontinuity_indicator` (on the PCR PID, the first one carrying a PCR; on other PIDs that
/// carried PES timestamps, the first one, or an adaptation-field-only packet inserted before it).
/// Within a session the engine's own counters are kept, relative to the session's offset.
#[derive(Debug, Default)]
pub struct Splicer {
    session: u64,
    pids: BTreeMap<u16, PidSplice>,
}

impl Splicer {
    /// Rewrites `packets` (whole packets of `session`) for the output; `None` when a newer
    /// session has already been delivered (the packets are stale).
    pub fn splice(&mut self, session: u64, packets: &[u8]) -> Option<Vec<u8>> {
        if session < self.session {
            return None;
        }
        if session > self.session {
            self.session = session;
            for pid in self.pids.values_mut() {
                pid.in_session = false;
                pid.mark_next_pcr = pid.carries_pcr;
            }
        }
        let mut out = Vec::with_capacity(packets.len() + 2 * PACKET_SIZE);
        for chunk in packets.chunks(PACKET_SIZE) {
            let mut packet = [0u8; PACKET_SIZE];
            if chunk.len() != PACKET_SIZE {
                out.extend_from_slice(chunk);
                continue;
            }
            packet.copy_from_slice(chunk);
            let pid = ts::packet_pid(&packet);
            if packet[0] != ts::SYNC_BYTE || pid == ts::NULL_PID {
                out.extend_from_slice(&packet);
                continue;
            }
            let counter = ts::continuity_counter(&packet);
            let state = self.pids.entry(pid).or_insert(PidSplice {
                last_counter: counter,
                offset: 0,
                in_session: true,
                carries_pcr: false,
                carries_pes: false,
                mark_next_pcr: false,
            });
            if !state.in_session {
                // The PID's first packet in a new session: continue its counter.
                let next = if ts::has_payload(&packet) {
                    state.last_counter.wrapping_add(1)
                } else {
                    state.last_counter
                };
                state.offset = next.wrapping_sub(counter) & 0x0F;
                state.in_session = true;
                if state.carries_pes
                    && !state.carries_pcr
                    && !ts::set_discontinuity_indicator(&mut packet)
                {
                    out.extend_from_slice(&ts::discontinuity_packet(pid, state.last_counter));
                }
            }
            let counter = counter.wrapping_add(state.offset) & 0x0F;
            ts::set_continuity_counter(&mut packet, counter);
            state.last_counter = counter;
            if ts::read_pcr(&packet).is_some() {
                if state.mark_next_pcr {
                    ts::set_discontinuity_indicator(&mut packet);
                    state.mark_next_pcr = false;
                }
                state.carries_pcr = true;
            }
            if !state.carries_pes && ts::read_pes_timestamps(&packet).0.is_some() {
                state.carries_pes = true;
            }
            out.extend_from_slice(&packet);
        }
        Some(out)
    }
}

/// Reads are gathered for at most this long before a chunk goes out: fewer, larger chunks keep a
/// bounded queue a few seconds deep at any bitrate, for a negligible delay.
const GATHER: Duration = Duration::from_millis(5);
/// A chunk goes out as soon as it holds this much.
const GATHER_BYTES: usize = 32 * 1024;

/// Wait until `fd` is readable or `timeout` passes.
fn readable(fd: RawFd, timeout: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut poll, 1, ms) > 0 }
}

/// Read an engine's stdout until EOF, handing whole packets to the fan-out. Bytes of a packet
/// split across reads wait for the rest; they are never sent alone. With `fd`, reads arriving
/// within a few milliseconds are gathered into one chunk.
/// One call is one engine session (DAEMON-007): its packets are spliced onto the output.
pub fn pump_packets(mut source: impl Read, fd: Option<RawFd>, fanout: &FanOut) {
    let session = fanout.begin_session();
    const READ_SIZE: usize = 348 * PACKET_SIZE; // ~64 KiB
    let mut buffer = vec![0u8; READ_SIZE];
    let mut filled = 0;
    let mut read = |buffer: &mut [u8]| loop {
        match source.read(buffer) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other.unwrap_or(0),
        }
    };
    loop {
        let n = read(&mut buffer[filled..]);
        let mut eof = n == 0;
        filled += n;
        if let Some(fd) = fd {
            let started = Instant::now();
            while !eof && filled < GATHER_BYTES {
                let Some(left) = GATHER.checked_sub(started.elapsed()) else {
                    break;
                };
                if !readable(fd, left) {
                    break;
                }
                let n = read(&mut buffer[filled..]);
                eof = n == 0;
                filled += n;
            }
        }
        let whole = filled - filled % PACKET_SIZE;
        if whole > 0 {
            fanout.deliver(session, &buffer[..whole]);
            buffer.copy_within(whole..filled, 0);
            filled -= whole;
        }
        if eof {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// One engine session's first packets, as an engine writes them (counters from 0): PAT, a
    /// video PES with a PCR, an audio PES of two packets (the first full, without adaptation
    /// field), and a short audio PES in one packet (with stuffing).
    fn session_packets(pcr_27mhz: u64, pts: u64) -> Vec<u8> {
        let mut packetizer = ts::Packetizer::new();
        let mut out = Vec::new();
        let pat = packetizer.section_packet(ts::PAT_PID, &ts::pat_section(1));
        out.extend_from_slice(&pat.bytes);
        for mut pending in
            packetizer.packetize(ts::VIDEO_PID, &ts::pes(0xE0, pts, None, &[0; 300]), true)
        {
            if pending.wants_pcr {
                ts::set_pcr(&mut pending.bytes, pcr_27mhz);
            }
            out.extend_from_slice(&pending.bytes);
        }
        for payload in [&[0u8; 192][..], &[0u8; 20][..]] {
            for pending in
                packetizer.packetize(ts::AUDIO_PID, &ts::pes(0xC0, pts, None, payload), false)
            {
                out.extend_from_slice(&pending.bytes);
            }
        }
        out
    }

    fn packets(bytes: &[u8]) -> Vec<&[u8]> {
        bytes.chunks(PACKET_SIZE).collect()
    }

    fn discontinuity(packet: &[u8]) -> bool {
        packet[3] & 0x20 != 0 && packet[4] > 0 && packet[5] & 0x80 != 0
    }

    #[test]
    fn counters_continue_across_sessions_and_the_splice_is_marked() {
        // contract: DAEMON-007
        let mut splicer = Splicer::default();
        let first = splicer
            .splice(1, &session_packets(27_000_000, 100_000))
            .expect("current");
        // The first session passes unchanged.
        assert_eq!(first, session_packets(27_000_000, 100_000));
        let engine = session_packets(54_000_000, 190_000);
        let second = splicer.splice(2, &engine).expect("current");
        let (before, after) = (packets(&first), packets(&second));
        // One adaptation-only packet was inserted, for the audio PES whose first packet has no
        // adaptation field; everything else is the engine's packet with another counter.
        assert_eq!(after.len(), before.len() + 1);
        let mut last: BTreeMap<u16, u8> = BTreeMap::new();
        for packet in &before {
            last.insert(ts::packet_pid(packet), ts::continuity_counter(packet));
        }
        let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
        for packet in &after {
            let pid = ts::packet_pid(packet);
            let counter = ts::continuity_counter(packet);
            let previous = last[&pid];
            let expected = if ts::has_payload(packet) {
                (previous + 1) & 0x0F
            } else {
                previous
            };
            assert_eq!(counter, expected, "pid {pid:#x} continues its counter");
            last.insert(pid, counter);
            *seen.entry(pid).or_default() += 1;
        }
        // PAT: counter continued, no mark (PSI).
        assert!(!discontinuity(after[0]));
        // Video (the PCR PID): its first packet carries the PCR and the mark.
        let video: Vec<_> = after
            .iter()
            .filter(|p| ts::packet_pid(p) == ts::VIDEO_PID)
            .collect();
        assert_eq!(ts::read_pcr(video[0]), Some(54_000_000));
        assert!(discontinuity(video[0]));
        assert!(video[1..].iter().all(|p| !discontinuity(p)));
        // Audio: an adaptation-only packet with the mark, then the engine's packets unmarked.
        let audio: Vec<_> = after
            .iter()
            .filter(|p| ts::packet_pid(p) == ts::AUDIO_PID)
            .collect();
        assert!(!ts::has_payload(audio[0]) && discontinuity(audio[0]));
        assert_eq!(ts::read_pes_timestamps(audio[1]).0, Some(190_000));
        assert!(audio[1..].iter().all(|p| !discontinuity(p)));
        // The rest of the session keeps the engine's own counting, shifted: the engine's next
        // PAT (its counter 1) follows the output's last PAT.
        let mut next_pat = engine[..PACKET_SIZE].to_vec();
        ts::set_continuity_counter(&mut next_pat, 1);
        let more = splicer.splice(2, &next_pat).expect("current");
        assert_eq!(
            ts::continuity_counter(&more),
            (last[&ts::PAT_PID] + 1) & 0x0F
        );
    }

    #[test]
    fn a_first_packet_with_an_adaptation_field_is_marked_in_place() {
        // contract: DAEMON-007
        let mut packetizer = ts::Packetizer::new();
        let short = |packetizer: &mut ts::Packetizer, pts| {
            packetizer.packetize(ts::AUDIO_PID, &ts::pes(0xC0, pts, None, &[0; 20]), false)[0].bytes
        };
        let mut splicer = Splicer::default();
        let mut first = Vec::new();
        for pts in [0, 2_160, 4_320] {
            first.extend_from_slice(&short(&mut packetizer, pts));
        }
        splicer.splice(1, &first).expect("current");
        let mut restarted = ts::Packetizer::new();
        let second = splicer
            .splice(2, &short(&mut restarted, 9_000))
            .expect("current");
        assert_eq!(second.len(), PACKET_SIZE, "nothing inserted");
        assert!(discontinuity(&second));
        assert_eq!(ts::continuity_counter(&second), 3);
    }

    #[test]
    fn a_stale_session_is_dropped_once_a_newer_one_is_delivered() {
        // contract: DAEMON-007
        let fanout = FanOut::new(|_, _| {});
        let (tx, rx) = crossbeam_channel::bounded(16);
        fanout.add(1, tx);
        let old = fanout.begin_session();
        let new = fanout.begin_session();
        assert!(new > old);
        fanout.deliver(old, &session_packets(1, 1));
        fanout.deliver(new, &session_packets(2, 2));
        fanout.deliver(old, &session_packets(3, 3));
        let chunks: Vec<Chunk> = rx.try_iter().collect();
        assert_eq!(chunks.len(), 2, "the old session's late chunk is dropped");
        let video_pcr = |chunk: &Chunk| {
            packets(chunk)
                .into_iter()
                .find_map(ts::read_pcr)
                .expect("a PCR")
        };
        assert_eq!(video_pcr(&chunks[1]), 2);
    }

    #[test]
    fn full_queue_drops_only_that_viewer_and_packets_stay_whole() {
        // contract: DAEMON-005
        let dropped = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&dropped);
        let fanout = FanOut::new(move |_, why| {
            if why == Departure::Dropped {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let (fast_tx, fast_rx) = crossbeam_channel::bounded(16);
        let (slow_tx, _slow_rx) = crossbeam_channel::bounded(2);
        fanout.add(1, fast_tx);
        fanout.add(2, slow_tx);
        // 10 packets arriving in odd-sized reads.
        let data: Vec<u8> = (0..10 * PACKET_SIZE)
            .map(|i| (i / PACKET_SIZE) as u8)
            .collect();
        struct Trickle(Vec<u8>, usize);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = 100.min(self.0.len() - self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        pump_packets(Trickle(data.clone(), 0), None, &fanout);
        let received: Vec<u8> = fast_rx.try_iter().flat_map(|c| c.to_vec()).collect();
        assert_eq!(received, data);
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert_eq!(fanout.len(), 1);
    }
}
