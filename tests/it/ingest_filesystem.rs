//! The filesystem importer on generated trees: walk order, canonical keys, naming layouts,
//! interstitial folders and sidecars (contracts INGEST-001..007).

use crate::support_media;

use std::path::PathBuf;
use std::time::Instant;

use retrovue::error::AppError;
use retrovue::ingest::filesystem::{discover, discover_root, file_uri};
use retrovue::ingest::testtree::{generate_tree, COMMERCIAL_DURATION_MS, EPISODE_DURATION_MS};
use retrovue::ingest::{DiscoveredItem, Discovery, Provider};
use retrovue_core::model::AssetKind;
use support_media::TempDir;

fn keys(discovery: &Discovery) -> Vec<&str> {
    discovery
        .items
        .iter()
        .map(|i| i.canonical_key.as_str())
        .collect()
}

fn item<'a>(discovery: &'a Discovery, key: &str) -> &'a DiscoveredItem {
    discovery
        .items
        .iter()
        .find(|i| i.canonical_key == key)
        .unwrap_or_else(|| panic!("no item {key} in {:?}", keys(discovery)))
}

fn discover_files(files: &[&str]) -> (TempDir, Discovery) {
    let dir = TempDir::new("names");
    for file in files {
        dir.touch(file);
    }
    let discovery = discover_root(&dir.path).unwrap();
    (dir, discovery)
}

// contract: INGEST-001
#[test]
fn finds_video_files_in_byte_order_and_skips_the_rest() {
    let (dir, discovery) = discover_files(&[
        "b/clip.MKV",
        "a/z.mp4",
        "a/B.avi",
        "a/a.webm",
        "notes.txt",
        "poster.jpg",
        ".hidden/x.mkv",
        "a/.secret.mkv",
        "c.ts",
        "d.mpg",
    ]);
    assert_eq!(
        keys(&discovery),
        [
            "a/B.avi",
            "a/a.webm",
            "a/z.mp4",
            "b/clip.MKV",
            "c.ts",
            "d.mpg"
        ]
    );
    assert!(discovery.skipped.is_empty(), "{:?}", discovery.skipped);
    let again = discover_root(&dir.path).unwrap();
    assert_eq!(again, discovery, "two runs over the same tree differ");

    let clip = item(&discovery, "b/clip.MKV");
    let path = dir.join("b/clip.MKV");
    assert_eq!(clip.local_path.as_deref(), Some(path.as_path()));
    assert_eq!(clip.uri, file_uri(&path));
    assert_eq!(clip.size_bytes, Some(0));
    assert!(clip.mtime_ms.unwrap() > 1_600_000_000_000);
    assert_eq!(clip.provider, Provider::Filesystem);
}

// contract: INGEST-001
#[test]
fn uris_are_percent_encoded_and_folder_symlinks_are_not_followed() {
    assert_eq!(
        file_uri(&PathBuf::from("/media/My Show/é #1.mkv")),
        "file:///media/My%20Show/%C3%A9%20%231.mkv"
    );
    let dir = TempDir::new("links");
    dir.touch("real/a.mkv");
    std::os::unix::fs::symlink(dir.join("real"), dir.join("loop")).unwrap();
    std::os::unix::fs::symlink(dir.join("real/a.mkv"), dir.join("link.mkv")).unwrap();
    let discovery = discover_root(&dir.path).unwrap();
    assert_eq!(keys(&discovery), ["link.mkv", "real/a.mkv"]);
}

// contract: INGEST-001
#[test]
fn a_missing_root_is_bad_input_naming_it() {
    let dir = TempDir::new("missing");
    let missing = dir.join("nope");
    let error = discover_root(&missing).unwrap_err();
    assert_eq!(
        error,
        AppError::BadInput(format!(
            "filesystem root {} does not exist",
            missing.display()
        ))
    );
    let file = dir.touch("file.mkv");
    assert!(
        matches!(discover_root(&file), Err(AppError::BadInput(m)) if m.contains("not a directory"))
    );
}

// contract: INGEST-002
#[test]
fn canonical_keys_are_relative_slash_paths_with_case_preserved() {
    let (_dir, discovery) = discover_files(&["Show/Season 01/A.mkv", "show/a.mkv", "Show/a.mkv"]);
    assert_eq!(
        keys(&discovery),
        ["Show/Season 01/A.mkv", "Show/a.mkv", "show/a.mkv"]
    );
    for found in &discovery.items {
        assert_eq!(found.external_id, found.canonical_key);
    }
}

// contract: INGEST-002
#[test]
fn a_key_taken_under_an_earlier_root_skips_the_later_file() {
    let first = TempDir::new("root1");
    let second = TempDir::new("root2");
    first.touch("x/a.mkv");
    second.touch("x/a.mkv");
    second.touch("x/b.mkv");
    let discovery = discover(&[first.path.clone(), second.path.clone()]).unwrap();
    assert_eq!(keys(&discovery), ["x/a.mkv", "x/b.mkv"]);
    assert_eq!(discovery.skipped.len(), 1);
    assert!(discovery.skipped[0].reason.contains("already taken"));
    assert_eq!(
        discovery.items[0].local_path.as_deref(),
        Some(first.join("x/a.mkv").as_path())
    );
}

/// (kind, series, season, episode, title): the fields episode naming decides.
type EpisodeFields<'a> = (
    AssetKind,
    Option<&'a str>,
    Option<u32>,
    Option<u32>,
    &'a str,
);

fn episode(found: &DiscoveredItem) -> EpisodeFields<'_> {
    let e = &found.editorial;
    (
        e.kind,
        e.series.as_deref(),
        e.season,
        e.episode,
        e.title.as_str(),
    )
}

// contract: INGEST-003
#[test]
fn episode_layouts() {
    let (_dir, d) = discover_files(&[
        "Show/Season 01/Show - S01E02 - The Pilot.mkv",
        "Flat/Show.Name.S02E10.The.Title.720p.HDTV.x264.mkv",
        "Flat/Other.Show.s3e4.mkv",
        "Flat/Mr. Robot - 1x05 - Exploits.mkv",
        "Flat/Mr.Robot.1x06.mkv",
        "Flat/Multi S01E02E03 Double.mkv",
        "The Office (US)/Season 2/The.Office.US.S02E01.mkv",
        "Bare/Specials/S00E01.mkv",
        "Bare/Season 1/S01E01.mkv",
    ]);
    use AssetKind::Episode;
    let cases: [(&str, EpisodeFields); 9] = [
        (
            "Show/Season 01/Show - S01E02 - The Pilot.mkv",
            (Episode, Some("Show"), Some(1), Some(2), "The Pilot"),
        ),
        (
            "Flat/Show.Name.S02E10.The.Title.720p.HDTV.x264.mkv",
            (Episode, Some("Show Name"), Some(2), Some(10), "The Title"),
        ),
        (
            "Flat/Other.Show.s3e4.mkv",
            (
                Episode,
                Some("Other Show"),
                Some(3),
                Some(4),
                "Other Show S03E04",
            ),
        ),
        (
            "Flat/Mr. Robot - 1x05 - Exploits.mkv",
            (Episode, Some("Mr. Robot"), Some(1), Some(5), "Exploits"),
        ),
        (
            "Flat/Mr.Robot.1x06.mkv",
            (
                Episode,
                Some("Mr Robot"),
                Some(1),
                Some(6),
                "Mr Robot S01E06",
            ),
        ),
        (
            "Flat/Multi S01E02E03 Double.mkv",
            (Episode, Some("Multi"), Some(1), Some(2), "Double"),
        ),
        (
            "The Office (US)/Season 2/The.Office.US.S02E01.mkv",
            (
                Episode,
                Some("The Office (US)"),
                Some(2),
                Some(1),
                "The Office (US) S02E01",
            ),
        ),
        (
            "Bare/Specials/S00E01.mkv",
            (Episode, Some("Bare"), Some(0), Some(1), "Bare S00E01"),
        ),
        (
            "Bare/Season 1/S01E01.mkv",
            (Episode, Some("Bare"), Some(1), Some(1), "Bare S01E01"),
        ),
    ];
    for (key, expected) in cases {
        assert_eq!(episode(item(&d, key)), expected, "{key}");
    }
}

// contract: INGEST-003
#[test]
fn markers_glued_to_words_are_not_markers() {
    let (_dir, d) = discover_files(&[
        "Movies/Kids1x02.mkv",
        "Movies/Video 1920x1080.mkv",
        "Movies/Classics01E02.mkv",
    ]);
    for found in &d.items {
        assert_eq!(
            found.editorial.kind,
            AssetKind::Movie,
            "{}",
            found.canonical_key
        );
        assert_eq!(found.editorial.episode, None);
    }
}

// contract: INGEST-004
#[test]
fn movie_layouts() {
    let (_dir, d) = discover_files(&[
        "Movies/Back to the Future (1985).mkv",
        "Movies/Alien (1979)/Alien (1979).mkv",
        "Movies/Heat [1995].mp4",
        "Movies/2001.A.Space.Odyssey.1968.1080p.BluRay.mkv",
        "Movies/Brazil (1985)/Brazil.mkv",
        "Movies/Untitled.mkv",
    ]);
    let cases = [
        (
            "Movies/Back to the Future (1985).mkv",
            "Back to the Future",
            Some(1985),
        ),
        ("Movies/Alien (1979)/Alien (1979).mkv", "Alien", Some(1979)),
        ("Movies/Heat [1995].mp4", "Heat", Some(1995)),
        (
            "Movies/2001.A.Space.Odyssey.1968.1080p.BluRay.mkv",
            "2001 A Space Odyssey",
            Some(1968),
        ),
        ("Movies/Brazil (1985)/Brazil.mkv", "Brazil", Some(1985)),
        ("Movies/Untitled.mkv", "Untitled", None),
    ];
    for (key, title, year) in cases {
        let found = item(&d, key);
        assert_eq!(found.editorial.kind, AssetKind::Movie, "{key}");
        assert_eq!(found.editorial.title, title, "{key}");
        assert_eq!(found.editorial.year, year, "{key}");
        assert_eq!(found.editorial.series, None, "{key}");
    }
}

// contract: INGEST-005
#[test]
fn interstitial_kinds_come_from_the_nearest_folder() {
    let (_dir, d) = discover_files(&[
        "commercials/Coke (1985).mp4",
        "Promos/Show S01E01 promo.mp4",
        "bumpers/up next.mov",
        "Station IDs/id1.mp4",
        "ids/id2.mp4",
        "Filler/music video.mkv",
        "Interstitials/Station-IDs/x/commercials/spot.mp4",
        "ads/spot2.mp4",
    ]);
    let cases = [
        ("commercials/Coke (1985).mp4", AssetKind::Commercial, "Coke"),
        (
            "Promos/Show S01E01 promo.mp4",
            AssetKind::Promo,
            "Show S01E01 promo",
        ),
        ("bumpers/up next.mov", AssetKind::Bumper, "up next"),
        ("Station IDs/id1.mp4", AssetKind::StationId, "id1"),
        ("ids/id2.mp4", AssetKind::StationId, "id2"),
        ("Filler/music video.mkv", AssetKind::Filler, "music video"),
        (
            "Interstitials/Station-IDs/x/commercials/spot.mp4",
            AssetKind::Commercial,
            "spot",
        ),
        ("ads/spot2.mp4", AssetKind::Commercial, "spot2"),
    ];
    for (key, kind, title) in cases {
        let found = item(&d, key);
        assert_eq!(found.editorial.kind, kind, "{key}");
        assert_eq!(found.editorial.title, title, "{key}");
        assert_eq!(found.editorial.series, None, "{key}");
        assert_eq!(found.editorial.episode, None, "{key}");
    }
    assert_eq!(
        item(&d, "commercials/Coke (1985).mp4").editorial.year,
        Some(1985)
    );
}

// contract: INGEST-006
#[test]
fn sidecars_override_names_and_pin_fields() {
    let dir = TempDir::new("sidecars");
    dir.touch("Show/Season 01/Show - S01E02 - Wrong.mkv");
    dir.write(
        "Show/Season 01/Show - S01E02 - Wrong.mkv.retrovue.json",
        r#"{"title": "Right", "episode": 3, "description": "An episode.", "rating": "TV-PG",
            "genres": ["Comedy", "Drama"], "year": 1994, "duration_ms": 1320000,
            "chapters_ms": [840000, 0, 420000, 420000]}"#,
    );
    dir.touch("Movies/Fall Preview.mp4");
    dir.write(
        "Movies/Fall Preview.retrovue.toml",
        "kind = \"promo\"\ntitle = \"Fall Preview 1986\"\n",
    );
    dir.touch("Movies/Movie.S01E01.mkv");
    dir.write(
        "Movies/Movie.S01E01.mkv.retrovue.json",
        r#"{"kind": "movie", "series": null, "season": null, "episode": null}"#,
    );
    dir.touch("Movies/Plain (1990).mkv");
    let d = discover_root(&dir.path).unwrap();
    assert!(d.skipped.is_empty(), "{:?}", d.skipped);

    let ep = item(&d, "Show/Season 01/Show - S01E02 - Wrong.mkv");
    assert_eq!(ep.editorial.title, "Right");
    assert_eq!(
        ep.editorial.series.as_deref(),
        Some("Show"),
        "unset keys keep the name's value"
    );
    assert_eq!(
        (ep.editorial.season, ep.editorial.episode),
        (Some(1), Some(3))
    );
    assert_eq!(ep.editorial.description.as_deref(), Some("An episode."));
    assert_eq!(ep.editorial.rating.as_deref(), Some("TV-PG"));
    assert_eq!(ep.editorial.genres, ["Comedy", "Drama"]);
    assert_eq!(ep.editorial.year, Some(1994));
    assert_eq!(ep.duration_ms, Some(1_320_000));
    assert_eq!(ep.chapters_ms, [420_000, 840_000]);
    assert!(ep.is_pinned("duration_ms") && ep.is_pinned("title") && !ep.is_pinned("series"));
    assert!(
        !ep.needs_probe(),
        "a sidecar duration makes the probe unnecessary"
    );

    let promo = item(&d, "Movies/Fall Preview.mp4");
    assert_eq!(promo.editorial.kind, AssetKind::Promo);
    assert_eq!(promo.editorial.title, "Fall Preview 1986");
    assert!(promo.needs_probe());

    let movie = item(&d, "Movies/Movie.S01E01.mkv");
    assert_eq!(movie.editorial.kind, AssetKind::Movie);
    assert_eq!(
        (
            movie.editorial.series.as_deref(),
            movie.editorial.season,
            movie.editorial.episode
        ),
        (None, None, None)
    );

    let plain = item(&d, "Movies/Plain (1990).mkv");
    assert!(plain.pinned.is_empty() && plain.duration_ms.is_none());
    assert_eq!(d.items.len(), 4, "sidecars are not items: {:?}", keys(&d));
}

// contract: INGEST-007
#[test]
fn malformed_sidecars_skip_their_item_with_file_and_key() {
    let dir = TempDir::new("badsidecars");
    let cases: [(&str, &str, &str); 9] = [
        (
            "a.mkv",
            r#"{"season": "two"}"#,
            r#"key "season": expected a non-negative integer, got "two""#,
        ),
        (
            "b.mkv",
            r#"{"season": -1}"#,
            r#"key "season": expected a non-negative integer, got -1"#,
        ),
        (
            "c.mkv",
            r#"{"kind": "sitcom"}"#,
            r#"key "kind": unknown kind "sitcom""#,
        ),
        ("d.mkv", r#"{"titel": "x"}"#, r#"key "titel": unknown key"#),
        (
            "e.mkv",
            r#"{"title": " "}"#,
            r#"key "title": must not be empty"#,
        ),
        (
            "f.mkv",
            r#"{"duration_ms": 1000, "chapters_ms": [500, 1000]}"#,
            r#"key "chapters_ms": 1000 is not inside duration_ms 1000"#,
        ),
        (
            "g.mkv",
            r#"{"genres": "Comedy"}"#,
            r#"key "genres": expected a list of strings, got "Comedy""#,
        ),
        ("h.mkv", r#"{"title": "x",}"#, "not valid JSON"),
        ("i.mkv", "[1, 2]", "a sidecar must be an object of keys"),
    ];
    for (file, sidecar, _) in &cases {
        dir.touch(file);
        dir.write(&format!("{file}.retrovue.json"), sidecar);
    }
    dir.touch("j.mkv");
    dir.write("j.mkv.retrovue.toml", "season = \"two\"\n");
    dir.touch("k.mkv");
    dir.write("k.mkv.retrovue.toml", "season = [\n");
    dir.touch("l.mkv");
    dir.write("l.mkv.retrovue.json", "{}");
    dir.write("l.retrovue.toml", "");
    dir.touch("ok.mkv");

    let d = discover_root(&dir.path).unwrap();
    assert_eq!(
        keys(&d),
        ["ok.mkv"],
        "only the file without a bad sidecar survives"
    );
    assert_eq!(d.skipped.len(), 12);
    for (file, _, message) in &cases {
        let sidecar = dir.join(&format!("{file}.retrovue.json"));
        let skipped = d
            .skipped
            .iter()
            .find(|s| s.location == dir.join(file).display().to_string())
            .unwrap_or_else(|| panic!("{file} was not skipped"));
        assert!(
            skipped
                .reason
                .starts_with(&format!("{}: ", sidecar.display())),
            "{file}: reason does not name the sidecar: {}",
            skipped.reason
        );
        assert!(
            skipped.reason.contains(message),
            "{file}: {}",
            skipped.reason
        );
    }
    let reason_of = |file: &str| {
        let location = dir.join(file).display().to_string();
        d.skipped
            .iter()
            .find(|s| s.location == location)
            .unwrap()
            .reason
            .clone()
    };
    assert!(reason_of("j.mkv").contains(r#"j.mkv.retrovue.toml: key "season""#));
    assert!(reason_of("k.mkv").contains("k.mkv.retrovue.toml: not valid TOML"));
    assert!(reason_of("l.mkv").contains("more than one sidecar"));
}

// contract: INGEST-006
#[test]
fn generated_benchmark_tree_discovers_with_sidecar_durations() {
    let dir = TempDir::new("bench");
    // 2,000 keeps the suite quick on shared CI cores; set RETROVUE_TREE_FILES=10000 to time the
    // issue's 10,000-file tree.
    let count: usize = std::env::var("RETROVUE_TREE_FILES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let written = Instant::now();
    let tree = generate_tree(&dir.path, count).unwrap();
    let generated_in = written.elapsed();
    let started = Instant::now();
    let d = discover_root(&dir.path).unwrap();
    let discovered_in = started.elapsed();
    eprintln!(
        "generated {count} files (+ sidecars) in {generated_in:?}; discovered them in {discovered_in:?}"
    );
    assert!(
        d.skipped.is_empty(),
        "{:?}",
        &d.skipped[..d.skipped.len().min(3)]
    );
    assert_eq!(d.items.len(), count);
    let mut expected = tree.video_keys.clone();
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(keys(&d), expected);
    assert!(d.items.iter().all(|i| !i.needs_probe()));
    let commercials = d
        .items
        .iter()
        .filter(|i| i.editorial.kind == AssetKind::Commercial);
    assert_eq!(commercials.clone().count(), tree.commercials);
    assert!(commercials
        .into_iter()
        .all(|i| i.duration_ms == Some(COMMERCIAL_DURATION_MS)));
    let first = item(
        &d,
        "Series 0001/Season 02/Series 0001 - S02E03 - Episode 3.mkv",
    );
    assert_eq!(
        episode(first),
        (
            AssetKind::Episode,
            Some("Series 0001"),
            Some(2),
            Some(3),
            "Episode 3"
        )
    );
    assert_eq!(first.duration_ms, Some(EPISODE_DURATION_MS));
}
