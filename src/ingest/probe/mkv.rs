//! Matroska/WebM in process, through the `matroska-demuxer` crate: segment duration, the first
//! video and audio tracks and the first edition's chapters (contract INGEST-019).

use std::io::{Read, Seek};

use matroska_demuxer::{MatroskaFile, TrackType};

use super::{Streams, Unread};

/// ffprobe's name for a Matroska video codec id, when the reader knows it.
fn video_codec(id: &str) -> Option<&'static str> {
    Some(match id {
        "V_MPEG4/ISO/AVC" => "h264",
        "V_MPEGH/ISO/HEVC" => "hevc",
        "V_MPEG4/ISO/ASP" | "V_MPEG4/ISO/SP" | "V_MPEG4/ISO/AP" | "V_MPEG4/ISO/SIMPLE" => "mpeg4",
        "V_MPEG2" => "mpeg2video",
        "V_MPEG1" => "mpeg1video",
        "V_VP8" => "vp8",
        "V_VP9" => "vp9",
        "V_AV1" => "av1",
        "V_THEORA" => "theora",
        "V_MJPEG" => "mjpeg",
        "V_PRORES" => "prores",
        "V_FFV1" => "ffv1",
        _ => return None,
    })
}

/// ffprobe's name for a Matroska audio codec id (PCM by its bit depth), when the reader knows it.
fn audio_codec(id: &str, bits: Option<u64>) -> Option<String> {
    let name = match id {
        "A_AC3" => "ac3",
        "A_EAC3" => "eac3",
        "A_DTS" => "dts",
        "A_MPEG/L3" => "mp3",
        "A_MPEG/L2" => "mp2",
        "A_MPEG/L1" => "mp1",
        "A_OPUS" => "opus",
        "A_VORBIS" => "vorbis",
        "A_FLAC" => "flac",
        "A_TRUEHD" => "truehd",
        "A_ALAC" => "alac",
        "A_PCM/INT/LIT" => {
            return match bits? {
                8 => Some("pcm_u8".into()),
                b @ (16 | 24 | 32) => Some(format!("pcm_s{b}le")),
                _ => None,
            }
        }
        "A_PCM/INT/BIG" => {
            return match bits? {
                b @ (16 | 24 | 32) => Some(format!("pcm_s{b}be")),
                _ => None,
            }
        }
        "A_PCM/FLOAT/IEEE" => {
            return match bits? {
                b @ (32 | 64) => Some(format!("pcm_f{b}le")),
                _ => None,
            }
        }
        id if id == "A_AAC" || id.starts_with("A_AAC/") => "aac",
        _ => return None,
    };
    Some(name.to_string())
}

pub(super) fn read<R: Read + Seek>(reader: R) -> Result<Streams, Unread> {
    let file = MatroskaFile::open(reader).map_err(|e| format!("matroska: {e}"))?;
    let info = file.info();
    // The duration is in timestamp-scale units (ns each by default).
    let scale = info.timestamp_scale().get() as f64;
    let duration_ms = info
        .duration()
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(|d| (d * scale / 1_000_000.0).round() as i64);
    let mut streams = Streams {
        duration_ms,
        ..Streams::default()
    };
    for track in file.tracks() {
        match track.track_type() {
            TrackType::Video => {
                if streams.has_video {
                    continue;
                }
                streams.has_video = true;
                let codec = video_codec(track.codec_id())
                    .ok_or_else(|| format!("unknown video codec {}", track.codec_id()))?;
                streams.video_codec = Some(codec.into());
                let video = track.video().ok_or("video track without video settings")?;
                streams.width = u32::try_from(video.pixel_width().get()).ok();
                streams.height = u32::try_from(video.pixel_height().get()).ok();
            }
            TrackType::Audio => {
                if streams.has_audio {
                    continue;
                }
                streams.has_audio = true;
                let audio = track.audio().ok_or("audio track without audio settings")?;
                let bits = audio.bit_depth().map(|b| b.get());
                let codec = audio_codec(track.codec_id(), bits)
                    .ok_or_else(|| format!("unknown audio codec {}", track.codec_id()))?;
                streams.audio_codec = Some(codec);
                streams.audio_channels = u32::try_from(audio.channels().get()).ok();
            }
            _ => {}
        }
    }
    if let Some(edition) = file.chapters().and_then(|e| e.first()) {
        streams.chapters_ms = edition
            .chapter_atoms()
            .iter()
            .map(|c| ((c.time_start() + 500_000) / 1_000_000) as i64)
            .collect();
    }
    Ok(streams)
}
