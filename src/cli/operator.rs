//! Conventions shared by the operator verbs (contracts/cli.md CLI-001..006): JSON output,
//! confirmation of destructive verbs, `--dry-run`, and small argument parsers.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use serde::Serialize;

use crate::error::{AppError, AppResult};

/// `--dry-run`: validate everything, write nothing.
#[derive(Debug, Clone, Copy, Args)]
pub struct DryRun {
    /// Validate everything and print what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `--yes`: skip the confirmation of a destructive verb.
#[derive(Debug, Clone, Copy, Args)]
pub struct Confirm {
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Prints `value` as pretty JSON on stdout (the only output of a `--json` run).
pub fn print_json<T: Serialize + ?Sized>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("plain data serialises")
    );
}

/// CLI-004: asks before a destructive verb. `--yes` skips the question; without a terminal
/// on stdin nobody can answer, so the verb is refused (exit 2) with a hint to pass `--yes`.
pub fn confirm(what: &str, confirm: Confirm) -> AppResult<()> {
    if confirm.yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(AppError::bad(format!(
            "{what}: refusing without confirmation (stdin is not a terminal); pass --yes"
        )));
    }
    eprint!("{what}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| AppError::runtime(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(AppError::bad(format!(
            "{what}: not confirmed; nothing changed"
        )))
    }
}

/// `on/off`, `true/false`, `yes/no`, `1/0` for a flag named `flag`.
pub fn parse_bool(text: &str, flag: &str) -> AppResult<bool> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(AppError::bad(format!(
            "{flag}: expected on/off (or true/false), got {text:?}"
        ))),
    }
}

/// A comma-separated list (`a,b, c`), empty items dropped.
pub fn parse_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// `30s`, `1500ms`, `2m` or a bare number of seconds, for `flag`.
pub fn parse_duration_ms(text: &str, flag: &str) -> AppResult<i64> {
    let bad = || {
        AppError::bad(format!(
            "{flag}: expected a duration like 30s, 1500ms or 2m, got {text:?}"
        ))
    };
    let t = text.trim();
    let (number, unit) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000)
    } else {
        (t, 1000)
    };
    let value: i64 = number.trim().parse().map_err(|_| bad())?;
    if value <= 0 {
        return Err(AppError::bad(format!(
            "{flag}: a duration must be positive, got {text:?}"
        )));
    }
    // At most a week: anything longer is a typo, and it must not overflow.
    const MAX_MS: i64 = 7 * 24 * 3_600_000;
    match value.checked_mul(unit) {
        Some(ms) if ms <= MAX_MS => Ok(ms),
        _ => Err(AppError::bad(format!(
            "{flag}: duration {text:?} is too long (at most 7 days)"
        ))),
    }
}

/// Whether progress may be drawn: only for humans watching a terminal (CLI-006).
pub fn show_progress(json: bool, quiet: bool) -> bool {
    !json && !quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// `key: value` lines of a record for humans (`show` verbs).
pub fn print_fields(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in fields {
        println!("{key:<width$}  {value}");
    }
}

/// `-` for a missing value.
pub fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// CLI-077: a plan or zone name (`what`): not blank, at most 64 characters, no control
/// characters.
pub fn check_name(what: &str, name: &str) -> AppResult<()> {
    let max = retrovue_core::validate::MAX_ID_LEN;
    if name.trim().is_empty() {
        return Err(AppError::bad(format!("{what} name must not be empty")));
    }
    if name.chars().count() > max {
        return Err(AppError::bad(format!(
            "{what} name {:?}… is {} characters long (at most {max})",
            name.chars().take(16).collect::<String>(),
            name.chars().count()
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::bad(format!(
            "{what} name {name:?} contains a control character"
        )));
    }
    Ok(())
}

/// Where human output prints its times (CLI-078, CLI-083): `--tz channel|local|UTC`.
pub enum OutputZone {
    Channel(chrono_tz::Tz),
    Local,
    Utc,
}

impl OutputZone {
    /// `--tz TEXT` for `channel`'s output; anything else is bad input naming `--tz`.
    pub fn parse(text: &str, channel: &retrovue_core::model::Channel) -> AppResult<OutputZone> {
        match text.to_ascii_lowercase().as_str() {
            "channel" => Ok(OutputZone::Channel(channel.timezone)),
            "local" => Ok(OutputZone::Local),
            "utc" => Ok(OutputZone::Utc),
            _ => Err(AppError::bad(format!(
                "--tz: expected channel, local or UTC, got {text:?}"
            ))),
        }
    }

    fn at<Z: chrono::TimeZone>(zone: &Z, ms: i64) -> Option<chrono::DateTime<Z>> {
        zone.timestamp_millis_opt(ms).single()
    }

    /// A guide row's span: `YYYY-MM-DD HH:MM–HH:MM ZONE` (the zone's abbreviation at the start).
    pub fn span(&self, start: i64, end: i64) -> String {
        fn fmt<Z: chrono::TimeZone>(zone: &Z, start: i64, end: i64) -> Option<String>
        where
            Z::Offset: std::fmt::Display,
        {
            let (s, e) = (OutputZone::at(zone, start)?, OutputZone::at(zone, end)?);
            Some(format!(
                "{}–{} {}",
                s.format("%Y-%m-%d %H:%M"),
                e.format("%H:%M"),
                s.format("%Z")
            ))
        }
        let text = match self {
            OutputZone::Channel(tz) => fmt(tz, start, end),
            OutputZone::Local => fmt(&chrono::Local, start, end),
            OutputZone::Utc => fmt(&chrono::Utc, start, end),
        };
        text.unwrap_or_else(|| {
            format!(
                "{} – {}",
                retrovue_core::time::fmt_utc(start),
                retrovue_core::time::fmt_utc(end)
            )
        })
    }

    /// One instant: in UTC exactly as the stored form (`…Z`); elsewhere RFC 3339 with the
    /// zone's offset, so the text still names one instant unambiguously.
    pub fn instant(&self, ms: i64) -> String {
        fn fmt<Z: chrono::TimeZone>(zone: &Z, ms: i64) -> Option<String>
        where
            Z::Offset: std::fmt::Display,
        {
            let at = OutputZone::at(zone, ms)?;
            let pattern = if ms.rem_euclid(1000) == 0 {
                "%Y-%m-%dT%H:%M:%S%:z"
            } else {
                "%Y-%m-%dT%H:%M:%S%.3f%:z"
            };
            Some(at.format(pattern).to_string())
        }
        let text = match self {
            OutputZone::Utc => None,
            OutputZone::Channel(tz) => fmt(tz, ms),
            OutputZone::Local => fmt(&chrono::Local, ms),
        };
        text.unwrap_or_else(|| retrovue_core::time::fmt_utc(ms))
    }
}
