//! `retrovue-engine-ffmpeg [--ffmpeg PATH]`: the playout engine for real media. Speaks the engine
//! protocol (contracts/engine-protocol.md) and plays each segment through an `ffmpeg` child.

use retrovue::engine::ffmpeg::FfmpegRenderer;

const USAGE: &str = "usage: retrovue-engine-ffmpeg [--ffmpeg PATH]";

fn main() {
    let mut ffmpeg = "ffmpeg".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ffmpeg" => match args.next() {
                Some(path) => ffmpeg = path,
                None => fail("--ffmpeg needs a path"),
            },
            "--help" | "-h" => fail(USAGE),
            other => fail(&format!("unknown argument `{other}`; {USAGE}")),
        }
    }
    let mut renderer = FfmpegRenderer::new(ffmpeg);
    std::process::exit(retrovue::engine::run(&mut renderer));
}

fn fail(message: &str) -> ! {
    eprintln!("retrovue-engine-ffmpeg: {message}");
    std::process::exit(2);
}
