//! `retrovue-engine-synthetic [--bitrate BITS]`: the dependency-free playout engine. Speaks the
//! engine protocol (contracts/engine-protocol.md) and emits H.264 colour bars and AAC silence.

use retrovue::engine::synthetic::{SyntheticRenderer, DEFAULT_BITRATE, MIN_BITRATE};

const USAGE: &str = "usage: retrovue-engine-synthetic [--bitrate BITS_PER_SECOND] \
                     [--profile=TEXT] [--channel-name=NAME]";

fn parse_bitrate(args: &[String]) -> Result<u64, String> {
    let mut bitrate = DEFAULT_BITRATE;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = if let Some(value) = arg.strip_prefix("--bitrate=") {
            value.to_string()
        } else if arg == "--bitrate" {
            iter.next().ok_or("--bitrate needs a value")?.clone()
        } else if let Some(profile) = arg.strip_prefix("--profile=") {
            // ENGINE-014: checked, then the fixed test picture is sent whatever it asks.
            retrovue_core::profile::OutputProfile::parse(profile)
                .map_err(|e| format!("--profile: {e}"))?;
            continue;
        } else if arg.starts_with("--channel-name=") {
            continue;
        } else if arg == "--help" || arg == "-h" {
            return Err(USAGE.to_string());
        } else {
            return Err(format!("unknown argument `{arg}`; {USAGE}"));
        };
        bitrate = value.parse().map_err(|_| {
            format!("--bitrate: `{value}` is not a whole number of bits per second")
        })?;
        if bitrate < MIN_BITRATE {
            return Err(format!(
                "--bitrate: {bitrate} is below the minimum {MIN_BITRATE}"
            ));
        }
    }
    Ok(bitrate)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bitrate = match parse_bitrate(&args) {
        Ok(bitrate) => bitrate,
        Err(message) => {
            eprintln!("retrovue-engine-synthetic: {message}");
            std::process::exit(2);
        }
    };
    let mut renderer = SyntheticRenderer::new(bitrate);
    std::process::exit(retrovue::engine::run(&mut renderer));
}
