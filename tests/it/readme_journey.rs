//! The README's "Your own media" block run as written, from an empty database to a frame of the
//! user's own clip decoded from the channel's stream (CLI-024, DAEMON-011); and how `serve` picks
//! its engine, says so, and refuses what nothing can play (DAEMON-011, DAEMON-012, CLI-027).
//! Real binaries, real ffmpeg clips, real HTTP over loopback; every wait is bounded.

use crate::support::ReadSome;
use crate::support_media;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support_media::{ensure_ffmpeg, TempDir};

use crate::support::one_at_a_time;

/// The README's placeholder for the user's folder, replaced by a generated library.
const FOLDER_PLACEHOLDER: &str = "~/Videos/my-tv";
/// The generated episodes' colour, far from the synthetic pictures (bars, black, blue).
const ORANGE: [u8; 3] = [255, 128, 0];

/// The commands of the fenced block under the README's "## Your own media" heading, as words.
fn readme_journey() -> Vec<Vec<String>> {
    readme_block("Your own media")
}

/// The commands of the first ```sh block under the README's `## {heading}`, as words.
pub(crate) fn readme_block(heading: &str) -> Vec<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (_, section) = text
        .split_once(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README.md has a \"## {heading}\" heading"));
    let (_, block) = section
        .split_once("```sh\n")
        .unwrap_or_else(|| panic!("a ```sh block under \"{heading}\""));
    let (block, _) = block.split_once("```").expect("the block is closed");
    block
        .lines()
        .map(shell_words)
        .filter(|words| !words.is_empty())
        .collect()
}

/// A line split like a POSIX shell does for these simple commands: blanks separate words,
/// quotes group, `#` at the start of a word begins a comment.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, '#') if word.is_none() => break,
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "unclosed quote in README line {line:?}");
    words.extend(word);
    words
}

/// `retrovue` with a private RETROVUE_HOME, no inherited database, bind address or log filter,
/// stdin closed; `path` replaces PATH when given.
fn retrovue(home: &Path, path: Option<&Path>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_retrovue"));
    command
        .env("RETROVUE_HOME", home)
        .env_remove("RETROVUE_DATABASE_URL")
        .env_remove("RETROVUE_BIND")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    command
}

/// A running daemon with its stderr log kept; killed on drop (its engines die with it).
struct Daemon {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn start(mut command: Command) -> Daemon {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start retrovue serve");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[daemon] {line}");
                sink.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(90))
            .expect("the daemon prints its address");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Daemon { child, addr, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn log_line(&self, needle: &str) -> Option<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(needle))
            .cloned()
    }

    fn json(&self, path: &str) -> serde_json::Value {
        ureq::get(&self.url(path))
            .timeout(Duration::from_secs(20))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .into_string()
            .map(|text| serde_json::from_str(&text).unwrap())
            .unwrap()
    }

    /// About `seconds` of `/channel/{id}.ts` (at least some bytes), de-chunked by ureq.
    fn capture(&self, channel: &str, seconds: u64) -> Vec<u8> {
        let mut stream = self.tune(channel);
        let mut bytes = Vec::new();
        read_for(&mut stream, channel, seconds, &mut bytes);
        bytes
    }

    /// The first picture of `/channel/{id}.ts` (see [`first_frame`]), from a capture of about
    /// `seconds`. A loaded machine's engine may not have put a whole picture into that yet:
    /// the capture then goes on, 2 s at a time, for at most 20 s more.
    fn first_picture(&self, channel: &str, seconds: u64, dir: &Path) -> Vec<[u8; 3]> {
        let mut stream = self.tune(channel);
        let mut bytes = Vec::new();
        read_for(&mut stream, channel, seconds, &mut bytes);
        let started = Instant::now();
        loop {
            match first_frame(dir, &bytes) {
                Ok(pixels) => return pixels,
                Err(e) if started.elapsed() > Duration::from_secs(20) => {
                    panic!(
                        "no frame decodes from {} bytes of {channel}: {e}",
                        bytes.len()
                    )
                }
                Err(_) => read_for(&mut stream, channel, 2, &mut bytes),
            }
        }
    }

    fn tune(&self, channel: &str) -> impl Read {
        let response = ureq::get(&self.url(&format!("/channel/{channel}.ts")))
            .timeout(Duration::from_secs(60))
            .call()
            .unwrap_or_else(|e| panic!("tune in {channel}: {e}"));
        assert_eq!(response.content_type(), "video/mp2t");
        response.into_reader()
    }
}

/// Append about `seconds` (and at least 1,000 packets) of `stream` to `bytes`.
fn read_for(stream: &mut impl Read, channel: &str, seconds: u64, bytes: &mut Vec<u8>) {
    let started = Instant::now();
    let at_least = bytes.len() + 188 * 1000;
    let mut buf = vec![0u8; 64 * 1024];
    while started.elapsed() < Duration::from_secs(seconds) || bytes.len() < at_least {
        assert!(
            started.elapsed() < Duration::from_secs(seconds + 30),
            "only {} bytes of {channel} in {}s",
            bytes.len(),
            seconds + 30
        );
        let n = stream.read_some(&mut buf).expect("read the stream");
        assert!(n > 0, "the stream of {channel} ended");
        bytes.extend_from_slice(&buf[..n]);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn eventually(seconds: u64, what: &str, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(seconds);
    while !check() {
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ffmpeg(args: &[&str]) -> Output {
    Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg")
}

/// A solid orange H.264 episode of `seconds`, tiny (64x36 at 1 fps), with or without a tone.
fn make_episode(path: &Path, seconds: u32, tone: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let video = format!("color=c=0xFF8000:s=64x36:r=1:d={seconds}");
    let audio = format!("sine=f=440:r=8000:d={seconds}");
    let mut args = vec!["-f", "lavfi", "-i", &video];
    if tone {
        args.extend(["-f", "lavfi", "-i", &audio, "-c:a", "aac", "-b:a", "12k"]);
        args.extend(["-ac", "1", "-shortest"]);
    }
    args.extend(["-c:v", "libx264", "-pix_fmt", "yuv420p"]);
    args.push(path.to_str().unwrap());
    let out = ffmpeg(&args);
    assert!(
        out.status.success(),
        "ffmpeg could not make {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The first decodable picture of a captured stream: written as a PNG (that must work), and
/// returned as 32x18 RGB pixels; ffmpeg's complaint when there is none.
fn first_frame(dir: &Path, ts: &[u8]) -> Result<Vec<[u8; 3]>, String> {
    let capture = dir.join("captured.ts");
    std::fs::write(&capture, ts).unwrap();
    let capture = capture.to_str().unwrap();
    let png = dir.join("out.png");
    let _ = std::fs::remove_file(&png);
    let out = ffmpeg(&["-y", "-i", capture, "-frames:v", "1", png.to_str().unwrap()]);
    if !(out.status.success() && png.is_file()) {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let out = ffmpeg(&[
        "-i",
        capture,
        "-frames:v",
        "1",
        "-vf",
        "scale=32:18",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]);
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 32 * 18 * 3);
    Ok(out.stdout.chunks(3).map(|p| [p[0], p[1], p[2]]).collect())
}

fn near(pixel: [u8; 3], colour: [u8; 3]) -> bool {
    pixel
        .iter()
        .zip(colour)
        .all(|(&a, b)| (i32::from(a) - i32::from(b)).abs() <= 40)
}

#[test]
fn the_readme_journey_works_verbatim_and_plays_the_users_files() {
    // contract: CLI-024
    // contract: DAEMON-011
    ensure_ffmpeg();
    let _turn = one_at_a_time();
    let home = TempDir::new("journey-home");
    let media = TempDir::new("journey-media");
    let library = media.join("my-tv");
    // The README's channel keeps the default 30-minute grid: episodes a little shorter than a
    // block keep the user's media on air nearly all the time (a few seconds long, the block
    // would be 99% pad). At 64x36 and 1 fps they are small and made in a second or two.
    make_episode(
        &library.join("Show/Season 01/Show - S01E01.mkv"),
        1790,
        true,
    );
    make_episode(
        &library.join("Show/Season 01/Show - S01E02.mp4"),
        1790,
        false,
    );

    let commands = readme_journey();
    assert!(
        commands.len() >= 9,
        "the journey has its steps: {commands:?}"
    );
    let mut placeholder_seen = false;
    let mut daemon = None;
    for (index, words) in commands.iter().enumerate() {
        assert_eq!(words[0], "retrovue", "a README command: {words:?}");
        let args: Vec<String> = words[1..]
            .iter()
            .map(|w| {
                if w == FOLDER_PLACEHOLDER {
                    placeholder_seen = true;
                    library.to_str().unwrap().to_string()
                } else {
                    w.clone()
                }
            })
            .collect();
        let mut command = retrovue(&home.path, None);
        command.args(&args);
        if args.first().map(String::as_str) == Some("serve") {
            assert_eq!(
                index,
                commands.len() - 1,
                "serve is the journey's last step"
            );
            command.env("RETROVUE_BIND", "127.0.0.1:0");
            daemon = Some(Daemon::start(command));
            continue;
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "README step {} `{}` failed: {}{}",
            index + 1,
            words.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert!(placeholder_seen, "the journey adds {FOLDER_PLACEHOLDER}");
    let daemon = daemon.expect("the journey ends with `retrovue serve`");

    // DAEMON-011: what the daemon says it does, at its default log level.
    let engine = daemon.log_line("engine: ").expect("the engine is logged");
    assert!(
        engine.contains(" INFO ") && engine.contains("engine: ffmpeg (default: ffmpeg found at "),
        "{engine}"
    );
    let database = daemon
        .log_line("database: ")
        .expect("the database is logged");
    assert!(
        database.contains(&format!("sqlite://{}", home.path.display())),
        "{database}"
    );
    let channels = daemon
        .log_line("channels: ")
        .expect("the channels are logged");
    assert!(channels.contains("channels: 1 (retro 2)"), "{channels}");

    // Tune in while an episode (not the short pad after it) is on air, with time to spare.
    let mut now = serde_json::Value::Null;
    // Worst case: 10 s of an episode left, then its 10 s pad → about 20 s.
    eventually(45, "an episode on air with 10 s left", || {
        now = daemon.json("/api/channels/retro/now");
        let event = &now["event"];
        let at = retrovue_core::time::parse_utc(now["at"].as_str().unwrap()).unwrap();
        let end = retrovue_core::time::parse_utc(event["end"].as_str().unwrap()).unwrap();
        event["asset"].is_string() && end - at >= 10_000
    });
    assert_eq!(now["programme"]["title"], "The Show", "{now}");
    let dir = TempDir::new("journey-capture");
    let pixels = daemon.first_picture("retro", 4, &dir.path);
    let orange = pixels.iter().filter(|&&p| near(p, ORANGE)).count();
    assert!(
        orange * 10 >= pixels.len() * 9,
        "the frame is the user's orange episode, not test pictures: {orange} of {} pixels \
         orange; first pixels {:?}",
        pixels.len(),
        &pixels[..4]
    );
}

/// A lineup with one episode that is a file, for the refusals.
fn lineup_with_a_file(dir: &TempDir) -> PathBuf {
    let clip = dir.touch("Show - S01E01.mkv");
    dir.write(
        "lineup.toml",
        &format!(
            r#"[[asset]]
id = "ep1"
kind = "episode"
title = "Pilot"
series = "Show"
season = 1
episode = 1
duration_ms = 60000
path = "{}"

[[program]]
id = "show"
title = "The Show"
play_mode = "sequential"
series = "Show"

[[channel]]
id = "retro"
number = "2"
name = "Retro"
timezone = "UTC"
grid_block_minutes = 30
block_start_offsets_minutes = [0, 30]
programming_day_start = "06:00"
break_policy = "end"
interstitials = []

  [[channel.plan]]
  name = "Daily"

    [[channel.plan.zone]]
    name = "All day"
    start = "06:00"
    end = "06:00"
    items = ["show"]
"#,
            clip.display()
        ),
    )
}

/// Exit 2, nothing listening, and the last stderr line is the refusal.
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "refused as bad input: {stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "nothing listens"
    );
    let last = stderr.trim_end().lines().last().unwrap_or("").to_string();
    assert!(last.starts_with("error: "), "{stderr}");
    last
}

#[test]
fn without_ffmpeg_the_demo_plays_synthetically_and_refusals_are_logged() {
    // contract: DAEMON-011
    // contract: CLI-027
    let home = TempDir::new("nofff-home");
    let empty_path = TempDir::new("nofff-path");
    let mut command = retrovue(&home.path, Some(&empty_path.path));
    command.args(["serve", "--bind", "127.0.0.1:0"]);
    let daemon = Daemon::start(command);
    let engine = daemon.log_line("engine: ").expect("the engine is logged");
    assert!(
        engine.contains(" INFO ")
            && engine.contains("engine: synthetic (default: ffmpeg not found on PATH)"),
        "{engine}"
    );
    let channels = daemon
        .log_line("channels: ")
        .expect("the channels are logged");
    assert!(channels.contains("retro-one"), "{channels}");
    let ts = daemon.capture("retro-one", 1);
    assert!(ts.len() >= 188 * 1000 && ts[0] == 0x47, "a TS stream");

    // contract: DAEMON-012
    let (status, body) = match ureq::get(&daemon.url("/channel/nope.ts")).call() {
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(status, 404, "{body}");
    eventually(10, "the refusal in the log", || {
        daemon
            .log_line("tune-in \"nope\": refused: 404 unknown channel")
            .is_some_and(|l| l.contains(" WARN "))
    });
}

#[test]
fn without_ffmpeg_a_catalog_of_files_is_refused_unless_synthetic_is_asked_for() {
    // contract: DAEMON-012
    let home = TempDir::new("nofiles-home");
    let empty_path = TempDir::new("nofiles-path");
    let dir = TempDir::new("nofiles-lineup");
    let lineup = lineup_with_a_file(&dir);
    let lineup = lineup.to_str().unwrap();

    let out = retrovue(&home.path, Some(&empty_path.path))
        .args(["serve", "--bind", "127.0.0.1:0", "--lineup", lineup])
        .output()
        .unwrap();
    let line = refused(&out);
    assert!(
        line.contains("1 assets are files")
            && line.contains("Show - S01E01.mkv")
            && line.contains("ffmpeg is not on PATH")
            && line.contains("apt-get install ffmpeg")
            && line.contains("--engine synthetic"),
        "{line}"
    );

    // Asked for explicitly, the synthetic engine starts, and says what it will not play.
    // contract: DAEMON-011
    let mut command = retrovue(&home.path, Some(&empty_path.path));
    command.args(["serve", "--bind", "127.0.0.1:0", "--engine", "synthetic"]);
    command.args(["--lineup", lineup]);
    let daemon = Daemon::start(command);
    let engine = daemon.log_line("engine: synthetic").expect("engine logged");
    assert!(engine.contains("(--engine synthetic)"), "{engine}");
    let warning = daemon
        .log_line("as test pictures")
        .expect("a warning about the files");
    assert!(
        warning.contains(" WARN ") && warning.contains("1 assets that are files"),
        "{warning}"
    );
}

#[test]
fn engine_ffmpeg_without_ffmpeg_is_refused_at_start() {
    // contract: DAEMON-012
    let home = TempDir::new("noff-engine-home");
    let empty_path = TempDir::new("noff-engine-path");
    let out = retrovue(&home.path, Some(&empty_path.path))
        .args(["serve", "--bind", "127.0.0.1:0", "--engine", "ffmpeg"])
        .output()
        .unwrap();
    let line = refused(&out);
    assert_eq!(
        line,
        "error: --engine ffmpeg: ffmpeg is not on PATH: install it (apt-get install ffmpeg)"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1,
        "checked before anything else is done"
    );
}

#[test]
fn with_ffmpeg_on_path_the_default_engine_is_ffmpeg_and_renders_the_demo() {
    // contract: DAEMON-011
    ensure_ffmpeg();
    let _turn = one_at_a_time();
    let home = TempDir::new("ffpath-home");
    let bin = TempDir::new("ffpath-bin");
    for tool in ["ffmpeg", "ffprobe"] {
        let Some(found) = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
        else {
            panic!("{tool} is installed (ensure-ffmpeg.sh)");
        };
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    let mut command = retrovue(&home.path, Some(&bin.path));
    command.args(["serve", "--bind", "127.0.0.1:0"]);
    let daemon = Daemon::start(command);
    let engine = daemon.log_line("engine: ").expect("the engine is logged");
    let expected = format!(
        "engine: ffmpeg (default: ffmpeg found at {})",
        bin.join("ffmpeg").display()
    );
    assert!(engine.contains(&expected), "{engine}");
    // The demo's assets have no files: the ffmpeg engine renders them as test pictures.
    let dir = TempDir::new("ffpath-capture");
    let pixels = daemon.first_picture("retro-one", 3, &dir.path);
    assert!(
        pixels.iter().filter(|&&p| near(p, ORANGE)).count() * 2 < pixels.len(),
        "test pictures"
    );
}
