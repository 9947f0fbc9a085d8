//! Domain types: catalog, programs, channels, plans, zones and what scheduling produces.
//!
//! Instants are UTC milliseconds since the Unix epoch ([`UtcMs`]); local time appears only as
//! anchors (minutes of the day) resolved through [`crate::time::ChannelClock`].

use std::collections::BTreeMap;

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// An instant: milliseconds since 1970-01-01T00:00:00Z.
pub type UtcMs = i64;

pub const MS_PER_MINUTE: i64 = 60_000;

/// What an asset is, editorially.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Episode,
    Movie,
    Commercial,
    Promo,
    Bumper,
    StationId,
    Filler,
}

impl AssetKind {
    pub const ALL: [AssetKind; 7] = [
        AssetKind::Episode,
        AssetKind::Movie,
        AssetKind::Commercial,
        AssetKind::Promo,
        AssetKind::Bumper,
        AssetKind::StationId,
        AssetKind::Filler,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Episode => "episode",
            AssetKind::Movie => "movie",
            AssetKind::Commercial => "commercial",
            AssetKind::Promo => "promo",
            AssetKind::Bumper => "bumper",
            AssetKind::StationId => "station_id",
            AssetKind::Filler => "filler",
        }
    }

    pub fn parse(s: &str) -> Option<AssetKind> {
        AssetKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Interstitials fill avails; the others are programme content.
    pub fn is_interstitial(self) -> bool {
        matches!(
            self,
            AssetKind::Commercial | AssetKind::Promo | AssetKind::Bumper | AssetKind::StationId
        )
    }
}

/// Lifecycle of an asset (ASSET rules, contracts/assets.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetState {
    New,
    Enriching,
    Ready,
    Retired,
}

impl AssetState {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetState::New => "new",
            AssetState::Enriching => "enriching",
            AssetState::Ready => "ready",
            AssetState::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<AssetState> {
        [
            AssetState::New,
            AssetState::Enriching,
            AssetState::Ready,
            AssetState::Retired,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A persisted playable item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    pub kind: AssetKind,
    /// For episodes: the episode title; otherwise the item's title.
    pub title: String,
    pub series: Option<String>,
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub description: Option<String>,
    pub rating: Option<String>,
    pub genres: Vec<String>,
    pub year: Option<i32>,
    pub duration_ms: i64,
    /// Break points in milliseconds from the start of the asset.
    pub chapters_ms: Vec<i64>,
    /// Local file path; `None` for assets that only exist in simulations or are synthetic.
    pub path: Option<String>,
    pub state: AssetState,
    pub approved: bool,
    pub deleted: bool,
}

impl Asset {
    /// A ready, approved asset with no metadata beyond the essentials.
    pub fn new(id: &str, kind: AssetKind, title: &str, duration_ms: i64) -> Asset {
        Asset {
            id: id.to_string(),
            kind,
            title: title.to_string(),
            series: None,
            season: None,
            episode: None,
            description: None,
            rating: None,
            genres: Vec::new(),
            year: None,
            duration_ms,
            chapters_ms: Vec::new(),
            path: None,
            state: AssetState::Ready,
            approved: true,
            deleted: false,
        }
    }

    /// Schedulable ⇔ ready ∧ approved ∧ not deleted ∧ duration > 0.
    pub fn is_schedulable(&self) -> bool {
        self.state == AssetState::Ready && self.approved && !self.deleted && self.duration_ms > 0
    }

    /// Chapter markers that may be used as breaks: strictly inside (0, duration), sorted, unique.
    pub fn break_points(&self) -> Vec<i64> {
        let mut points: Vec<i64> = self
            .chapters_ms
            .iter()
            .copied()
            .filter(|&c| c > 0 && c < self.duration_ms)
            .collect();
        points.sort_unstable();
        points.dedup();
        points
    }
}

/// How a program picks its next asset (SELECT-001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlayMode {
    Sequential,
    Shuffle,
    Random,
    Manual,
}

impl PlayMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PlayMode::Sequential => "sequential",
            PlayMode::Shuffle => "shuffle",
            PlayMode::Random => "random",
            PlayMode::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<PlayMode> {
        [
            PlayMode::Sequential,
            PlayMode::Shuffle,
            PlayMode::Random,
            PlayMode::Manual,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// A series or a set of assets with a play mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    pub id: String,
    pub title: String,
    pub play_mode: PlayMode,
    /// Candidates are every asset of this series …
    pub series: Option<String>,
    /// … or this explicit list (in the operator's order, which matters for `manual`).
    pub assets: Vec<String>,
}

/// An ordered composite of assets that airs as one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualAsset {
    pub id: String,
    pub title: String,
    pub parts: Vec<String>,
}

/// The catalog as the scheduler sees it. Ordered maps keep every iteration deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub assets: BTreeMap<String, Asset>,
    pub programs: BTreeMap<String, Program>,
    pub virtual_assets: BTreeMap<String, VirtualAsset>,
}

/// Where a channel puts the avail of an item's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakPolicy {
    /// All of `slot − runtime` after the content.
    End,
    /// At chapter markers, spread evenly; at the end when there are none.
    Chapters,
}

impl BreakPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakPolicy::End => "end",
            BreakPolicy::Chapters => "chapters",
        }
    }

    pub fn parse(s: &str) -> Option<BreakPolicy> {
        match s {
            "end" => Some(BreakPolicy::End),
            "chapters" => Some(BreakPolicy::Chapters),
            _ => None,
        }
    }
}

/// What a zone holds (a SchedulableAsset: ZONE-001, SELECT-001).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemRef {
    Program {
        id: String,
    },
    Asset {
        id: String,
    },
    Virtual {
        id: String,
    },
    /// Generated content (slate, bars, off-air card); needs no file.
    Synthetic {
        kind: String,
        duration_ms: i64,
    },
}

impl ItemRef {
    /// The reference as written in a lineup file.
    pub fn reference(&self) -> String {
        match self {
            ItemRef::Program { id } | ItemRef::Asset { id } | ItemRef::Virtual { id } => id.clone(),
            ItemRef::Synthetic { kind, duration_ms } => format!("synthetic:{kind}:{duration_ms}"),
        }
    }
}

/// A named local-time window of the programming day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    pub name: String,
    /// Local wall time, minutes after midnight (0..1440).
    pub start_minute: u32,
    /// Local wall time, minutes after midnight (0..=1440; 1440 is "24:00").
    pub end_minute: u32,
    pub items: Vec<ItemRef>,
    pub enabled: bool,
}

/// A per-channel template of zones that applies on some days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulePlan {
    pub name: String,
    pub priority: u32,
    /// Weekdays it applies to; empty is treated as every day by the parser, never here.
    pub days: Vec<Weekday>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub active: bool,
    pub zones: Vec<Zone>,
}

impl SchedulePlan {
    pub fn applies_on(&self, date: NaiveDate) -> bool {
        use chrono::Datelike;
        self.active
            && self.days.contains(&date.weekday())
            && self.start_date.is_none_or(|s| date >= s)
            && self.end_date.is_none_or(|e| date <= e)
    }
}

/// A channel and everything needed to schedule it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub id: String,
    pub number: String,
    pub name: String,
    pub group: Option<String>,
    pub logo: Option<String>,
    pub timezone: Tz,
    pub grid_block_minutes: u32,
    pub block_start_offsets_minutes: Vec<u32>,
    /// Local time of day, minutes after midnight.
    pub programming_day_start_minute: u32,
    pub break_policy: BreakPolicy,
    pub interstitials: Vec<AssetKind>,
    pub active: bool,
    /// Title of EPG filler rows; the channel's name when unset.
    pub filler_title: Option<String>,
    /// The same spot does not repeat within this many minutes on this channel.
    pub spot_cooldown_minutes: u32,
    /// The engine output profile of this channel (ENGINE-020, LINEUP-015); the daemon's
    /// default when unset.
    #[serde(default)]
    pub output_profile: Option<String>,
    pub plans: Vec<SchedulePlan>,
}

impl Channel {
    pub fn grid_ms(&self) -> i64 {
        self.grid_block_minutes as i64 * MS_PER_MINUTE
    }

    pub fn filler_title(&self) -> &str {
        self.filler_title.as_deref().unwrap_or(&self.name)
    }
}

/// Everything a lineup declares.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lineup {
    pub catalog: Catalog,
    pub channels: Vec<Channel>,
}

/// One asset that actually plays as part of a scheduled item (a VirtualAsset has several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemPart {
    /// `None` for synthetic content.
    pub asset: Option<String>,
    pub kind: AssetKind,
    pub duration_ms: i64,
    /// Break points inside this part (strictly inside (0, duration)).
    pub chapters_ms: Vec<i64>,
}

/// One resolved item of a ScheduleDay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledItem {
    pub start: UtcMs,
    pub blocks: u32,
    /// `start + blocks × grid`.
    pub slot_end: UtcMs,
    pub runtime_ms: i64,
    /// The scheduled asset's id (a VirtualAsset's own id, or `synthetic:KIND:MS`).
    pub asset: String,
    pub program: Option<String>,
    pub zone: String,
    pub title: String,
    pub episode_title: Option<String>,
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub description: Option<String>,
    pub rating: Option<String>,
    pub category: Option<String>,
    pub parts: Vec<ItemPart>,
}

impl ScheduledItem {
    pub fn avail_ms(&self) -> i64 {
        self.slot_end - self.start - self.runtime_ms
    }
}

/// Something that kept a day or a zone from being scheduled as declared; reported, never hidden.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScheduleFault {
    pub code: String,
    pub at: UtcMs,
    pub detail: String,
}

/// The resolved, immutable schedule of one channel for one broadcast date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleDay {
    pub channel: String,
    pub date: NaiveDate,
    pub plan: Option<String>,
    /// The day's window: [window_start, window_end) in UTC (23, 24 or 25 hours).
    pub window_start: UtcMs,
    pub window_end: UtcMs,
    /// The window start, or the snapped end of a carry-in from the previous day.
    pub effective_start: UtcMs,
    /// Where the next day effectively starts: `window_end`, or `snap(last slot end)` when the
    /// last item carries over. The day's playlog and EPG tile [effective_start, covers_until).
    pub covers_until: UtcMs,
    pub items: Vec<ScheduledItem>,
    pub faults: Vec<ScheduleFault>,
}

impl ScheduleDay {
    /// End of the last item's slot, if any item was placed.
    pub fn last_slot_end(&self) -> Option<UtcMs> {
        self.items.last().map(|i| i.slot_end)
    }
}

/// What a playlog event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Content,
    Commercial,
    Promo,
    Bumper,
    StationId,
    Filler,
    Pad,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Content => "content",
            EventKind::Commercial => "commercial",
            EventKind::Promo => "promo",
            EventKind::Bumper => "bumper",
            EventKind::StationId => "station_id",
            EventKind::Filler => "filler",
            EventKind::Pad => "pad",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        [
            EventKind::Content,
            EventKind::Commercial,
            EventKind::Promo,
            EventKind::Bumper,
            EventKind::StationId,
            EventKind::Filler,
            EventKind::Pad,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn for_interstitial(kind: AssetKind) -> EventKind {
        match kind {
            AssetKind::Commercial => EventKind::Commercial,
            AssetKind::Promo => EventKind::Promo,
            AssetKind::Bumper => EventKind::Bumper,
            AssetKind::StationId => EventKind::StationId,
            AssetKind::Filler => EventKind::Filler,
            AssetKind::Episode | AssetKind::Movie => EventKind::Content,
        }
    }
}

/// The lowest runtime truth: one thing that airs, with absolute UTC times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaylogEvent {
    /// `{channel}:{broadcast date}:{sequence}` — stable for a stored day.
    pub id: String,
    pub channel: String,
    pub start: UtcMs,
    pub end: UtcMs,
    pub kind: EventKind,
    /// `None` for pads and synthetic content.
    pub asset: Option<String>,
    pub in_point_ms: i64,
    /// The scheduled item this event belongs to (its start), when it lies inside an item's slot.
    pub item_start: Option<UtcMs>,
}

impl PlaylogEvent {
    pub fn duration_ms(&self) -> i64 {
        self.end - self.start
    }
}

/// One guide row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpgRow {
    pub channel: String,
    pub start: UtcMs,
    pub end: UtcMs,
    pub title: String,
    pub episode_title: Option<String>,
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub description: Option<String>,
    pub rating: Option<String>,
    pub category: Option<String>,
    pub asset: Option<String>,
    pub program: Option<String>,
    pub filler: bool,
}

/// Rotation state of one channel: the sequential/shuffle cursor of each program (how many items
/// of it have been placed). Explicit state in and out of the builder; persisted by the store in
/// the same transaction as the day that advanced it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationState {
    pub cursors: BTreeMap<String, u64>,
}

/// Traffic state of one channel: when each spot last started, for the cooldown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficState {
    pub last_aired: BTreeMap<String, UtcMs>,
}

/// How a playlog event actually went on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsRunStatus {
    Aired,
    Truncated,
    Skipped,
    Error,
}

impl AsRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AsRunStatus::Aired => "aired",
            AsRunStatus::Truncated => "truncated",
            AsRunStatus::Skipped => "skipped",
            AsRunStatus::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<AsRunStatus> {
        [
            AsRunStatus::Aired,
            AsRunStatus::Truncated,
            AsRunStatus::Skipped,
            AsRunStatus::Error,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// What actually aired, from engine evidence (ASRUN-001).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsRunRecord {
    pub channel: String,
    pub playlog_id: String,
    pub start: UtcMs,
    pub end: UtcMs,
    pub asset: Option<String>,
    pub kind: EventKind,
    pub status: AsRunStatus,
    pub reason: Option<String>,
}
