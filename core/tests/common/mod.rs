//! Builders shared by the core's integration tests: channels, zones and catalogs in a few lines.
#![allow(dead_code)]

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use retrovue_core::model::*;
use retrovue_core::time::parse_utc;

pub const MIN: i64 = 60_000;

pub fn at(s: &str) -> UtcMs {
    parse_utc(s).unwrap_or_else(|| panic!("bad instant {s}"))
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub const ALL_DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

pub fn zone(name: &str, start: &str, end: &str, items: &[&str]) -> Zone {
    Zone {
        name: name.to_string(),
        start_minute: retrovue_core::time::parse_hhmm(start).unwrap(),
        end_minute: retrovue_core::time::parse_hhmm(end).unwrap(),
        items: items.iter().map(|i| item_ref(i)).collect(),
        enabled: true,
    }
}

/// `p:ID` program, `v:ID` virtual asset, `synthetic:…`, else an asset id.
pub fn item_ref(s: &str) -> ItemRef {
    if let Some(id) = s.strip_prefix("p:") {
        ItemRef::Program { id: id.into() }
    } else if let Some(id) = s.strip_prefix("v:") {
        ItemRef::Virtual { id: id.into() }
    } else if let Some(rest) = s.strip_prefix("synthetic:") {
        let (kind, ms) = rest.split_once(':').unwrap();
        ItemRef::Synthetic {
            kind: kind.into(),
            duration_ms: ms.parse().unwrap(),
        }
    } else {
        ItemRef::Asset { id: s.into() }
    }
}

pub fn plan(name: &str, priority: u32, zones: Vec<Zone>) -> SchedulePlan {
    SchedulePlan {
        name: name.to_string(),
        priority,
        days: ALL_DAYS.to_vec(),
        start_date: None,
        end_date: None,
        active: true,
        zones,
    }
}

pub fn channel(
    tz: Tz,
    grid: u32,
    offsets: &[u32],
    day_start: &str,
    plans: Vec<SchedulePlan>,
) -> Channel {
    Channel {
        id: "retro-one".into(),
        number: "2".into(),
        name: "Retro One".into(),
        group: None,
        logo: None,
        timezone: tz,
        grid_block_minutes: grid,
        block_start_offsets_minutes: offsets.to_vec(),
        programming_day_start_minute: retrovue_core::time::parse_hhmm(day_start).unwrap(),
        break_policy: BreakPolicy::End,
        interstitials: vec![],
        active: true,
        filler_title: None,
        spot_cooldown_minutes: 30,
        output_profile: None,
        plans,
    }
}

/// The worked examples' channel: grid 30, offsets [0, 30], day start 06:00, New York.
pub fn ny_channel(zones: Vec<Zone>) -> Channel {
    channel(
        chrono_tz::America::New_York,
        30,
        &[0, 30],
        "06:00",
        vec![plan("Every day", 0, zones)],
    )
}

pub fn asset(id: &str, kind: AssetKind, minutes: f64) -> Asset {
    Asset::new(id, kind, id, (minutes * MIN as f64) as i64)
}

pub fn catalog(assets: Vec<Asset>) -> Catalog {
    let mut c = Catalog::default();
    for a in assets {
        c.assets.insert(a.id.clone(), a);
    }
    c
}

pub fn episode(series: &str, season: u32, number: u32, ms: i64) -> Asset {
    let mut a = Asset::new(
        &format!("{}-s{season:02}e{number:02}", series.to_lowercase()),
        AssetKind::Episode,
        &format!("{series} {season}x{number}"),
        ms,
    );
    a.series = Some(series.into());
    a.season = Some(season);
    a.episode = Some(number);
    a
}

pub fn program(id: &str, series: &str, mode: PlayMode) -> Program {
    Program {
        id: id.into(),
        title: series.into(),
        play_mode: mode,
        series: Some(series.into()),
        assets: vec![],
    }
}
