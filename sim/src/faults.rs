//! Fault injection: the `--faults` grammar (contracts/sim.md SIM-005) and the plan it yields.

use std::collections::{BTreeMap, BTreeSet};

use retrovue_core::model::UtcMs;
use retrovue_core::time::{fmt_utc, parse_utc};

/// Every fault of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    /// (channel, instant): the running engine dies.
    pub crashes: Vec<(String, UtcMs)>,
    /// Random crashes per engine-hour.
    pub crash_rate_per_hour: f64,
    /// Start delay for every channel (`None` key) or one channel.
    pub slow_start_all_ms: i64,
    pub slow_start_ms: BTreeMap<String, i64>,
    pub stalls: Vec<(String, UtcMs)>,
    /// (channel, from, until): every engine started in [from, until) dies at once.
    pub down: Vec<(String, UtcMs, UtcMs)>,
    pub missing_assets: BTreeSet<String>,
}

impl FaultPlan {
    /// Parse a spec; `channels` are the lineup's channel ids (unknown ones are bad input).
    pub fn parse(spec: &str, channels: &[String]) -> Result<FaultPlan, String> {
        let mut plan = FaultPlan::default();
        let spec = spec.trim();
        if spec.is_empty() || spec == "none" {
            return Ok(plan);
        }
        for item in spec.split(',').map(str::trim) {
            let bad = |why: &str| format!("--faults item {item:?}: {why}");
            let channel = |id: &str| -> Result<String, String> {
                if channels.iter().any(|c| c == id) {
                    Ok(id.to_string())
                } else {
                    Err(bad(&format!("unknown channel {id:?}")))
                }
            };
            let instant = |s: &str| parse_utc(s).ok_or_else(|| bad(&format!("bad time {s:?}")));
            let (kind, arg) = item
                .split_once(':')
                .ok_or_else(|| bad("expected KIND:ARGUMENT"))?;
            match kind {
                "crash" => {
                    if let Some(rate) = arg.strip_prefix("rate=") {
                        let rate: f64 = rate.parse().map_err(|_| bad("rate is not a number"))?;
                        if !(rate >= 0.0 && rate.is_finite()) {
                            return Err(bad("rate must be ≥ 0"));
                        }
                        plan.crash_rate_per_hour = rate;
                    } else {
                        let (ch, at) = arg
                            .split_once('@')
                            .ok_or_else(|| bad("expected crash:CHANNEL@TIME or crash:rate=R"))?;
                        plan.crashes.push((channel(ch)?, instant(at)?));
                    }
                }
                "slow-start" => {
                    let ms = |s: &str| {
                        s.parse::<i64>()
                            .ok()
                            .filter(|ms| *ms >= 0)
                            .ok_or_else(|| bad("delay must be whole milliseconds ≥ 0"))
                    };
                    match arg.split_once('=') {
                        Some((ch, delay)) => {
                            plan.slow_start_ms.insert(channel(ch)?, ms(delay)?);
                        }
                        None => plan.slow_start_all_ms = ms(arg)?,
                    }
                }
                "stall" => {
                    let (ch, at) = arg
                        .split_once('@')
                        .ok_or_else(|| bad("expected stall:CHANNEL@TIME"))?;
                    plan.stalls.push((channel(ch)?, instant(at)?));
                }
                "down" => {
                    let (ch, span) = arg
                        .split_once('@')
                        .ok_or_else(|| bad("expected down:CHANNEL@FROM..UNTIL"))?;
                    let (from, until) = span
                        .split_once("..")
                        .ok_or_else(|| bad("expected down:CHANNEL@FROM..UNTIL"))?;
                    let (from, until) = (instant(from)?, instant(until)?);
                    if until <= from {
                        return Err(bad("UNTIL must be after FROM"));
                    }
                    plan.down.push((channel(ch)?, from, until));
                }
                "missing-asset" => {
                    if arg.is_empty() {
                        return Err(bad("expected missing-asset:ASSET"));
                    }
                    plan.missing_assets.insert(arg.to_string());
                }
                _ => {
                    return Err(bad(
                        "unknown fault kind (crash, slow-start, stall, down, missing-asset)",
                    ))
                }
            }
        }
        Ok(plan)
    }

    /// The plan written back in the grammar, for reports.
    pub fn describe(&self) -> String {
        let mut items: Vec<String> = Vec::new();
        for (ch, at) in &self.crashes {
            items.push(format!("crash:{ch}@{}", fmt_utc(*at)));
        }
        if self.crash_rate_per_hour > 0.0 {
            items.push(format!("crash:rate={}", self.crash_rate_per_hour));
        }
        if self.slow_start_all_ms > 0 {
            items.push(format!("slow-start:{}", self.slow_start_all_ms));
        }
        for (ch, ms) in &self.slow_start_ms {
            items.push(format!("slow-start:{ch}={ms}"));
        }
        for (ch, at) in &self.stalls {
            items.push(format!("stall:{ch}@{}", fmt_utc(*at)));
        }
        for (ch, from, until) in &self.down {
            items.push(format!("down:{ch}@{}..{}", fmt_utc(*from), fmt_utc(*until)));
        }
        for asset in &self.missing_assets {
            items.push(format!("missing-asset:{asset}"));
        }
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(",")
        }
    }

    pub fn start_delay_ms(&self, channel: &str) -> i64 {
        self.slow_start_ms
            .get(channel)
            .copied()
            .unwrap_or(self.slow_start_all_ms)
    }

    pub fn is_down(&self, channel: &str, at: UtcMs) -> bool {
        self.down
            .iter()
            .any(|(ch, from, until)| ch == channel && *from <= at && at < *until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_round_trips_and_rejects() {
        // contract: SIM-005
        let channels = vec!["retro-one".to_string()];
        let spec = "crash:retro-one@2026-03-02T12:00:00Z,crash:rate=0.5,slow-start:retro-one=3000,\
                    stall:retro-one@2026-03-02T13:00:00Z,\
                    down:retro-one@2026-03-02T14:00:00Z..2026-03-02T14:10:00Z,missing-asset:x";
        let plan = FaultPlan::parse(spec, &channels).unwrap();
        assert_eq!(plan.crashes.len(), 1);
        assert_eq!(plan.start_delay_ms("retro-one"), 3000);
        assert!(plan.missing_assets.contains("x"));
        assert_eq!(FaultPlan::parse(&plan.describe(), &channels).unwrap(), plan);
        assert!(
            FaultPlan::parse("crash:nope@2026-03-02T12:00:00Z", &channels)
                .unwrap_err()
                .contains("unknown channel")
        );
        assert!(FaultPlan::parse("meteor:retro-one", &channels).is_err());
        assert!(FaultPlan::parse("crash:retro-one@noon", &channels).is_err());
        assert_eq!(
            FaultPlan::parse("none", &channels).unwrap(),
            FaultPlan::default()
        );
    }
}
