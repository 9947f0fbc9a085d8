//! The simulator's reports: the JSON document of SIM-003 (with its digest) and the human
//! report (contracts/sim.md SIM-003, SIM-008).

use std::fmt::Write as _;

use retrovue_core::epg::epg_rows;
use retrovue_core::model::{AsRunStatus, EpgRow, MS_PER_MINUTE};
use retrovue_core::stable::sha256_hex;
use retrovue_core::time::{fmt_utc, ChannelClock};
use serde::Serialize;

use crate::world::{ChannelOutcome, SimOutcome};

#[derive(Serialize)]
struct JsonOut {
    seed: u64,
    start: String,
    days: u32,
    viewers: String,
    faults: String,
    channels: Vec<JsonChannel>,
    stats: JsonStats,
    digest: String,
}

#[derive(Serialize)]
struct JsonChannel {
    id: String,
    schedule_days: Vec<JsonDay>,
    epg: Vec<JsonEpg>,
    playlog: Vec<JsonEvent>,
    asrun: Vec<JsonAsRun>,
    violations: Vec<JsonViolation>,
}

#[derive(Serialize)]
struct JsonDay {
    date: String,
    plan: Option<String>,
    start: String,
    end: String,
    items: Vec<JsonItem>,
    /// What kept the day from being scheduled as declared (no plan, empty candidates).
    faults: Vec<JsonFault>,
}

#[derive(Serialize)]
struct JsonFault {
    code: String,
    at: String,
    detail: String,
}

#[derive(Serialize)]
struct JsonItem {
    start: String,
    end: String,
    asset: String,
    program: Option<String>,
    runtime_ms: i64,
    blocks: u32,
}

#[derive(Serialize)]
struct JsonEpg {
    start: String,
    end: String,
    title: String,
    episode_title: Option<String>,
    season: Option<u32>,
    episode: Option<u32>,
    asset: Option<String>,
    program: Option<String>,
    filler: bool,
}

#[derive(Serialize)]
struct JsonEvent {
    id: String,
    start: String,
    end: String,
    kind: &'static str,
    asset: Option<String>,
    in_point_ms: i64,
    duration_ms: i64,
}

#[derive(Serialize)]
struct JsonAsRun {
    playlog_id: String,
    start: String,
    end: String,
    status: &'static str,
    asset: Option<String>,
    kind: &'static str,
    reason: Option<String>,
}

#[derive(Serialize)]
struct JsonViolation {
    invariant: String,
    at: String,
    detail: String,
}

#[derive(Serialize)]
struct JsonStats {
    tune_ins: u64,
    engine_starts: u64,
    engine_crashes: u64,
    restarts: u64,
    gave_up: u64,
    answered_500: u64,
    answered_503: u64,
    store_failures: u64,
    keeper_retries: u64,
    rebuilds: u64,
}

/// Guide rows from the first day's effective start to the horizon end (the last one cut there).
pub fn guide(ch: &ChannelOutcome) -> Vec<EpgRow> {
    let mut rows: Vec<EpgRow> = epg_rows(&ch.channel, &ch.days)
        .into_iter()
        .filter(|r| r.start < ch.end)
        .collect();
    if let Some(last) = rows.last_mut() {
        last.end = last.end.min(ch.end);
    }
    rows
}

fn json_channel(ch: &ChannelOutcome) -> JsonChannel {
    let schedule_days = ch
        .days
        .iter()
        .map(|d| JsonDay {
            date: d.date.to_string(),
            plan: d.plan.clone(),
            start: fmt_utc(d.effective_start),
            end: fmt_utc(d.window_end),
            items: d
                .items
                .iter()
                .map(|it| JsonItem {
                    start: fmt_utc(it.start),
                    end: fmt_utc(it.slot_end),
                    asset: it.asset.clone(),
                    program: it.program.clone(),
                    runtime_ms: it.runtime_ms,
                    blocks: it.blocks,
                })
                .collect(),
            faults: d
                .faults
                .iter()
                .map(|f| JsonFault {
                    code: f.code.clone(),
                    at: fmt_utc(f.at),
                    detail: f.detail.clone(),
                })
                .collect(),
        })
        .collect();
    let epg = guide(ch)
        .into_iter()
        .map(|r| JsonEpg {
            start: fmt_utc(r.start),
            end: fmt_utc(r.end),
            title: r.title,
            episode_title: r.episode_title,
            season: r.season,
            episode: r.episode,
            asset: r.asset,
            program: r.program,
            filler: r.filler,
        })
        .collect();
    let playlog = ch
        .playlog
        .iter()
        .filter(|e| e.start < ch.end)
        .map(|e| {
            let end = e.end.min(ch.end);
            JsonEvent {
                id: e.id.clone(),
                start: fmt_utc(e.start),
                end: fmt_utc(end),
                kind: e.kind.as_str(),
                asset: e.asset.clone(),
                in_point_ms: e.in_point_ms,
                duration_ms: end - e.start,
            }
        })
        .collect();
    let asrun = ch
        .asrun
        .iter()
        .map(|r| JsonAsRun {
            playlog_id: r.playlog_id.clone(),
            start: fmt_utc(r.start),
            end: fmt_utc(r.end),
            status: r.status.as_str(),
            asset: r.asset.clone(),
            kind: r.kind.as_str(),
            reason: r.reason.clone(),
        })
        .collect();
    let violations = ch
        .violations
        .iter()
        .map(|v| JsonViolation {
            invariant: v.invariant.clone(),
            at: fmt_utc(v.at),
            detail: v.detail.clone(),
        })
        .collect();
    JsonChannel {
        id: ch.channel.id.clone(),
        schedule_days,
        epg,
        playlog,
        asrun,
        violations,
    }
}

/// The `--json` document: compact, one line, `digest` = SHA-256 of it with `"digest":""`.
pub fn to_json(outcome: &SimOutcome) -> String {
    let s = &outcome.stats;
    let mut doc = JsonOut {
        seed: outcome.seed,
        start: outcome.start.to_string(),
        days: outcome.days,
        viewers: outcome.viewers.clone(),
        faults: outcome.faults.clone(),
        channels: outcome.channels.iter().map(json_channel).collect(),
        stats: JsonStats {
            tune_ins: s.tune_ins,
            engine_starts: s.engine_starts,
            engine_crashes: s.engine_crashes,
            restarts: s.restarts,
            gave_up: s.gave_up,
            answered_500: s.answered_500,
            answered_503: s.answered_503,
            store_failures: s.store_failures,
            keeper_retries: s.keeper_retries,
            rebuilds: s.rebuilds,
        },
        digest: String::new(),
    };
    let unsigned = serde_json::to_string(&doc).expect("plain data serializes");
    doc.digest = sha256_hex(unsigned.as_bytes());
    serde_json::to_string(&doc).expect("plain data serializes")
}

/// How many hours of guide the human report shows per channel.
pub const GUIDE_HOURS: i64 = 6;

/// The human report; the first line is the seed.
pub fn to_human(outcome: &SimOutcome) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "seed {}", outcome.seed);
    let _ = writeln!(
        out,
        "start {}, {} day(s), viewers {}, faults {}",
        outcome.start, outcome.days, outcome.viewers, outcome.faults
    );
    for ch in &outcome.channels {
        let c = &ch.channel;
        let clock = ChannelClock::of(c);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "== {} {} ({}, {}) ==",
            c.number, c.name, c.id, c.timezone
        );
        let _ = writeln!(out, "  guide, first {GUIDE_HOURS} hours (local / UTC):");
        let until = ch.start + GUIDE_HOURS * 60 * MS_PER_MINUTE;
        for row in guide(ch).iter().take_while(|r| r.start < until) {
            let local = clock.local(row.start).format("%a %H:%M");
            let utc = fmt_utc(row.start);
            let minutes = (row.end - row.start) / MS_PER_MINUTE;
            let title = match &row.episode_title {
                Some(ep) if !row.filler => format!("{} — {ep}", row.title),
                _ => row.title.clone(),
            };
            let _ = writeln!(out, "    {local}  {utc}  {minutes:>4} min  {title}");
        }
        let items: usize = ch.days.iter().map(|d| d.items.len()).sum();
        let count = |status: AsRunStatus| ch.asrun.iter().filter(|r| r.status == status).count();
        let _ = writeln!(
            out,
            "  days {}, items {}, guide rows {}, playlog events {}",
            ch.days.len(),
            items,
            guide(ch).len(),
            ch.playlog.iter().filter(|e| e.start < ch.end).count()
        );
        let _ = writeln!(
            out,
            "  as-run {} (aired {}, truncated {}, error {}); tune-ins {}, engine starts {}, \
             failures {}, restarts {}",
            ch.asrun.len(),
            count(AsRunStatus::Aired),
            count(AsRunStatus::Truncated),
            count(AsRunStatus::Error),
            ch.tune_ins,
            ch.engine_starts,
            ch.engine_failures,
            ch.restarts
        );
        for day in &ch.days {
            for fault in &day.faults {
                let _ = writeln!(
                    out,
                    "  schedule fault {} on {} at {}: {}",
                    fault.code,
                    day.date,
                    fmt_utc(fault.at),
                    fault.detail
                );
            }
        }
        let _ = writeln!(out, "  violations: {}", ch.violations.len());
        for v in ch.violations.iter().take(20) {
            let _ = writeln!(
                out,
                "    {} at {}: {}",
                v.invariant,
                fmt_utc(v.at),
                v.detail
            );
        }
    }
    let s = &outcome.stats;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "totals: tune-ins {}, engine starts {}, engine crashes {}, restarts {}, gave up {}, \
         answered 500 {}, answered 503 {}, store failures {}, keeper retries {}, rebuilds {}",
        s.tune_ins,
        s.engine_starts,
        s.engine_crashes,
        s.restarts,
        s.gave_up,
        s.answered_500,
        s.answered_503,
        s.store_failures,
        s.keeper_retries,
        s.rebuilds
    );
    let _ = writeln!(out, "violations: {}", outcome.violation_count());
    out
}
