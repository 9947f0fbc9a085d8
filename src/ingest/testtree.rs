//! Generated media trees for tests and benchmarks: many empty "video" files whose sidecars
//! provide the duration, so ingest can run at scale without ffmpeg or ffprobe.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Episodes per generated series (5 seasons of 20).
pub const EPISODES_PER_SERIES: usize = 100;
const EPISODES_PER_SEASON: usize = 20;
/// One file in this many is a commercial (under `commercials/`), the rest are episodes.
pub const COMMERCIAL_EVERY: usize = 10;
/// Duration the sidecar gives every generated episode.
pub const EPISODE_DURATION_MS: i64 = 22 * 60_000;
/// Duration the sidecar gives every generated commercial.
pub const COMMERCIAL_DURATION_MS: i64 = 30_000;

/// What [`generate_tree`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestTree {
    pub root: PathBuf,
    /// Relative paths (canonical keys) of the video files, in the order they were written.
    pub video_keys: Vec<String>,
    pub episodes: usize,
    pub commercials: usize,
}

/// Writes `count` empty video files under `root` (created if missing), each with a
/// `<file>.retrovue.json` sidecar giving `duration_ms` (and, for episodes, two chapters), so
/// `needs_probe()` is false for every item. Episodes are laid out as
/// `Series 0001/Season 01/Series 0001 - S01E01 - Episode 1.mkv`; every
/// [`COMMERCIAL_EVERY`]th file is `commercials/Spot 00001.mp4`. Deterministic: the same
/// `count` always gives the same tree.
pub fn generate_tree(root: &Path, count: usize) -> io::Result<TestTree> {
    fs::create_dir_all(root)?;
    let mut tree = TestTree {
        root: root.to_path_buf(),
        video_keys: Vec::with_capacity(count),
        episodes: 0,
        commercials: 0,
    };
    for index in 0..count {
        let (key, sidecar) = if index % COMMERCIAL_EVERY == COMMERCIAL_EVERY - 1 {
            tree.commercials += 1;
            (
                format!("commercials/Spot {:05}.mp4", tree.commercials),
                format!("{{\"duration_ms\": {COMMERCIAL_DURATION_MS}}}"),
            )
        } else {
            let n = tree.episodes;
            tree.episodes += 1;
            let series = n / EPISODES_PER_SERIES + 1;
            let season = (n % EPISODES_PER_SERIES) / EPISODES_PER_SEASON + 1;
            let episode = n % EPISODES_PER_SEASON + 1;
            (
                format!(
                    "Series {series:04}/Season {season:02}/Series {series:04} - \
                     S{season:02}E{episode:02} - Episode {episode}.mkv"
                ),
                format!(
                    "{{\"duration_ms\": {EPISODE_DURATION_MS}, \"chapters_ms\": [420000, 840000]}}"
                ),
            )
        };
        let path = root.join(&key);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, b"")?;
        let mut sidecar_path = path.into_os_string();
        sidecar_path.push(".retrovue.json");
        fs::write(sidecar_path, sidecar)?;
        tree.video_keys.push(key);
    }
    Ok(tree)
}
