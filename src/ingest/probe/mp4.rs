//! MP4/QuickTime in process: a walk of the ISO BMFF boxes that reads `moov` only (contract
//! INGEST-020). Hand-written: the `mp4` crate (0.14) knows only avc1/hev1/vp09/mp4a/tx3g sample
//! entries (no mp4v, hvc1 or ac-3) and loads every sample table, and this needs neither.

use std::fs::File;
use std::io::BufReader;

use super::{be16, be32, be64, object_type_codec, read_at, Streams, Unread};

/// The largest `moov` read into memory; a bigger one goes to ffprobe.
const MAX_MOOV: u64 = 64 * 1024 * 1024;

/// One box: its type and its payload's range within the buffer it was found in.
struct Bx<'a> {
    kind: [u8; 4],
    body: &'a [u8],
}

/// The boxes directly inside `data`.
fn boxes(data: &[u8]) -> Result<Vec<Bx<'_>>, Unread> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let size = be32(data, at).ok_or("short box")? as u64;
        let kind: [u8; 4] = data[at + 4..at + 8].try_into().expect("4 bytes");
        let (header, size) = match size {
            0 => (8, (data.len() - at) as u64),
            1 => (16, be64(data, at + 8).ok_or("short box")?),
            n => (8, n),
        };
        let end = at
            .checked_add(usize::try_from(size).map_err(|_| "box too large")?)
            .ok_or("box too large")?;
        if size < header as u64 || end > data.len() {
            return Err(format!(
                "box {} overruns its parent",
                String::from_utf8_lossy(&kind)
            ));
        }
        out.push(Bx {
            kind,
            body: &data[at + header..end],
        });
        at = end;
    }
    Ok(out)
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, Unread> {
    Ok(boxes(data)?
        .into_iter()
        .find(|b| &b.kind == kind)
        .map(|b| b.body))
}

fn path<'a>(data: &'a [u8], kinds: &[&[u8; 4]]) -> Result<Option<&'a [u8]>, Unread> {
    let mut here = data;
    for kind in kinds {
        match child(here, kind)? {
            Some(body) => here = body,
            None => return Ok(None),
        }
    }
    Ok(Some(here))
}

/// Finds the `moov` box among the file's top-level boxes, seeking past the rest.
fn find_moov(file: File, len: u64) -> Result<Vec<u8>, Unread> {
    let mut r = BufReader::with_capacity(4096, file);
    let mut at = 0u64;
    let io = |e: std::io::Error| e.to_string();
    while at + 8 <= len {
        let head = read_at(&mut r, at, 16).map_err(io)?;
        let size = be32(&head, 0).ok_or("short box")? as u64;
        let kind = &head[4..8];
        let (header, size) = match size {
            0 => (8u64, len - at),
            1 => (16, be64(&head, 8).ok_or("short box")?),
            n => (8, n),
        };
        if size < header || at + size > len {
            return Err("top-level box overruns the file".into());
        }
        if at == 0 && kind != b"ftyp" && kind != b"moov" && kind != b"free" && kind != b"wide" {
            return Err("not an ISO media file".into());
        }
        if kind == b"moov" {
            if size - header > MAX_MOOV {
                return Err("moov too large".into());
            }
            return read_at(&mut r, at + header, (size - header) as usize).map_err(io);
        }
        at += size;
    }
    Err("no moov box".into())
}

/// The `esds` box's object type indication (ISO 14496-1 DecoderConfigDescriptor) and, for AAC,
/// the channel configuration of its AudioSpecificConfig (what ffprobe reports, not the sample
/// entry's channel count, which ffmpeg always writes as 2).
fn esds_object_type(esds: &[u8]) -> Option<(u8, Option<u32>)> {
    let mut at = 4; // version and flags
    let descriptor = |at: &mut usize| -> Option<(u8, usize)> {
        let tag = *esds.get(*at)?;
        *at += 1;
        let mut size = 0usize;
        for _ in 0..4 {
            let b = *esds.get(*at)?;
            *at += 1;
            size = (size << 7) | usize::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
        Some((tag, size))
    };
    let (tag, _) = descriptor(&mut at)?;
    if tag != 0x03 {
        return None;
    }
    at += 2; // ES_ID
    let flags = *esds.get(at)?;
    at += 1;
    if flags & 0x80 != 0 {
        at += 2;
    }
    if flags & 0x40 != 0 {
        at += 1 + usize::from(*esds.get(at)?);
    }
    if flags & 0x20 != 0 {
        at += 2;
    }
    let (tag, _) = descriptor(&mut at)?;
    if tag != 0x04 {
        return None;
    }
    let oti = *esds.get(at)?;
    at += 13;
    let channels = match descriptor(&mut at) {
        Some((0x05, _)) if matches!(oti, 0x40 | 0x66..=0x68) => {
            // audioObjectType (5 bits, 31: 6 more), frequency index (4, 15: 24 more), channels (4).
            let bits =
                u64::from(be32(esds, at)?) << 32 | u64::from(be32(esds, at + 4).unwrap_or(0));
            let mut pos = 5;
            if bits >> 59 == 31 {
                pos += 6;
            }
            if (bits >> (64 - pos - 4)) & 0xf == 15 {
                pos += 24;
            }
            pos += 4;
            let config = ((bits >> (64 - pos - 4)) & 0xf) as u32;
            (1..=6)
                .contains(&config)
                .then_some(config)
                .or((config == 7).then_some(8))
        }
        _ => None,
    };
    Some((oti, channels))
}

/// The codec of a sample entry, by its type and (for mp4v/mp4a) its esds box, and the channel
/// count the esds gives.
fn entry_codec(
    kind: &[u8; 4],
    children: &[u8],
) -> Result<(Option<&'static str>, Option<u32>), Unread> {
    let esds = || -> Result<Option<(u8, Option<u32>)>, Unread> {
        let esds = match child(children, b"esds")? {
            Some(e) => Some(e),
            // QuickTime sound descriptions keep it inside `wave`.
            None => path(children, &[b"wave", b"esds"])?,
        };
        Ok(esds.and_then(esds_object_type))
    };
    if let b"mp4v" | b"mp4a" = kind {
        return Ok(match esds()? {
            Some((oti, channels)) => (object_type_codec(oti), channels),
            None => (None, None),
        });
    }
    let codec = match kind {
        b"avc1" | b"avc3" => Some("h264"),
        b"hvc1" | b"hev1" => Some("hevc"),
        b"av01" => Some("av1"),
        b"vp09" => Some("vp9"),
        b"vp08" => Some("vp8"),
        b"apch" | b"apcn" | b"apcs" | b"apco" | b"ap4h" | b"ap4x" => Some("prores"),
        b"jpeg" | b"mjpa" => Some("mjpeg"),
        b"ac-3" => Some("ac3"),
        b"ec-3" => Some("eac3"),
        b"Opus" => Some("opus"),
        b"fLaC" => Some("flac"),
        b"alac" => Some("alac"),
        b".mp3" => Some("mp3"),
        _ => None,
    };
    Ok((codec, None))
}

/// One track's facts.
struct Track {
    handler: [u8; 4],
    codec: Option<&'static str>,
    entry: [u8; 4],
    width: Option<u32>,
    height: Option<u32>,
    channels: Option<u32>,
    /// In ms, from `mdhd`.
    duration_ms: Option<i64>,
    chapter_ref: bool,
}

fn track(trak: &[u8]) -> Result<Track, Unread> {
    let mdia = child(trak, b"mdia")?.ok_or("trak without mdia")?;
    let hdlr = child(mdia, b"hdlr")?.ok_or("mdia without hdlr")?;
    let handler: [u8; 4] = hdlr.get(8..12).ok_or("short hdlr")?.try_into().expect("4");
    let duration_ms = match child(mdia, b"mdhd")? {
        Some(m) if m.first() == Some(&1) => {
            let scale = be32(m, 20).ok_or("short mdhd")?;
            let dur = be64(m, 24).ok_or("short mdhd")?;
            ms(dur, scale)
        }
        Some(m) => {
            let scale = be32(m, 12).ok_or("short mdhd")?;
            let dur = be32(m, 16).ok_or("short mdhd")?;
            ms(u64::from(dur), scale)
        }
        None => None,
    };
    let chapter_ref = child(trak, b"tref")?
        .map(|t| child(t, b"chap").map(|c| c.is_some()))
        .transpose()?
        .unwrap_or(false);
    let mut t = Track {
        handler,
        codec: None,
        entry: *b"    ",
        width: None,
        height: None,
        channels: None,
        duration_ms,
        chapter_ref,
    };
    let Some(stsd) = path(mdia, &[b"minf", b"stbl", b"stsd"])? else {
        return Ok(t);
    };
    // version+flags (4), entry count (4), then the first entry.
    let Some(entry) = boxes(stsd.get(8..).ok_or("short stsd")?)?
        .into_iter()
        .next()
    else {
        return Ok(t);
    };
    t.entry = entry.kind;
    let body = entry.body;
    match &handler {
        b"vide" => {
            // SampleEntry (8) + VisualSampleEntry fields: width at 24, children after 78.
            t.width = be16(body, 24).map(u32::from);
            t.height = be16(body, 26).map(u32::from);
            t.codec = entry_codec(&entry.kind, body.get(78..).unwrap_or(&[]))?.0;
        }
        b"soun" => {
            // SampleEntry (8) + version (2) …; channel count at 16; QuickTime v1/v2 grow it.
            let version = be16(body, 8).unwrap_or(0);
            let children_at = match version {
                0 => 28,
                1 => 44,
                2 => 64,
                v => return Err(format!("sound description version {v}")),
            };
            t.channels = if version == 2 {
                be32(body, 40)
            } else {
                be16(body, 16).map(u32::from)
            };
            let (codec, esds_channels) =
                entry_codec(&entry.kind, body.get(children_at..).unwrap_or(&[]))?;
            t.codec = codec;
            t.channels = esds_channels.or(t.channels);
        }
        _ => {}
    }
    Ok(t)
}

fn ms(duration: u64, timescale: u32) -> Option<i64> {
    (timescale > 0 && duration != u64::MAX && duration != u64::from(u32::MAX))
        .then(|| ((duration as f64) * 1000.0 / f64::from(timescale)).round() as i64)
}

pub(super) fn read(file: File, len: u64) -> Result<Streams, Unread> {
    let moov = find_moov(file, len)?;
    if child(&moov, b"mvex")?.is_some() {
        return Err("fragmented MP4".into());
    }
    if path(&moov, &[b"udta", b"chpl"])?.is_some() {
        return Err("Nero chapters".into());
    }
    let mvhd = child(&moov, b"mvhd")?.ok_or("moov without mvhd")?;
    let movie_ms = if mvhd.first() == Some(&1) {
        ms(
            be64(mvhd, 24).ok_or("short mvhd")?,
            be32(mvhd, 20).ok_or("short mvhd")?,
        )
    } else {
        ms(
            u64::from(be32(mvhd, 16).ok_or("short mvhd")?),
            be32(mvhd, 12).ok_or("short mvhd")?,
        )
    };
    let mut streams = Streams {
        duration_ms: movie_ms.filter(|d| *d > 0),
        ..Streams::default()
    };
    let mut longest_track = 0;
    for trak in boxes(&moov)?.into_iter().filter(|b| &b.kind == b"trak") {
        let t = track(trak.body)?;
        if t.chapter_ref || matches!(&t.handler, b"text" | b"sbtl" | b"subt") {
            return Err("chapter or text track".into());
        }
        longest_track = longest_track.max(t.duration_ms.unwrap_or(0));
        let unknown = || {
            format!(
                "unknown {} codec {}",
                String::from_utf8_lossy(&t.handler),
                String::from_utf8_lossy(&t.entry)
            )
        };
        match &t.handler {
            b"vide" if !streams.has_video => {
                streams.has_video = true;
                streams.video_codec = Some(t.codec.ok_or_else(unknown)?.into());
                streams.width = t.width;
                streams.height = t.height;
            }
            b"soun" if !streams.has_audio => {
                streams.has_audio = true;
                streams.audio_codec = Some(t.codec.ok_or_else(unknown)?.into());
                streams.audio_channels = t.channels;
            }
            _ => {}
        }
    }
    if streams.duration_ms.is_none() && longest_track > 0 {
        streams.duration_ms = Some(longest_track);
    }
    Ok(streams)
}
