//! Output profiles (ENGINE-020): the text form `RES pFPS[:KEY[=VALUE]]...` that says what a
//! channel's stream looks like — `720p30` (the default), `1080p60`, `480p25`, `720p50:crf=21`,
//! `1080p30:bitrate=8M`, `480p30:mpeg2`, `720p30:lufs=-16:lang=eng,fre`.
//!
//! The pure parser lives here so that the lineup, the CLI and the store validate a channel's
//! `output_profile` with exactly the rules the ffmpeg engine applies.

use std::fmt;

/// The profile used when none is given.
pub const DEFAULT_PROFILE: &str = "720p30";
/// Default programme loudness target, EBU R128.
pub const DEFAULT_LUFS: f64 = -23.0;

/// The video codec of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// H.264 (libx264), High profile, with AAC-LC audio.
    H264,
    /// MPEG-2 video with MPEG-1 Layer II audio, for old clients.
    Mpeg2,
}

/// How the video bitrate is controlled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateControl {
    /// Constant rate factor (H.264 only), capped at the resolution's default maximum bitrate.
    Crf(u8),
    /// A target (and maximum) bitrate in bits per second.
    Bitrate(u64),
}

/// A frame rate as a fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRate {
    pub num: u32,
    pub den: u32,
}

impl FrameRate {
    pub fn as_f64(&self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// Frames in one second, rounded up (the keyframe interval).
    pub fn frames_per_second_ceil(&self) -> u32 {
        self.num.div_ceil(self.den)
    }
}

impl fmt::Display for FrameRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// A parsed output profile.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputProfile {
    /// The text it was parsed from.
    pub text: String,
    pub width: u32,
    pub height: u32,
    pub fps: FrameRate,
    pub codec: VideoCodec,
    pub rate: RateControl,
    /// Integrated loudness target (LUFS), -70 ..= -5.
    pub lufs: f64,
    /// Preferred audio languages (ISO 639 codes as tagged in the media), most wanted first.
    pub audio_languages: Vec<String>,
}

impl Default for OutputProfile {
    fn default() -> OutputProfile {
        OutputProfile::parse(DEFAULT_PROFILE).expect("the default profile parses")
    }
}

const RESOLUTIONS: &[(&str, u32, u32)] =
    &[("1080", 1920, 1080), ("720", 1280, 720), ("480", 854, 480)];
const RATES: &[(&str, u32, u32)] = &[
    ("23.976", 24_000, 1_001),
    ("24", 24, 1),
    ("25", 25, 1),
    ("29.97", 30_000, 1_001),
    ("30", 30, 1),
    ("50", 50, 1),
    ("59.94", 60_000, 1_001),
    ("60", 60, 1),
];
const SYNTAX: &str =
    "expected RESpFPS[:OPTION...], RES 1080|720|480, FPS 23.976|24|25|29.97|30|50|59.94|60, \
     OPTION h264|mpeg2|crf=0..51|bitrate=N[k|M]|lufs=-70..-5|lang=CODE[,CODE...]";

impl OutputProfile {
    /// Parses the text form; the error names the text and what is wrong with it.
    pub fn parse(text: &str) -> Result<OutputProfile, String> {
        let bad = |what: String| format!("output profile {text:?}: {what} ({SYNTAX})");
        let mut parts = text.trim().split(':');
        let head = parts.next().unwrap_or("");
        let Some((res, fps)) = head.split_once('p') else {
            return Err(bad(format!("{head:?} is not RESpFPS")));
        };
        let Some(&(_, width, height)) = RESOLUTIONS.iter().find(|(r, _, _)| *r == res) else {
            return Err(bad(format!("unknown resolution {res:?}")));
        };
        let Some(&(_, num, den)) = RATES.iter().find(|(r, _, _)| *r == fps) else {
            return Err(bad(format!("unknown frame rate {fps:?}")));
        };
        let mut codec = None;
        let mut rate = None;
        let mut lufs = None;
        let mut audio_languages = None;
        for option in parts {
            let (key, value) = match option.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (option, None),
            };
            let twice = |seen: bool| {
                if seen {
                    Err(bad(format!("{key:?} given twice")))
                } else {
                    Ok(())
                }
            };
            match (key, value) {
                ("h264", None) | ("mpeg2", None) => {
                    twice(codec.is_some())?;
                    codec = Some(if key == "h264" {
                        VideoCodec::H264
                    } else {
                        VideoCodec::Mpeg2
                    });
                }
                ("crf", Some(v)) => {
                    twice(rate.is_some())?;
                    match v.parse::<u8>() {
                        Ok(crf) if crf <= 51 => rate = Some(RateControl::Crf(crf)),
                        _ => return Err(bad(format!("crf {v:?} is not 0..51"))),
                    }
                }
                ("bitrate", Some(v)) => {
                    twice(rate.is_some())?;
                    let bits = parse_bitrate(v)
                        .ok_or_else(|| bad(format!("bitrate {v:?} is not N, Nk or NM")))?;
                    if !(100_000..=100_000_000).contains(&bits) {
                        return Err(bad(format!("bitrate {v:?} is not 100k..100M")));
                    }
                    rate = Some(RateControl::Bitrate(bits));
                }
                ("lufs", Some(v)) => {
                    twice(lufs.is_some())?;
                    match v.parse::<f64>() {
                        Ok(l) if (-70.0..=-5.0).contains(&l) => lufs = Some(l),
                        _ => return Err(bad(format!("lufs {v:?} is not -70..-5"))),
                    }
                }
                ("lang", Some(v)) => {
                    twice(audio_languages.is_some())?;
                    audio_languages = Some(parse_languages(v).map_err(&bad)?);
                }
                _ => return Err(bad(format!("unknown option {option:?}"))),
            }
        }
        let codec = codec.unwrap_or(VideoCodec::H264);
        let rate = match (codec, rate) {
            (VideoCodec::Mpeg2, Some(RateControl::Crf(_))) => {
                return Err(bad("crf needs h264 (use bitrate= with mpeg2)".into()))
            }
            (_, Some(rate)) => rate,
            (VideoCodec::H264, None) => RateControl::Crf(23),
            (VideoCodec::Mpeg2, None) => RateControl::Bitrate(default_max_bitrate(height) * 2),
        };
        Ok(OutputProfile {
            text: text.trim().to_string(),
            width,
            height,
            fps: FrameRate { num, den },
            codec,
            rate,
            lufs: lufs.unwrap_or(DEFAULT_LUFS),
            audio_languages: audio_languages.unwrap_or_default(),
        })
    }

    /// The bitrate cap of CRF encoding (bits per second), by resolution.
    pub fn max_bitrate(&self) -> u64 {
        match self.rate {
            RateControl::Bitrate(bits) => bits,
            RateControl::Crf(_) => default_max_bitrate(self.height),
        }
    }
}

fn default_max_bitrate(height: u32) -> u64 {
    match height {
        1080 => 8_000_000,
        720 => 4_000_000,
        _ => 2_000_000,
    }
}

fn parse_bitrate(v: &str) -> Option<u64> {
    let (digits, scale) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1_000),
        b'm' | b'M' => (&v[..v.len() - 1], 1_000_000),
        _ => (v, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

/// `eng,fre` → `["eng", "fre"]`: each 2–3 ASCII letters, lower-cased.
pub fn parse_languages(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for code in v.split(',') {
        if !(2..=3).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("language {code:?} is not a 2- or 3-letter code"));
        }
        out.push(code.to_ascii_lowercase());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // contract: ENGINE-020
    #[test]
    fn profiles_parse_with_defaults_and_bad_text_names_itself() {
        let p = OutputProfile::parse("720p30").unwrap();
        assert_eq!((p.width, p.height), (1280, 720));
        assert_eq!(p.fps, FrameRate { num: 30, den: 1 });
        assert_eq!(p.codec, VideoCodec::H264);
        assert_eq!(p.rate, RateControl::Crf(23));
        assert_eq!(p.lufs, -23.0);
        assert_eq!(OutputProfile::default(), p);

        let p = OutputProfile::parse("1080p60").unwrap();
        assert_eq!((p.width, p.height, p.fps.num), (1920, 1080, 60));
        let p = OutputProfile::parse("480p23.976").unwrap();
        assert_eq!((p.width, p.height), (854, 480));
        assert_eq!(
            p.fps,
            FrameRate {
                num: 24_000,
                den: 1_001
            }
        );
        assert_eq!(
            OutputProfile::parse("720p50:crf=21").unwrap().rate,
            RateControl::Crf(21)
        );
        assert_eq!(
            OutputProfile::parse("1080p30:bitrate=8M").unwrap().rate,
            RateControl::Bitrate(8_000_000)
        );
        let p = OutputProfile::parse("480p30:mpeg2:bitrate=2500k").unwrap();
        assert_eq!(p.codec, VideoCodec::Mpeg2);
        assert_eq!(p.rate, RateControl::Bitrate(2_500_000));
        assert_eq!(
            OutputProfile::parse("480p30:mpeg2").unwrap().rate,
            RateControl::Bitrate(4_000_000)
        );
        let p = OutputProfile::parse("720p25:lufs=-16:lang=ENG,fre").unwrap();
        assert_eq!(p.lufs, -16.0);
        assert_eq!(p.audio_languages, vec!["eng", "fre"]);

        for (text, names) in [
            ("", "is not RESpFPS"),
            ("720", "is not RESpFPS"),
            ("720i30", "is not RESpFPS"),
            ("900p30", "unknown resolution \"900\""),
            ("720p31", "unknown frame rate \"31\""),
            ("720p30:crf=60", "crf \"60\" is not 0..51"),
            ("720p30:crf=x", "crf \"x\" is not 0..51"),
            ("720p30:bitrate=fast", "bitrate \"fast\""),
            ("720p30:bitrate=10", "is not 100k..100M"),
            ("720p30:lufs=3", "lufs \"3\" is not -70..-5"),
            ("720p30:lang=english", "language \"english\""),
            ("720p30:vp9", "unknown option \"vp9\""),
            ("720p30:crf=20:crf=21", "\"crf\" given twice"),
            ("720p30:crf=20:bitrate=2M", "\"bitrate\" given twice"),
            ("480p30:mpeg2:crf=20", "crf needs h264"),
        ] {
            let error = OutputProfile::parse(text).unwrap_err();
            assert!(
                error.contains(&format!("output profile {text:?}")) && error.contains(names),
                "{text}: {error}"
            );
        }
    }
}
