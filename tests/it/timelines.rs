//! Data-driven schedule tests (EPG-002): every demo channel's broadcast days rendered as text
//! timelines and compared with the expected files in `tests/timelines/`; `make timelines`
//! refreshes them after a deliberate change.

use std::fs;
use std::path::PathBuf;

use chrono::NaiveDate;
use retrovue_core::timeline::render_day;

/// The days rendered: a Monday and the day after, so each carry-over seam is covered.
const FROM: &str = "2026-03-02";
const DAYS: u32 = 2;
const SEED: u64 = 0;

fn expected_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/timelines")
}

#[test]
fn the_demo_days_render_as_their_expected_timelines() {
    // contract: EPG-002
    let text = include_str!("../../fixtures/demo/lineup.toml");
    let lineup = retrovue_core::lineup::parse_lineup(text, "demo").expect("the demo parses");
    let from = NaiveDate::parse_from_str(FROM, "%Y-%m-%d").unwrap();
    let update = std::env::var_os("UPDATE_TIMELINES").is_some();
    let mut differences = Vec::new();
    let mut rendered = 0;
    for channel in lineup.channels.iter().filter(|c| c.active) {
        let schedule = retrovue_core::build_fresh(&lineup.catalog, channel, from, DAYS, SEED);
        for day in &schedule.days {
            let text = render_day(channel, day, &schedule.epg, &schedule.playlog);
            let path = expected_dir().join(format!("{}-{}.txt", channel.id, day.date));
            rendered += 1;
            if update {
                fs::create_dir_all(expected_dir()).unwrap();
                fs::write(&path, &text).unwrap();
                continue;
            }
            match fs::read_to_string(&path) {
                Ok(expected) if expected == text => {}
                Ok(expected) => {
                    let first = expected
                        .lines()
                        .zip(text.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or(expected.lines().count().min(text.lines().count()));
                    differences.push(format!(
                        "{}: first difference at line {}:\n  expected: {}\n  now:      {}",
                        path.display(),
                        first + 1,
                        expected.lines().nth(first).unwrap_or("(end)"),
                        text.lines().nth(first).unwrap_or("(end)")
                    ));
                }
                Err(e) => differences.push(format!("{}: {e}", path.display())),
            }
        }
    }
    assert!(rendered >= 4, "the demo has several channels");
    assert!(
        differences.is_empty(),
        "{}\n\nIf the change is deliberate: make timelines (UPDATE_TIMELINES=1 cargo test --test \
         timelines) and review the diff.",
        differences.join("\n")
    );
}
