//! The ffprobe ingest enricher: duration, codecs, resolution and chapter markers read from the
//! file itself, with a timeout (contracts INGEST-012..015).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::discovered::{normalise_chapters, DiscoveredItem, ProbeData};
use super::enricher::{EnrichError, IngestEnricher};

/// How long one file may take to probe by default.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the wait loop checks whether ffprobe has finished.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Runs ffprobe on files.
#[derive(Debug, Clone)]
pub struct Ffprobe {
    /// The ffprobe program (a name on PATH or a path).
    pub program: PathBuf,
    pub timeout: Duration,
}

impl Default for Ffprobe {
    fn default() -> Ffprobe {
        Ffprobe {
            program: PathBuf::from("ffprobe"),
            timeout: DEFAULT_PROBE_TIMEOUT,
        }
    }
}

/// `1s`, `1500ms`: durations as operators write them.
fn human(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

fn read_all_in_background<R: Read + Send + 'static>(
    pipe: Option<R>,
) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error leaves what was read; the exit status tells whether it matters.
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Waits for `child` at most `timeout`; kills and reaps it when the time passes.
fn wait_or_kill(child: &mut Child, timeout: Duration) -> Result<std::process::ExitStatus, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("ffprobe timed out after {}", human(timeout)));
            }
            Ok(None) => thread::sleep(POLL_INTERVAL),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("waiting for ffprobe failed: {e}"));
            }
        }
    }
}

/// Seconds as ffprobe prints them (`"3.000000"`) → milliseconds.
fn seconds_to_ms(value: Option<&Value>) -> Option<i64> {
    let seconds: f64 = match value? {
        Value::String(s) => s.trim().parse().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as i64)
}

/// Reads ffprobe's JSON report into probe data (contract INGEST-012).
pub fn parse_report(report: &Value) -> Result<ProbeData, String> {
    let streams = report
        .get("streams")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let is_cover_art = |s: &&Value| {
        s.get("disposition")
            .and_then(|d| d.get("attached_pic"))
            .and_then(Value::as_i64)
            == Some(1)
    };
    let video = streams
        .iter()
        .filter(|s| s.get("codec_type").and_then(Value::as_str) == Some("video"))
        .find(|s| !is_cover_art(s));
    let audio = streams
        .iter()
        .find(|s| s.get("codec_type").and_then(Value::as_str) == Some("audio"));
    let duration_ms = seconds_to_ms(report.get("format").and_then(|f| f.get("duration")))
        .filter(|d| *d > 0)
        .or_else(|| {
            streams
                .iter()
                .filter_map(|s| seconds_to_ms(s.get("duration")))
                .max()
        })
        .filter(|d| *d > 0)
        .ok_or("ffprobe found no duration")?;
    // SCHED-008: a probe claiming more than 7 days is a broken file, not a schedulable asset.
    let duration_ms = retrovue_core::validate::check_duration(duration_ms)
        .map_err(|e| format!("ffprobe reports a bad duration: {e}"))?;
    let chapters: Vec<i64> = report
        .get("chapters")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(|chapter| seconds_to_ms(chapter.get("start_time")))
                .filter(|&start| start < duration_ms)
                .collect()
        })
        .unwrap_or_default();
    let codec = |s: Option<&Value>| {
        s.and_then(|s| s.get("codec_name"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let dimension = |name: &str| {
        video
            .and_then(|v| v.get(name))
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
    };
    Ok(ProbeData {
        duration_ms,
        chapters_ms: normalise_chapters(chapters),
        video_codec: codec(video),
        audio_codec: codec(audio),
        width: dimension("width"),
        height: dimension("height"),
        audio_channels: audio
            .and_then(|a| a.get("channels"))
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0),
    })
}

impl Ffprobe {
    pub fn with_timeout(timeout: Duration) -> Ffprobe {
        Ffprobe {
            timeout,
            ..Ffprobe::default()
        }
    }

    /// Probes `path`; the error holds the file and ffprobe's reason (INGEST-013, INGEST-014).
    pub fn probe(&self, path: &Path) -> Result<ProbeData, EnrichError> {
        let fail = |reason: String| EnrichError {
            location: path.display().to_string(),
            reason,
        };
        let mut child = Command::new(&self.program)
            .args([
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                "-show_chapters",
            ])
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", self.program.display())))?;
        // Read both pipes while waiting, so a chatty ffprobe never blocks on a full pipe.
        let stdout = read_all_in_background(child.stdout.take());
        let stderr = read_all_in_background(child.stderr.take());
        let status = wait_or_kill(&mut child, self.timeout);
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        let status = status.map_err(fail)?;
        if !status.success() {
            let message = String::from_utf8_lossy(&stderr).trim().to_string();
            let message = if message.is_empty() {
                format!("ffprobe exited with {status}")
            } else {
                format!("ffprobe failed: {message}")
            };
            return Err(fail(message));
        }
        let report: Value = serde_json::from_slice(&stdout)
            .map_err(|e| fail(format!("ffprobe printed no JSON report: {e}")))?;
        parse_report(&report).map_err(fail)
    }
}

impl IngestEnricher for Ffprobe {
    fn name(&self) -> &'static str {
        "ffprobe"
    }

    /// Adds the probe; the item's duration and chapters follow it unless a sidecar pinned them.
    fn enrich(&self, item: DiscoveredItem) -> Result<DiscoveredItem, EnrichError> {
        enrich_with(item, |path| self.probe(path))
    }
}

/// An enricher's work given its way to probe a file: the item's local file probed and the
/// result applied (INGEST-015); an item without a local file is an error naming it.
pub fn enrich_with(
    item: DiscoveredItem,
    probe: impl FnOnce(&std::path::Path) -> Result<ProbeData, EnrichError>,
) -> Result<DiscoveredItem, EnrichError> {
    let Some(path) = item.local_path.clone() else {
        return Err(EnrichError {
            location: item.uri.clone(),
            reason: "has no local file to probe".into(),
        });
    };
    let probe = probe(&path)?;
    Ok(apply_probe(item, probe))
}

/// The item with `probe` added; its duration and chapters follow the probe unless a sidecar
/// pinned them (INGEST-015).
pub fn apply_probe(mut item: DiscoveredItem, probe: ProbeData) -> DiscoveredItem {
    if !item.is_pinned("duration_ms") {
        item.duration_ms = Some(probe.duration_ms);
    }
    if !item.is_pinned("chapters_ms") {
        item.chapters_ms = probe.chapters_ms.clone();
    }
    item.probe = Some(probe);
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    // contract: SCHED-008
    #[test]
    fn a_probe_longer_than_seven_days_is_refused() {
        let report = serde_json::json!({"format": {"duration": "604800.001"}, "streams": []});
        let error = parse_report(&report).unwrap_err();
        assert!(error.contains("longer than 7 days"), "{error}");
        let report = serde_json::json!({"format": {"duration": "604800.000"}, "streams": []});
        assert_eq!(parse_report(&report).unwrap().duration_ms, 604_800_000);
    }
}
