//! `retrovue sim`: dry-run a lineup in virtual time (SIM-001..016 in contracts/sim.md).

use chrono::NaiveDate;
use clap::Args;
use retrovue_sim::{report, FaultPlan, SimConfig, ViewerModel};

use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The lineup file (TOML, contracts/lineup.md); default: the bundled demo lineup.
    #[arg(long)]
    pub lineup: Option<String>,
    /// First broadcast date, YYYY-MM-DD (default: today in UTC).
    #[arg(long)]
    pub start: Option<String>,
    /// Number of broadcast days to simulate.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Seed for viewers, faults and seeded scheduling choices: a number, or `random` to draw
    /// one (printed first, so the run can be repeated).
    #[arg(long, default_value = "0")]
    pub seed: String,
    /// Viewer model: none, churn, constant:N, poisson:RATE_PER_HOUR:MEAN_MINUTES.
    #[arg(long, default_value = "churn")]
    pub viewers: String,
    /// Faults to inject, comma-separated: crash:CH@TIME, crash:rate=R, slow-start:[CH=]MS,
    /// stall:CH@TIME, down:CH@FROM..UNTIL, missing-asset:ASSET, store:p=P, rebuild:p=P, swarm.
    #[arg(long, default_value = "none")]
    pub faults: String,
    /// ScheduleDays the horizon keeper keeps built ahead.
    #[arg(long, default_value_t = 3)]
    pub days_ahead: u32,
    /// Seconds of playlog the horizon keeper keeps built ahead (default 6 hours).
    #[arg(long, default_value_t = 21_600)]
    pub playlog_ahead_s: u32,
    /// Seconds the keeper adds beyond the playlog horizon when it extends it (default 1 hour).
    #[arg(long, default_value_t = 3_600)]
    pub playlog_refill_s: u32,
}

pub fn run(args: SimArgs, global: &Global) -> AppResult<()> {
    let lineup = match &args.lineup {
        Some(path) => crate::cli::lineup::read_lineup(path)?,
        None => crate::cli::lineup::parse_text(
            crate::lineup_file::DEMO_LINEUP,
            "demo lineup (bundled)",
        )?,
    };
    let start = match &args.start {
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| AppError::bad(format!("--start {s:?}: expected YYYY-MM-DD")))?,
        None => chrono::Utc::now().date_naive(),
    };
    if args.days == 0 || args.days > 366 {
        return Err(AppError::bad(format!(
            "--days {}: expected 1 to 366",
            args.days
        )));
    }
    let seed = parse_seed(&args.seed)?;
    let viewers = ViewerModel::parse(&args.viewers).map_err(AppError::bad)?;
    let channel_ids: Vec<String> = lineup.channels.iter().map(|c| c.id.clone()).collect();
    let faults = FaultPlan::parse(&args.faults, &channel_ids).map_err(AppError::bad)?;
    let mut config = SimConfig::new(seed, start, args.days);
    config.viewers = viewers;
    config.faults = faults;
    config.horizon.days_ahead = args.days_ahead;
    config.horizon.playlog_ahead_ms = i64::from(args.playlog_ahead_s) * 1000;
    config.horizon.refill_ms = i64::from(args.playlog_refill_s) * 1000;
    let outcome = retrovue_sim::run(&lineup, &config);
    if global.json {
        println!("{}", report::to_json(&outcome));
    } else {
        print!("{}", report::to_human(&outcome));
    }
    match outcome.violation_count() {
        0 => Ok(()),
        n => Err(AppError::runtime(format!("{n} invariant violation(s)"))),
    }
}

/// `--seed N` or `--seed random` (SIM-016): a drawn seed is printed first by the report.
fn parse_seed(text: &str) -> AppResult<u64> {
    let text = text.trim();
    if text == "random" {
        return Ok(random_seed());
    }
    text.parse().map_err(|_| {
        AppError::bad(format!(
            "--seed {text:?}: expected a whole number from 0 to {} or `random`",
            u64::MAX
        ))
    })
}

/// A fresh seed from `/dev/urandom`, mixed with the system clock (the only source when
/// `/dev/urandom` cannot be read). The shell draws it; `sim/` and `core/` never do.
fn random_seed() -> u64 {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let urandom = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let drawn = u64::from_le_bytes(bytes);
    if urandom {
        drawn ^ nanos.rotate_left(32)
    } else {
        // SplitMix64's finaliser spreads the clock's low-entropy bits over the whole word.
        let mut z = nanos.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
