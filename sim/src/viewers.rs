//! Simulated viewers: the seeded arrival/departure models selected with `--viewers`.

use retrovue_core::stable::SplitMix64;

const MS_PER_HOUR: f64 = 3_600_000.0;

/// How viewers come and go on every channel (contracts/sim.md SIM-004).
#[derive(Debug, Clone, PartialEq)]
pub enum ViewerModel {
    None,
    /// Poisson arrivals at 4/h; 30 % flips of 5 s–3 min, the rest exponential with mean 25 min.
    Churn,
    Constant(u32),
    Poisson {
        per_hour: f64,
        mean_minutes: f64,
    },
}

impl ViewerModel {
    pub fn parse(spec: &str) -> Result<ViewerModel, String> {
        let bad = |why: &str| format!("--viewers {spec:?}: {why}");
        let parts: Vec<&str> = spec.trim().split(':').collect();
        match parts.as_slice() {
            ["none"] => Ok(ViewerModel::None),
            ["churn"] => Ok(ViewerModel::Churn),
            ["constant", n] => n
                .parse::<u32>()
                .map(ViewerModel::Constant)
                .map_err(|_| bad("expected constant:N with N a whole number")),
            ["poisson", rate, mean] => {
                let per_hour: f64 = rate.parse().map_err(|_| bad("RATE is not a number"))?;
                let mean_minutes: f64 = mean.parse().map_err(|_| bad("MEAN is not a number"))?;
                let positive = |x: f64| x > 0.0 && x.is_finite();
                if !positive(per_hour) || !positive(mean_minutes) {
                    return Err(bad("RATE and MEAN must be positive"));
                }
                Ok(ViewerModel::Poisson {
                    per_hour,
                    mean_minutes,
                })
            }
            _ => Err(bad(
                "expected none, churn, constant:N or poisson:RATE_PER_HOUR:MEAN_MINUTES",
            )),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ViewerModel::None => "none".to_string(),
            ViewerModel::Churn => "churn".to_string(),
            ViewerModel::Constant(n) => format!("constant:{n}"),
            ViewerModel::Poisson {
                per_hour,
                mean_minutes,
            } => format!("poisson:{per_hour}:{mean_minutes}"),
        }
    }

    /// Milliseconds until the next arrival, or `None` when this model has no arrivals.
    pub fn next_arrival_in(&self, rng: &mut SplitMix64) -> Option<i64> {
        let per_hour = match self {
            ViewerModel::Churn => 4.0,
            ViewerModel::Poisson { per_hour, .. } => *per_hour,
            ViewerModel::None | ViewerModel::Constant(_) => return None,
        };
        Some(exponential(rng, MS_PER_HOUR / per_hour).max(1))
    }

    /// How long an arriving viewer watches, or `None` for "until the end".
    pub fn watch_for(&self, rng: &mut SplitMix64) -> Option<i64> {
        match self {
            ViewerModel::Churn => {
                if rng.unit() < 0.3 {
                    Some(5_000 + rng.below(175_000) as i64)
                } else {
                    Some(exponential(rng, 25.0 * 60_000.0).max(1_000))
                }
            }
            ViewerModel::Poisson { mean_minutes, .. } => {
                Some(exponential(rng, mean_minutes * 60_000.0).max(1_000))
            }
            ViewerModel::None | ViewerModel::Constant(_) => None,
        }
    }
}

/// An exponential draw with the given mean, in whole milliseconds.
fn exponential(rng: &mut SplitMix64, mean_ms: f64) -> i64 {
    let u = rng.unit();
    (-(1.0 - u).ln() * mean_ms).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_parse_and_reject() {
        // contract: SIM-004
        assert_eq!(ViewerModel::parse("churn"), Ok(ViewerModel::Churn));
        assert_eq!(
            ViewerModel::parse("constant:3"),
            Ok(ViewerModel::Constant(3))
        );
        assert_eq!(
            ViewerModel::parse("poisson:2.5:10"),
            Ok(ViewerModel::Poisson {
                per_hour: 2.5,
                mean_minutes: 10.0
            })
        );
        assert!(ViewerModel::parse("poisson:0:10").is_err());
        assert!(ViewerModel::parse("crowd").unwrap_err().contains("crowd"));
    }
}
