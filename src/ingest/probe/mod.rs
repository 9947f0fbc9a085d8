//! The probing stage of ingest: in-process container readers (Matroska, MP4/QuickTime, MPEG-TS)
//! with ffprobe as the fallback, and the bounded worker pool that probes files in parallel with
//! results in discovery order (contracts INGEST-018..021).

mod mkv;
mod mp4;
mod picture;
pub mod pool;
mod ts;

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::discovered::{normalise_chapters, DiscoveredItem, ProbeData};
use super::enricher::{EnrichError, IngestEnricher};
use super::ffprobe::Ffprobe;

/// The environment variable that chooses how files are probed: `auto` (default) or `ffprobe`.
pub const PROBE_ENV: &str = "RETROVUE_PROBE";

/// How the probing enricher measures files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeMode {
    /// The in-process reader where it can, ffprobe for the rest.
    Auto,
    /// ffprobe for every file.
    FfprobeOnly,
}

impl ProbeMode {
    /// The mode `RETROVUE_PROBE` asks for, or why its value is bad.
    pub fn from_env() -> Result<ProbeMode, String> {
        match std::env::var(PROBE_ENV) {
            Err(_) => Ok(ProbeMode::Auto),
            Ok(v) if v.is_empty() || v == "auto" => Ok(ProbeMode::Auto),
            Ok(v) if v == "ffprobe" => Ok(ProbeMode::FfprobeOnly),
            Ok(v) => Err(format!(
                "environment variable {PROBE_ENV}={v:?}: allowed values are auto, ffprobe"
            )),
        }
    }
}

/// Which container a file is, judged by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Matroska,
    Mp4,
    Ts,
}

fn container_of(path: &Path) -> Option<Container> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "mkv" | "webm" | "mk3d" | "mka" => Some(Container::Matroska),
        "mp4" | "m4v" | "mov" | "m4a" | "qt" => Some(Container::Mp4),
        "ts" | "m2ts" | "mts" | "tsv" => Some(Container::Ts),
        _ => None,
    }
}

/// What an in-process reader found: stream facts and the duration, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
struct Streams {
    duration_ms: Option<i64>,
    chapters_ms: Vec<i64>,
    video_codec: Option<String>,
    audio_codec: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    audio_channels: Option<u32>,
    has_video: bool,
    has_audio: bool,
}

/// Why the in-process reader gave up on a file (it then goes to ffprobe).
type Unread = String;

/// Reads `path` in process: `Ok(probe)` when the container is known and everything needed was
/// found, `Err(why)` when the file should go to ffprobe instead (INGEST-019..021).
pub fn read_container(path: &Path) -> Result<ProbeData, String> {
    let container = container_of(path).ok_or("unknown container")?;
    // A FIFO or device could block forever; only plain files are read here (INGEST-014 keeps
    // its timeout for the rest through ffprobe).
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let file = File::open(path).map_err(|e| e.to_string())?;
    let len = meta.len();
    let streams = match container {
        Container::Matroska => mkv::read(BufReader::with_capacity(16 * 1024, file))?,
        Container::Mp4 => mp4::read(file, len)?,
        Container::Ts => ts::read(file, len)?,
    };
    if !streams.has_video && !streams.has_audio {
        return Err("no audio or video stream".into());
    }
    let duration_ms = streams
        .duration_ms
        .filter(|d| *d > 0)
        .ok_or("no duration")?;
    let duration_ms = retrovue_core::validate::check_duration(duration_ms)
        .map_err(|e| format!("bad duration: {e}"))?;
    let chapters = streams
        .chapters_ms
        .into_iter()
        .filter(|&c| c < duration_ms)
        .collect();
    Ok(ProbeData {
        duration_ms,
        chapters_ms: normalise_chapters(chapters),
        video_codec: streams.video_codec,
        audio_codec: streams.audio_codec,
        width: streams.width.filter(|w| *w > 0),
        height: streams.height.filter(|h| *h > 0),
        audio_channels: streams.audio_channels.filter(|c| *c > 0),
    })
}

/// The configured `ffprobe` enricher as ingest runs it: the in-process reader first, ffprobe
/// for whatever it cannot read (or for every file in [`ProbeMode::FfprobeOnly`]).
#[derive(Debug, Clone)]
pub struct MediaProbe {
    pub ffprobe: Ffprobe,
    pub mode: ProbeMode,
}

impl MediaProbe {
    /// Measures `path`: in process when possible, else with ffprobe (whose errors are kept).
    pub fn probe(&self, path: &Path) -> Result<ProbeData, EnrichError> {
        if self.mode == ProbeMode::Auto {
            match read_container(path) {
                Ok(probe) => return Ok(probe),
                Err(why) => log::debug!("{}: read by ffprobe ({why})", path.display()),
            }
        }
        self.ffprobe.probe(path)
    }
}

impl IngestEnricher for MediaProbe {
    fn name(&self) -> &'static str {
        "ffprobe"
    }

    /// As [`Ffprobe`]'s enrich (INGEST-015), with the measurement from [`MediaProbe::probe`].
    fn enrich(&self, item: DiscoveredItem) -> Result<DiscoveredItem, EnrichError> {
        super::ffprobe::enrich_with(item, |path| self.probe(path))
    }
}

// ---------------------------------------------------------------------------------------------
// Small byte helpers shared by the readers.

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Reads up to `len` bytes at `offset` (fewer at the end of the file).
fn read_at<R: Read + Seek>(r: &mut R, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len);
    r.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// ffprobe's name for an MPEG-4 object type indication (ISO 14496-1 table 5), as in `esds`
/// boxes and MPEG-TS.
fn object_type_codec(oti: u8) -> Option<&'static str> {
    Some(match oti {
        0x20 => "mpeg4",
        0x21 => "h264",
        0x23 => "hevc",
        0x40 | 0x66..=0x68 => "aac",
        0x60..=0x65 => "mpeg2video",
        0x69 | 0x6B => "mp3",
        0x6A => "mpeg1video",
        0x6C => "mjpeg",
        0xA5 => "ac3",
        0xA6 => "eac3",
        _ => return None,
    })
}
