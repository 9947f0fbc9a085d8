//! `retrovue cluster status [--json]` (CLI-100..102): the nodes sharing a PostgreSQL store, their
//! heartbeats, the leases and who runs what; a SQLite store says it has no cluster.

use clap::Subcommand;

use crate::cli::operator::print_json;
use crate::cli::Global;
use crate::error::AppResult;
use crate::store::{self, cluster_status};

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Nodes (heartbeat age, alive), leases (node, token, expiry) and who runs which channel.
    Status,
}

/// `1.2 s`, `-0.4 s`, `3 min 5 s`: a duration in milliseconds for people.
fn human(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    if abs < 60_000 {
        format!("{sign}{}.{} s", abs / 1_000, (abs % 1_000) / 100)
    } else {
        format!("{sign}{} min {} s", abs / 60_000, (abs % 60_000) / 1_000)
    }
}

fn status(global: &Global) -> AppResult<()> {
    let url = store::resolve_url(global.db.as_deref())?;
    let status = cluster_status::status(&url)?;
    if global.json {
        print_json(&status);
        return Ok(());
    }
    if !status.cluster {
        println!("single node (SQLite store): no cluster");
        return Ok(());
    }
    let alive = status.nodes.iter().filter(|n| n.alive).count();
    println!(
        "nodes: {} ({alive} alive; alive = heartbeat younger than the node's lease ttl)",
        status.nodes.len()
    );
    for n in &status.nodes {
        println!(
            "  {:<16} {:<28} started {:<24} heartbeat {} ago (ttl {})  {}",
            n.node_id,
            n.advertise_url.as_deref().unwrap_or("-"),
            n.started_at.as_deref().unwrap_or("-"),
            n.heartbeat_age_ms
                .map(human)
                .unwrap_or_else(|| "never".into()),
            human(n.alive_after_ms),
            if n.alive { "alive" } else { "dead" }
        );
    }
    println!("leases: {}", status.leases.len());
    for l in &status.leases {
        let left = match l.expires_in_ms {
            Some(ms) if !l.expired => format!("expires in {}", human(ms)),
            Some(ms) => format!("expired {} ago", human(-ms)),
            None => "no expiry".to_string(),
        };
        println!(
            "  {:<24} {:<16} token {:<8} {left}",
            l.name,
            l.node_id.as_deref().unwrap_or("-"),
            l.token
        );
    }
    println!("who runs what: {} channels", status.channels.len());
    for c in &status.channels {
        println!(
            "  {:<16} → {}{}",
            c.channel,
            c.node_id,
            if c.node_alive { "" } else { " (node dead)" }
        );
    }
    match &status.keeper {
        Some(k) => println!(
            "keeper: {} (lease expires in {})",
            k.node_id,
            human(k.expires_in_ms)
        ),
        None => println!("keeper: none (no unexpired keeper lease)"),
    }
    Ok(())
}

pub fn run(cmd: ClusterCommand, global: &Global) -> AppResult<()> {
    match cmd {
        ClusterCommand::Status => status(global),
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    // contract: CLI-100
    #[test]
    fn durations_read_as_seconds_or_minutes() {
        assert_eq!(human(1_234), "1.2 s");
        assert_eq!(human(-400), "-0.4 s");
        assert_eq!(human(185_000), "3 min 5 s");
    }
}
