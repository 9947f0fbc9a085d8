//! `retrovue sim`: dry-run a lineup in virtual time (INTERFACES §1, §3; contracts/sim.md).

use chrono::NaiveDate;
use clap::Args;
use retrovue_sim::{report, FaultPlan, SimConfig, ViewerModel};

use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The lineup file (TOML, INTERFACES §2); default: the bundled demo lineup.
    #[arg(long)]
    pub lineup: Option<String>,
    /// First broadcast date, YYYY-MM-DD (default: today in UTC).
    #[arg(long)]
    pub start: Option<String>,
    /// Number of broadcast days to simulate.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Seed for viewers, faults and seeded scheduling choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Viewer model: none, churn, constant:N, poisson:RATE_PER_HOUR:MEAN_MINUTES.
    #[arg(long, default_value = "churn")]
    pub viewers: String,
    /// Faults to inject, comma-separated: crash:CH@TIME, crash:rate=R, slow-start:[CH=]MS,
    /// stall:CH@TIME, down:CH@FROM..UNTIL, missing-asset:ASSET.
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
        None => {
            crate::cli::lineup::parse_text(crate::runtime::DEMO_LINEUP, "demo lineup (bundled)")?
        }
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
    let viewers = ViewerModel::parse(&args.viewers).map_err(AppError::bad)?;
    let channel_ids: Vec<String> = lineup.channels.iter().map(|c| c.id.clone()).collect();
    let faults = FaultPlan::parse(&args.faults, &channel_ids).map_err(AppError::bad)?;
    let mut config = SimConfig::new(args.seed, start, args.days);
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
