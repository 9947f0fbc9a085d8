//! The README's "More than one machine" block run as written on one machine: its two `serve`
//! lines as two nodes of one cluster on the tests' real PostgreSQL, then its `cluster status`
//! (CLUSTER-001, CLUSTER-004, CLI-100). Only what cannot be the same here is mapped: the
//! database URL, and each node's listening address (a free loopback port instead of
//! `0.0.0.0:8000`, which would also start the SSDP responder) with the URL it advertises.

use std::net::TcpListener;
use std::process::Command;

use crate::readme_journey::readme_block;
use crate::support::daemon::{eventually, retrovue, Daemon};
use crate::support::{fresh_postgres, raw_get, TempDir};

/// The README's placeholder database URL.
const DB_PLACEHOLDER: &str = "postgres://tv@db/retrovue";

fn free_loopback_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_readme_cluster_block_runs_two_nodes_that_share_the_channels() {
    // contract: CLUSTER-001
    // contract: CLUSTER-004
    // contract: CLI-100
    let db = fresh_postgres();
    let block = readme_block("More than one machine");
    let serve_lines: Vec<&Vec<String>> = block
        .iter()
        .filter(|words| words.iter().any(|w| w == "serve"))
        .collect();
    assert_eq!(serve_lines.len(), 2, "two nodes in the README: {block:?}");
    let mut nodes = Vec::new();
    for words in &serve_lines {
        assert_eq!(words[0], "retrovue", "{words:?}");
        let port = free_loopback_port();
        let mut argv: Vec<String> = Vec::new();
        let mut previous = "";
        for word in &words[1..] {
            let mapped = match previous {
                "--db" => {
                    assert_eq!(word, DB_PLACEHOLDER);
                    db.url.clone()
                }
                "--bind" => format!("127.0.0.1:{port}"),
                "--advertise" => format!("http://127.0.0.1:{port}/"),
                _ => word.clone(),
            };
            previous = word;
            argv.push(mapped);
        }
        assert!(argv.iter().any(|w| w == "--advertise"), "{words:?}");
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        nodes.push(Daemon::run_exactly(TempDir::new("rv-readme-node"), &argv));
    }
    let (one, two) = (&nodes[0], &nodes[1]);
    // The status line as written: both nodes, alive, at their advertised URLs.
    let status_line = block
        .iter()
        .find(|words| words.iter().any(|w| w == "status"))
        .expect("a cluster status line");
    let status_args: Vec<String> = status_line[1..]
        .iter()
        .map(|w| {
            if w == DB_PLACEHOLDER {
                db.url.clone()
            } else {
                w.clone()
            }
        })
        .collect();
    let mut status = String::new();
    eventually(20, "cluster status shows both nodes alive", || {
        let out = Command::new(retrovue())
            .args(&status_args)
            .env_remove("RETROVUE_DATABASE_URL")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        status = String::from_utf8_lossy(&out.stdout).into_owned();
        [one, two].iter().all(|node| {
            status
                .lines()
                .any(|l| l.contains(&format!("http://{}/", node.addr)) && l.contains("alive"))
        })
    });
    eprintln!("{status}");
    // One keeper builds the days both serve; a channel watched through one node is sent there
    // from the other.
    let channels = one.json("/api/channels");
    let channel = channels[0]["id"].as_str().unwrap().to_string();
    eventually(60, "the channel is on air", || {
        one.get(&format!("/api/channels/{channel}/now")).0 == 200
    });
    // The viewer stays connected (its socket held) while the other node is asked.
    let watching = raw_get(&one.addr, &format!("/channel/{channel}.ts"));
    assert_eq!(watching.status, 200, "{}", watching.head);
    assert_eq!(one.engines().len(), 1, "the first node runs the channel");
    let redirected = raw_get(&two.addr, &format!("/channel/{channel}.ts")).head;
    assert!(
        redirected.starts_with("HTTP/1.1 307"),
        "the second node sends the viewer on: {redirected}"
    );
    assert!(
        redirected.to_ascii_lowercase().contains(&format!(
            "location: http://{}/channel/{channel}.ts",
            one.addr
        )),
        "{redirected}"
    );
    assert!(two.engines().is_empty(), "one engine cluster-wide");
}
