//! The Store contract suite (contracts/store.md, contracts/migrations.md), run unchanged against
//! SQLite and PostgreSQL.

use crate::support;

use chrono::NaiveDate;
use retrovue::store::build::{build_and_store, DayOutcome};
use retrovue::store::migrations::{self, checksum, MigrationState};
use retrovue::store::{self, DayWrite, Store, StoreErrorKind};
use retrovue_core::model::{AsRunRecord, AsRunStatus, EventKind, ItemRef, Lineup, UtcMs};
use support::{raw_sql, TestDb};

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn instant(text: &str) -> UtcMs {
    retrovue_core::time::parse_utc(text).unwrap()
}

/// Long before the test dates: nothing is locked.
fn early() -> UtcMs {
    instant("2029-06-01T00:00:00Z")
}

fn lineup() -> Lineup {
    let mut lineup = retrovue_core::generate::generate_lineup(3, 11);
    lineup.channels.sort_by(|a, b| a.id.cmp(&b.id));
    lineup
}

fn open(url: &str) -> Box<dyn Store> {
    store::open(url).unwrap()
}

/// A store with the generated lineup imported.
fn seeded(url: &str) -> (Box<dyn Store>, Lineup) {
    let mut store = open(url);
    let lineup = lineup();
    store.import_lineup(&lineup).unwrap();
    (store, lineup)
}

/// The day and state the core builds for `channel` on 2030-01-07 from scratch.
fn core_write(lineup: &Lineup, channel: usize, day: &str) -> DayWrite {
    let built =
        retrovue_core::build_fresh(&lineup.catalog, &lineup.channels[channel], date(day), 1, 0);
    DayWrite {
        day: built.days[0].clone(),
        playlog: built.playlog,
        rotation: built.rotation,
        traffic: built.traffic,
        previous_slot_end: None,
    }
}

fn table_count(store: &mut dyn Store, channel: &str) -> usize {
    store
        .playlog(channel, i64::MIN / 2, i64::MAX / 2)
        .unwrap()
        .len()
}

// contract: MIGRATE-001
fn migrations_are_recorded_with_checksums(url: &str) {
    let mut store = store::connect(url).unwrap();
    let known = if store.backend_name() == "sqlite" {
        migrations::SQLITE
    } else {
        migrations::POSTGRES
    };
    let first = store.migrate().unwrap();
    assert_eq!(first.len(), known.len());
    for (status, migration) in first.iter().zip(known) {
        assert_eq!(status.state, MigrationState::Applied);
        assert_eq!(status.checksum, checksum(migration.sql));
        assert_eq!(status.name, migration.name);
        assert!(status.applied_at_ms.is_some());
    }
    // A second run applies nothing: same rows, same times.
    let second = store.migrate().unwrap();
    assert_eq!(first, second);
}

// contract: MIGRATE-002
fn status_lists_without_applying(url: &str) {
    let mut store = store::connect(url).unwrap();
    let before = store.migration_status().unwrap();
    assert!(before.iter().all(|m| m.state == MigrationState::Pending));
    let again = store.migration_status().unwrap();
    assert_eq!(before, again, "status must not apply anything");
    assert!(store.load_catalog().is_err(), "no tables exist yet");
}

// contract: MIGRATE-003
fn changed_or_missing_migration_stops(url: &str) {
    open(url);
    raw_sql(
        url,
        "UPDATE schema_migrations SET checksum = 'deadbeef' WHERE version = 1",
    );
    let error = store::open(url)
        .err()
        .expect("a changed migration must stop the store");
    assert_eq!(error.kind, StoreErrorKind::Migration);
    assert!(error.message.contains("0001_init"), "{}", error.message);
    assert!(error.message.contains("was changed"), "{}", error.message);
    let status = store::connect(url).unwrap().migration_status();
    assert!(status.is_err(), "db status reports it too");

    let fixed = checksum(migrations::SQLITE[0].sql);
    let fixed_pg = checksum(migrations::POSTGRES[0].sql);
    let right = if url.starts_with("sqlite") {
        fixed
    } else {
        fixed_pg
    };
    raw_sql(
        url,
        &format!(
            "UPDATE schema_migrations SET checksum = '{right}' WHERE version = 1; \
             INSERT INTO schema_migrations (version, name, checksum, applied_at_ms) \
             VALUES (999, '0999_future', 'abc', 0)"
        ),
    );
    let error = store::open(url)
        .err()
        .expect("a missing migration must stop the store");
    assert_eq!(error.kind, StoreErrorKind::Migration);
    assert!(error.message.contains("0999_future"), "{}", error.message);
    assert!(
        error.message.contains("missing from this binary"),
        "{}",
        error.message
    );
}

// contract: STORE-002
fn import_is_all_or_nothing(url: &str) {
    let (mut store, original) = seeded(url);
    assert_eq!(store.load_lineup().unwrap(), original);

    // A new asset plus a zone item naming an unknown program: nothing of it is written.
    let mut broken = original.clone();
    let mut extra = broken.catalog.assets.values().next().unwrap().clone();
    extra.id = "brand-new-asset".to_string();
    broken
        .catalog
        .assets
        .insert(extra.id.clone(), extra.clone());
    broken.channels[0].plans[0].zones[0].items[0] = ItemRef::Program {
        id: "no-such-program".to_string(),
    };
    let error = store.import_lineup(&broken).unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::BadInput);
    assert!(
        error.message.contains("no-such-program"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains(&broken.channels[0].id),
        "{}",
        error.message
    );
    assert_eq!(store.load_lineup().unwrap(), original);

    // A constraint the database enforces (negative duration) fails the same way.
    let mut negative = original.clone();
    let mut bad = extra;
    bad.duration_ms = -5;
    negative.catalog.assets.insert(bad.id.clone(), bad);
    negative.channels[1].name = "Renamed".to_string();
    let error = store.import_lineup(&negative).unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::BadInput);
    assert!(
        error.message.contains("brand-new-asset"),
        "{}",
        error.message
    );
    assert_eq!(store.load_lineup().unwrap(), original);
}

// contract: STORE-003
fn export_is_a_fixpoint(url: &str) {
    let (mut store, original) = seeded(url);
    let first = retrovue_core::lineup::to_toml(&store.load_lineup().unwrap());
    let parsed = retrovue_core::lineup::parse_lineup(&first, "export.toml").unwrap();
    store.import_lineup(&parsed).unwrap();
    let loaded = store.load_lineup().unwrap();
    assert_eq!(loaded, original);
    let second = retrovue_core::lineup::to_toml(&loaded);
    assert_eq!(first, second);
}

// contract: STORE-004
fn one_current_day_per_channel_and_date(url: &str) {
    let (mut store, lineup) = seeded(url);
    let write = core_write(&lineup, 0, "2030-01-07");
    store.put_day(&write, None, early()).unwrap();
    let error = store.put_day(&write, None, early()).unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Conflict);
    assert_eq!(
        store
            .day_history(&lineup.channels[0].id, date("2030-01-07"))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        table_count(store.as_mut(), &lineup.channels[0].id),
        write.playlog.len()
    );
    // The database itself refuses a second current row, whoever writes it.
    let channel = &lineup.channels[0].id;
    let duplicate = std::panic::catch_unwind(|| {
        raw_sql(
            url,
            &format!(
                "INSERT INTO schedule_day (channel_id, broadcast_date, window_start, window_end, \
                 effective_start, covers_until, items_json, faults_json, is_current, built_at_ms) \
                 VALUES ('{channel}', '2030-01-07', 1, 2, 1, 2, '[]', '[]', TRUE, 0)"
            ),
        )
    });
    assert!(
        duplicate.is_err(),
        "the unique index must reject a second current day"
    );
}

// contract: STORE-005
fn rebuild_replaces_an_unlocked_day_atomically(url: &str) {
    let (mut store, lineup) = seeded(url);
    let channel = lineup.channels[0].id.clone();
    let write = core_write(&lineup, 0, "2030-01-07");
    let first = store.put_day(&write, None, early()).unwrap();
    let mut changed = write.clone();
    changed
        .day
        .faults
        .push(retrovue_core::model::ScheduleFault {
            code: "note".to_string(),
            at: changed.day.window_start,
            detail: "rebuilt".to_string(),
        });
    let second = store.put_day(&changed, Some(first), early()).unwrap();
    assert_ne!(first, second);
    let stored = store
        .current_day(&channel, date("2030-01-07"))
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, second);
    assert_eq!(stored.day, changed.day);
    assert!(
        store.day_playlog(first).unwrap().is_empty(),
        "old playlog went with its day"
    );
    assert_eq!(store.day_playlog(second).unwrap(), changed.playlog);
    assert_eq!(
        store
            .day_history(&channel, date("2030-01-07"))
            .unwrap()
            .len(),
        1
    );

    // A writer that read the first record is now stale: conflict, nothing changes.
    let error = store.put_day(&write, Some(first), early()).unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Conflict);
    assert_eq!(
        store
            .current_day(&channel, date("2030-01-07"))
            .unwrap()
            .unwrap()
            .id,
        second
    );

    // A failure half-way through the transaction leaves nothing behind.
    raw_sql(url, "DROP TABLE day_traffic");
    let next = core_write(&lineup, 0, "2030-01-08");
    assert!(
        !next.traffic.last_aired.is_empty(),
        "the fixture must write traffic state"
    );
    let failed = store.put_day(&next, None, early());
    assert!(failed.is_err());
    assert!(store
        .current_day(&channel, date("2030-01-08"))
        .unwrap()
        .is_none());
    assert_eq!(table_count(store.as_mut(), &channel), changed.playlog.len());
}

// contract: STORE-006
fn locked_days_are_never_rewritten(url: &str) {
    let (mut store, lineup) = seeded(url);
    let channel = lineup.channels[1].clone();
    let write = core_write(&lineup, 1, "2030-01-07");
    let id = store.put_day(&write, None, early()).unwrap();
    let during = write.day.window_start + 1;
    let mut changed = write.clone();
    changed.day.plan = Some("Changed".to_string());
    let error = store.put_day(&changed, Some(id), during).unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Locked);
    assert!(error.message.contains("locked"), "{}", error.message);
    let stored = store
        .current_day(&channel.id, date("2030-01-07"))
        .unwrap()
        .unwrap();
    assert_eq!((stored.id, &stored.day), (id, &write.day));

    // A build over it keeps it and goes on from its stored state.
    let built = build_and_store(
        store.as_mut(),
        &lineup.catalog,
        &channel,
        date("2030-01-07"),
        2,
        0,
        during,
        |_| {},
    )
    .unwrap();
    assert_eq!(built[0].outcome, DayOutcome::KeptLocked);
    assert_eq!(built[0].id, id);
    assert_eq!(built[1].outcome, DayOutcome::Built);
    let core = retrovue_core::build_fresh(&lineup.catalog, &channel, date("2030-01-07"), 2, 0);
    let second = store
        .current_day(&channel.id, date("2030-01-08"))
        .unwrap()
        .unwrap();
    assert_eq!(second.day, core.days[1]);
}

// contract: STORE-007
fn rotation_advances_with_its_day(url: &str) {
    let (mut store, lineup) = seeded(url);
    let channel = lineup.channels[2].clone();
    let core = retrovue_core::build_fresh(&lineup.catalog, &channel, date("2030-01-07"), 3, 0);
    // Day by day, in three runs …
    for offset in 0..3 {
        let day = date("2030-01-07") + chrono::Days::new(offset);
        let state = store.state_before(&channel.id, day).unwrap();
        if offset > 0 {
            assert_eq!(
                state.previous_slot_end,
                core.days[offset as usize - 1].last_slot_end()
            );
        }
        build_and_store(
            store.as_mut(),
            &lineup.catalog,
            &channel,
            day,
            1,
            0,
            early(),
            |_| {},
        )
        .unwrap();
    }
    // … gives exactly what the core builds in one go, with the final rotation stored.
    let stored = store
        .current_days(&channel.id, date("2030-01-07"), date("2030-01-09"))
        .unwrap();
    let days: Vec<_> = stored.iter().map(|s| s.day.clone()).collect();
    assert_eq!(days, core.days);
    let mut playlog = Vec::new();
    for s in &stored {
        playlog.extend(store.day_playlog(s.id).unwrap());
    }
    assert_eq!(playlog, core.playlog);
    assert_eq!(store.rotation_state(&channel.id).unwrap(), core.rotation);
    assert!(!core.rotation.cursors.is_empty());
    assert_eq!(
        store
            .state_before(&channel.id, date("2030-01-10"))
            .unwrap()
            .traffic,
        core.traffic
    );
}

// contract: STORE-008
fn override_references_what_it_supersedes(url: &str) {
    let (mut store, lineup) = seeded(url);
    let channel = lineup.channels[0].id.clone();
    let write = core_write(&lineup, 0, "2030-01-07");
    let original = store.put_day(&write, None, early()).unwrap();
    let mut edited = write.clone();
    edited.day.plan = Some("operator".to_string());
    // Allowed even while the day airs: nothing is rewritten.
    let airing = write.day.window_start + 1;
    let replacement = store.override_day(original, &edited, airing).unwrap();
    let current = store
        .current_day(&channel, date("2030-01-07"))
        .unwrap()
        .unwrap();
    assert_eq!(current.id, replacement);
    assert_eq!(current.supersedes, Some(original));
    assert_eq!(current.day.plan.as_deref(), Some("operator"));
    let history = store.day_history(&channel, date("2030-01-07")).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].id, history[0].current), (original, false));
    assert_eq!(
        history[0].day, write.day,
        "the superseded record is kept as it was"
    );
    assert_eq!(store.day_playlog(original).unwrap(), write.playlog);
    // The current playlog is the override's only.
    assert_eq!(table_count(store.as_mut(), &channel), edited.playlog.len());
    // Overriding a superseded record again is a conflict.
    let error = store.override_day(original, &edited, airing).unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Conflict);
}

// contract: STORE-009
fn as_run_is_durable(url: &str) {
    let (mut store, lineup) = seeded(url);
    let record = AsRunRecord {
        channel: lineup.channels[0].id.clone(),
        playlog_id: format!("{}:2030-01-07:0", lineup.channels[0].id),
        start: instant("2030-01-07T06:00:00Z"),
        end: instant("2030-01-07T06:22:00Z"),
        asset: Some("some-asset".to_string()),
        kind: EventKind::Content,
        status: AsRunStatus::Truncated,
        reason: Some("engine exited".to_string()),
    };
    store.record_as_run(&record, "test-session-1").unwrap();
    // Another connection sees it at once.
    let mut other = open(url);
    let found = other
        .as_run(&record.channel, record.start, record.end)
        .unwrap();
    assert_eq!(found, vec![record]);
}

/// A channel whose late zone airs a shuffled film at 04:00 that crosses 06:00 into the next
/// broadcast day (films of different lengths, so the seed moves the seam), plus a 50-hour asset
/// channel.
const CHAIN_LINEUP: &str = r#"
[[asset]]
id = "ep-1"
kind = "episode"
title = "One"
series = "Show"
season = 1
episode = 1
duration_ms = 1320000

[[asset]]
id = "ep-2"
kind = "episode"
title = "Two"
series = "Show"
season = 1
episode = 2
duration_ms = 1320000

[[asset]]
id = "film-a"
kind = "movie"
title = "Film A"
duration_ms = 9000000

[[asset]]
id = "film-b"
kind = "movie"
title = "Film B"
duration_ms = 10200000

[[asset]]
id = "film-c"
kind = "movie"
title = "Film C"
duration_ms = 11400000

[[asset]]
id = "marathon"
kind = "movie"
title = "Marathon"
duration_ms = 180000000

[[asset]]
id = "spot-1"
kind = "commercial"
title = "Spot 1"
duration_ms = 30000

[[asset]]
id = "spot-2"
kind = "commercial"
title = "Spot 2"
duration_ms = 15000

[[program]]
id = "show"
title = "Show"
play_mode = "sequential"
series = "Show"

[[program]]
id = "films"
title = "Films"
play_mode = "shuffle"
assets = ["film-a", "film-b", "film-c"]

[[channel]]
id = "late"
number = "3"
name = "Late"
timezone = "America/New_York"
grid_block_minutes = 30
block_start_offsets_minutes = [0, 30]
programming_day_start = "06:00"
break_policy = "end"
interstitials = ["commercial"]
spot_cooldown_minutes = 30

  [[channel.plan]]
  name = "Every day"

    [[channel.plan.zone]]
    name = "Day"
    start = "06:00"
    end = "04:00"
    items = ["show"]

    [[channel.plan.zone]]
    name = "Late"
    start = "04:00"
    end = "06:00"
    items = ["films"]

[[channel]]
id = "long"
number = "4"
name = "Long"
timezone = "America/New_York"
grid_block_minutes = 30
block_start_offsets_minutes = [0, 30]
programming_day_start = "06:00"
break_policy = "end"
interstitials = ["commercial"]
spot_cooldown_minutes = 30

  [[channel.plan]]
  name = "Every day"

    [[channel.plan.zone]]
    name = "All"
    start = "06:00"
    end = "06:00"
    items = ["marathon", "show"]
"#;

fn chain_seeded(url: &str) -> (Box<dyn Store>, Lineup) {
    let mut store = open(url);
    let lineup = retrovue_core::lineup::parse_lineup(CHAIN_LINEUP, "chain.toml").unwrap();
    store.import_lineup(&lineup).unwrap();
    (store, lineup)
}

fn chain_channel(lineup: &Lineup, id: &str) -> retrovue_core::model::Channel {
    lineup.channels.iter().find(|c| c.id == id).unwrap().clone()
}

fn build(
    store: &mut dyn Store,
    lineup: &Lineup,
    channel: &retrovue_core::model::Channel,
    from: &str,
    days: u32,
    seed: u64,
    now: UtcMs,
) -> Result<Vec<retrovue::store::build::BuiltDay>, retrovue::store::StoreError> {
    build_and_store(
        store,
        &lineup.catalog,
        channel,
        date(from),
        days,
        seed,
        now,
        |_| {},
    )
}

/// Every stored day of `channel` starts where the previous one's coverage ends, its playlog tiles
/// it, and each day is exactly what the core builds from the state stored before it.
fn assert_chain_whole(store: &mut dyn Store, lineup: &Lineup, channel: &str) {
    let days = store.all_current_days(channel).unwrap();
    for pair in days.windows(2) {
        assert_eq!(pair[0].day.date.succ_opt(), Some(pair[1].day.date));
        assert_eq!(
            pair[1].day.effective_start, pair[0].day.covers_until,
            "seam {} → {}",
            pair[0].day.date, pair[1].day.date
        );
    }
    for d in &days {
        let events = store.day_playlog(d.id).unwrap();
        let violations = retrovue_core::invariants::check_tiling(
            &events,
            d.day.effective_start,
            d.day.covers_until,
        );
        assert!(violations.is_empty(), "{}: {violations:?}", d.day.date);
        // The day's own structure follows from the stored state before it (its seam is right).
        let before = store.state_before(channel, d.day.date).unwrap();
        let ch = chain_channel(lineup, channel);
        let rebuilt = retrovue_core::chain::DayChain::new(&lineup.catalog, &ch, 0)
            .build_day(d.day.date, &before);
        assert_eq!(
            rebuilt.day.effective_start, d.day.effective_start,
            "{}",
            d.day.date
        );
    }
}

/// A seed whose build of `date` from `before` hands on a different state than seed 0.
fn seed_changing(
    lineup: &Lineup,
    channel: &retrovue_core::model::Channel,
    day: &str,
    before: &retrovue_core::chain::ChainState,
    carry: bool,
) -> u64 {
    let base = retrovue_core::chain::DayChain::new(&lineup.catalog, channel, 0)
        .build_day(date(day), before)
        .after;
    (1..200)
        .find(|&seed| {
            let after = retrovue_core::chain::DayChain::new(&lineup.catalog, channel, seed)
                .build_day(date(day), before)
                .after;
            if carry {
                after.previous_slot_end != base.previous_slot_end
            } else {
                after != base
            }
        })
        .expect("some seed changes the state")
}

// contract: STORE-012
fn a_rebuild_carries_forward_through_the_chain(url: &str) {
    let (mut store, lineup) = chain_seeded(url);
    let channel = chain_channel(&lineup, "late");
    let built = build(
        store.as_mut(),
        &lineup,
        &channel,
        "2030-01-07",
        6,
        0,
        early(),
    )
    .unwrap();
    assert!(built.iter().all(|b| b.outcome == DayOutcome::Built));
    let original = store
        .current_days("late", date("2030-01-07"), date("2030-01-12"))
        .unwrap();
    // The film at 04:00 crosses 06:00: the next day starts after it.
    assert!(original[1].day.effective_start > original[1].day.window_start);
    assert_chain_whole(store.as_mut(), &lineup, "late");

    // The same seed: nothing after the rebuilt day changes, the carry-forward stops at once.
    let same = build(
        store.as_mut(),
        &lineup,
        &channel,
        "2030-01-08",
        1,
        0,
        early(),
    )
    .unwrap();
    assert_eq!(same.len(), 1);
    assert_eq!(same[0].outcome, DayOutcome::Rebuilt);
    let after_same = store
        .current_days("late", date("2030-01-09"), date("2030-01-12"))
        .unwrap();
    assert_eq!(
        after_same.iter().map(|d| d.id).collect::<Vec<_>>(),
        original[2..].iter().map(|d| d.id).collect::<Vec<_>>()
    );

    // A seed that moves the film crossing into 2030-01-09: the change carries forward.
    let before = store.state_before("late", date("2030-01-08")).unwrap();
    let seed = seed_changing(&lineup, &channel, "2030-01-08", &before, true);
    let rebuilt = build(
        store.as_mut(),
        &lineup,
        &channel,
        "2030-01-08",
        1,
        seed,
        early(),
    )
    .unwrap();
    assert_eq!(rebuilt[0].outcome, DayOutcome::Rebuilt);
    assert_eq!(rebuilt[1].date, date("2030-01-09"));
    assert_eq!(rebuilt[1].outcome, DayOutcome::CarriedForward);
    assert!(rebuilt[1..]
        .iter()
        .all(|b| b.outcome == DayOutcome::CarriedForward));
    let nine = store
        .current_day("late", date("2030-01-09"))
        .unwrap()
        .unwrap();
    assert_ne!(nine.day.effective_start, original[2].day.effective_start);
    assert_chain_whole(store.as_mut(), &lineup, "late");
    // The day before the rebuilt one is untouched.
    assert_eq!(
        store
            .current_day("late", date("2030-01-07"))
            .unwrap()
            .unwrap()
            .id,
        original[0].id
    );
}

// contract: STORE-012
// contract: STORE-014
fn a_change_reaching_an_aired_day_is_refused(url: &str) {
    let (mut store, lineup) = chain_seeded(url);
    let channel = chain_channel(&lineup, "late");
    build(
        store.as_mut(),
        &lineup,
        &channel,
        "2030-01-07",
        4,
        0,
        early(),
    )
    .unwrap();
    let original = store
        .current_days("late", date("2030-01-07"), date("2030-01-10"))
        .unwrap();
    // 2030-01-09 has aired (as-run records), though its window is in the future.
    let nine = &original[2].day;
    store
        .record_as_run(
            &AsRunRecord {
                channel: "late".to_string(),
                playlog_id: format!("late:{}:00000", nine.date),
                start: nine.effective_start,
                end: nine.effective_start + 60_000,
                asset: None,
                kind: EventKind::Content,
                status: AsRunStatus::Aired,
                reason: None,
            },
            "test-session-1",
        )
        .unwrap();
    let before = store.state_before("late", date("2030-01-08")).unwrap();
    let seed = seed_changing(&lineup, &channel, "2030-01-08", &before, false);
    let error = build(
        store.as_mut(),
        &lineup,
        &channel,
        "2030-01-08",
        1,
        seed,
        early(),
    )
    .unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Locked);
    assert!(
        error.message.contains("2030-01-09") && error.message.contains("2030-01-08"),
        "{}",
        error.message
    );
    // Nothing stored: every record is the one built first.
    let now_stored = store
        .current_days("late", date("2030-01-07"), date("2030-01-10"))
        .unwrap();
    assert_eq!(now_stored, original);
    // A rebuild with the same inputs changes nothing downstream and is allowed.
    build(
        store.as_mut(),
        &lineup,
        &channel,
        "2030-01-08",
        1,
        0,
        early(),
    )
    .unwrap();
    assert_eq!(
        store
            .current_day("late", date("2030-01-09"))
            .unwrap()
            .unwrap()
            .id,
        original[2].id
    );
}

// contract: STORE-014
fn an_aired_day_is_kept_whatever_now_says(url: &str) {
    let (mut store, lineup) = chain_seeded(url);
    let channel = chain_channel(&lineup, "late");
    // 2020: long past by the real clock. Building days never stored is allowed …
    build(
        store.as_mut(),
        &lineup,
        &channel,
        "2020-01-07",
        2,
        0,
        instant("2019-01-01T00:00:00Z"),
    )
    .unwrap();
    let original = store
        .current_days("late", date("2020-01-07"), date("2020-01-08"))
        .unwrap();
    // … but a `--now` before them does not unlock them: they are kept.
    let again = build(
        store.as_mut(),
        &lineup,
        &channel,
        "2020-01-07",
        2,
        7,
        instant("2019-01-01T00:00:00Z"),
    )
    .unwrap();
    assert!(
        again.iter().all(|b| b.outcome == DayOutcome::KeptLocked),
        "{again:?}"
    );
    assert_eq!(
        store
            .current_days("late", date("2020-01-07"), date("2020-01-08"))
            .unwrap(),
        original
    );
    // put_day refuses too.
    let mut changed = core_write(&lineup, 0, "2020-01-07");
    changed.day.channel = "late".to_string();
    let error = store
        .put_day(
            &changed,
            Some(original[0].id),
            instant("2019-01-01T00:00:00Z"),
        )
        .unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Locked);
}

// contract: STORE-013
fn a_builder_verifies_what_it_built_from(url: &str) {
    let (mut store, lineup) = chain_seeded(url);
    let channel = chain_channel(&lineup, "late");
    build(
        store.as_mut(),
        &lineup,
        &channel,
        "2030-01-07",
        4,
        0,
        early(),
    )
    .unwrap();
    // Builder B reads the chain from 2030-01-08 and builds with seed 1 …
    let read = store.read_chain("late", date("2030-01-08")).unwrap();
    let before = read.predecessor.as_ref().unwrap().after.clone();
    let b_day = retrovue_core::chain::DayChain::new(&lineup.catalog, &channel, 1)
        .build_day(date("2030-01-08"), &before);
    // … meanwhile builder A (seed 2) rebuilds from 2030-01-07, carrying forward.
    let mut other = open(url);
    build(
        other.as_mut(),
        &lineup,
        &channel,
        "2030-01-07",
        1,
        2,
        early(),
    )
    .unwrap();
    // B's write finds what it built from changed: a conflict, nothing written.
    let write = retrovue::store::ChainWrite {
        channel: "late".to_string(),
        predecessor: Some(read.predecessor.as_ref().unwrap().stored.id),
        entries: vec![retrovue::store::ChainEntry {
            date: date("2030-01-08"),
            expected: Some(read.days[0].stored.id),
            write: Some(DayWrite::from_chain(b_day)),
        }],
        next: Some(read.days[1].stored.id),
    };
    let error = store.put_chain(&write, early()).unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Conflict);
    assert!(error.to_string().starts_with("conflict:"), "{error}");
    assert_chain_whole(store.as_mut(), &lineup, "late");
    // A write that is still current succeeds; one expecting a stale next day does not.
    let read = store.read_chain("late", date("2030-01-08")).unwrap();
    let before = read.predecessor.as_ref().unwrap().after.clone();
    let same = retrovue_core::chain::DayChain::new(&lineup.catalog, &channel, 2)
        .build_day(date("2030-01-08"), &before);
    let mut write = retrovue::store::ChainWrite {
        channel: "late".to_string(),
        predecessor: Some(read.predecessor.as_ref().unwrap().stored.id),
        entries: vec![retrovue::store::ChainEntry {
            date: date("2030-01-08"),
            expected: Some(read.days[0].stored.id),
            write: Some(DayWrite::from_chain(same)),
        }],
        next: None,
    };
    assert_eq!(
        store.put_chain(&write, early()).unwrap_err().kind,
        StoreErrorKind::Conflict
    );
    write.next = Some(read.days[1].stored.id);
    store.put_chain(&write, early()).unwrap();
    assert_chain_whole(store.as_mut(), &lineup, "late");
}

// contract: SCHED-007
// contract: STORE-012
fn a_fifty_hour_asset_stores_a_whole_chain(url: &str) {
    let (mut store, lineup) = chain_seeded(url);
    let channel = chain_channel(&lineup, "long");
    build(
        store.as_mut(),
        &lineup,
        &channel,
        "2030-01-07",
        4,
        0,
        early(),
    )
    .unwrap();
    let days = store
        .current_days("long", date("2030-01-07"), date("2030-01-10"))
        .unwrap();
    assert_eq!(days.len(), 4);
    assert!(days[1].day.items.is_empty(), "the covered day has no items");
    assert!(store.day_playlog(days[1].id).unwrap().is_empty());
    assert_eq!(days[2].day.effective_start, days[0].day.items[0].slot_end);
    assert_chain_whole(store.as_mut(), &lineup, "long");
    // The carry-out passes through the covered day in the stored state too.
    assert_eq!(
        store
            .state_before("long", date("2030-01-09"))
            .unwrap()
            .previous_slot_end,
        Some(days[0].day.items[0].slot_end)
    );
    // Rebuilding the covered day alone keeps the chain whole.
    build(
        store.as_mut(),
        &lineup,
        &channel,
        "2030-01-08",
        1,
        0,
        early(),
    )
    .unwrap();
    assert_chain_whole(store.as_mut(), &lineup, "long");
}

macro_rules! contract_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            #[test]
            fn migrations_are_recorded_with_checksums() {
                let db = $make;
                super::migrations_are_recorded_with_checksums(db.url());
            }

            #[test]
            fn status_lists_without_applying() {
                let db = $make;
                super::status_lists_without_applying(db.url());
            }

            #[test]
            fn changed_or_missing_migration_stops() {
                let db = $make;
                super::changed_or_missing_migration_stops(db.url());
            }

            #[test]
            fn import_is_all_or_nothing() {
                let db = $make;
                super::import_is_all_or_nothing(db.url());
            }

            #[test]
            fn export_is_a_fixpoint() {
                let db = $make;
                super::export_is_a_fixpoint(db.url());
            }

            #[test]
            fn one_current_day_per_channel_and_date() {
                let db = $make;
                super::one_current_day_per_channel_and_date(db.url());
            }

            #[test]
            fn rebuild_replaces_an_unlocked_day_atomically() {
                let db = $make;
                super::rebuild_replaces_an_unlocked_day_atomically(db.url());
            }

            #[test]
            fn locked_days_are_never_rewritten() {
                let db = $make;
                super::locked_days_are_never_rewritten(db.url());
            }

            #[test]
            fn rotation_advances_with_its_day() {
                let db = $make;
                super::rotation_advances_with_its_day(db.url());
            }

            #[test]
            fn override_references_what_it_supersedes() {
                let db = $make;
                super::override_references_what_it_supersedes(db.url());
            }

            #[test]
            fn as_run_is_durable() {
                let db = $make;
                super::as_run_is_durable(db.url());
            }

            #[test]
            fn a_rebuild_carries_forward_through_the_chain() {
                let db = $make;
                super::a_rebuild_carries_forward_through_the_chain(db.url());
            }

            #[test]
            fn a_change_reaching_an_aired_day_is_refused() {
                let db = $make;
                super::a_change_reaching_an_aired_day_is_refused(db.url());
            }

            #[test]
            fn an_aired_day_is_kept_whatever_now_says() {
                let db = $make;
                super::an_aired_day_is_kept_whatever_now_says(db.url());
            }

            #[test]
            fn a_builder_verifies_what_it_built_from() {
                let db = $make;
                super::a_builder_verifies_what_it_built_from(db.url());
            }

            #[test]
            fn a_fifty_hour_asset_stores_a_whole_chain() {
                let db = $make;
                super::a_fifty_hour_asset_stores_a_whole_chain(db.url());
            }
        }
    };
}

contract_suite!(sqlite, TestDb::sqlite());
contract_suite!(postgres, TestDb::postgres());

// contract: STORE-001
#[test]
fn database_urls_choose_the_backend() {
    use std::path::PathBuf;
    use store::DatabaseUrl;
    assert_eq!(
        store::parse_url("sqlite:///var/lib/rv.db").unwrap(),
        DatabaseUrl::Sqlite(PathBuf::from("/var/lib/rv.db"))
    );
    assert_eq!(
        store::parse_url("sqlite://data/rv.db").unwrap(),
        DatabaseUrl::Sqlite(PathBuf::from("data/rv.db"))
    );
    assert!(matches!(
        store::parse_url("postgresql://u@h/db").unwrap(),
        DatabaseUrl::Postgres(_)
    ));
    let error = store::parse_url("mysql://x").unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::BadInput);
    assert!(error.message.contains("mysql://x"));
    assert_eq!(
        store::resolve_url(Some("sqlite://x.db")).unwrap(),
        "sqlite://x.db"
    );
}

// contract: MIGRATE-001
#[test]
fn every_migration_file_is_embedded() {
    for (folder, known) in [
        ("sqlite", migrations::SQLITE),
        ("postgres", migrations::POSTGRES),
    ] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(folder);
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let names: Vec<String> = known.iter().map(|m| format!("{}.sql", m.name)).collect();
        assert_eq!(
            files, names,
            "migrations/{folder} and src/store/migrations.rs differ"
        );
        let mut previous = 0;
        for m in known {
            // Versions count up one by one: a gap would be a migration lost in a merge.
            assert_eq!(
                m.version,
                previous + 1,
                "{} does not follow {previous}",
                m.name
            );
            assert_eq!(
                m.name[..4].parse::<i64>().ok(),
                Some(m.version),
                "{}",
                m.name
            );
            previous = m.version;
            let text = std::fs::read_to_string(dir.join(format!("{}.sql", m.name))).unwrap();
            assert_eq!(text, m.sql);
        }
    }
    let sqlite: Vec<i64> = migrations::SQLITE.iter().map(|m| m.version).collect();
    let postgres: Vec<i64> = migrations::POSTGRES.iter().map(|m| m.version).collect();
    assert_eq!(sqlite, postgres);
}
