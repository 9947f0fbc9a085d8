//! The ffmpeg engine's output profiles as real processes on clips generated at test time
//! (ENGINE-020..025): many source formats become one continuous H.264/AAC stream whose splices
//! land on the plan, loudness is normalised, the audio language is chosen, a missing ffmpeg is
//! loud, and a channel's `output_profile` survives the lineup and the store.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use retrovue::engine::protocol::{Block, Control, Evidence, Segment};

use crate::support::ts_check;

const ENGINE: &str = env!("CARGO_BIN_EXE_retrovue-engine-ffmpeg");
const RETROVUE: &str = env!("CARGO_BIN_EXE_retrovue");

use crate::support::one_at_a_time;

fn ensure_ffmpeg() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ensure-ffmpeg.sh");
    let status = Command::new("bash")
        .arg(script)
        .status()
        .expect("run ensure-ffmpeg.sh");
    assert!(status.success(), "ffmpeg could not be installed");
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rv-engine-prof-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ffmpeg(args: &[&str]) {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The luma of a clip's picture encodes its own time: `20 + 200 × (t mod 1 s)`, so a decoded
/// output frame tells which source instant it shows (to about 5 ms).
fn ramp_video(size: &str, rate: &str, seconds: f64) -> String {
    format!(
        "color=c=black:s=64x36:r={rate}:d={seconds},geq=lum='20+200*mod(T\\,1)':cb=128:cr=128,\
         scale={size}:flags=neighbor"
    )
}

/// A tone of `volume_db` relative to lavfi's default sine (about -21 LUFS at 0 dB).
fn tone(rate: u32, volume_db: i32, seconds: f64) -> String {
    format!("sine=f=1000:sample_rate={rate}:d={seconds},volume={volume_db}dB")
}

/// One source clip: video `size` at `rate`, the tone (or none), `extra` encoder arguments.
fn make_clip(
    dir: &Path,
    name: &str,
    size: &str,
    rate: &str,
    audio: Option<&str>,
    extra: &[&str],
) -> String {
    let path = dir.join(name);
    let video = ramp_video(size, rate, 3.5);
    let mut args = vec!["-f", "lavfi", "-i", &video];
    if let Some(audio) = audio {
        args.extend(["-f", "lavfi", "-i", audio]);
    }
    args.extend(extra);
    if !extra.contains(&"-c:v") {
        args.extend(["-c:v", "libx264", "-preset", "ultrafast"]);
    }
    let path_text = path.to_string_lossy().into_owned();
    args.extend(["-t", "3.5", &path_text]);
    ffmpeg(&args);
    path_text
}

fn segment(id: &str, asset: &str, in_point_ms: i64, start: i64, end: i64) -> Segment {
    Segment {
        event_id: id.into(),
        asset_uri: Some(asset.into()),
        kind: "content".into(),
        in_point_ms,
        duration_ms: end - start,
        start,
        end,
    }
}

/// Plays `segments` from `join` with engine `args` for `run_for`, then stops.
/// Returns (stdout, evidence, exit code).
fn play(
    args: &[&str],
    join: i64,
    segments: Vec<Segment>,
    run_for: Duration,
) -> (Vec<u8>, Vec<Evidence>, i32) {
    let mut child: Child = Command::new(ENGINE)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn engine");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).unwrap();
        bytes
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let block = Block {
        id: "b1".into(),
        start: segments[0].start,
        end: segments.last().unwrap().end,
        segments,
    };
    let mut stdin = child.stdin.take().unwrap();
    let start = Control::Start {
        channel: "c1".into(),
        join_at: join,
        blocks: vec![block],
    };
    writeln!(stdin, "{}", serde_json::to_string(&start).unwrap()).unwrap();
    thread::sleep(run_for);
    writeln!(stdin, "{}", serde_json::to_string(&Control::Stop).unwrap()).unwrap();
    let status = child.wait().unwrap();
    let text = err.join().unwrap();
    let evidence = text.lines().filter_map(Evidence::parse_line).collect();
    (out.join().unwrap(), evidence, status.code().unwrap_or(-1))
}

fn probe(path: &Path, entries: &str) -> String {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            entries,
            "-of",
            "default=nw=1",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Output timestamps (90 kHz ticks) in ms after the join's place on the UTC time base
/// (ENGINE-012), unwrapped.
fn since_join_ms(seconds: f64, join: i64) -> f64 {
    let wrap = (1u64 << 33) as f64;
    let base = ((join as u64 * 90) % (1u64 << 33)) as f64;
    let ticks = (seconds * 90_000.0 - base).rem_euclid(wrap);
    let ticks = if ticks > wrap / 2.0 {
        ticks - wrap
    } else {
        ticks
    };
    ticks / 90.0
}

/// `(pts seconds, value)` of every frame for which `filter` prints `key` (timestamps kept).
fn frame_values(path: &Path, stream: &str, filter: &str, key: &str) -> Vec<(f64, f64)> {
    // Video frames keep the TS time base; audio frames come out in 1/sample-rate.
    let time_base = if stream == "a" { 48_000.0 } else { 90_000.0 };
    let log = path.with_extension(format!("{}.txt", key.replace('.', "_")));
    let printing = format!(
        "{filter},{}metadata=print:key={key}:file={}",
        if stream == "a" { "a" } else { "" },
        log.display()
    );
    let flag = if stream == "a" { "-af" } else { "-vf" };
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-copyts", "-i"])
        .arg(path)
        .args([flag, &printing, "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let mut values = Vec::new();
    let mut pts = None;
    for line in text.lines() {
        // `pts_time` is printed with six significant digits: too coarse on the UTC time base.
        if let Some(at) = line.split(" pts:").nth(1) {
            pts = at
                .split_whitespace()
                .next()
                .and_then(|t| t.parse::<f64>().ok())
                .map(|ticks| ticks / time_base);
        } else if let Some(value) = line.strip_prefix(&format!("{key}=")) {
            if let (Some(pts), Ok(value)) = (pts, value.trim().parse::<f64>()) {
                values.push((pts, value));
            }
        }
    }
    values
}

/// `x` folded into `[-period/2, period/2)`.
fn circular(x: f64, period: f64) -> f64 {
    (x + period / 2.0).rem_euclid(period) - period / 2.0
}

// contract: ENGINE-011
// contract: ENGINE-021
// contract: ENGINE-024
// contract: ENGINE-025
#[test]
fn many_source_formats_become_one_h264_aac_stream_spliced_on_the_plan() {
    let _turn = one_at_a_time();
    ensure_ffmpeg();
    let dir = temp_dir("formats");
    let aac = ["-c:a", "aac"];
    let h264_mkv = make_clip(
        &dir,
        "h264.mkv",
        "1280x720",
        "30",
        Some(&tone(48_000, 0, 3.5)),
        &aac,
    );
    let bframes = make_clip(
        &dir,
        "bframes.mp4",
        "640x480",
        "25",
        Some(&tone(48_000, 0, 3.5)),
        &[
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-c:a", "aac",
        ],
    );
    let program = make_clip(
        &dir,
        "program.mpg",
        "720x576",
        "25",
        Some(&tone(48_000, 0, 3.5)),
        &[
            "-c:v",
            "mpeg2video",
            "-q:v",
            "3",
            "-c:a",
            "mp2",
            "-f",
            "vob",
        ],
    );
    let hd60 = make_clip(
        &dir,
        "hd60.mkv",
        "1920x1080",
        "60",
        Some(&tone(48_000, 0, 3.5)),
        &aac,
    );
    let film = make_clip(
        &dir,
        "film.mp4",
        "854x480",
        "24000/1001",
        Some(&tone(48_000, 0, 3.5)),
        &aac,
    );
    let interlaced = make_clip(
        &dir,
        "interlaced.ts",
        "720x480",
        "30000/1001",
        Some(&tone(48_000, 0, 3.5)),
        &[
            "-vf",
            "setfield=tff",
            "-c:v",
            "mpeg2video",
            "-q:v",
            "3",
            "-flags",
            "+ilme+ildct",
            "-top",
            "1",
            "-c:a",
            "mp2",
        ],
    );
    let mono = make_clip(
        &dir,
        "mono.mp4",
        "640x360",
        "30",
        Some(&tone(44_100, 0, 3.5)),
        &["-ac", "1", "-c:a", "aac"],
    );
    let silent = make_clip(&dir, "silent.mp4", "640x360", "30", None, &[]);
    // The source really is what the case claims.
    assert!(probe(Path::new(&interlaced), "stream=field_order").contains("field_order=tt"));
    assert!(probe(Path::new(&mono), "stream=channels,sample_rate").contains("sample_rate=44100"));
    assert!(probe(Path::new(&bframes), "stream=has_b_frames").contains("has_b_frames=2"));

    // (clip, source frame duration ms, tolerance of the landing in ms)
    let cases: Vec<(&str, f64, f64)> = vec![
        (&h264_mkv, 1000.0 / 30.0, 0.0),
        (&bframes, 40.0, 0.0),
        (&program, 40.0, 100.0),
        (&hd60, 1000.0 / 60.0, 0.0),
        (&film, 1001.0 / 24.0, 0.0),
        (&interlaced, 1001.0 / 30.0, 0.0),
        (&mono, 1000.0 / 30.0, 0.0),
        (&silent, 1000.0 / 30.0, 0.0),
    ];
    let join = now_ms() + 300;
    let slot = 2_000;
    let in_point = 1_000;
    let segments: Vec<Segment> = cases
        .iter()
        .enumerate()
        .map(|(i, (clip, _, _))| {
            let start = join + slot * i as i64;
            segment(&format!("e{i}"), clip, in_point, start, start + slot)
        })
        .collect();
    let run_for = Duration::from_millis((slot * cases.len() as i64) as u64 + 300);
    let (bytes, evidence, code) = play(&["--channel-name", "Retro One"], join, segments, run_for);
    assert_eq!(code, 0);
    for i in 0..cases.len() - 1 {
        let id = format!("e{i}");
        assert!(
            evidence.iter().any(|e| matches!(
                e,
                Evidence::SegmentAired { event_id, .. } if *event_id == id
            )),
            "{id} did not air: {evidence:?}"
        );
    }
    let path = dir.join("out.ts");
    std::fs::write(&path, &bytes).unwrap();

    // One continuous H.264/AAC stream in the default profile, named after the channel.
    let report = ts_check::check(&bytes);
    assert!(report.ok(), "{:?}", report.problems);
    let streams = probe(
        &path,
        "stream=codec_name,profile,width,height,r_frame_rate,sample_aspect_ratio,sample_rate,channels",
    );
    for expected in [
        "codec_name=h264",
        "profile=High",
        "width=1280",
        "height=720",
        "r_frame_rate=30/1",
        "codec_name=aac",
        "sample_rate=48000",
        "channels=2",
    ] {
        assert!(streams.contains(expected), "{expected} not in {streams}");
    }
    let names = probe(&path, "program_tags=service_name,service_provider");
    assert!(
        names.contains("service_name=Retro One") && names.contains("service_provider=RetroVue"),
        "{names}"
    );

    // Keyframes: one at every segment start and at least every 2 s.
    let frames = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts_time,flags",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let keyframes: Vec<f64> = String::from_utf8_lossy(&frames.stdout)
        .lines()
        .filter(|l| l.contains('K'))
        .filter_map(|l| l.split(',').next()?.parse::<f64>().ok())
        .map(|s| since_join_ms(s, join))
        .collect();
    assert!(keyframes.len() >= cases.len(), "{keyframes:?}");
    for pair in keyframes.windows(2) {
        assert!(
            pair[1] - pair[0] <= 2_000.0 + 1.0,
            "keyframes {pair:?} (ms after join)"
        );
    }

    // Where each output frame comes from: the luma ramp tells the source instant it shows.
    let lumas = frame_values(
        &path,
        "v",
        "crop=iw/4:ih/4,signalstats",
        "lavfi.signalstats.YAVG",
    );
    assert!(lumas.len() > 30 * cases.len(), "{} frames", lumas.len());
    // lag = output time - the source instant's planned output time, modulo the 1 s ramp. A
    // perfect engine has the same lag (its presentation delay, ENGINE-012) for every frame.
    let lag = |(pts, y): (f64, f64), plan_ms: f64| -> (usize, f64) {
        let i = ((plan_ms / slot as f64).floor().max(0.0) as usize).min(cases.len() - 1);
        let source_ms = (y - 20.0) / 200.0 * 1000.0;
        let out_ms = since_join_ms(pts, join);
        let wanted_ms = out_ms - (i as f64 * slot as f64) + in_point as f64;
        (i, circular(wanted_ms - source_ms, 1000.0))
    };
    // The presentation delay, from the middle of the first segment.
    let mut delays: Vec<f64> = lumas
        .iter()
        .filter(|(pts, _)| (500.0..1_500.0).contains(&since_join_ms(*pts, join)))
        .map(|&(pts, y)| lag((pts, y), since_join_ms(pts, join)).1)
        .collect();
    assert!(delays.len() > 10, "{delays:?}");
    delays.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let delay = delays[delays.len() / 2];
    assert!(
        (0.0..=500.0).contains(&delay),
        "presentation delay {delay} ms"
    );
    // Each output frame shows the source frame nearest its planned instant: within one frame
    // (of the source or the output, whichever is longer) plus the ramp's measuring noise
    // (one luma level is 5 ms).
    let noise = 6.0;
    let output_frame = 1000.0 / 30.0;
    let mut worst = vec![0.0f64; cases.len()];
    let planned_ms = (slot * cases.len() as i64) as f64;
    for &(pts, y) in &lumas {
        let plan_ms = since_join_ms(pts, join) - delay;
        if !(0.0..planned_ms).contains(&plan_ms) {
            continue; // pad after the block (the run stops at its end)
        }
        let (i, lag_ms) = lag((pts, y), plan_ms);
        worst[i] = worst[i].max((lag_ms - delay).abs());
    }
    for (i, (clip, source_frame, tolerance)) in cases.iter().enumerate() {
        let allowed = tolerance.max(source_frame.max(output_frame)) + noise;
        assert!(
            worst[i] <= allowed,
            "segment {i} ({clip}): a frame {:.1} ms off plan (allowed {allowed:.1}); all: {worst:?}",
            worst[i]
        );
    }
    eprintln!("presentation delay {delay:.1} ms; frames off plan (ms) per segment: {worst:?}");

    // Audio: one continuous track, never a hole of a frame or more (ENGINE-022).
    let audio = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a",
            "-show_entries",
            "packet=dts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let dts: Vec<f64> = String::from_utf8_lossy(&audio.stdout)
        .lines()
        .filter_map(|l| l.trim_end_matches(',').parse::<f64>().ok())
        .collect();
    assert!(dts.len() > 40 * cases.len(), "{} audio packets", dts.len());
    let aac_frame = 1024.0 / 48_000.0;
    for pair in dts.windows(2) {
        let step = pair[1] - pair[0];
        assert!(
            step > 0.0 && step < 2.0 * aac_frame - 0.0005,
            "audio dts {} -> {}: a hole of {} ms",
            pair[0],
            pair[1],
            (step - aac_frame) * 1000.0
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

// contract: ENGINE-020
#[test]
fn an_mpeg2_profile_plays_in_its_own_size_rate_and_codecs() {
    let _turn = one_at_a_time();
    ensure_ffmpeg();
    let dir = temp_dir("mpeg2");
    let a = make_clip(
        &dir,
        "a.mp4",
        "1280x720",
        "30",
        Some(&tone(44_100, 0, 3.5)),
        &["-c:a", "aac"],
    );
    let b = make_clip(
        &dir,
        "b.mkv",
        "640x480",
        "24",
        Some(&tone(48_000, 0, 3.5)),
        &["-c:a", "aac"],
    );
    let join = now_ms() + 300;
    let segments = vec![
        segment("a", &a, 500, join, join + 2_000),
        segment("b", &b, 0, join + 2_000, join + 4_000),
    ];
    let (bytes, evidence, code) = play(
        &["--profile=480p25:mpeg2"],
        join,
        segments,
        Duration::from_millis(4_300),
    );
    assert_eq!(code, 0);
    assert!(
        evidence
            .iter()
            .any(|e| matches!(e, Evidence::SegmentAired { event_id, .. } if event_id == "a")),
        "{evidence:?}"
    );
    let report = ts_check::check(&bytes);
    assert!(report.ok(), "{:?}", report.problems);
    let path = dir.join("out.ts");
    std::fs::write(&path, &bytes).unwrap();
    let streams = probe(
        &path,
        "stream=codec_name,width,height,r_frame_rate,sample_rate",
    );
    for expected in [
        "codec_name=mpeg2video",
        "width=854",
        "height=480",
        "r_frame_rate=25/1",
        "codec_name=mp2",
        "sample_rate=48000",
    ] {
        assert!(streams.contains(expected), "{expected} not in {streams}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Mean loudness (LUFS, energy average of the momentary values) of the output between
/// `from_ms` and `to_ms` after the join.
fn loudness(values: &[(f64, f64)], join: i64, from_ms: f64, to_ms: f64) -> f64 {
    let inside: Vec<f64> = values
        .iter()
        .filter(|(pts, _)| (from_ms..to_ms).contains(&since_join_ms(*pts, join)))
        .map(|(_, m)| 10f64.powf(m / 10.0))
        .collect();
    assert!(
        !inside.is_empty(),
        "no loudness values in {from_ms}..{to_ms}"
    );
    10.0 * (inside.iter().sum::<f64>() / inside.len() as f64).log10()
}

// contract: ENGINE-022
#[test]
fn loud_and_quiet_sources_land_on_the_target_and_the_preferred_language_plays() {
    let _turn = one_at_a_time();
    ensure_ffmpeg();
    let dir = temp_dir("loudness");
    let long = |name: &str, audio: &str| {
        let path = dir.join(name);
        let video = ramp_video("640x360", "30", 6.0);
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &video,
            "-f",
            "lavfi",
            "-i",
            audio,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            "-t",
            "6",
            &path.to_string_lossy(),
        ]);
        path.to_string_lossy().into_owned()
    };
    let loud = long("loud.mkv", &tone(48_000, 18, 6.0));
    let quiet = long("quiet.mkv", &tone(48_000, -24, 6.0));
    // Two tracks: French first (and default) is silent, English second is a tone.
    let langs = dir.join("langs.mkv");
    let video = ramp_video("640x360", "30", 3.0);
    let english = tone(48_000, 0, 3.0);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=48000:cl=stereo:d=3",
        "-f",
        "lavfi",
        "-i",
        &english,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-metadata:s:a:0",
        "language=fre",
        "-metadata:s:a:1",
        "language=eng",
        "-t",
        "3",
        &langs.to_string_lossy(),
    ]);
    let langs = langs.to_string_lossy().into_owned();
    let join = now_ms() + 300;
    let segments = vec![
        segment("loud", &loud, 0, join, join + 5_000),
        segment("quiet", &quiet, 0, join + 5_000, join + 10_000),
        segment("eng", &langs, 0, join + 10_000, join + 12_000),
    ];
    // The default-flagged French track plays without a preference: run the English segment
    // with the preference, then the same file in a second engine without it.
    let (bytes, evidence, code) = play(
        &["--audio-lang=deu,eng"],
        join,
        segments,
        Duration::from_millis(12_300),
    );
    assert_eq!(code, 0);
    assert!(
        evidence
            .iter()
            .any(|e| matches!(e, Evidence::SegmentAired { event_id, .. } if event_id == "quiet")),
        "{evidence:?}"
    );
    let path = dir.join("out.ts");
    std::fs::write(&path, &bytes).unwrap();
    let momentary = frame_values(&path, "a", "ebur128=metadata=1", "lavfi.r128.M");
    let target = -23.0;
    // loudnorm adapts over its first seconds; judge each source once it has settled.
    let loud_lufs = loudness(&momentary, join, 2_000.0, 5_000.0);
    let quiet_lufs = loudness(&momentary, join, 7_000.0, 10_000.0);
    assert!(
        (loud_lufs - target).abs() <= 2.0 && (quiet_lufs - target).abs() <= 2.0,
        "loud source at {loud_lufs:.1} LUFS, quiet at {quiet_lufs:.1}, target {target}"
    );
    eprintln!("loud source -> {loud_lufs:.1} LUFS, quiet source -> {quiet_lufs:.1} LUFS");
    let english_lufs = loudness(&momentary, join, 10_500.0, 12_000.0);
    assert!(
        english_lufs > -40.0,
        "the English track (a tone) should play: {english_lufs:.1} LUFS"
    );

    let join = now_ms() + 300;
    let only_french = vec![segment("fre", &langs, 0, join, join + 2_000)];
    let (bytes, _, code) = play(&[], join, only_french, Duration::from_millis(2_300));
    assert_eq!(code, 0);
    std::fs::write(&path, &bytes).unwrap();
    let momentary = frame_values(&path, "a", "ebur128=metadata=1", "lavfi.r128.M");
    let french_lufs = loudness(&momentary, join, 500.0, 2_000.0);
    assert!(
        french_lufs < -60.0,
        "without a preference the default (silent French) track plays: {french_lufs:.1} LUFS"
    );
    std::fs::remove_dir_all(&dir).ok();
}

// contract: ENGINE-023
#[test]
fn without_ffmpeg_the_engine_exits_at_once_saying_why() {
    let empty = temp_dir("nopath");
    let mut child = Command::new(ENGINE)
        .env("PATH", &empty)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn engine");
    // stdin stays open and no start is sent: the engine must not wait for one.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the engine kept running without ffmpeg"
        );
        thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    let ended = stderr.lines().find_map(Evidence::parse_line);
    match ended {
        Some(Evidence::SessionEnded { reason }) => {
            assert!(reason.starts_with("error: cannot run `ffmpeg`"), "{reason}")
        }
        other => panic!("no session_ended evidence: {other:?} in {stderr}"),
    }
    assert!(
        stderr
            .lines()
            .any(|l| !l.starts_with('{') && l.contains("ffmpeg") && l.contains("install")),
        "{stderr}"
    );
    drop(child.stdin.take());
    std::fs::remove_dir_all(&empty).ok();
}

// contract: ENGINE-020
#[test]
fn a_bad_profile_argument_exits_2_naming_the_text() {
    let output = Command::new(ENGINE)
        .args(["--profile", "720p31"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("output profile \"720p31\"") && stderr.contains("unknown frame rate"),
        "{stderr}"
    );
    let output = Command::new(ENGINE)
        .args(["--audio-lang=english"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

fn retrovue(db: &str, home: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(RETROVUE)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RETROVUE_DATABASE_URL")
        .env("RETROVUE_HOME", home)
        .output()
        .expect("run retrovue");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

// contract: LINEUP-015
#[test]
fn a_channel_output_profile_survives_import_export_and_the_cli() {
    let dir = temp_dir("lineup");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/lineup.toml");
    let text = std::fs::read_to_string(demo).unwrap();
    let marker = "\n[[channel]]\n";
    let at = text.find(marker).expect("a channel table") + marker.len();
    let with_profile = format!(
        "{}output_profile = \"1080p60:crf=20\"\n{}",
        &text[..at],
        &text[at..]
    );
    let file = dir.join("lineup.toml");
    std::fs::write(&file, &with_profile).unwrap();
    let db = format!("sqlite://{}", dir.join("rv.db").display());
    let (code, _, err) = retrovue(&db, &dir, &["lineup", "import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, exported, err) = retrovue(&db, &dir, &["lineup", "export"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        exported.contains("output_profile = \"1080p60:crf=20\""),
        "{exported}"
    );
    // The export is a fixpoint (LINEUP-010).
    let parsed = retrovue_core::lineup::parse_lineup(&exported, "export.toml").unwrap();
    assert_eq!(retrovue_core::lineup::to_toml(&parsed), exported);
    let channel = parsed
        .channels
        .iter()
        .find(|c| c.output_profile.is_some())
        .expect("the channel with a profile");
    let id = channel.id.clone();

    let (code, _, err) = retrovue(
        &db,
        &dir,
        &["channel", "update", &id, "--profile", "480p30:mpeg2"],
    );
    assert_eq!(code, 0, "{err}");
    let (_, shown, _) = retrovue(&db, &dir, &["--json", "channel", "show", &id]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["output_profile"], "480p30:mpeg2");
    let (code, _, err) = retrovue(
        &db,
        &dir,
        &["channel", "update", &id, "--profile", "720p31"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--profile") && err.contains("\"720p31\"") && err.contains("frame rate"),
        "{err}"
    );
    let (code, _, _) = retrovue(&db, &dir, &["channel", "update", &id, "--profile", ""]);
    assert_eq!(code, 0);
    let (_, exported, _) = retrovue(&db, &dir, &["lineup", "export"]);
    assert!(!exported.contains("output_profile"), "{exported}");

    // The daemon's default profile is checked before anything starts.
    let (code, _, err) = retrovue(
        &db,
        &dir,
        &["serve", "--engine", "ffmpeg", "--profile", "4k"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--profile: output profile \"4k\""), "{err}");

    // A bad profile in a lineup names the key and the text.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, with_profile.replace("1080p60:crf=20", "1080p61")).unwrap();
    let (code, _, err) = retrovue(&db, &dir, &["lineup", "validate", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("output_profile: output profile \"1080p61\""),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

// contract: ENGINE-023
#[test]
fn a_child_that_cannot_start_is_retried_with_a_doubling_pause() {
    let dir = temp_dir("backoff");
    // Executable files whose interpreter does not exist: found on disk, but every spawn fails.
    for tool in ["ffmpeg", "ffprobe"] {
        let path = dir.join(tool);
        std::fs::write(&path, "#!/nonexistent/interpreter\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let ffmpeg = dir.join("ffmpeg").to_string_lossy().into_owned();
    let mut child = Command::new(ENGINE)
        .args(["--ffmpeg", &ffmpeg])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn engine");
    let mut stderr = child.stderr.take().unwrap();
    let err = thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let join = now_ms();
    let pad = Segment {
        event_id: "p".into(),
        asset_uri: None,
        kind: "pad".into(),
        in_point_ms: 0,
        duration_ms: 60_000,
        start: join,
        end: join + 60_000,
    };
    let start = Control::Start {
        channel: "c1".into(),
        join_at: join,
        blocks: vec![Block {
            id: "b".into(),
            start: join,
            end: join + 60_000,
            segments: vec![pad],
        }],
    };
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", serde_json::to_string(&start).unwrap()).unwrap();
    thread::sleep(Duration::from_millis(1_600));
    writeln!(stdin, "{}", serde_json::to_string(&Control::Stop).unwrap()).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let text = err.join().unwrap();
    let pauses: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("engine: cannot start"))
        .filter_map(|l| {
            l.split("retrying in ")
                .nth(1)?
                .strip_suffix(" ms")?
                .parse()
                .ok()
        })
        .collect();
    assert!(pauses.len() >= 3, "{text}");
    assert!(
        pauses.len() <= 6,
        "no back-off: {} attempts in 1.6 s",
        pauses.len()
    );
    assert_eq!(pauses[..3], [100, 200, 400], "{text}");
    assert!(
        text.contains("No such file or directory"),
        "the reason is given: {text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
