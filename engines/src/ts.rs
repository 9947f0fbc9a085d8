//! MPEG-TS packetisation: PAT, PMT, PES with PTS/DTS, PCR in adaptation fields, continuity
//! counters, CRC32 — and the few read/rewrite helpers the ffmpeg engine needs to splice streams.

use std::collections::BTreeMap;

pub const PACKET_SIZE: usize = 188;
pub const SYNC_BYTE: u8 = 0x47;
pub const PAT_PID: u16 = 0x0000;
pub const PMT_PID: u16 = 0x1000;
pub const VIDEO_PID: u16 = 0x0100;
pub const AUDIO_PID: u16 = 0x0101;
pub const NULL_PID: u16 = 0x1FFF;
pub const PROGRAM_NUMBER: u16 = 1;
/// 33-bit PTS/DTS/PCR-base arithmetic wraps here (about 26.5 hours at 90 kHz).
pub const TIMESTAMP_WRAP: u64 = 1 << 33;

/// The 27 MHz PCR wraps with its 33-bit base.
pub const PCR_WRAP: u64 = TIMESTAMP_WRAP * 300;

pub type Packet = [u8; PACKET_SIZE];

/// The 27 MHz PCR of a UTC instant in milliseconds, on the shared output time base (ENGINE-012).
pub fn utc_pcr(ms: i64) -> u64 {
    (ms as i128 * 27_000).rem_euclid(PCR_WRAP as i128) as u64
}

/// The 90 kHz PTS/DTS of a UTC instant in milliseconds, on the shared output time base
/// (ENGINE-012).
pub fn utc_90khz(ms: i64) -> u64 {
    (ms as i128 * 90).rem_euclid(TIMESTAMP_WRAP as i128) as u64
}

/// CRC-32/MPEG-2 (polynomial 0x04C11DB7, init all ones, no reflection, no final xor).
pub fn crc32_mpeg(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= (byte as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// An elementary stream listed in the PMT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEntry {
    pub stream_type: u8,
    pub pid: u16,
}

fn section_with_crc(mut section: Vec<u8>) -> Vec<u8> {
    let crc = crc32_mpeg(&section);
    section.extend_from_slice(&crc.to_be_bytes());
    section
}

/// The PAT section listing one program.
pub fn pat_section(transport_stream_id: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&transport_stream_id.to_be_bytes());
    body.push(0xC1); // reserved, version 0, current_next 1
    body.extend_from_slice(&[0, 0]); // section number, last section number
    body.extend_from_slice(&PROGRAM_NUMBER.to_be_bytes());
    body.extend_from_slice(&(0xE000 | PMT_PID).to_be_bytes());
    let mut section = vec![0x00];
    let length = (body.len() + 4) as u16; // + CRC
    section.extend_from_slice(&(0xB000 | length).to_be_bytes());
    section.extend(body);
    section_with_crc(section)
}

/// The PMT section for our one program.
pub fn pmt_section(pcr_pid: u16, streams: &[StreamEntry]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&PROGRAM_NUMBER.to_be_bytes());
    body.push(0xC1);
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&(0xE000 | pcr_pid).to_be_bytes());
    body.extend_from_slice(&0xF000u16.to_be_bytes()); // no program descriptors
    for stream in streams {
        body.push(stream.stream_type);
        body.extend_from_slice(&(0xE000 | stream.pid).to_be_bytes());
        body.extend_from_slice(&0xF000u16.to_be_bytes());
    }
    let mut section = vec![0x02];
    let length = (body.len() + 4) as u16;
    section.extend_from_slice(&(0xB000 | length).to_be_bytes());
    section.extend(body);
    section_with_crc(section)
}

/// Encodes a 27 MHz PCR into the 6 bytes of an adaptation field.
pub fn encode_pcr(pcr_27mhz: u64) -> [u8; 6] {
    let base = (pcr_27mhz / 300) % TIMESTAMP_WRAP;
    let ext = pcr_27mhz % 300;
    [
        (base >> 25) as u8,
        (base >> 17) as u8,
        (base >> 9) as u8,
        (base >> 1) as u8,
        (((base & 1) << 7) as u8) | 0x7E | ((ext >> 8) as u8 & 1),
        ext as u8,
    ]
}

pub fn decode_pcr(bytes: &[u8]) -> u64 {
    let base = ((bytes[0] as u64) << 25)
        | ((bytes[1] as u64) << 17)
        | ((bytes[2] as u64) << 9)
        | ((bytes[3] as u64) << 1)
        | ((bytes[4] as u64) >> 7);
    let ext = (((bytes[4] & 1) as u64) << 8) | bytes[5] as u64;
    base * 300 + ext
}

/// Encodes a 90 kHz timestamp with the 4-bit prefix (0b0010 PTS only, 0b0011 PTS with DTS,
/// 0b0001 DTS).
pub fn encode_timestamp(prefix: u8, ts: u64) -> [u8; 5] {
    let ts = ts % TIMESTAMP_WRAP;
    [
        (prefix << 4) | ((((ts >> 30) & 7) as u8) << 1) | 1,
        (ts >> 22) as u8,
        ((((ts >> 15) & 0x7F) as u8) << 1) | 1,
        (ts >> 7) as u8,
        (((ts & 0x7F) as u8) << 1) | 1,
    ]
}

pub fn decode_timestamp(bytes: &[u8]) -> u64 {
    (((bytes[0] >> 1) & 7) as u64) << 30
        | (bytes[1] as u64) << 22
        | ((bytes[2] >> 1) as u64) << 15
        | (bytes[3] as u64) << 7
        | (bytes[4] >> 1) as u64
}

/// A packet on its way out: the PCR is written when the packet's slot is known.
#[derive(Debug, Clone)]
pub struct PendingPacket {
    pub bytes: Packet,
    /// The packet reserved an adaptation field with a PCR; fill it with [`set_pcr`].
    pub wants_pcr: bool,
}

/// Builds packets and keeps one continuity counter per PID.
#[derive(Debug, Default)]
pub struct Packetizer {
    counters: BTreeMap<u16, u8>,
}

impl Packetizer {
    pub fn new() -> Packetizer {
        Packetizer::default()
    }

    fn next_counter(&mut self, pid: u16) -> u8 {
        let counter = self.counters.entry(pid).or_insert(0x0F);
        *counter = (*counter + 1) & 0x0F;
        *counter
    }

    /// Splits `payload` into packets on `pid`; the first has payload_unit_start set and, when
    /// `with_pcr`, an adaptation field reserved for a PCR. The last is padded with adaptation
    /// field stuffing so every packet is exactly 188 bytes.
    pub fn packetize(&mut self, pid: u16, payload: &[u8], with_pcr: bool) -> Vec<PendingPacket> {
        let mut packets = Vec::new();
        let mut offset = 0;
        let mut first = true;
        while offset < payload.len() || first {
            let pcr_here = first && with_pcr;
            let min_adaptation = if pcr_here { 8 } else { 0 };
            let remaining = payload.len() - offset;
            let room = 184 - min_adaptation;
            let take = remaining.min(room);
            let adaptation_total = 184 - take; // bytes used by the adaptation field
            let mut packet = [0xFFu8; PACKET_SIZE];
            packet[0] = SYNC_BYTE;
            packet[1] = (if first { 0x40 } else { 0 }) | ((pid >> 8) as u8 & 0x1F);
            packet[2] = pid as u8;
            let counter = self.next_counter(pid);
            let control = if adaptation_total > 0 { 0x30 } else { 0x10 };
            packet[3] = control | counter;
            if adaptation_total > 0 {
                packet[4] = (adaptation_total - 1) as u8;
                if adaptation_total > 1 {
                    packet[5] = if pcr_here { 0x10 } else { 0x00 };
                }
                // Bytes after the flags (and PCR) stay 0xFF: stuffing.
            }
            packet[4 + adaptation_total..].copy_from_slice(&payload[offset..offset + take]);
            packets.push(PendingPacket {
                bytes: packet,
                wants_pcr: pcr_here,
            });
            offset += take;
            first = false;
        }
        packets
    }

    /// A PSI section (PAT or PMT) in one packet, with the pointer field.
    pub fn section_packet(&mut self, pid: u16, section: &[u8]) -> PendingPacket {
        let mut payload = vec![0u8]; // pointer_field
        payload.extend_from_slice(section);
        let mut packet = [0xFFu8; PACKET_SIZE];
        packet[0] = SYNC_BYTE;
        packet[1] = 0x40 | ((pid >> 8) as u8 & 0x1F);
        packet[2] = pid as u8;
        packet[3] = 0x10 | self.next_counter(pid);
        packet[4..4 + payload.len()].copy_from_slice(&payload);
        PendingPacket {
            bytes: packet,
            wants_pcr: false,
        }
    }
}

/// A null packet (PID 0x1FFF), used to keep a constant bitrate.
pub fn null_packet() -> Packet {
    let mut packet = [0xFFu8; PACKET_SIZE];
    packet[0] = SYNC_BYTE;
    packet[1] = 0x1F;
    packet[2] = 0xFF;
    packet[3] = 0x10;
    packet
}

/// A PES packet: header with PTS (and DTS when it differs) then the payload.
pub fn pes(stream_id: u8, pts: u64, dts: Option<u64>, payload: &[u8]) -> Vec<u8> {
    let header_data_length = if dts.is_some() { 10 } else { 5 };
    let after_length = 3 + header_data_length + payload.len();
    // 0 means "unbounded", allowed only for video; our frames always fit anyway.
    let length = if after_length > 0xFFFF {
        0
    } else {
        after_length as u16
    };
    let mut out = vec![0, 0, 1, stream_id];
    out.extend_from_slice(&length.to_be_bytes());
    out.push(0x84); // '10', data_alignment_indicator
    match dts {
        Some(dts) => {
            out.push(0xC0);
            out.push(10);
            out.extend_from_slice(&encode_timestamp(0b0011, pts));
            out.extend_from_slice(&encode_timestamp(0b0001, dts));
        }
        None => {
            out.push(0x80);
            out.push(5);
            out.extend_from_slice(&encode_timestamp(0b0010, pts));
        }
    }
    out.extend_from_slice(payload);
    out
}

// ---- reading and rewriting existing packets (the ffmpeg engine's splice) ----

pub fn packet_pid(packet: &[u8]) -> u16 {
    (((packet[1] & 0x1F) as u16) << 8) | packet[2] as u16
}

pub fn payload_unit_start(packet: &[u8]) -> bool {
    packet[1] & 0x40 != 0
}

pub fn has_payload(packet: &[u8]) -> bool {
    packet[3] & 0x10 != 0
}

fn adaptation_length(packet: &[u8]) -> Option<usize> {
    (packet[3] & 0x20 != 0).then_some(packet[4] as usize)
}

/// Offset of the PCR bytes inside the packet, when it carries one.
fn pcr_offset(packet: &[u8]) -> Option<usize> {
    let length = adaptation_length(packet)?;
    (length >= 7 && packet[5] & 0x10 != 0).then_some(6)
}

pub fn read_pcr(packet: &[u8]) -> Option<u64> {
    pcr_offset(packet).map(|at| decode_pcr(&packet[at..at + 6]))
}

/// Writes a PCR into a packet that carries (or reserved) one; returns false if it has none.
pub fn set_pcr(packet: &mut [u8], pcr_27mhz: u64) -> bool {
    match pcr_offset(packet) {
        Some(at) => {
            packet[at..at + 6].copy_from_slice(&encode_pcr(pcr_27mhz));
            true
        }
        None => false,
    }
}

/// Offset of the payload in a packet.
pub fn payload_offset(packet: &[u8]) -> usize {
    match adaptation_length(packet) {
        Some(length) => (5 + length).min(PACKET_SIZE),
        None => 4,
    }
}

/// Sets the 4-bit continuity counter.
pub fn set_continuity_counter(packet: &mut [u8], counter: u8) {
    packet[3] = (packet[3] & 0xF0) | (counter & 0x0F);
}

pub fn continuity_counter(packet: &[u8]) -> u8 {
    packet[3] & 0x0F
}

/// Sets `discontinuity_indicator` in the packet's adaptation field; false (and the packet
/// unchanged) when it has no adaptation field with a flags byte.
pub fn set_discontinuity_indicator(packet: &mut [u8]) -> bool {
    match adaptation_length(packet) {
        Some(length) if length >= 1 => {
            packet[5] |= 0x80;
            true
        }
        _ => false,
    }
}

/// An adaptation-field-only packet on `pid` (no payload, so `counter` is the PID's current
/// counter, not the next) with `discontinuity_indicator` set and stuffing after the flags.
pub fn discontinuity_packet(pid: u16, counter: u8) -> Packet {
    let mut packet = [0xFFu8; PACKET_SIZE];
    packet[0] = SYNC_BYTE;
    packet[1] = (pid >> 8) as u8 & 0x1F;
    packet[2] = pid as u8;
    packet[3] = 0x20 | (counter & 0x0F);
    packet[4] = 183;
    packet[5] = 0x80;
    packet
}

/// PTS and DTS of the PES header starting in this packet, if any.
pub fn read_pes_timestamps(packet: &[u8]) -> (Option<u64>, Option<u64>) {
    match pes_timestamp_offsets(packet) {
        Some((pts_at, dts_at)) => (
            pts_at.map(|at| decode_timestamp(&packet[at..at + 5])),
            dts_at.map(|at| decode_timestamp(&packet[at..at + 5])),
        ),
        None => (None, None),
    }
}

type TimestampOffsets = (Option<usize>, Option<usize>);

fn pes_timestamp_offsets(packet: &[u8]) -> Option<TimestampOffsets> {
    if !payload_unit_start(packet) || !has_payload(packet) {
        return None;
    }
    let at = payload_offset(packet);
    let header = packet.get(at..at + 14)?;
    if header[0..3] != [0, 0, 1] || header[3] < 0xBC {
        return None; // not a PES header (a PSI section, or a stream without the optional header)
    }
    let flags = header[7] >> 6;
    let pts_at = (flags & 0b10 != 0).then_some(at + 9);
    let dts_at = (flags == 0b11).then_some(at + 14);
    if dts_at.is_some() && packet.len() < at + 19 {
        return None;
    }
    Some((pts_at, dts_at))
}

/// Applies `shift` (mod 2^33) to the PTS and DTS of a PES header starting in this packet.
pub fn shift_pes_timestamps(packet: &mut [u8], shift: impl Fn(u64) -> u64) {
    if let Some((pts_at, dts_at)) = pes_timestamp_offsets(packet) {
        for (at, prefix_mask) in [(pts_at, 0xF0u8), (dts_at, 0xF0u8)] {
            if let Some(at) = at {
                let prefix = (packet[at] & prefix_mask) >> 4;
                let shifted = shift(decode_timestamp(&packet[at..at + 5]));
                packet[at..at + 5].copy_from_slice(&encode_timestamp(prefix, shifted));
            }
        }
    }
}

/// Adds a signed 90 kHz offset to a timestamp, wrapping at 33 bits.
pub fn wrap_add(ts: u64, offset: i64) -> u64 {
    (ts as i64 + offset).rem_euclid(TIMESTAMP_WRAP as i64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_known_pat_of_ffmpeg() {
        // CRC-32/MPEG-2 check value for "123456789".
        assert_eq!(crc32_mpeg(b"123456789"), 0x0376_E6E7);
    }

    #[test]
    fn pcr_and_timestamps_round_trip() {
        for value in [
            0u64,
            1,
            299,
            300,
            27_000_000 * 3600 + 17,
            (TIMESTAMP_WRAP - 1) * 300,
        ] {
            assert_eq!(decode_pcr(&encode_pcr(value)), value);
        }
        for value in [0u64, 1, 90_000, TIMESTAMP_WRAP - 1] {
            assert_eq!(decode_timestamp(&encode_timestamp(0b0010, value)), value);
        }
    }

    // contract: ENGINE-012
    #[test]
    fn the_utc_time_base_is_milliseconds_times_the_clock_rate_modulo_the_wrap() {
        assert_eq!(utc_pcr(1_000), 27_000_000);
        assert_eq!(utc_90khz(1_000), 90_000);
        let join = 1_700_000_000_000i64;
        assert_eq!(
            utc_pcr(join) as u128,
            join as u128 * 27_000 % PCR_WRAP as u128
        );
        assert_eq!(
            utc_90khz(join) as u128,
            join as u128 * 90 % TIMESTAMP_WRAP as u128
        );
        // Two seconds later is 180 000 ticks on, however the wrap falls.
        assert_eq!(wrap_add(utc_90khz(join), 180_000), utc_90khz(join + 2_000));
        assert!(utc_90khz(-1) < TIMESTAMP_WRAP && utc_pcr(-1) < PCR_WRAP);
    }

    #[test]
    fn packetize_fills_whole_packets_and_counts() {
        let mut packetizer = Packetizer::new();
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let packets = packetizer.packetize(VIDEO_PID, &payload, true);
        let mut collected = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            assert_eq!(p.bytes[0], SYNC_BYTE);
            assert_eq!(packet_pid(&p.bytes), VIDEO_PID);
            assert_eq!(p.bytes[3] & 0x0F, i as u8);
            collected.extend_from_slice(&p.bytes[payload_offset(&p.bytes)..]);
        }
        assert!(packets[0].wants_pcr);
        let mut first = packets[0].bytes;
        assert!(set_pcr(&mut first, 123_456));
        assert_eq!(read_pcr(&first), Some(123_456));
        assert_eq!(collected, payload);
    }

    #[test]
    fn pes_timestamps_shift_in_place() {
        let mut packetizer = Packetizer::new();
        let data = pes(0xE0, 1000, Some(900), &[1, 2, 3]);
        let mut packet = packetizer.packetize(VIDEO_PID, &data, false)[0].bytes;
        assert_eq!(read_pes_timestamps(&packet), (Some(1000), Some(900)));
        shift_pes_timestamps(&mut packet, |ts| wrap_add(ts, -950));
        assert_eq!(
            read_pes_timestamps(&packet),
            (Some(50), Some(TIMESTAMP_WRAP - 50))
        );
    }
}
