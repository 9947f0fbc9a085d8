//! `retrovue-engine-ffmpeg [--ffmpeg PATH] [--profile TEXT] [--audio-lang CODES]
//! [--channel-name NAME]`: the playout engine for real media. Speaks the engine protocol
//! (contracts/engine-protocol.md) and plays each segment through an `ffmpeg` child in one output
//! profile (ENGINE-020). Options may be written `--opt VALUE` or `--opt=VALUE`; a later
//! `--profile` replaces an earlier one (the daemon's default first, then the channel's).

use retrovue::engine::ffmpeg::{check_tools, FfmpegConfig, FfmpegRenderer};
use retrovue::engine::profile::{parse_languages, OutputProfile};
use retrovue::engine::protocol::Evidence;

const USAGE: &str = "usage: retrovue-engine-ffmpeg [--ffmpeg PATH] [--profile TEXT] \
                     [--audio-lang CODE[,CODE...]] [--channel-name NAME]";

fn main() {
    let mut config = FfmpegConfig::new("ffmpeg");
    let mut audio_languages = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| match inline.clone().or_else(|| args.next()) {
            Some(value) => value,
            None => fail(&format!("{name} needs {what}")),
        };
        match name.as_str() {
            "--ffmpeg" => config.ffmpeg = value("a path"),
            "--profile" => {
                config.profile = OutputProfile::parse(&value("a profile, e.g. 720p30"))
                    .unwrap_or_else(|e| fail(&format!("--profile: {e}")))
            }
            "--audio-lang" => {
                let codes = value("language codes, e.g. eng,fre");
                audio_languages = Some(
                    parse_languages(&codes)
                        .unwrap_or_else(|e| fail(&format!("--audio-lang {codes:?}: {e}"))),
                )
            }
            "--channel-name" => config.channel_name = Some(value("a name")),
            "--help" | "-h" => fail(USAGE),
            other => fail(&format!("unknown argument `{other}`; {USAGE}")),
        }
    }
    if let Some(languages) = audio_languages {
        config.profile.audio_languages = languages;
    }
    // ENGINE-023: without ffmpeg there is nothing to play; say so at once, loudly.
    if let Err(reason) = check_tools(&config) {
        let ended = Evidence::SessionEnded {
            reason: format!("error: {reason}"),
        };
        eprintln!("{}", ended.to_line());
        eprintln!(
            "retrovue-engine-ffmpeg: {reason}; install ffmpeg (scripts/ensure-ffmpeg.sh) or pass \
             --ffmpeg PATH"
        );
        std::process::exit(1);
    }
    let mut renderer = FfmpegRenderer::new(config);
    std::process::exit(retrovue::engine::run(&mut renderer));
}

fn fail(message: &str) -> ! {
    eprintln!("retrovue-engine-ffmpeg: {message}");
    std::process::exit(2);
}
