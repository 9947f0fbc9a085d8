//! Reading editorial metadata from media file names and folders (contracts INGEST-003..005).

use retrovue_core::model::AssetKind;

use super::discovered::Editorial;

/// Technical words in release names; a title ends where the first of them starts.
const RELEASE_TAGS: [&str; 24] = [
    "480p", "576p", "720p", "1080p", "1080i", "2160p", "hdtv", "webrip", "web-dl", "webdl",
    "bluray", "blu-ray", "brrip", "bdrip", "dvdrip", "x264", "x265", "h264", "h265", "hevc",
    "xvid", "aac", "ac3", "remux",
];

/// The interstitial kind a folder name announces, if any (contract INGEST-005).
pub fn interstitial_kind_of_folder(name: &str) -> Option<AssetKind> {
    let normalised: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect();
    match normalised.as_str() {
        "commercials" | "commercial" | "ads" => Some(AssetKind::Commercial),
        "promos" | "promo" => Some(AssetKind::Promo),
        "bumpers" | "bumper" => Some(AssetKind::Bumper),
        "station_ids" | "station_id" | "ids" | "idents" => Some(AssetKind::StationId),
        "filler" | "fillers" => Some(AssetKind::Filler),
        _ => None,
    }
}

/// The nearest folder (deepest first) that announces an interstitial kind.
pub fn interstitial_kind_of_folders(folders: &[&str]) -> Option<AssetKind> {
    folders
        .iter()
        .rev()
        .find_map(|f| interstitial_kind_of_folder(f))
}

/// `Season 01`, `season_2`, `S03` → the season number; `Specials` → 0.
pub fn season_of_folder(name: &str) -> Option<u32> {
    let lower = name.trim().to_lowercase();
    if lower == "specials" {
        return Some(0);
    }
    let rest = lower
        .strip_prefix("season")
        .map(|r| r.trim_start_matches([' ', '_', '.', '-']))
        .or_else(|| lower.strip_prefix('s'))?;
    if !rest.is_empty() && rest.len() <= 4 && rest.bytes().all(|b| b.is_ascii_digit()) {
        rest.parse().ok()
    } else {
        None
    }
}

/// A season/episode marker found in a file stem, with its byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeMarker {
    pub start: usize,
    pub end: usize,
    pub season: u32,
    pub episode: u32,
}

/// Non-ASCII bytes count as letters: a marker glued to any word character is not a marker.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

fn digits_at(bytes: &[u8], from: usize, max: usize) -> Option<(u32, usize)> {
    let count = bytes[from..]
        .iter()
        .take(max + 1)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if count == 0 || count > max {
        return None;
    }
    let text = std::str::from_utf8(&bytes[from..from + count]).ok()?;
    Some((text.parse().ok()?, from + count))
}

fn stands_alone(bytes: &[u8], start: usize, end: usize) -> bool {
    (start == 0 || !is_word_byte(bytes[start - 1]))
        && (end == bytes.len() || !is_word_byte(bytes[end]))
}

/// `S01E02` (also `s1e2`, `S01E02E03`) at `start`.
fn sxxexx_at(bytes: &[u8], start: usize) -> Option<EpisodeMarker> {
    if !matches!(bytes[start], b's' | b'S') {
        return None;
    }
    let (season, after_season) = digits_at(bytes, start + 1, 4)?;
    if !matches!(bytes.get(after_season), Some(b'e' | b'E')) {
        return None;
    }
    let (episode, mut end) = digits_at(bytes, after_season + 1, 4)?;
    // Multi-episode files (`S01E02E03`) are filed under their first episode.
    while matches!(bytes.get(end), Some(b'e' | b'E' | b'-')) {
        let skip = if bytes[end] == b'-' && matches!(bytes.get(end + 1), Some(b'e' | b'E')) {
            2
        } else if bytes[end] == b'-' {
            break;
        } else {
            1
        };
        match digits_at(bytes, end + skip, 4) {
            Some((_, next)) => end = next,
            None => break,
        }
    }
    stands_alone(bytes, start, end).then_some(EpisodeMarker {
        start,
        end,
        season,
        episode,
    })
}

/// `1x02` at `start`.
fn nxnn_at(bytes: &[u8], start: usize) -> Option<EpisodeMarker> {
    let (season, after_season) = digits_at(bytes, start, 2)?;
    if !matches!(bytes.get(after_season), Some(b'x' | b'X')) {
        return None;
    }
    let (episode, end) = digits_at(bytes, after_season + 1, 3)?;
    if end - after_season - 1 < 2 {
        return None;
    }
    stands_alone(bytes, start, end).then_some(EpisodeMarker {
        start,
        end,
        season,
        episode,
    })
}

/// The first `SxxEyy` marker in `stem`, else the first `NxNN` marker.
pub fn find_episode_marker(stem: &str) -> Option<EpisodeMarker> {
    let bytes = stem.as_bytes();
    (0..bytes.len())
        .find_map(|i| sxxexx_at(bytes, i))
        .or_else(|| (0..bytes.len()).find_map(|i| nxnn_at(bytes, i)))
}

/// Release-name text as words: `_` is always a separator, `.` only when the text has no spaces
/// (so `Mr. Robot` keeps its dot); separator dashes and whitespace are trimmed.
pub fn clean_words(text: &str) -> String {
    let dots_separate = !text.contains(' ');
    let spaced: String = text
        .chars()
        .map(|c| {
            if c == '_' || (dots_separate && c == '.') {
                ' '
            } else {
                c
            }
        })
        .collect();
    let joined = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    joined
        .trim_matches(|c: char| c == '-' || c == '–' || c.is_whitespace())
        .to_string()
}

/// Drops the first release tag and everything after it (`Title 720p HDTV` → `Title`).
pub fn strip_release_tags(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let end = words
        .iter()
        .position(|w| {
            let lower = w.to_lowercase();
            let lower = lower.trim_matches(|c: char| c == '[' || c == ']' || c == '(' || c == ')');
            RELEASE_TAGS.contains(&lower)
        })
        .unwrap_or(words.len());
    words[..end]
        .join(" ")
        .trim_matches(|c: char| c == '-' || c == '–' || c.is_whitespace())
        .to_string()
}

fn is_year(text: &str) -> Option<i32> {
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = text.parse().ok()?;
    (1900..=2099).contains(&year).then_some(year)
}

/// `Movie (1985)`, `Movie [1985]`, `2001.A.Space.Odyssey.1968.1080p` → (title, year).
pub fn title_and_year(stem: &str) -> (String, Option<i32>) {
    for (open, close) in [('(', ')'), ('[', ']')] {
        let mut search_from = 0;
        while let Some(found) = stem[search_from..].find(open) {
            let at = search_from + found;
            let inner_start = at + 1;
            if let Some(year) = stem.get(inner_start..inner_start + 4).and_then(is_year) {
                if stem[inner_start + 4..].starts_with(close) {
                    let title = strip_release_tags(&clean_words(&stem[..at]));
                    if !title.is_empty() {
                        return (title, Some(year));
                    }
                }
            }
            search_from = inner_start;
        }
    }
    let words: Vec<String> = clean_words(stem)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if let Some(index) = (1..words.len())
        .rev()
        .find(|&i| is_year(&words[i]).is_some())
    {
        let title = strip_release_tags(&words[..index].join(" "));
        if !title.is_empty() {
            return (title, is_year(&words[index]));
        }
    }
    (strip_release_tags(&clean_words(stem)), None)
}

/// Editorial metadata from a file's folders (relative to the collection root, outermost first)
/// and its file stem: interstitial folders, then episode markers, then movies.
pub fn editorial_from_name(folders: &[&str], stem: &str) -> Editorial {
    if let Some(kind) = interstitial_kind_of_folders(folders) {
        let (title, year) = title_and_year(stem);
        let mut editorial = Editorial::new(kind, &non_empty_or(title, stem));
        editorial.year = year;
        return editorial;
    }
    if let Some(marker) = find_episode_marker(stem) {
        return episode_editorial(folders, stem, marker);
    }
    let (title, mut year) = title_and_year(stem);
    if year.is_none() {
        if let Some(parent) = folders.last() {
            let (folder_title, folder_year) = title_and_year(parent);
            if folder_title.eq_ignore_ascii_case(&title) {
                year = folder_year;
            }
        }
    }
    let mut editorial = Editorial::new(AssetKind::Movie, &non_empty_or(title, stem));
    editorial.year = year;
    editorial
}

fn episode_editorial(folders: &[&str], stem: &str, marker: EpisodeMarker) -> Editorial {
    let in_season_folder = folders
        .last()
        .is_some_and(|f| season_of_folder(f).is_some());
    let show_folder = if in_season_folder && folders.len() >= 2 {
        Some(folders[folders.len() - 2].trim().to_string())
    } else {
        None
    };
    let prefix = clean_words(&stem[..marker.start]);
    let series = show_folder
        .or_else(|| (!prefix.is_empty()).then_some(prefix))
        .or_else(|| {
            folders
                .iter()
                .rev()
                .find(|f| season_of_folder(f).is_none())
                .map(|f| f.trim().to_string())
        });
    let title_text = strip_release_tags(&clean_words(&stem[marker.end..]));
    let title = if title_text.is_empty() {
        let code = format!("S{:02}E{:02}", marker.season, marker.episode);
        match &series {
            Some(series) => format!("{series} {code}"),
            None => code,
        }
    } else {
        title_text
    };
    let mut editorial = Editorial::new(AssetKind::Episode, &title);
    editorial.series = series;
    editorial.season = Some(marker.season);
    editorial.episode = Some(marker.episode);
    editorial
}

fn non_empty_or(text: String, fallback: &str) -> String {
    if text.is_empty() {
        fallback.to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_must_stand_alone() {
        assert!(find_episode_marker("Show.S01E02").is_some());
        assert!(find_episode_marker("ShowS01E02").is_none());
        assert!(find_episode_marker("1920x1080").is_none());
        assert_eq!(find_episode_marker("Show 1x02").map(|m| m.episode), Some(2));
        assert_eq!(
            find_episode_marker("Show S01E02E03 x").map(|m| m.end),
            Some(14)
        );
    }
}
