//! Lineup files (LINEUP-001..015): parse and validate TOML into core types, export them back.
//!
//! Parsing collects every problem of a file (never only the first) and names each by file, table
//! and key, so an operator fixes a lineup in one pass. `to_toml` writes a lineup that parses back
//! to the same value (contracts/lineup.md LINEUP-010).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use toml::{Table, Value};

use crate::model::{
    Asset, AssetKind, AssetState, BreakPolicy, Catalog, Channel, ItemRef, Lineup, PlayMode,
    Program, SchedulePlan, VirtualAsset, Zone,
};
use crate::schedule::SchedulingContext;
use crate::time::{fmt_hhmm, parse_hhmm, parse_hms_duration};
use crate::validate::{check_channel, check_duration, uncovered_minutes};

/// One problem in a lineup file, located by file, table and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineupError {
    pub file: String,
    /// e.g. `channel[0] "retro-one".plan[1].zone[0]`
    pub table: String,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for LineupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: [{}] {}: {}",
            self.file, self.table, self.key, self.message
        )
    }
}

/// Default spot cooldown of a channel, in minutes.
pub const DEFAULT_SPOT_COOLDOWN_MINUTES: u32 = 30;

const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "mon"),
    (Weekday::Tue, "tue"),
    (Weekday::Wed, "wed"),
    (Weekday::Thu, "thu"),
    (Weekday::Fri, "fri"),
    (Weekday::Sat, "sat"),
    (Weekday::Sun, "sun"),
];

const SYNTHETIC_PREFIX: &str = "synthetic:";

const ASSET_KEYS: &[&str] = &[
    "id",
    "kind",
    "title",
    "series",
    "season",
    "episode",
    "duration_ms",
    "duration",
    "chapters_ms",
    "path",
    "rating",
    "description",
    "genres",
    "year",
    "approved",
    "state",
    "deleted",
];
const PROGRAM_KEYS: &[&str] = &["id", "title", "play_mode", "series", "assets"];
const VIRTUAL_KEYS: &[&str] = &["id", "title", "parts"];
const CHANNEL_KEYS: &[&str] = &[
    "id",
    "number",
    "name",
    "group",
    "logo",
    "timezone",
    "grid_block_minutes",
    "block_start_offsets_minutes",
    "programming_day_start",
    "break_policy",
    "interstitials",
    "active",
    "filler_title",
    "spot_cooldown_minutes",
    "output_profile",
    "plan",
];
const PLAN_KEYS: &[&str] = &[
    "name",
    "days",
    "priority",
    "start_date",
    "end_date",
    "active",
    "zone",
];
const ZONE_KEYS: &[&str] = &["name", "start", "end", "items", "enabled"];
const TOP_KEYS: &[&str] = &["asset", "program", "virtual_asset", "channel"];

/// A weekday by name: `mon` … `sun` or `monday` … `sunday`, case-insensitive. The lineup file and
/// the `plan` CLI use this one rule.
pub fn parse_weekday(name: &str) -> Option<Weekday> {
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let lower = name.to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .zip(FULL)
        .find(|((_, short), full)| lower == *short || lower == *full)
        .map(|((day, _), _)| *day)
}

/// Collects errors for one file.
struct Errors {
    file: String,
    list: Vec<LineupError>,
}

impl Errors {
    fn push(&mut self, table: &str, key: &str, message: impl Into<String>) {
        self.list.push(LineupError {
            file: self.file.clone(),
            table: table.to_string(),
            key: key.to_string(),
            message: message.into(),
        });
    }
}

/// One TOML table being read, with its location for error messages. Every getter reports a
/// missing or mistyped key itself and returns `None`, so callers just carry on.
struct Reader<'a> {
    table: &'a Table,
    location: String,
}

impl<'a> Reader<'a> {
    fn new(table: &'a Table, location: String, allowed: &[&str], errors: &mut Errors) -> Self {
        for key in table.keys() {
            if !allowed.contains(&key.as_str()) {
                errors.push(
                    &location,
                    key,
                    format!("unknown key (allowed: {})", allowed.join(", ")),
                );
            }
        }
        Reader { table, location }
    }

    fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    fn missing(&self, key: &str, errors: &mut Errors) {
        errors.push(&self.location, key, "missing required key");
    }

    fn wrong_type(&self, key: &str, expected: &str, got: &Value, errors: &mut Errors) {
        errors.push(
            &self.location,
            key,
            format!("expected {expected}, got {}", got.type_str()),
        );
    }

    fn opt_str(&self, key: &str, errors: &mut Errors) -> Option<String> {
        match self.table.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.wrong_type(key, "a string", other, errors);
                None
            }
        }
    }

    fn req_str(&self, key: &str, errors: &mut Errors) -> Option<String> {
        if !self.has(key) {
            self.missing(key, errors);
        }
        self.opt_str(key, errors)
    }

    fn opt_bool(&self, key: &str, errors: &mut Errors) -> Option<bool> {
        match self.table.get(key)? {
            Value::Boolean(b) => Some(*b),
            other => {
                self.wrong_type(key, "true or false", other, errors);
                None
            }
        }
    }

    fn opt_int(&self, key: &str, min: i64, max: i64, errors: &mut Errors) -> Option<i64> {
        match self.table.get(key)? {
            Value::Integer(i) if (min..=max).contains(i) => Some(*i),
            Value::Integer(i) => {
                errors.push(
                    &self.location,
                    key,
                    format!("must be between {min} and {max}, got {i}"),
                );
                None
            }
            other => {
                self.wrong_type(key, "an integer", other, errors);
                None
            }
        }
    }

    fn req_int(&self, key: &str, min: i64, max: i64, errors: &mut Errors) -> Option<i64> {
        if !self.has(key) {
            self.missing(key, errors);
        }
        self.opt_int(key, min, max, errors)
    }

    fn opt_array(&self, key: &str, errors: &mut Errors) -> Option<&'a Vec<Value>> {
        match self.table.get(key)? {
            Value::Array(a) => Some(a),
            other => {
                self.wrong_type(key, "an array", other, errors);
                None
            }
        }
    }

    fn opt_str_array(&self, key: &str, errors: &mut Errors) -> Option<Vec<String>> {
        let array = self.opt_array(key, errors)?;
        let mut out = Vec::with_capacity(array.len());
        let mut ok = true;
        for (i, v) in array.iter().enumerate() {
            match v {
                Value::String(s) => out.push(s.clone()),
                other => {
                    errors.push(
                        &self.location,
                        key,
                        format!("element {i}: expected a string, got {}", other.type_str()),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn opt_int_array(
        &self,
        key: &str,
        min: i64,
        max: i64,
        errors: &mut Errors,
    ) -> Option<Vec<i64>> {
        let array = self.opt_array(key, errors)?;
        let mut out = Vec::with_capacity(array.len());
        let mut ok = true;
        for (i, v) in array.iter().enumerate() {
            match v {
                Value::Integer(n) if (min..=max).contains(n) => out.push(*n),
                Value::Integer(n) => {
                    errors.push(
                        &self.location,
                        key,
                        format!("element {i}: must be between {min} and {max}, got {n}"),
                    );
                    ok = false;
                }
                other => {
                    errors.push(
                        &self.location,
                        key,
                        format!("element {i}: expected an integer, got {}", other.type_str()),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// `"YYYY-MM-DD"` or a bare TOML date.
    fn opt_date(&self, key: &str, errors: &mut Errors) -> Option<NaiveDate> {
        let text = match self.table.get(key)? {
            Value::String(s) => s.clone(),
            Value::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
            other => {
                self.wrong_type(key, "a date \"YYYY-MM-DD\"", other, errors);
                return None;
            }
        };
        let parsed = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .ok()
            .filter(|d| d.format("%Y-%m-%d").to_string() == text);
        if parsed.is_none() {
            errors.push(
                &self.location,
                key,
                format!("{text:?} is not a date YYYY-MM-DD"),
            );
        }
        if parsed.is_some_and(|d| !crate::time::date_in_range(d)) {
            errors.push(
                &self.location,
                key,
                format!("{text:?} is outside the years 1970–9999"),
            );
            return None;
        }
        parsed
    }

    /// An array of tables (`[[key]]`); absent → empty.
    fn tables(&self, key: &str, errors: &mut Errors) -> Vec<&'a Table> {
        tables_of(self.table.get(key), &self.location, key, errors)
    }
}

fn tables_of<'a>(
    value: Option<&'a Value>,
    location: &str,
    key: &str,
    errors: &mut Errors,
) -> Vec<&'a Table> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Table(t) => out.push(t),
                    other => errors.push(
                        location,
                        key,
                        format!("element {i}: expected a table, got {}", other.type_str()),
                    ),
                }
            }
            out
        }
        Some(other) => {
            errors.push(
                location,
                key,
                format!(
                    "expected an array of tables ([[{key}]]), got {}",
                    other.type_str()
                ),
            );
            Vec::new()
        }
    }
}

/// The location of an indexed table, with its id or name when it has one.
fn locate(prefix: &str, kind: &str, index: usize, table: &Table, name_key: &str) -> String {
    let base = if prefix.is_empty() {
        format!("{kind}[{index}]")
    } else {
        format!("{prefix}.{kind}[{index}]")
    };
    match table.get(name_key) {
        Some(Value::String(name)) => format!("{base} {name:?}"),
        _ => base,
    }
}

fn check_id(reader: &Reader, id: &str, errors: &mut Errors) -> bool {
    let problem = if id.is_empty() {
        Some("id must not be empty")
    } else if id.chars().count() > crate::validate::MAX_ID_LEN {
        Some("id must be at most 64 characters")
    } else if id.chars().any(char::is_whitespace) {
        Some("id must not contain whitespace")
    } else if id.starts_with(SYNTHETIC_PREFIX) {
        Some("id must not start with \"synthetic:\" (reserved for synthetic items)")
    } else {
        None
    };
    if let Some(message) = problem {
        errors.push(&reader.location, "id", format!("{message}: {id:?}"));
    }
    problem.is_none()
}

fn parse_asset(reader: &Reader, errors: &mut Errors) -> Option<Asset> {
    let before = errors.list.len();
    let id = reader.req_str("id", errors);
    if let Some(id) = &id {
        check_id(reader, id, errors);
    }
    let kind = reader.req_str("kind", errors).and_then(|k| {
        let kind = AssetKind::parse(&k);
        if kind.is_none() {
            errors.push(
                &reader.location,
                "kind",
                format!(
                    "unknown kind {k:?} (allowed: {})",
                    AssetKind::ALL.map(AssetKind::as_str).join(", ")
                ),
            );
        }
        kind
    });
    let title = reader.req_str("title", errors);
    let series = reader.opt_str("series", errors);
    let season = reader.opt_int("season", 0, u32::MAX as i64, errors);
    let episode = reader.opt_int("episode", 0, u32::MAX as i64, errors);
    let duration_ms = parse_duration(reader, errors);
    let chapters = reader
        .opt_int_array("chapters_ms", i64::MIN, i64::MAX, errors)
        .unwrap_or_default();
    if let Some(duration) = duration_ms {
        for (i, &c) in chapters.iter().enumerate() {
            if c <= 0 || c >= duration {
                errors.push(
                    &reader.location,
                    "chapters_ms",
                    format!("chapter {c} is not strictly inside (0, {duration})"),
                );
            } else if i > 0 && chapters[i - 1] >= c {
                errors.push(
                    &reader.location,
                    "chapters_ms",
                    format!("chapters must be strictly increasing, got {chapters:?}"),
                );
            }
        }
    }
    let path = reader.opt_str("path", errors);
    let rating = reader.opt_str("rating", errors);
    let description = reader.opt_str("description", errors);
    let genres = reader.opt_str_array("genres", errors).unwrap_or_default();
    let year = reader.opt_int("year", i32::MIN as i64, i32::MAX as i64, errors);
    let approved = reader.opt_bool("approved", errors).unwrap_or(true);
    let deleted = reader.opt_bool("deleted", errors).unwrap_or(false);
    let state = match reader.opt_str("state", errors) {
        None => AssetState::Ready,
        Some(s) => AssetState::parse(&s).unwrap_or_else(|| {
            errors.push(
                &reader.location,
                "state",
                format!("unknown state {s:?} (allowed: new, enriching, ready, retired)"),
            );
            AssetState::Ready
        }),
    };
    if errors.list.len() > before {
        return None;
    }
    Some(Asset {
        id: id?,
        kind: kind?,
        title: title?,
        series,
        season: season.map(|s| s as u32),
        episode: episode.map(|e| e as u32),
        description,
        rating,
        genres,
        year: year.map(|y| y as i32),
        duration_ms: duration_ms?,
        chapters_ms: chapters,
        path,
        state,
        approved,
        deleted,
    })
}

/// `duration_ms` or `duration = "HH:MM:SS[.mmm]"`, exactly one, > 0.
fn parse_duration(reader: &Reader, errors: &mut Errors) -> Option<i64> {
    match (reader.has("duration_ms"), reader.has("duration")) {
        (true, true) => {
            errors.push(
                &reader.location,
                "duration",
                "give duration_ms or duration, not both",
            );
            None
        }
        (false, false) => {
            errors.push(
                &reader.location,
                "duration_ms",
                "missing required key (duration_ms, or duration = \"HH:MM:SS\")",
            );
            None
        }
        (true, false) => {
            let ms = reader.opt_int("duration_ms", i64::MIN, i64::MAX, errors)?;
            match check_duration(ms) {
                Ok(ms) => Some(ms),
                Err(message) => {
                    errors.push(&reader.location, "duration_ms", message);
                    None
                }
            }
        }
        (false, true) => {
            let text = reader.opt_str("duration", errors)?;
            match parse_hms_duration(&text) {
                Some(ms) => match check_duration(ms) {
                    Ok(ms) => Some(ms),
                    Err(message) => {
                        errors.push(&reader.location, "duration", message);
                        None
                    }
                },
                None => {
                    errors.push(
                        &reader.location,
                        "duration",
                        format!("{text:?} is not a duration HH:MM:SS[.mmm]"),
                    );
                    None
                }
            }
        }
    }
}

fn parse_program(
    reader: &Reader,
    assets: &BTreeMap<String, Asset>,
    errors: &mut Errors,
) -> Option<Program> {
    let before = errors.list.len();
    let id = reader.req_str("id", errors);
    if let Some(id) = &id {
        check_id(reader, id, errors);
    }
    let play_mode = reader.req_str("play_mode", errors).and_then(|m| {
        let mode = PlayMode::parse(&m);
        if mode.is_none() {
            errors.push(
                &reader.location,
                "play_mode",
                format!("unknown play_mode {m:?} (allowed: sequential, shuffle, random, manual)"),
            );
        }
        mode
    });
    let series = reader.opt_str("series", errors);
    let listed = reader.opt_str_array("assets", errors);
    match (&series, reader.has("assets")) {
        (Some(_), true) => errors.push(
            &reader.location,
            "assets",
            "give series or assets, not both",
        ),
        (None, false) if !reader.has("series") => errors.push(
            &reader.location,
            "series",
            "missing required key (series, or an assets list)",
        ),
        _ => {}
    }
    if let Some(list) = &listed {
        if list.is_empty() {
            errors.push(
                &reader.location,
                "assets",
                "assets must list at least one asset",
            );
        }
        for asset in list {
            if !assets.contains_key(asset) {
                errors.push(
                    &reader.location,
                    "assets",
                    format!("{asset:?} is not an asset id"),
                );
            }
        }
    }
    let title = reader.opt_str("title", errors);
    if errors.list.len() > before {
        return None;
    }
    let id = id?;
    Some(Program {
        title: title
            .or_else(|| series.clone())
            .unwrap_or_else(|| id.clone()),
        id,
        play_mode: play_mode?,
        series,
        assets: listed.unwrap_or_default(),
    })
}

fn parse_virtual(
    reader: &Reader,
    assets: &BTreeMap<String, Asset>,
    errors: &mut Errors,
) -> Option<VirtualAsset> {
    let before = errors.list.len();
    let id = reader.req_str("id", errors);
    if let Some(id) = &id {
        check_id(reader, id, errors);
    }
    let title = reader.req_str("title", errors);
    if !reader.has("parts") {
        reader.missing("parts", errors);
    }
    let parts = reader.opt_str_array("parts", errors);
    if let Some(parts) = &parts {
        if parts.is_empty() {
            errors.push(
                &reader.location,
                "parts",
                "parts must list at least one asset",
            );
        }
        for part in parts {
            if !assets.contains_key(part) {
                errors.push(
                    &reader.location,
                    "parts",
                    format!("{part:?} is not an asset id"),
                );
            }
        }
    }
    if errors.list.len() > before {
        return None;
    }
    Some(VirtualAsset {
        id: id?,
        title: title?,
        parts: parts?,
    })
}

/// Resolve a zone item against the catalog's ids: a program, asset or virtual asset id, or
/// `synthetic:KIND:DURATION_MS`. The lineup file and the `zone` CLI use this one rule.
pub fn resolve_item(text: &str, catalog: &Catalog) -> Result<ItemRef, String> {
    if let Some(rest) = text.strip_prefix(SYNTHETIC_PREFIX) {
        let bad = || format!("{text:?} is not synthetic:KIND:DURATION_MS");
        let (kind, ms) = rest.rsplit_once(':').ok_or_else(bad)?;
        let kind_ok = !kind.is_empty()
            && kind
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        let duration_ms: i64 = ms.parse().map_err(|_| bad())?;
        if !kind_ok || duration_ms <= 0 || ms != duration_ms.to_string() {
            return Err(bad());
        }
        check_duration(duration_ms).map_err(|e| format!("{text:?}: {e}"))?;
        return Ok(ItemRef::Synthetic {
            kind: kind.to_string(),
            duration_ms,
        });
    }
    let id = text.to_string();
    if catalog.programs.contains_key(text) {
        Ok(ItemRef::Program { id })
    } else if catalog.assets.contains_key(text) {
        Ok(ItemRef::Asset { id })
    } else if catalog.virtual_assets.contains_key(text) {
        Ok(ItemRef::Virtual { id })
    } else {
        Err(format!(
            "{text:?} is not a program, asset or virtual_asset id, nor synthetic:KIND:DURATION_MS"
        ))
    }
}

fn parse_time_of_day(
    reader: &Reader,
    key: &str,
    allow_24: bool,
    errors: &mut Errors,
) -> Option<u32> {
    let text = reader.req_str(key, errors)?;
    match parse_hhmm(&text) {
        Some(m) if m < 1440 || allow_24 => Some(m),
        _ => {
            let range = if allow_24 {
                "00:00..24:00"
            } else {
                "00:00..23:59"
            };
            errors.push(
                &reader.location,
                key,
                format!("{text:?} is not a time of day HH:MM ({range})"),
            );
            None
        }
    }
}

/// What failed in a channel, so rule checks on placeholders do not repeat it.
#[derive(Default)]
struct Broken {
    keys: BTreeSet<String>,
}

/// The zone, whether its times parsed, and whether its items all resolved.
fn parse_zone(reader: &Reader, catalog: &Catalog, errors: &mut Errors) -> (Zone, bool, bool) {
    let name = reader.req_str("name", errors);
    let start = parse_time_of_day(reader, "start", false, errors);
    let end = parse_time_of_day(reader, "end", true, errors);
    if !reader.has("items") {
        reader.missing("items", errors);
    }
    let mut items = Vec::new();
    let mut items_ok = reader.has("items");
    for text in reader.opt_str_array("items", errors).unwrap_or_default() {
        match resolve_item(&text, catalog) {
            Ok(item) => items.push(item),
            Err(message) => {
                errors.push(&reader.location, "items", message);
                items_ok = false;
            }
        }
    }
    let enabled = reader.opt_bool("enabled", errors).unwrap_or(true);
    let zone = Zone {
        name: name.unwrap_or_default(),
        start_minute: start.unwrap_or(0),
        end_minute: end.unwrap_or(0),
        items,
        enabled,
    };
    let times_ok = start.is_some() && end.is_some();
    (zone, times_ok, items_ok)
}

fn parse_plan(
    reader: &Reader,
    catalog: &Catalog,
    plan_key: &str,
    broken: &mut Broken,
    errors: &mut Errors,
) -> SchedulePlan {
    let name = reader.req_str("name", errors);
    let days = match reader.opt_str_array("days", errors) {
        None if reader.has("days") => {
            broken.keys.insert(format!("{plan_key}.days"));
            WEEKDAYS.map(|(d, _)| d).to_vec()
        }
        None => WEEKDAYS.map(|(d, _)| d).to_vec(),
        Some(names) => {
            let mut days = Vec::new();
            for name in &names {
                match parse_weekday(name) {
                    Some(day) if days.contains(&day) => errors.push(
                        &reader.location,
                        "days",
                        format!("{name:?} is listed twice"),
                    ),
                    Some(day) => days.push(day),
                    None => errors.push(
                        &reader.location,
                        "days",
                        format!(
                            "unknown day {name:?} (allowed: mon, tue, wed, thu, fri, sat, sun, or full names)"
                        ),
                    ),
                }
            }
            if names.is_empty() {
                errors.push(&reader.location, "days", "days must list at least one day");
                broken.keys.insert(format!("{plan_key}.days"));
            }
            days
        }
    };
    let priority = reader
        .opt_int("priority", 0, u32::MAX as i64, errors)
        .unwrap_or(0) as u32;
    let start_date = reader.opt_date("start_date", errors);
    let end_date = reader.opt_date("end_date", errors);
    let active = reader.opt_bool("active", errors).unwrap_or(true);
    if name.is_none() {
        broken.keys.insert(format!("{plan_key}.name"));
    }
    let mut zones = Vec::new();
    for (z, table) in reader.tables("zone", errors).into_iter().enumerate() {
        let location = locate(&reader.location, "zone", z, table, "name");
        let zone_reader = Reader::new(table, location, ZONE_KEYS, errors);
        let (mut zone, times_ok, items_ok) = parse_zone(&zone_reader, catalog, errors);
        if !times_ok {
            // Keep indices stable for the rule check, but take the zone out of it.
            broken.keys.insert(format!("{plan_key}.zone[{z}]"));
            zone.enabled = false;
        }
        if !items_ok {
            broken.keys.insert(format!("{plan_key}.zone[{z}].items"));
        }
        zones.push(zone);
    }
    SchedulePlan {
        name: name.unwrap_or_default(),
        priority,
        days,
        start_date,
        end_date,
        active,
        zones,
    }
}

fn parse_channel(reader: &Reader, catalog: &Catalog, errors: &mut Errors) -> Option<Channel> {
    let before = errors.list.len();
    let mut broken = Broken::default();
    let id = reader.req_str("id", errors);
    let number = if !reader.has("number") {
        reader.missing("number", errors);
        None
    } else {
        match reader.table.get("number") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Integer(i)) => Some(i.to_string()),
            Some(other) => {
                reader.wrong_type("number", "a string or an integer", other, errors);
                None
            }
            None => None,
        }
    };
    let name = reader.req_str("name", errors);
    let group = reader.opt_str("group", errors);
    let logo = reader.opt_str("logo", errors);
    let timezone = reader.req_str("timezone", errors).and_then(|tz| {
        let parsed = tz.parse::<Tz>().ok();
        if parsed.is_none() {
            errors.push(
                &reader.location,
                "timezone",
                format!("{tz:?} is not an IANA time zone name (e.g. \"America/New_York\")"),
            );
        }
        parsed
    });
    let grid = reader.req_int("grid_block_minutes", 0, u32::MAX as i64, errors);
    if !reader.has("block_start_offsets_minutes") {
        reader.missing("block_start_offsets_minutes", errors);
    }
    let offsets = reader.opt_int_array("block_start_offsets_minutes", 0, u32::MAX as i64, errors);
    let day_start = parse_time_of_day(reader, "programming_day_start", false, errors);
    let break_policy = reader.req_str("break_policy", errors).and_then(|p| {
        let policy = BreakPolicy::parse(&p);
        if policy.is_none() {
            errors.push(
                &reader.location,
                "break_policy",
                format!("unknown break_policy {p:?} (allowed: end, chapters)"),
            );
        }
        policy
    });
    let mut interstitials = Vec::new();
    for kind in reader
        .opt_str_array("interstitials", errors)
        .unwrap_or_default()
    {
        match AssetKind::parse(&kind) {
            Some(k) if k.is_interstitial() || k == AssetKind::Filler => {
                if interstitials.contains(&k) {
                    errors.push(
                        &reader.location,
                        "interstitials",
                        format!("{kind:?} is listed twice"),
                    );
                } else {
                    interstitials.push(k);
                }
            }
            _ => errors.push(
                &reader.location,
                "interstitials",
                format!(
                    "{kind:?} is not an interstitial kind (allowed: commercial, promo, bumper, station_id, filler)"
                ),
            ),
        }
    }
    let active = reader.opt_bool("active", errors).unwrap_or(true);
    let filler_title = reader.opt_str("filler_title", errors);
    let spot_cooldown_minutes = reader
        .opt_int("spot_cooldown_minutes", 0, u32::MAX as i64, errors)
        .map(|m| m as u32)
        .unwrap_or(DEFAULT_SPOT_COOLDOWN_MINUTES);
    let output_profile = reader.opt_str("output_profile", errors);
    let mut plans = Vec::new();
    for (p, table) in reader.tables("plan", errors).into_iter().enumerate() {
        let location = locate(&reader.location, "plan", p, table, "name");
        let plan_reader = Reader::new(table, location, PLAN_KEYS, errors);
        let plan_key = format!("plan[{p}]");
        let plan = parse_plan(&plan_reader, catalog, &plan_key, &mut broken, errors);
        if let Some(first) = plans
            .iter()
            .position(|other: &SchedulePlan| other.name == plan.name && !plan.name.is_empty())
        {
            errors.push(
                &plan_reader.location,
                "name",
                format!(
                    "duplicate plan name {:?} (first at plan[{first}])",
                    plan.name
                ),
            );
        }
        plans.push(plan);
    }
    for (key, ok) in [
        ("id", id.is_some()),
        ("name", name.is_some()),
        ("number", number.is_some()),
    ] {
        if !ok {
            broken.keys.insert(key.to_string());
        }
    }
    let (Some(grid), Some(offsets), Some(day_start)) = (grid, offsets, day_start) else {
        return None; // the grid is what every rule check hangs on; its errors are reported
    };
    let channel = Channel {
        id: id.clone().unwrap_or_else(|| "x".to_string()),
        number: number.clone().unwrap_or_else(|| "x".to_string()),
        name: name.clone().unwrap_or_else(|| "x".to_string()),
        group,
        logo,
        timezone: timezone.unwrap_or(Tz::UTC),
        grid_block_minutes: grid as u32,
        block_start_offsets_minutes: offsets.iter().map(|&o| o as u32).collect(),
        programming_day_start_minute: day_start,
        break_policy: break_policy.unwrap_or(BreakPolicy::End),
        interstitials,
        active,
        filler_title,
        spot_cooldown_minutes,
        output_profile,
        plans,
    };
    for rule in check_channel(&channel) {
        if is_broken(&rule.key, &broken) {
            continue;
        }
        let (table, key) = rule_location(&reader.location, &channel, &rule.key);
        errors.push(&table, &key, rule.message);
    }
    (errors.list.len() == before && timezone.is_some() && break_policy.is_some()).then_some(channel)
}

fn is_broken(rule_key: &str, broken: &Broken) -> bool {
    broken.keys.iter().any(|b| {
        rule_key == b
            || rule_key
                .strip_prefix(b.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Map a `validate` rule key (`plan[0].zone[1].start`) into this file's table and key naming.
fn rule_location(channel_location: &str, channel: &Channel, rule_key: &str) -> (String, String) {
    let mut table = channel_location.to_string();
    let mut rest = rule_key;
    let index_of = |segment: &str, kind: &str| -> Option<usize> {
        segment
            .strip_prefix(kind)?
            .strip_prefix('[')?
            .strip_suffix(']')?
            .parse()
            .ok()
    };
    let mut plan = None;
    loop {
        let (segment, tail) = match rest.split_once('.') {
            Some((s, t)) => (s, Some(t)),
            None => (rest, None),
        };
        let named = if let Some(p) = index_of(segment, "plan") {
            plan = channel.plans.get(p);
            Some(format!(
                "plan[{p}] {:?}",
                plan.map(|pl| pl.name.as_str()).unwrap_or("")
            ))
        } else if let Some(z) = index_of(segment, "zone") {
            let zone = plan.and_then(|pl| pl.zones.get(z));
            Some(format!(
                "zone[{z}] {:?}",
                zone.map(|zo| zo.name.as_str()).unwrap_or("")
            ))
        } else {
            None
        };
        match (named, tail) {
            (Some(n), Some(t)) => {
                table = format!("{table}.{n}");
                rest = t;
            }
            // A rule about a whole zone (an overlap) is about where it starts.
            (Some(n), None) => return (format!("{table}.{n}"), "start".to_string()),
            (None, _) => return (table, rest.to_string()),
        }
    }
}

fn syntax_error(text: &str, file: &str, error: &toml::de::Error) -> LineupError {
    let (line, column) = match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            (line, column)
        }
        None => (0, 0),
    };
    LineupError {
        file: file.to_string(),
        table: "toml".to_string(),
        key: format!("line {line}, column {column}"),
        message: error.message().trim().to_string(),
    }
}

/// Parse lineup text. `file` is only used to name the file in errors. Every reference must
/// resolve within the file.
pub fn parse_lineup(text: &str, file: &str) -> Result<Lineup, Vec<LineupError>> {
    parse_lineup_with(text, file, &Catalog::default())
}

/// Parse lineup text whose references may also resolve in `known` (the catalog a database
/// already holds: a lineup's catalog is optional then). The returned lineup holds only what the
/// file declares.
pub fn parse_lineup_with(
    text: &str,
    file: &str,
    known: &Catalog,
) -> Result<Lineup, Vec<LineupError>> {
    let document: Table = match text.parse() {
        Ok(t) => t,
        Err(e) => return Err(vec![syntax_error(text, file, &e)]),
    };
    let mut errors = Errors {
        file: file.to_string(),
        list: Vec::new(),
    };
    for key in document.keys() {
        if !TOP_KEYS.contains(&key.as_str()) {
            errors.push(
                "lineup",
                key,
                "unknown key (allowed tables: [[asset]], [[program]], [[virtual_asset]], [[channel]])",
            );
        }
    }
    let mut catalog = Catalog::default();
    // Where each id was first declared, across assets, programs and virtual assets.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut claim = |id: &str, location: &str, what: &str, errors: &mut Errors| -> bool {
        if let Some(first) = seen.get(id) {
            let message = if first.starts_with(what) {
                format!("duplicate {what} id {id:?} (first at {first})")
            } else {
                format!("id {id:?} is ambiguous: already used by {first}")
            };
            errors.push(location, "id", message);
            false
        } else {
            seen.insert(id.to_string(), location.to_string());
            true
        }
    };

    for (i, table) in tables_of(document.get("asset"), "lineup", "asset", &mut errors)
        .into_iter()
        .enumerate()
    {
        let reader = Reader::new(
            table,
            locate("", "asset", i, table, "id"),
            ASSET_KEYS,
            &mut errors,
        );
        if let Some(asset) = parse_asset(&reader, &mut errors) {
            if claim(&asset.id, &reader.location, "asset", &mut errors) {
                catalog.assets.insert(asset.id.clone(), asset);
            }
        }
    }
    // What references may resolve to: the known catalog overlaid with the file's own.
    let mut resolvable = known.clone();
    resolvable.assets.extend(catalog.assets.clone());
    for (i, table) in tables_of(document.get("program"), "lineup", "program", &mut errors)
        .into_iter()
        .enumerate()
    {
        let reader = Reader::new(
            table,
            locate("", "program", i, table, "id"),
            PROGRAM_KEYS,
            &mut errors,
        );
        if let Some(program) = parse_program(&reader, &resolvable.assets, &mut errors) {
            if claim(&program.id, &reader.location, "program", &mut errors) {
                resolvable
                    .programs
                    .insert(program.id.clone(), program.clone());
                catalog.programs.insert(program.id.clone(), program);
            }
        }
    }
    for (i, table) in tables_of(
        document.get("virtual_asset"),
        "lineup",
        "virtual_asset",
        &mut errors,
    )
    .into_iter()
    .enumerate()
    {
        let reader = Reader::new(
            table,
            locate("", "virtual_asset", i, table, "id"),
            VIRTUAL_KEYS,
            &mut errors,
        );
        if let Some(virtual_asset) = parse_virtual(&reader, &resolvable.assets, &mut errors) {
            if claim(
                &virtual_asset.id,
                &reader.location,
                "virtual_asset",
                &mut errors,
            ) {
                resolvable
                    .virtual_assets
                    .insert(virtual_asset.id.clone(), virtual_asset.clone());
                catalog
                    .virtual_assets
                    .insert(virtual_asset.id.clone(), virtual_asset);
            }
        }
    }
    let mut channels: Vec<Channel> = Vec::new();
    let mut channel_ids: BTreeMap<String, usize> = BTreeMap::new();
    for (i, table) in tables_of(document.get("channel"), "lineup", "channel", &mut errors)
        .into_iter()
        .enumerate()
    {
        let reader = Reader::new(
            table,
            locate("", "channel", i, table, "id"),
            CHANNEL_KEYS,
            &mut errors,
        );
        if let Some(Value::String(id)) = table.get("id") {
            if let Some(first) = channel_ids.get(id) {
                errors.push(
                    &reader.location,
                    "id",
                    format!("duplicate channel id {id:?} (first at channel[{first}])"),
                );
            } else {
                channel_ids.insert(id.clone(), i);
            }
        }
        if let Some(channel) = parse_channel(&reader, &resolvable, &mut errors) {
            channels.push(channel);
        }
    }
    if errors.list.is_empty() {
        Ok(Lineup { catalog, channels })
    } else {
        Err(errors.list)
    }
}

/// Problems that do not make a lineup invalid but that an operator wants to know about.
pub fn lineup_warnings(lineup: &Lineup) -> Vec<String> {
    let mut warnings = Vec::new();
    let ctx = SchedulingContext::new(&lineup.catalog, 0);
    for program in lineup.catalog.programs.values() {
        if ctx.candidates(&program.id).is_empty() {
            warnings.push(format!(
                "program {:?} has no schedulable candidates (its zones will be faults)",
                program.id
            ));
        }
    }
    for channel in &lineup.channels {
        if channel.plans.is_empty() {
            warnings.push(format!(
                "channel {:?} has no plan: every day is a fault",
                channel.id
            ));
        }
        for (plan, from, to) in uncovered_minutes(channel) {
            let local = |m: u32| fmt_hhmm((channel.programming_day_start_minute + m) % 1440);
            warnings.push(format!(
                "channel {:?} plan {plan:?}: {}–{} is covered by no enabled zone (airs as filler)",
                channel.id,
                local(from),
                local(to)
            ));
        }
    }
    warnings
}

fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn string_list(items: impl IntoIterator<Item = String>) -> String {
    let parts: Vec<String> = items.into_iter().map(|s| quoted(&s)).collect();
    format!("[{}]", parts.join(", "))
}

fn int_list<T: ToString>(items: &[T]) -> String {
    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// Write a lineup as a lineup file: `parse_lineup(&to_toml(&l), _) == Ok(l)` for valid `l`.
pub fn to_toml(lineup: &Lineup) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("# RetroVue lineup (INTERFACES §2)\n");
    // Writing to a String cannot fail; the results are ignored for that reason.
    let line = |out: &mut String, indent: &str, key: &str, value: String| {
        let _ = writeln!(out, "{indent}{key} = {value}");
    };
    let catalog = &lineup.catalog;
    for asset in catalog.assets.values() {
        out.push_str("\n[[asset]]\n");
        line(&mut out, "", "id", quoted(&asset.id));
        line(&mut out, "", "kind", quoted(asset.kind.as_str()));
        line(&mut out, "", "title", quoted(&asset.title));
        if let Some(series) = &asset.series {
            line(&mut out, "", "series", quoted(series));
        }
        if let Some(season) = asset.season {
            line(&mut out, "", "season", season.to_string());
        }
        if let Some(episode) = asset.episode {
            line(&mut out, "", "episode", episode.to_string());
        }
        line(&mut out, "", "duration_ms", asset.duration_ms.to_string());
        if !asset.chapters_ms.is_empty() {
            line(&mut out, "", "chapters_ms", int_list(&asset.chapters_ms));
        }
        if let Some(path) = &asset.path {
            line(&mut out, "", "path", quoted(path));
        }
        if let Some(rating) = &asset.rating {
            line(&mut out, "", "rating", quoted(rating));
        }
        if let Some(description) = &asset.description {
            line(&mut out, "", "description", quoted(description));
        }
        if !asset.genres.is_empty() {
            line(
                &mut out,
                "",
                "genres",
                string_list(asset.genres.iter().cloned()),
            );
        }
        if let Some(year) = asset.year {
            line(&mut out, "", "year", year.to_string());
        }
        if !asset.approved {
            line(&mut out, "", "approved", "false".to_string());
        }
        if asset.state != AssetState::Ready {
            line(&mut out, "", "state", quoted(asset.state.as_str()));
        }
        if asset.deleted {
            line(&mut out, "", "deleted", "true".to_string());
        }
    }
    for program in catalog.programs.values() {
        out.push_str("\n[[program]]\n");
        line(&mut out, "", "id", quoted(&program.id));
        line(&mut out, "", "title", quoted(&program.title));
        line(
            &mut out,
            "",
            "play_mode",
            quoted(program.play_mode.as_str()),
        );
        if let Some(series) = &program.series {
            line(&mut out, "", "series", quoted(series));
        }
        if !program.assets.is_empty() {
            line(
                &mut out,
                "",
                "assets",
                string_list(program.assets.iter().cloned()),
            );
        }
    }
    for virtual_asset in catalog.virtual_assets.values() {
        out.push_str("\n[[virtual_asset]]\n");
        line(&mut out, "", "id", quoted(&virtual_asset.id));
        line(&mut out, "", "title", quoted(&virtual_asset.title));
        line(
            &mut out,
            "",
            "parts",
            string_list(virtual_asset.parts.iter().cloned()),
        );
    }
    for channel in &lineup.channels {
        out.push_str("\n[[channel]]\n");
        line(&mut out, "", "id", quoted(&channel.id));
        line(&mut out, "", "number", quoted(&channel.number));
        line(&mut out, "", "name", quoted(&channel.name));
        if let Some(group) = &channel.group {
            line(&mut out, "", "group", quoted(group));
        }
        if let Some(logo) = &channel.logo {
            line(&mut out, "", "logo", quoted(logo));
        }
        line(&mut out, "", "timezone", quoted(channel.timezone.name()));
        line(
            &mut out,
            "",
            "grid_block_minutes",
            channel.grid_block_minutes.to_string(),
        );
        line(
            &mut out,
            "",
            "block_start_offsets_minutes",
            int_list(&channel.block_start_offsets_minutes),
        );
        line(
            &mut out,
            "",
            "programming_day_start",
            quoted(&fmt_hhmm(channel.programming_day_start_minute)),
        );
        line(
            &mut out,
            "",
            "break_policy",
            quoted(channel.break_policy.as_str()),
        );
        if !channel.interstitials.is_empty() {
            line(
                &mut out,
                "",
                "interstitials",
                string_list(channel.interstitials.iter().map(|k| k.as_str().to_string())),
            );
        }
        if !channel.active {
            line(&mut out, "", "active", "false".to_string());
        }
        if let Some(filler_title) = &channel.filler_title {
            line(&mut out, "", "filler_title", quoted(filler_title));
        }
        if channel.spot_cooldown_minutes != DEFAULT_SPOT_COOLDOWN_MINUTES {
            line(
                &mut out,
                "",
                "spot_cooldown_minutes",
                channel.spot_cooldown_minutes.to_string(),
            );
        }
        if let Some(profile) = &channel.output_profile {
            line(&mut out, "", "output_profile", quoted(profile));
        }
        for plan in &channel.plans {
            out.push_str("\n  [[channel.plan]]\n");
            line(&mut out, "  ", "name", quoted(&plan.name));
            let all_days: Vec<Weekday> = WEEKDAYS.map(|(d, _)| d).to_vec();
            if plan.days != all_days {
                let names = plan.days.iter().map(|d| {
                    WEEKDAYS
                        .iter()
                        .find(|(w, _)| w == d)
                        .map(|(_, n)| n.to_string())
                        .unwrap_or_default()
                });
                line(&mut out, "  ", "days", string_list(names));
            }
            if plan.priority != 0 {
                line(&mut out, "  ", "priority", plan.priority.to_string());
            }
            if let Some(start) = plan.start_date {
                line(
                    &mut out,
                    "  ",
                    "start_date",
                    quoted(&start.format("%Y-%m-%d").to_string()),
                );
            }
            if let Some(end) = plan.end_date {
                line(
                    &mut out,
                    "  ",
                    "end_date",
                    quoted(&end.format("%Y-%m-%d").to_string()),
                );
            }
            if !plan.active {
                line(&mut out, "  ", "active", "false".to_string());
            }
            for zone in &plan.zones {
                out.push_str("\n    [[channel.plan.zone]]\n");
                line(&mut out, "    ", "name", quoted(&zone.name));
                line(
                    &mut out,
                    "    ",
                    "start",
                    quoted(&fmt_hhmm(zone.start_minute)),
                );
                line(&mut out, "    ", "end", quoted(&fmt_hhmm(zone.end_minute)));
                line(
                    &mut out,
                    "    ",
                    "items",
                    string_list(zone.items.iter().map(ItemRef::reference)),
                );
                if !zone.enabled {
                    line(&mut out, "    ", "enabled", "false".to_string());
                }
            }
        }
    }
    out
}
