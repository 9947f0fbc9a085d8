//! Lineup files and the synthetic generator: parsing, every error kind with its location, the
//! export fixpoint, warnings, the demo lineup and generator determinism (contracts/lineup.md,
//! contracts/generator.md).

use chrono::{NaiveDate, Weekday};
use proptest::prelude::*;
use retrovue_core::generate::{self, generate_lineup};
use retrovue_core::invariants::check_channel_days;
use retrovue_core::lineup::{lineup_warnings, parse_lineup, to_toml, LineupError};
use retrovue_core::model::{AssetKind, AssetState, BreakPolicy, ItemRef, Lineup, PlayMode};

/// A small valid lineup; error tests replace one piece of it.
const BASE: &str = r#"
[[asset]]
id = "cheers-s01e01"
kind = "episode"
title = "Give Me a Ring Sometime"
series = "Cheers"
season = 1
episode = 1
duration_ms = 1320000
chapters_ms = [330000, 660000, 990000]

[[asset]]
id = "casablanca"
kind = "movie"
title = "Casablanca"
duration = "01:42:00"

[[asset]]
id = "movie-intro"
kind = "bumper"
title = "Movie Intro"
duration_ms = 15000

[[program]]
id = "cheers"
play_mode = "sequential"
series = "Cheers"

[[virtual_asset]]
id = "casablanca-presentation"
title = "Casablanca"
parts = ["movie-intro", "casablanca"]

[[channel]]
id = "retro-one"
number = "2"
name = "Retro One"
timezone = "America/New_York"
grid_block_minutes = 30
block_start_offsets_minutes = [0, 30]
programming_day_start = "06:00"
break_policy = "chapters"

  [[channel.plan]]
  name = "Weekdays"

    [[channel.plan.zone]]
    name = "Day"
    start = "06:00"
    end = "20:00"
    items = ["cheers"]

    [[channel.plan.zone]]
    name = "Late"
    start = "20:00"
    end = "06:00"
    items = ["casablanca-presentation", "cheers", "synthetic:slate:60000"]
"#;

fn parse(text: &str) -> Result<Lineup, Vec<LineupError>> {
    parse_lineup(text, "test.toml")
}

fn errors_of(text: &str) -> Vec<LineupError> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors,
    }
}

/// Replace exactly one occurrence of `from` in BASE.
fn base_with(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "{from:?} must occur once");
    BASE.replacen(from, to, 1)
}

/// Assert an error at `table` / `key` whose message contains `needle`.
fn assert_error(errors: &[LineupError], table: &str, key: &str, needle: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.table == table && e.key == key && e.message.contains(needle)),
        "no error [{table}] {key}: …{needle}… in:\n{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

const CH: &str = r#"channel[0] "retro-one""#;
const ZONE1: &str = r#"channel[0] "retro-one".plan[0] "Weekdays".zone[1] "Late""#;

// contract: LINEUP-002
// contract: LINEUP-003
#[test]
fn base_lineup_parses_with_defaults() {
    let lineup = parse(BASE).expect("valid");
    let catalog = &lineup.catalog;
    assert_eq!(catalog.assets.len(), 3);
    assert_eq!(catalog.assets["casablanca"].duration_ms, 6_120_000);
    let episode = &catalog.assets["cheers-s01e01"];
    assert_eq!(episode.kind, AssetKind::Episode);
    assert_eq!(episode.chapters_ms, vec![330_000, 660_000, 990_000]);
    assert!(episode.approved && !episode.deleted && episode.path.is_none());
    assert_eq!(episode.state, AssetState::Ready);
    // A program's title defaults to its series.
    assert_eq!(catalog.programs["cheers"].title, "Cheers");
    assert_eq!(catalog.programs["cheers"].play_mode, PlayMode::Sequential);
    let channel = &lineup.channels[0];
    assert_eq!(channel.timezone, chrono_tz::America::New_York);
    assert_eq!(channel.programming_day_start_minute, 360);
    assert_eq!(channel.break_policy, BreakPolicy::Chapters);
    assert_eq!(channel.spot_cooldown_minutes, 30);
    assert!(channel.active && channel.interstitials.is_empty() && channel.group.is_none());
    let plan = &channel.plans[0];
    assert_eq!(plan.days.len(), 7);
    assert_eq!(plan.priority, 0);
    assert!(plan.active && plan.start_date.is_none());
    let late = &plan.zones[1];
    assert_eq!((late.start_minute, late.end_minute), (1200, 360));
    assert!(late.enabled);
    assert_eq!(
        late.items,
        vec![
            ItemRef::Virtual {
                id: "casablanca-presentation".into()
            },
            ItemRef::Program {
                id: "cheers".into()
            },
            ItemRef::Synthetic {
                kind: "slate".into(),
                duration_ms: 60_000
            },
        ]
    );
}

// contract: LINEUP-003
#[test]
fn optional_keys_are_read() {
    let text = base_with(
        "duration_ms = 15000",
        "duration_ms = 15000\napproved = false\nstate = \"retired\"\ndeleted = true\npath = \"m/i.mkv\"\nrating = \"G\"\ndescription = \"x\"\ngenres = [\"a\", \"b\"]\nyear = 1961",
    )
    .replace(
        "programming_day_start = \"06:00\"",
        "programming_day_start = \"06:00\"\ngroup = \"Classics\"\nlogo = \"l.png\"\nactive = false\nfiller_title = \"Stay Tuned\"\nspot_cooldown_minutes = 45\ninterstitials = [\"commercial\", \"station_id\"]",
    )
    .replace(
        "name = \"Weekdays\"",
        "name = \"Weekdays\"\ndays = [\"sat\", \"mon\"]\npriority = 5\nstart_date = \"2026-03-01\"\nend_date = 2026-03-31\nactive = false",
    )
    .replace("name = \"Day\"", "name = \"Day\"\nenabled = false");
    let lineup = parse(&text).expect("valid");
    let intro = &lineup.catalog.assets["movie-intro"];
    assert!(!intro.approved && intro.deleted);
    assert_eq!(intro.state, AssetState::Retired);
    assert_eq!(intro.genres, vec!["a", "b"]);
    assert_eq!(intro.year, Some(1961));
    let channel = &lineup.channels[0];
    assert_eq!(channel.group.as_deref(), Some("Classics"));
    assert!(!channel.active);
    assert_eq!(channel.spot_cooldown_minutes, 45);
    assert_eq!(
        channel.interstitials,
        vec![AssetKind::Commercial, AssetKind::StationId]
    );
    let plan = &channel.plans[0];
    assert_eq!(plan.days, vec![Weekday::Sat, Weekday::Mon]);
    assert_eq!(plan.priority, 5);
    assert_eq!(plan.start_date, NaiveDate::from_ymd_opt(2026, 3, 1));
    assert_eq!(plan.end_date, NaiveDate::from_ymd_opt(2026, 3, 31));
    assert!(!plan.active && !plan.zones[0].enabled);

    // A filler asset needs no path (it is synthetic) and can be a zone item.
    let filler = format!(
        "{BASE}\n[[asset]]\nid = \"test-card\"\nkind = \"filler\"\ntitle = \"Test Card\"\nduration = \"00:30:00\"\n"
    )
    .replace("items = [\"cheers\"]", "items = [\"test-card\"]");
    let lineup = parse(&filler).expect("valid");
    assert_eq!(lineup.catalog.assets["test-card"].kind, AssetKind::Filler);
    assert!(lineup.catalog.assets["test-card"].path.is_none());
}

// contract: LINEUP-001
#[test]
fn all_errors_are_collected_and_located() {
    let text = base_with("grid_block_minutes = 30", "grid_block_minutes = 45")
        .replace("items = [\"cheers\"]", "items = [\"nope\"]")
        .replace("kind = \"movie\"", "kind = \"film\"");
    let errors = errors_of(&text);
    assert_error(&errors, CH, "grid_block_minutes", "15, 30 or 60, got 45");
    assert_error(
        &errors,
        r#"channel[0] "retro-one".plan[0] "Weekdays".zone[0] "Day""#,
        "items",
        "\"nope\" is not a program, asset or virtual_asset id",
    );
    assert_error(
        &errors,
        r#"asset[1] "casablanca""#,
        "kind",
        "unknown kind \"film\"",
    );
    let shown = errors[0].to_string();
    assert!(shown.starts_with("test.toml: ["), "{shown}");
}

// contract: LINEUP-001
#[test]
fn toml_syntax_errors_name_the_line() {
    let errors = errors_of("[[asset]]\nid = \"a\"\nkind = \n");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].table, "toml");
    assert!(errors[0].key.starts_with("line 3"), "{}", errors[0].key);
}

// contract: LINEUP-002
#[test]
fn required_keys_types_and_unknown_keys() {
    let errors = errors_of(&base_with("title = \"Movie Intro\"\n", ""));
    assert_error(
        &errors,
        r#"asset[2] "movie-intro""#,
        "title",
        "missing required key",
    );

    let errors = errors_of(&base_with("grid_block_minutes = 30", "grid_minutes = 30"));
    assert_error(&errors, CH, "grid_minutes", "unknown key");
    assert_error(&errors, CH, "grid_block_minutes", "missing required key");

    let errors = errors_of(&base_with("season = 1", "season = \"one\""));
    assert_error(
        &errors,
        r#"asset[0] "cheers-s01e01""#,
        "season",
        "expected an integer, got string",
    );

    let errors = errors_of(&format!("{BASE}\n[[assets]]\nid = \"x\"\n"));
    assert_error(&errors, "lineup", "assets", "unknown key");

    let errors = errors_of(&base_with(
        "name = \"Late\"",
        "name = \"Late\"\nenable = false",
    ));
    assert_error(&errors, ZONE1, "enable", "unknown key");

    // The guide number may be an integer.
    let lineup = parse(&base_with("number = \"2\"", "number = 2")).expect("valid");
    assert_eq!(lineup.channels[0].number, "2");
}

// contract: LINEUP-004
#[test]
fn ids_are_unique_and_unambiguous() {
    let duplicate = base_with("id = \"casablanca\"", "id = \"cheers-s01e01\"");
    let errors = errors_of(&duplicate);
    assert_error(
        &errors,
        r#"asset[1] "cheers-s01e01""#,
        "id",
        "duplicate asset id",
    );

    let ambiguous = base_with("id = \"cheers\"", "id = \"casablanca\"")
        .replace("items = [\"cheers\"]", "items = [\"casablanca\"]")
        .replace(
            "\"casablanca-presentation\", \"cheers\",",
            "\"casablanca-presentation\",",
        );
    let errors = errors_of(&ambiguous);
    assert_error(&errors, r#"program[0] "casablanca""#, "id", "ambiguous");

    let two_channels = format!(
        "{BASE}\n[[channel]]\nid = \"retro-one\"\nnumber = \"3\"\nname = \"Again\"\ntimezone = \"UTC\"\ngrid_block_minutes = 60\nblock_start_offsets_minutes = [0]\nprogramming_day_start = \"00:00\"\nbreak_policy = \"end\"\n"
    );
    let errors = errors_of(&two_channels);
    assert_error(
        &errors,
        r#"channel[1] "retro-one""#,
        "id",
        "duplicate channel id",
    );

    let reserved = base_with("id = \"movie-intro\"", "id = \"synthetic:intro\"")
        .replace("\"movie-intro\", \"casablanca\"", "\"casablanca\"");
    let errors = errors_of(&reserved);
    assert_error(&errors, r#"asset[2] "synthetic:intro""#, "id", "reserved");

    let plans = base_with("name = \"Day\"", "name = \"Day\"").replace(
        "  [[channel.plan]]\n  name = \"Weekdays\"\n",
        "  [[channel.plan]]\n  name = \"Weekdays\"\n\n  [[channel.plan]]\n  name = \"Weekdays\"\n",
    );
    let errors = errors_of(&plans);
    assert_error(
        &errors,
        r#"channel[0] "retro-one".plan[1] "Weekdays""#,
        "name",
        "duplicate plan name",
    );
}

// contract: LINEUP-005
#[test]
fn enumerations_list_allowed_values() {
    let errors = errors_of(&base_with(
        "play_mode = \"sequential\"",
        "play_mode = \"loop\"",
    ));
    assert_error(
        &errors,
        r#"program[0] "cheers""#,
        "play_mode",
        "allowed: sequential",
    );
    let errors = errors_of(&base_with(
        "break_policy = \"chapters\"",
        "break_policy = \"middle\"",
    ));
    assert_error(&errors, CH, "break_policy", "allowed: end, chapters");
    let errors = errors_of(&base_with(
        "name = \"Weekdays\"",
        "name = \"Weekdays\"\ndays = [\"mon\", \"funday\", \"mon\"]",
    ));
    let plan = r#"channel[0] "retro-one".plan[0] "Weekdays""#;
    assert_error(&errors, plan, "days", "unknown day \"funday\"");
    assert_error(&errors, plan, "days", "listed twice");
    // Day names are case-insensitive and may be written in full.
    let lineup = parse(&base_with(
        "name = \"Weekdays\"",
        "name = \"Weekdays\"\ndays = [\"Mon\", \"tuesday\", \"SAT\"]",
    ))
    .unwrap();
    assert_eq!(
        lineup.channels[0].plans[0].days,
        vec![Weekday::Mon, Weekday::Tue, Weekday::Sat]
    );
    let errors = errors_of(&base_with(
        "name = \"Weekdays\"",
        "name = \"Weekdays\"\ndays = [\"mond\", \"tues\"]",
    ));
    assert_error(&errors, plan, "days", "unknown day \"mond\"");
    assert_error(&errors, plan, "days", "unknown day \"tues\"");
    let errors = errors_of(&base_with(
        "break_policy = \"chapters\"",
        "break_policy = \"chapters\"\ninterstitials = [\"movie\"]",
    ));
    assert_error(&errors, CH, "interstitials", "not an interstitial kind");
    let errors = errors_of(&base_with(
        "duration_ms = 15000",
        "duration_ms = 15000\nstate = \"gone\"",
    ));
    assert_error(
        &errors,
        r#"asset[2] "movie-intro""#,
        "state",
        "unknown state",
    );
}

// contract: SCHED-008
#[test]
fn durations_above_seven_days_or_negative_name_the_asset() {
    let intro = r#"asset[2] "movie-intro""#;
    let errors = errors_of(&base_with("duration_ms = 15000", "duration_ms = 604800001"));
    assert_error(&errors, intro, "duration_ms", "longer than 7 days");
    let errors = errors_of(&base_with("duration_ms = 15000", "duration_ms = -5"));
    assert_error(&errors, intro, "duration_ms", "must be > 0");
    let errors = errors_of(&base_with(
        "duration = \"01:42:00\"",
        "duration = \"170:00:00\"",
    ));
    assert_error(
        &errors,
        r#"asset[1] "casablanca""#,
        "duration",
        "longer than 7 days",
    );
    // Exactly 7 days is allowed.
    parse(&base_with("duration_ms = 15000", "duration_ms = 604800000")).unwrap();
    let catalog = retrovue_core::model::Catalog::default();
    let error =
        retrovue_core::lineup::resolve_item("synthetic:slate:604800001", &catalog).unwrap_err();
    assert!(
        error.contains("synthetic:slate:604800001") && error.contains("7 days"),
        "{error}"
    );
}

// contract: LINEUP-006
#[test]
fn durations_and_chapters() {
    let movie = r#"asset[1] "casablanca""#;
    let errors = errors_of(&base_with(
        "duration = \"01:42:00\"",
        "duration = \"102 min\"",
    ));
    assert_error(&errors, movie, "duration", "not a duration HH:MM:SS");
    let errors = errors_of(&base_with(
        "duration = \"01:42:00\"",
        "duration = \"01:42:00\"\nduration_ms = 6120000",
    ));
    assert_error(&errors, movie, "duration", "not both");
    let errors = errors_of(&base_with("duration = \"01:42:00\"\n", ""));
    assert_error(&errors, movie, "duration_ms", "missing required key");
    let errors = errors_of(&base_with("duration_ms = 15000", "duration_ms = 0"));
    assert_error(
        &errors,
        r#"asset[2] "movie-intro""#,
        "duration_ms",
        "must be > 0",
    );
    let errors = errors_of(&base_with(
        "duration = \"01:42:00\"",
        "duration = \"00:00:00\"",
    ));
    assert_error(&errors, movie, "duration", "must be > 0");

    let episode = r#"asset[0] "cheers-s01e01""#;
    let errors = errors_of(&base_with(
        "[330000, 660000, 990000]",
        "[0, 660000, 1320000]",
    ));
    assert_error(
        &errors,
        episode,
        "chapters_ms",
        "chapter 0 is not strictly inside",
    );
    assert_error(
        &errors,
        episode,
        "chapters_ms",
        "chapter 1320000 is not strictly inside",
    );
    let errors = errors_of(&base_with("[330000, 660000, 990000]", "[660000, 330000]"));
    assert_error(&errors, episode, "chapters_ms", "strictly increasing");

    let lineup = parse(&base_with(
        "duration_ms = 15000",
        "duration = \"00:00:15.250\"",
    ))
    .unwrap();
    assert_eq!(lineup.catalog.assets["movie-intro"].duration_ms, 15_250);
}

// contract: LINEUP-007
#[test]
fn references_must_resolve() {
    let errors = errors_of(&base_with(
        "series = \"Cheers\"\n\n[[virtual",
        "assets = [\"cheers-s01e01\", \"ghost\"]\n\n[[virtual",
    ));
    assert_error(
        &errors,
        r#"program[0] "cheers""#,
        "assets",
        "\"ghost\" is not an asset id",
    );
    let errors = errors_of(&base_with(
        "series = \"Cheers\"\n\n[[virtual",
        "series = \"Cheers\"\nassets = [\"cheers-s01e01\"]\n\n[[virtual",
    ));
    assert_error(&errors, r#"program[0] "cheers""#, "assets", "not both");
    let errors = errors_of(&base_with(
        "series = \"Cheers\"\n\n[[virtual",
        "\n[[virtual",
    ));
    assert_error(
        &errors,
        r#"program[0] "cheers""#,
        "series",
        "missing required key",
    );
    let errors = errors_of(&base_with(
        "parts = [\"movie-intro\", \"casablanca\"]",
        "parts = [\"movie-intro\", \"cheers\"]",
    ));
    assert_error(
        &errors,
        r#"virtual_asset[0] "casablanca-presentation""#,
        "parts",
        "\"cheers\" is not an asset id",
    );
    for bad in [
        "synthetic:slate:0",
        "synthetic::5000",
        "synthetic:Slate:5000",
        "synthetic:slate",
    ] {
        let errors = errors_of(&base_with("synthetic:slate:60000", bad));
        assert_error(&errors, ZONE1, "items", "synthetic:KIND:DURATION_MS");
    }
    // Direct asset references are allowed.
    let lineup = parse(&base_with(
        "items = [\"cheers\"]",
        "items = [\"casablanca\"]",
    ))
    .unwrap();
    assert_eq!(
        lineup.channels[0].plans[0].zones[0].items,
        vec![ItemRef::Asset {
            id: "casablanca".into()
        }]
    );
}

// contract: LINEUP-008
#[test]
fn times_dates_and_time_zones() {
    let errors = errors_of(&base_with(
        "timezone = \"America/New_York\"",
        "timezone = \"America/Gotham\"",
    ));
    assert_error(&errors, CH, "timezone", "not an IANA time zone");
    let errors = errors_of(&base_with("start = \"20:00\"", "start = \"24:00\""));
    assert_error(&errors, ZONE1, "start", "not a time of day");
    let errors = errors_of(&base_with("end = \"20:00\"", "end = \"8pm\""));
    assert_error(
        &errors,
        r#"channel[0] "retro-one".plan[0] "Weekdays".zone[0] "Day""#,
        "end",
        "not a time of day",
    );
    let errors = errors_of(&base_with(
        "programming_day_start = \"06:00\"",
        "programming_day_start = \"24:00\"",
    ));
    assert_error(&errors, CH, "programming_day_start", "not a time of day");
    let errors = errors_of(&base_with(
        "name = \"Weekdays\"",
        "name = \"Weekdays\"\nstart_date = \"2026-02-30\"",
    ));
    assert_error(
        &errors,
        r#"channel[0] "retro-one".plan[0] "Weekdays""#,
        "start_date",
        "not a date",
    );
    // 24:00 is a valid zone end.
    let midnight = base_with("end = \"06:00\"", "end = \"24:00\"")
        .replace("start = \"06:00\"", "start = \"00:00\"")
        .replace(
            "programming_day_start = \"06:00\"",
            "programming_day_start = \"00:00\"",
        );
    let lineup = parse(&midnight).expect("valid");
    assert_eq!(lineup.channels[0].plans[0].zones[1].end_minute, 1440);
}

// contract: LINEUP-009
#[test]
fn channel_rules_map_into_lineup_naming() {
    let errors = errors_of(&base_with("[0, 30]", "[5, 35]"));
    assert_error(
        &errors,
        CH,
        "block_start_offsets_minutes",
        "not a multiple of the 30-minute grid",
    );
    let errors = errors_of(&base_with(
        "programming_day_start = \"06:00\"",
        "programming_day_start = \"06:15\"",
    ));
    assert_error(
        &errors,
        CH,
        "programming_day_start",
        "not on a grid boundary",
    );
    let errors = errors_of(&base_with("start = \"20:00\"", "start = \"19:45\""));
    assert_error(&errors, ZONE1, "start", "not on a grid boundary");
    let errors = errors_of(&base_with("start = \"20:00\"", "start = \"19:00\""));
    assert_error(&errors, ZONE1, "start", "overlaps zone \"Day\"");
    let errors = errors_of(&base_with("id = \"retro-one\"", "id = \"Retro One\""));
    assert_error(&errors, r#"channel[0] "Retro One""#, "id", "not a slug");
    let errors = errors_of(&base_with("items = [\"cheers\"]", "items = []"));
    assert_error(
        &errors,
        r#"channel[0] "retro-one".plan[0] "Weekdays".zone[0] "Day""#,
        "items",
        "holds no items",
    );
    // A zone whose own times are broken does not also produce overlap noise.
    let errors = errors_of(&base_with("start = \"20:00\"", "start = \"7pm\""));
    assert_eq!(errors.len(), 1, "{errors:?}");
}

// contract: LINEUP-011
#[test]
fn warnings_name_gaps_and_empty_programs() {
    let lineup = parse(BASE).unwrap();
    assert!(
        lineup_warnings(&lineup).is_empty(),
        "{:?}",
        lineup_warnings(&lineup)
    );
    let gap = parse(&base_with("end = \"06:00\"", "end = \"02:00\"")).unwrap();
    let warnings = lineup_warnings(&gap);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("02:00–06:00"), "{}", warnings[0]);
    let empty = parse(&base_with(
        "play_mode = \"sequential\"\nseries = \"Cheers\"",
        "play_mode = \"sequential\"\nseries = \"Taxi\"",
    ))
    .unwrap();
    assert!(lineup_warnings(&empty)
        .iter()
        .any(|w| w.contains("\"cheers\" has no schedulable candidates")));
}

// contract: LINEUP-010
#[test]
fn export_is_a_fixpoint_for_the_base_and_demo() {
    let demo_text = include_str!("../../fixtures/demo/lineup.toml");
    let with_options = base_with("duration_ms = 15000", "duration_ms = 15000\napproved = false\nstate = \"new\"\ndescription = \"Line one\\nline \\\"two\\\"\"");
    for text in [BASE, demo_text, with_options.as_str()] {
        let lineup = parse(text).expect("valid");
        let exported = to_toml(&lineup);
        let again = parse(&exported).expect("export parses");
        assert_eq!(again, lineup);
        assert_eq!(to_toml(&again), exported);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    // contract: LINEUP-010
    // contract: GEN-004
    #[test]
    fn generated_lineups_survive_export_and_validation(channels in 1u32..8, seed in any::<u64>()) {
        let lineup = generate_lineup(channels, seed);
        let text = to_toml(&lineup);
        let parsed = parse_lineup(&text, "generated.toml");
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err().map(|e| e[..e.len().min(5)].to_vec()));
        prop_assert_eq!(parsed.unwrap(), lineup.clone());
        prop_assert!(lineup_warnings(&lineup).is_empty());
    }
}

// contract: LINEUP-013
#[test]
fn demo_lineup_is_complete_and_builds_cleanly() {
    let text = include_str!("../../fixtures/demo/lineup.toml");
    let lineup = parse_lineup(text, "fixtures/demo/lineup.toml").expect("demo is valid");
    assert_eq!(lineup_warnings(&lineup), Vec::<String>::new());
    assert!(lineup.channels.len() >= 4);
    let catalog = &lineup.catalog;
    let count = |kind: AssetKind| catalog.assets.values().filter(|a| a.kind == kind).count();
    assert!(
        count(AssetKind::Commercial)
            + count(AssetKind::Promo)
            + count(AssetKind::Bumper)
            + count(AssetKind::StationId)
            >= 60
    );
    let sitcom = &lineup.channels[0];
    assert_eq!(
        (sitcom.grid_block_minutes, sitcom.break_policy),
        (30, BreakPolicy::Chapters)
    );
    assert_eq!(sitcom.interstitials.len(), 4);
    assert!(sitcom
        .plans
        .iter()
        .flat_map(|p| &p.zones)
        .flat_map(|z| &z.items)
        .any(|i| matches!(i, ItemRef::Virtual { .. })));
    let movie = lineup
        .channels
        .iter()
        .find(|c| c.grid_block_minutes == 15)
        .expect("movie channel");
    let toons = lineup
        .channels
        .iter()
        .find(|c| c.timezone == chrono_tz::Europe::London)
        .expect("London");
    assert!(toons.plans.len() >= 2);
    assert!(lineup
        .channels
        .iter()
        .any(|c| c.timezone == chrono_tz::Asia::Kolkata));

    let from = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    for channel in &lineup.channels {
        let built = retrovue_core::build_fresh(catalog, channel, from, 7, 0);
        let faults: Vec<_> = built.days.iter().flat_map(|d| &d.faults).collect();
        assert!(faults.is_empty(), "{}: {faults:?}", channel.id);
        let violations = check_channel_days(channel, &built.days, &built.playlog, &built.epg);
        assert!(violations.is_empty(), "{}: {violations:?}", channel.id);
        if channel.id == movie.id {
            // The dawn movie carries over the 06:00 day start on at least one day.
            assert!(
                built
                    .days
                    .iter()
                    .any(|d| d.effective_start > d.window_start),
                "no carry-in on {}",
                channel.id
            );
        }
    }
}

// contract: GEN-001
#[test]
fn generator_is_deterministic() {
    let a = generate_lineup(5, 42);
    assert_eq!(a, generate_lineup(5, 42));
    assert_eq!(to_toml(&a), to_toml(&generate_lineup(5, 42)));
    assert_ne!(a, generate_lineup(5, 43));
}

// contract: GEN-002
#[test]
fn generator_catalog_has_the_benchmark_shape() {
    let lineup = generate_lineup(2, 7);
    let catalog = &lineup.catalog;
    let of = |kind: AssetKind| catalog.assets.values().filter(move |a| a.kind == kind);
    assert_eq!(of(AssetKind::Episode).count(), 2000);
    let series: std::collections::BTreeSet<_> = of(AssetKind::Episode)
        .map(|a| a.series.clone().unwrap())
        .collect();
    assert_eq!(series.len(), 40);
    for episode in of(AssetKind::Episode) {
        assert!(
            (21 * 60_000..=23 * 60_000).contains(&episode.duration_ms),
            "{}",
            episode.id
        );
        assert_eq!(episode.break_points().len(), 3, "{}", episode.id);
    }
    assert_eq!(of(AssetKind::Movie).count(), 300);
    assert!(of(AssetKind::Movie).all(|m| (90 * 60_000..=130 * 60_000).contains(&m.duration_ms)));
    let spots: Vec<_> = catalog
        .assets
        .values()
        .filter(|a| a.kind.is_interstitial())
        .collect();
    assert_eq!(spots.len(), 500);
    assert!(spots
        .iter()
        .all(|s| (15_000..=60_000).contains(&s.duration_ms)));
    for kind in [
        AssetKind::Commercial,
        AssetKind::Promo,
        AssetKind::Bumper,
        AssetKind::StationId,
    ] {
        assert!(of(kind).count() > 0, "{kind:?}");
    }
    let series_programs = catalog
        .programs
        .values()
        .filter(|p| p.series.is_some())
        .count();
    assert_eq!(series_programs, 40);
    let movie_modes: std::collections::BTreeSet<_> = catalog
        .programs
        .values()
        .filter(|p| p.series.is_none())
        .map(|p| p.play_mode)
        .collect();
    assert!(movie_modes.contains(&PlayMode::Shuffle) && movie_modes.contains(&PlayMode::Random));
    assert_eq!(catalog.virtual_assets.len(), generate::VIRTUAL_ASSET_COUNT);
    // The catalog does not depend on the channel count.
    assert_eq!(generate_lineup(9, 7).catalog, lineup.catalog);
}

// contract: GEN-003
// contract: GEN-004
#[test]
fn generator_channels_mix_shapes_and_build_without_faults() {
    let lineup = generate_lineup(24, 3);
    let channels = &lineup.channels;
    assert_eq!(channels.len(), 24);
    assert_eq!(channels[0].id, "ch-001");
    let grids: std::collections::BTreeSet<_> =
        channels.iter().map(|c| c.grid_block_minutes).collect();
    assert_eq!(grids.into_iter().collect::<Vec<_>>(), vec![15, 30, 60]);
    let starts: std::collections::BTreeSet<_> = channels
        .iter()
        .map(|c| c.programming_day_start_minute)
        .collect();
    assert_eq!(starts.into_iter().collect::<Vec<_>>(), vec![0, 300, 360]);
    assert!(channels.iter().any(|c| c.break_policy == BreakPolicy::End));
    assert!(channels
        .iter()
        .any(|c| c.break_policy == BreakPolicy::Chapters));
    for tz in [
        chrono_tz::America::New_York,
        chrono_tz::Europe::London,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Pacific::Chatham,
        chrono_tz::America::Los_Angeles,
    ] {
        assert!(channels.iter().any(|c| c.timezone == tz), "{tz}");
    }
    let plan_counts: std::collections::BTreeSet<_> =
        channels.iter().map(|c| c.plans.len()).collect();
    assert_eq!(plan_counts.into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
    for channel in channels {
        assert!(
            retrovue_core::validate::check_channel(channel).is_empty(),
            "{}",
            channel.id
        );
    }
    assert!(lineup_warnings(&lineup).is_empty());
    // Build a week (across the US spring-forward) on a few channels: no faults, no violations.
    let from = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
    for channel in channels.iter().take(7) {
        let built = retrovue_core::build_fresh(&lineup.catalog, channel, from, 5, 1);
        assert!(
            built.days.iter().all(|d| d.faults.is_empty()),
            "{}",
            channel.id
        );
        let violations = check_channel_days(channel, &built.days, &built.playlog, &built.epg);
        assert!(violations.is_empty(), "{}: {violations:?}", channel.id);
    }
}
