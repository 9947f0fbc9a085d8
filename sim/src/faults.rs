//! Fault injection: the `--faults` grammar (contracts/sim.md SIM-005) and the plan it yields.

use std::collections::{BTreeMap, BTreeSet};

use retrovue_core::model::UtcMs;
use retrovue_core::stable::{stable_hash, SplitMix64};
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
    /// Each store write of the horizon keeper fails with this probability (`store:p=P`).
    pub store_failure_p: f64,
    /// At each keeper tick a channel's furthest unpublished day is rebuilt with this
    /// probability (`rebuild:p=P`).
    pub rebuild_p: f64,
    /// `swarm`: the fault mix is drawn from the run's seed (SIM-013).
    pub swarm: bool,
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
            if item == "swarm" {
                plan.swarm = true;
                continue;
            }
            let probability = |arg: &str| -> Result<f64, String> {
                let p: f64 = arg
                    .strip_prefix("p=")
                    .ok_or_else(|| bad("expected p=P"))?
                    .parse()
                    .map_err(|_| bad("P is not a number"))?;
                if (0.0..=1.0).contains(&p) {
                    Ok(p)
                } else {
                    Err(bad("P must be between 0 and 1"))
                }
            };
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
                "store" => plan.store_failure_p = probability(arg)?,
                "rebuild" => plan.rebuild_p = probability(arg)?,
                _ => {
                    return Err(bad(
                        "unknown fault kind (crash, slow-start, stall, down, missing-asset, \
                         store, rebuild, swarm)",
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
        if self.store_failure_p > 0.0 {
            items.push(format!("store:p={}", self.store_failure_p));
        }
        if self.rebuild_p > 0.0 {
            items.push(format!("rebuild:p={}", self.rebuild_p));
        }
        if self.swarm {
            items.push("swarm".to_string());
        }
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(",")
        }
    }

    /// The plan a run uses: a `swarm` item is replaced by a mix drawn from `seed` (SIM-013) —
    /// each fault kind present or not, at a drawn strength, on drawn channels and instants in
    /// `[start, end)` — added to the explicit items.
    pub fn resolve(&self, seed: u64, channels: &[String], start: UtcMs, end: UtcMs) -> FaultPlan {
        let mut plan = self.clone();
        if !plan.swarm {
            return plan;
        }
        plan.swarm = false;
        let mut rng = SplitMix64::new(seed ^ stable_hash(&[b"swarm"]));
        let coin = |rng: &mut SplitMix64| rng.below(2) == 1;
        let span = (end - start).max(1) as u64;
        let instant = |rng: &mut SplitMix64| start + rng.below(span) as i64;
        if channels.is_empty() {
            return plan;
        }
        let pick =
            |rng: &mut SplitMix64| channels[rng.below(channels.len() as u64) as usize].clone();
        if coin(&mut rng) {
            plan.crash_rate_per_hour = [0.25, 1.0, 4.0][rng.below(3) as usize];
        }
        if coin(&mut rng) {
            plan.store_failure_p = [0.05, 0.2, 0.5][rng.below(3) as usize];
        }
        if coin(&mut rng) {
            plan.rebuild_p = [0.05, 0.2][rng.below(2) as usize];
        }
        if coin(&mut rng) {
            plan.slow_start_all_ms = [1_500, 12_000][rng.below(2) as usize];
        }
        if coin(&mut rng) {
            let ch = pick(&mut rng);
            let at = instant(&mut rng);
            plan.stalls.push((ch, at));
        }
        if coin(&mut rng) {
            let ch = pick(&mut rng);
            let at = instant(&mut rng);
            plan.crashes.push((ch, at));
        }
        if coin(&mut rng) {
            let ch = pick(&mut rng);
            let from = instant(&mut rng);
            let minutes = 1 + rng.below(20) as i64;
            plan.down.push((ch, from, from + minutes * 60_000));
        }
        plan
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
