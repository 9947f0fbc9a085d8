-- RetroVue schema v4 (sqlite): operator overrides of ScheduleDays (STORE-030, CLI-040).
-- One row per ScheduleDay record an override produced: the pins (slot start, item, reason) it
-- applies, as JSON, so a rebuild that carries a change through the day re-applies them.

CREATE TABLE schedule_override (
    day_id INTEGER PRIMARY KEY REFERENCES schedule_day (id),
    pins_json TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
