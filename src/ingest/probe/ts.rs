//! MPEG transport streams in process: the PMT's streams, the duration from the first and the
//! last presentation times, and the video's picture size from its sequence header (contract
//! INGEST-021). Hand-written; no maintained crate reads just
//! this. Only the head and the tail of the file are read, whatever its size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;

use super::{be16, picture, read_at, Streams, Unread};

const PACKET: usize = 188;
/// How much of the head (PAT, PMT, first PES) and of the tail (last PES) is read.
const WINDOW: u64 = 4 * 1024 * 1024;
/// The 33-bit PTS clock wraps here (90 kHz units).
const WRAP: u64 = 1 << 33;

/// What a PMT entry is.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Video(&'static str),
    Audio(&'static str),
    /// Subtitles, teletext, data: not a stream ingest measures.
    Other,
}

/// Per PID: the PES start presentation times seen, in file order, and the last PES's bytes.
#[derive(Debug, Default)]
struct Pes {
    pts: Vec<u64>,
    /// Payload of the latest PES (its first packet's payload onward), for audio frame counts.
    last: Vec<u8>,
    /// Payload of the first PES's first packet, for MPEG audio's layer.
    first: Vec<u8>,
    /// The elementary stream from the first PES on (PES headers left out), at most
    /// [`ES_HEAD`] bytes: where a video stream's sequence header is.
    es_head: Vec<u8>,
}

/// How much of each stream's elementary data the head keeps for its picture size.
const ES_HEAD: usize = 256 * 1024;

/// The offset of the first packet boundary in `data` (three sync bytes in a row).
fn sync(data: &[u8]) -> Option<usize> {
    (0..PACKET.min(data.len())).find(|&i| {
        (0..3).all(|k| data.get(i + k * PACKET).is_none_or(|b| *b == 0x47))
            && data.get(i) == Some(&0x47)
    })
}

fn pts_of(pes: &[u8]) -> Option<u64> {
    if pes.len() < 14 || pes[..3] != [0, 0, 1] || pes[7] & 0x80 == 0 {
        return None;
    }
    let b = &pes[9..14];
    Some(
        (u64::from(b[0] >> 1) & 7) << 30
            | u64::from(b[1]) << 22
            | u64::from(b[2] >> 1) << 15
            | u64::from(b[3]) << 7
            | u64::from(b[4] >> 1),
    )
}

/// Walks the packets of `data`: PSI sections to `psi`, PES starts and payloads to `pes`.
fn scan(
    data: &[u8],
    pmt_pids: &mut Vec<u16>,
    kinds: &mut BTreeMap<u16, Kind>,
    pes: &mut BTreeMap<u16, Pes>,
) -> Result<(), Unread> {
    let start = sync(data).ok_or("no MPEG-TS sync")?;
    for packet in data[start..].chunks_exact(PACKET) {
        if packet[0] != 0x47 {
            return Err("lost MPEG-TS sync".into());
        }
        let unit_start = packet[1] & 0x40 != 0;
        let pid = be16(packet, 1).expect("188 bytes") & 0x1fff;
        let control = (packet[3] >> 4) & 3;
        let mut at = 4;
        if control & 2 != 0 {
            at += 1 + usize::from(packet[4]);
        }
        if control & 1 == 0 || at >= PACKET {
            continue;
        }
        let payload = &packet[at..];
        if pid == 0 || pmt_pids.contains(&pid) {
            if unit_start {
                let pointer = usize::from(payload[0]);
                if let Some(section) = payload.get(1 + pointer..) {
                    psi(pid, section, pmt_pids, kinds);
                }
            }
            continue;
        }
        if unit_start && payload.starts_with(&[0, 0, 1]) {
            let entry = pes.entry(pid).or_default();
            if let Some(pts) = pts_of(payload) {
                entry.pts.push(pts);
            }
            let header = 9 + usize::from(*payload.get(8).unwrap_or(&0));
            let body = payload.get(header..).unwrap_or(&[]);
            if entry.first.is_empty() {
                entry.first = body.to_vec();
            }
            keep_es_head(&mut entry.es_head, body);
            entry.last = body.to_vec();
        } else if let Some(entry) = pes.get_mut(&pid) {
            keep_es_head(&mut entry.es_head, payload);
            entry.last.extend_from_slice(payload);
        }
    }
    Ok(())
}

fn keep_es_head(head: &mut Vec<u8>, data: &[u8]) {
    let room = ES_HEAD.saturating_sub(head.len());
    head.extend_from_slice(&data[..room.min(data.len())]);
}

/// Reads a PAT (PMT PIDs) or a PMT (stream kinds) section.
fn psi(pid: u16, s: &[u8], pmt_pids: &mut Vec<u16>, kinds: &mut BTreeMap<u16, Kind>) {
    let Some(len) = be16(s, 1).map(|l| usize::from(l & 0x0fff)) else {
        return;
    };
    // Section bytes after the length, without the CRC; a section spanning packets is cut.
    let end = (3 + len).saturating_sub(4).min(s.len());
    if pid == 0 && s.first() == Some(&0) {
        let mut at = 8;
        while at + 4 <= end {
            let program = be16(s, at).unwrap_or(0);
            let pmt = be16(s, at + 2).unwrap_or(0) & 0x1fff;
            if program != 0 && !pmt_pids.contains(&pmt) {
                pmt_pids.push(pmt);
            }
            at += 4;
        }
    } else if s.first() == Some(&2) {
        let info = be16(s, 10).map_or(0, |l| usize::from(l & 0x0fff));
        let mut at = 12 + info;
        while at + 5 <= end {
            let stream_type = s[at];
            let es_pid = be16(s, at + 1).unwrap_or(0) & 0x1fff;
            let es_len = be16(s, at + 3).map_or(0, |l| usize::from(l & 0x0fff));
            let descriptors = s.get(at + 5..(at + 5 + es_len).min(end)).unwrap_or(&[]);
            kinds.insert(es_pid, kind(stream_type, &descriptor_tags(descriptors)));
            at += 5 + es_len;
        }
    }
}

fn descriptor_tags(mut d: &[u8]) -> Vec<u8> {
    let mut tags = Vec::new();
    while d.len() >= 2 {
        tags.push(d[0]);
        d = d.get(2 + usize::from(d[1])..).unwrap_or(&[]);
    }
    tags
}

/// ffprobe's codec for a PMT stream type (and its descriptors, for private streams).
fn kind(stream_type: u8, tags: &[u8]) -> Kind {
    match stream_type {
        0x01 => Kind::Video("mpeg1video"),
        0x02 => Kind::Video("mpeg2video"),
        0x10 => Kind::Video("mpeg4"),
        0x1b => Kind::Video("h264"),
        0x24 => Kind::Video("hevc"),
        0x03 | 0x04 => Kind::Audio("mpeg-audio"),
        0x0f => Kind::Audio("aac"),
        0x11 => Kind::Audio("aac_latm"),
        0x81 => Kind::Audio("ac3"),
        0x87 => Kind::Audio("eac3"),
        0x06 if tags.contains(&0x6a) => Kind::Audio("ac3"),
        0x06 if tags.contains(&0x7a) => Kind::Audio("eac3"),
        0x06 if tags.iter().any(|t| matches!(t, 0x45 | 0x46 | 0x56 | 0x59)) => Kind::Other,
        0x05 | 0x0b..=0x0e | 0x15 | 0x86 => Kind::Other,
        _ => Kind::Audio("unknown"),
    }
}

/// The layer of an MPEG audio frame at the start of `payload`: mp1, mp2 or mp3.
fn mpeg_audio_layer(payload: &[u8]) -> Option<&'static str> {
    let at = payload
        .windows(2)
        .position(|w| w[0] == 0xff && w[1] & 0xe0 == 0xe0)?;
    match (payload[at + 1] >> 1) & 3 {
        1 => Some("mp3"),
        2 => Some("mp2"),
        3 => Some("mp1"),
        _ => None,
    }
}

/// The ADTS frames of an AAC PES payload: (count, seconds, channel configuration).
fn adts_frames(mut p: &[u8]) -> Option<(usize, f64, u32)> {
    const RATES: [u32; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    let (mut n, mut seconds, mut channels) = (0, 0.0, 0);
    while p.len() >= 7 && p[0] == 0xff && p[1] & 0xf0 == 0xf0 {
        let rate = *RATES.get(usize::from((p[2] >> 2) & 0x0f))?;
        channels = u32::from((p[2] & 1) << 2 | p[3] >> 6);
        let length = usize::from(p[3] & 3) << 11 | usize::from(p[4]) << 3 | usize::from(p[5] >> 5);
        let blocks = usize::from(p[6] & 3) + 1;
        if length < 7 || length > p.len() {
            break;
        }
        n += 1;
        seconds += (1024 * blocks) as f64 / f64::from(rate);
        p = &p[length..];
    }
    (n > 0).then_some((n, seconds, channels))
}

/// The channel count of the AC-3 frame at the start of `p` (acmod and the LFE bit).
fn ac3_channels(p: &[u8]) -> Option<u32> {
    let bits = u32::from(*p.get(6)?) << 8 | u32::from(*p.get(7)?);
    let acmod = bits >> 13;
    let mut skip = 3;
    if acmod & 1 != 0 && acmod != 1 {
        skip += 2;
    }
    if acmod & 4 != 0 {
        skip += 2;
    }
    if acmod == 2 {
        skip += 2;
    }
    let lfe = (bits >> (15 - skip)) & 1;
    Some([2, 1, 2, 3, 3, 4, 4, 5][acmod as usize] + lfe)
}

/// The AC-3 frames of a PES payload: (count, seconds).
fn ac3_frames(mut p: &[u8]) -> Option<(usize, f64)> {
    const KBPS: [u32; 19] = [
        32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640,
    ];
    let (mut n, mut seconds) = (0, 0.0);
    while p.len() >= 5 && p[0] == 0x0b && p[1] == 0x77 {
        let code = usize::from(p[4] & 0x3f);
        let kbps = *KBPS.get(code / 2)?;
        let (rate, words) = match p[4] >> 6 {
            0 => (48_000, kbps * 2),
            1 => (44_100, kbps * 320 / 147 + (code as u32 & 1)),
            2 => (32_000, kbps * 3),
            _ => return None,
        };
        let length = words as usize * 2;
        if length > p.len() {
            break;
        }
        n += 1;
        seconds += 1536.0 / f64::from(rate);
        p = &p[length..];
    }
    (n > 0).then_some((n, seconds))
}

/// Unwraps a 33-bit time relative to `base`.
fn unwrap(pts: u64, base: u64) -> u64 {
    if pts < base {
        pts + WRAP
    } else {
        pts
    }
}

pub(super) fn read(file: File, len: u64) -> Result<Streams, Unread> {
    let mut r = BufReader::with_capacity(64 * 1024, file);
    let io = |e: std::io::Error| e.to_string();
    let head = read_at(&mut r, 0, WINDOW.min(len) as usize).map_err(io)?;
    if head.first() != Some(&0x47) {
        return Err("not an MPEG-TS file (188-byte packets)".into());
    }
    let (mut pmt_pids, mut kinds) = (Vec::new(), BTreeMap::new());
    let mut first = BTreeMap::new();
    scan(&head, &mut pmt_pids, &mut kinds, &mut first)?;
    let mut last = BTreeMap::new();
    if len > WINDOW {
        let tail_at = len.saturating_sub(WINDOW).max(WINDOW);
        let tail = read_at(&mut r, tail_at, (len - tail_at) as usize).map_err(io)?;
        let (mut p, mut k) = (pmt_pids.clone(), BTreeMap::new());
        scan(&tail, &mut p, &mut k, &mut last)?;
        // A PES cut by the tail window's start has no start here; it is not the last one.
    }
    if kinds.is_empty() {
        return Err("no PMT in the first 4 MiB".into());
    }
    let mut streams = Streams::default();
    let mut start: Option<u64> = None;
    let mut ends: Vec<(u64, f64)> = Vec::new();
    for (pid, kind) in &kinds {
        let codec = match kind {
            Kind::Other => continue,
            Kind::Audio("unknown") => return Err(format!("unknown stream type on PID {pid}")),
            Kind::Video(c) | Kind::Audio(c) => *c,
        };
        let head_pes = first.get(pid).filter(|p| !p.pts.is_empty());
        let Some(head_pes) = head_pes else {
            return Err(format!("no timed PES on PID {pid} in the head"));
        };
        let tail_pes = last
            .get(pid)
            .filter(|p| !p.pts.is_empty())
            .unwrap_or(head_pes);
        let base = head_pes.pts[0];
        let first_pts = head_pes
            .pts
            .iter()
            .map(|&p| unwrap(p, base))
            .min()
            .unwrap_or(base);
        let mut tail_pts: Vec<u64> = tail_pes.pts.iter().map(|&p| unwrap(p, base)).collect();
        let last_pes_pts = *tail_pts.last().expect("not empty");
        tail_pts.sort_unstable();
        tail_pts.dedup();
        let max_pts = *tail_pts.last().expect("not empty");
        // The last PES lasts: its AAC frames, else the shortest gap between PES times.
        let gap = tail_pts.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(0) as f64 / 90_000.0;
        let mut last_seconds = gap;
        match kind {
            Kind::Video(codec) => {
                if !streams.has_video {
                    streams.has_video = true;
                    streams.video_codec = Some((*codec).into());
                    // The picture size, where the stream's own header says it (HEVC: not read).
                    if let Some((width, height)) = picture::size(codec, &head_pes.es_head) {
                        streams.width = Some(width);
                        streams.height = Some(height);
                    }
                }
            }
            Kind::Audio(_) => {
                let mut codec = codec.to_string();
                if codec == "mpeg-audio" {
                    codec = mpeg_audio_layer(&head_pes.first)
                        .ok_or("MPEG audio without a frame header")?
                        .into();
                }
                // The last PES may hold several audio frames: counted for AAC and AC-3; other
                // audio goes to ffprobe rather than guess.
                let frames = match codec.as_str() {
                    "aac" => adts_frames(&tail_pes.last).map(|(_, seconds, channels)| {
                        if !streams.has_audio && channels > 0 {
                            streams.audio_channels = Some(channels);
                        }
                        seconds
                    }),
                    "ac3" => ac3_frames(&tail_pes.last).map(|(_, seconds)| {
                        if !streams.has_audio {
                            streams.audio_channels = ac3_channels(&tail_pes.last);
                        }
                        seconds
                    }),
                    _ => None,
                };
                let seconds = frames.ok_or_else(|| {
                    format!("cannot measure the last {codec} frames on PID {pid}")
                })?;
                if last_pes_pts == max_pts {
                    last_seconds = seconds;
                }
                if !streams.has_audio {
                    streams.has_audio = true;
                    streams.audio_codec = Some(codec);
                }
            }
            Kind::Other => {}
        }
        start = Some(start.map_or(first_pts, |s: u64| s.min(first_pts)));
        ends.push((max_pts, last_seconds));
    }
    if let Some(start) = start {
        let end = ends
            .iter()
            .map(|(pts, secs)| (*pts as f64 - start as f64) / 90.0 + secs * 1000.0)
            .fold(0.0_f64, f64::max);
        streams.duration_ms = Some(end.round() as i64);
    }
    Ok(streams)
}
