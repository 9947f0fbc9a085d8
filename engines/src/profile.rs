//! Output profiles for the ffmpeg engine (ENGINE-020..024): the profile text is parsed by the
//! core (`retrovue_core::profile`, so the lineup and CLI check it with the same rules); this
//! module turns a profile into the ffmpeg filter chains and encoder arguments every segment's
//! child uses, so all children produce one identical format and splice cleanly.

pub use retrovue_core::profile::{
    parse_languages, FrameRate, OutputProfile, RateControl, VideoCodec, DEFAULT_PROFILE,
};

/// The audio sample rate of every profile.
pub const SAMPLE_RATE: i64 = 48_000;

/// Samples per audio frame of the profile's audio codec (AAC-LC 1024, MP2 1152).
pub fn audio_frame_samples(profile: &OutputProfile) -> i64 {
    match profile.codec {
        VideoCodec::H264 => 1024,
        VideoCodec::Mpeg2 => 1152,
    }
}

/// Frames of silence the audio encoder puts before the first sample (AAC's 1024-sample
/// priming; MP2 has none): the output's audio starts this many frames before its video.
pub fn priming_frames(profile: &OutputProfile) -> i64 {
    match profile.codec {
        VideoCodec::H264 => 1,
        VideoCodec::Mpeg2 => 0,
    }
}

/// The video filter for a file's first video stream (ENGINE-021, ENGINE-025): the first frame
/// after the seek at time 0 (ffmpeg would otherwise offset it by the file's earliest stream
/// start, e.g. AAC priming, and the frame-rate conversion would repeat it), interlaced frames
/// deinterlaced, scaled to fit and padded (pillar/letterbox) with square pixels, resampled to
/// the profile's frame rate on a grid starting at 0, the last frame held if the file is short.
pub fn file_video_filter(profile: &OutputProfile, input: &str) -> String {
    let (w, h) = (profile.width, profile.height);
    format!(
        "{input}setpts=PTS-STARTPTS,bwdif=mode=send_frame:deint=interlaced,\
         scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,\
         pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps}:start_time=0,format=yuv420p,\
         tpad=stop=-1:stop_mode=clone",
        fps = profile.fps
    )
}

/// A lavfi video source (`smptebars`, `color=c=black`, …) at the profile's size and rate.
pub fn lavfi_video(profile: &OutputProfile, source: &str) -> String {
    let sep = if source.contains('=') { ':' } else { '=' };
    format!(
        "{source}{sep}s={}x{}:r={}",
        profile.width, profile.height, profile.fps
    )
}

/// The audio filter (ENGINE-022) for a slot of `duration_ms`: resampled to 48 kHz stereo,
/// starting at 0, loudness-normalised live to the profile's target (not for generated silence),
/// padded with silence and cut to whole audio frames so that, with the encoder's priming frame
/// in front (which sits before the first video frame), the audio ends within one frame before
/// the slot's end: consecutive children's audio then abuts with a gap under one frame and never
/// overlaps.
pub fn audio_filter(
    profile: &OutputProfile,
    input: &str,
    duration_ms: i64,
    normalise: bool,
) -> String {
    let frame = audio_frame_samples(profile);
    let samples =
        (duration_ms * SAMPLE_RATE / 1000 / frame - priming_frames(profile)).max(1) * frame;
    let loudnorm = if normalise {
        format!(
            "loudnorm=I={}:TP=-2:LRA=11,aresample={SAMPLE_RATE},",
            profile.lufs
        )
    } else {
        String::new()
    };
    format!(
        "{input}aresample={SAMPLE_RATE}:async=1:first_pts=0,\
         aformat=sample_rates={SAMPLE_RATE}:channel_layouts=stereo,{loudnorm}apad,\
         atrim=end_sample={samples}"
    )
}

/// Encoder arguments (ENGINE-020, ENGINE-021): H.264 High (libx264 veryfast, no B-frames) with
/// AAC-LC, or MPEG-2 with MP2; a keyframe on the first frame of every child and then every
/// second, no scene-cut keyframes.
pub fn encoder_args(profile: &OutputProfile) -> Vec<String> {
    let gop = profile.fps.frames_per_second_ceil().to_string();
    let max = profile.max_bitrate();
    let mut args: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
    match profile.codec {
        VideoCodec::H264 => {
            push(&[
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-profile:v",
                "high",
            ]);
            push(&["-bf", "0", "-sc_threshold", "0"]);
            match profile.rate {
                RateControl::Crf(crf) => push(&["-crf", &crf.to_string()]),
                RateControl::Bitrate(bits) => push(&["-b:v", &bits.to_string()]),
            }
            push(&[
                "-maxrate",
                &max.to_string(),
                "-bufsize",
                &(2 * max).to_string(),
            ]);
        }
        VideoCodec::Mpeg2 => {
            push(&[
                "-c:v",
                "mpeg2video",
                "-bf",
                "0",
                "-sc_threshold",
                "1000000000",
            ]);
            push(&["-b:v", &max.to_string(), "-maxrate", &max.to_string()]);
            push(&["-bufsize", &(2 * max).to_string()]);
        }
    }
    push(&[
        "-g",
        &gop,
        "-keyint_min",
        &gop,
        "-force_key_frames",
        "expr:eq(n,0)",
    ]);
    push(&["-pix_fmt", "yuv420p"]);
    match profile.codec {
        VideoCodec::H264 => push(&["-c:a", "aac", "-b:a", "128k"]),
        VideoCodec::Mpeg2 => push(&["-c:a", "mp2", "-b:a", "192k"]),
    }
    push(&["-ar", "48000", "-ac", "2"]);
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    // contract: ENGINE-021
    #[test]
    fn the_default_profile_encodes_h264_aac_with_a_keyframe_every_second() {
        let profile = OutputProfile::default();
        let args = encoder_args(&profile).join(" ");
        for part in [
            "-c:v libx264",
            "-profile:v high",
            "-crf 23",
            "-g 30 -keyint_min 30",
            "-sc_threshold 0",
            "-force_key_frames expr:eq(n,0)",
            "-c:a aac",
            "-ar 48000 -ac 2",
        ] {
            assert!(args.contains(part), "{part} missing from {args}");
        }
        let filter = file_video_filter(&profile, "[0:v:0]");
        assert!(filter.contains("scale=1280:720:force_original_aspect_ratio=decrease"));
        assert!(filter.contains("pad=1280:720") && filter.contains("setsar=1"));
        assert!(filter.contains("bwdif") && filter.contains("fps=30:"));
        let mpeg2 = OutputProfile::parse("480p23.976:mpeg2").unwrap();
        let args = encoder_args(&mpeg2).join(" ");
        assert!(args.contains("-c:v mpeg2video") && args.contains("-c:a mp2"));
        assert!(args.contains("-g 24 "), "{args}");
        assert!(lavfi_video(&mpeg2, "color=c=black").ends_with("s=854x480:r=24000/1001"));
        // 2 s of AAC: 93 whole frames of 1024 samples, less the priming frame.
        assert!(audio_filter(&profile, "[1:a]", 2_000, true).ends_with("end_sample=94208"));
        // MP2 has no priming: 83 whole frames of 1152 samples.
        assert!(audio_filter(&mpeg2, "[1:a]", 2_000, false).ends_with("end_sample=95616"));
        assert!(audio_filter(&profile, "[1:a]", 2_000, true).contains("loudnorm=I=-23:"));
    }
}
