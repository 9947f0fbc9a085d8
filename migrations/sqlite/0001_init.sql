-- RetroVue schema v1 (SQLite): lineup, ScheduleDays, playlog, rotation/traffic state, as-run.
-- Times are INTEGER UTC milliseconds; dates are 'YYYY-MM-DD' text; flags are 0/1.

CREATE TABLE asset (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('episode', 'movie', 'commercial', 'promo', 'bumper', 'station_id', 'filler')),
    title TEXT NOT NULL,
    series TEXT,
    season INTEGER,
    episode INTEGER,
    description TEXT,
    rating TEXT,
    genres_json TEXT NOT NULL DEFAULT '[]',
    year INTEGER,
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    chapters_json TEXT NOT NULL DEFAULT '[]',
    path TEXT,
    state TEXT NOT NULL CHECK (state IN ('new', 'enriching', 'ready', 'retired')),
    approved BOOLEAN NOT NULL,
    deleted BOOLEAN NOT NULL
);

CREATE TABLE program (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    play_mode TEXT NOT NULL CHECK (play_mode IN ('sequential', 'shuffle', 'random', 'manual')),
    series TEXT
);

CREATE TABLE program_asset (
    program_id TEXT NOT NULL REFERENCES program (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    asset_id TEXT NOT NULL REFERENCES asset (id),
    PRIMARY KEY (program_id, position)
);

CREATE TABLE virtual_asset (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL
);

CREATE TABLE virtual_asset_part (
    virtual_id TEXT NOT NULL REFERENCES virtual_asset (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    asset_id TEXT NOT NULL REFERENCES asset (id),
    PRIMARY KEY (virtual_id, position)
);

CREATE TABLE channel (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    name TEXT NOT NULL,
    channel_group TEXT,
    logo TEXT,
    timezone TEXT NOT NULL,
    grid_block_minutes INTEGER NOT NULL CHECK (grid_block_minutes > 0),
    block_start_offsets_json TEXT NOT NULL,
    programming_day_start_minute INTEGER NOT NULL CHECK (programming_day_start_minute BETWEEN 0 AND 1439),
    break_policy TEXT NOT NULL CHECK (break_policy IN ('end', 'chapters')),
    interstitials_json TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    filler_title TEXT,
    spot_cooldown_minutes INTEGER NOT NULL CHECK (spot_cooldown_minutes >= 0)
);

CREATE TABLE schedule_plan (
    channel_id TEXT NOT NULL REFERENCES channel (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    priority INTEGER NOT NULL,
    days TEXT NOT NULL,
    start_date TEXT,
    end_date TEXT,
    active BOOLEAN NOT NULL,
    PRIMARY KEY (channel_id, position)
);

CREATE TABLE zone (
    channel_id TEXT NOT NULL,
    plan_position INTEGER NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    start_minute INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute INTEGER NOT NULL CHECK (end_minute BETWEEN 0 AND 1440),
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (channel_id, plan_position, position),
    FOREIGN KEY (channel_id, plan_position) REFERENCES schedule_plan (channel_id, position) ON DELETE CASCADE
);

CREATE TABLE zone_item (
    channel_id TEXT NOT NULL,
    plan_position INTEGER NOT NULL,
    zone_position INTEGER NOT NULL,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('program', 'asset', 'virtual', 'synthetic')),
    program_id TEXT REFERENCES program (id),
    asset_id TEXT REFERENCES asset (id),
    virtual_id TEXT REFERENCES virtual_asset (id),
    synthetic_kind TEXT,
    synthetic_duration_ms INTEGER,
    PRIMARY KEY (channel_id, plan_position, zone_position, position),
    FOREIGN KEY (channel_id, plan_position, zone_position) REFERENCES zone (channel_id, plan_position, position) ON DELETE CASCADE,
    CHECK ((program_id IS NOT NULL) = (kind = 'program')),
    CHECK ((asset_id IS NOT NULL) = (kind = 'asset')),
    CHECK ((virtual_id IS NOT NULL) = (kind = 'virtual')),
    CHECK ((synthetic_kind IS NOT NULL AND synthetic_duration_ms > 0) = (kind = 'synthetic'))
);

CREATE TABLE schedule_day (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id TEXT NOT NULL REFERENCES channel (id),
    broadcast_date TEXT NOT NULL,
    plan TEXT,
    window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    effective_start INTEGER NOT NULL,
    covers_until INTEGER NOT NULL,
    last_slot_end INTEGER,
    items_json TEXT NOT NULL,
    faults_json TEXT NOT NULL,
    supersedes INTEGER REFERENCES schedule_day (id),
    is_current BOOLEAN NOT NULL,
    built_at_ms INTEGER NOT NULL,
    CHECK (window_start < window_end),
    CHECK (effective_start <= covers_until)
);

-- STORE-004: one current ScheduleDay per (channel, broadcast date), enforced here.
CREATE UNIQUE INDEX schedule_day_one_current ON schedule_day (channel_id, broadcast_date) WHERE is_current;

-- Rows of a day's playlog and state are written and deleted only together with their day, in
-- the same transaction (src/store/sql_store.rs). They carry no foreign key: a per-row check
-- would cost more than the insert. Read through the day (its window, then its events), so no
-- time index has to be maintained either.
CREATE TABLE playlog_event (
    day_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('content', 'commercial', 'promo', 'bumper', 'station_id', 'filler', 'pad')),
    asset_id TEXT,
    in_point_ms INTEGER NOT NULL,
    item_start INTEGER,
    PRIMARY KEY (day_id, seq),
    CHECK (end_ms >= start_ms)
) WITHOUT ROWID;

CREATE TABLE day_rotation (
    day_id INTEGER NOT NULL,
    program_id TEXT NOT NULL,
    cursor INTEGER NOT NULL CHECK (cursor >= 0),
    PRIMARY KEY (day_id, program_id)
);

CREATE TABLE day_traffic (
    day_id INTEGER NOT NULL,
    asset_id TEXT NOT NULL,
    last_aired INTEGER NOT NULL,
    PRIMARY KEY (day_id, asset_id)
);

CREATE TABLE as_run (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id TEXT NOT NULL,
    playlog_id TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    asset_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('content', 'commercial', 'promo', 'bumper', 'station_id', 'filler', 'pad')),
    status TEXT NOT NULL CHECK (status IN ('aired', 'truncated', 'skipped', 'error')),
    reason TEXT,
    CHECK (end_ms >= start_ms)
);

CREATE INDEX as_run_by_time ON as_run (channel_id, start_ms);
