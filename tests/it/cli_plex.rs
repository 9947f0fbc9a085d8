//! `source add --kind plex` → `source discover` → `collection ingest` against a small local HTTP
//! server answering like Plex: sections become collections (ingest off until opted in), server
//! paths are mapped, durations come from the provider when no enricher runs.

use crate::support;
use crate::support_cli;

use std::sync::Arc;
use std::thread;

use serde_json::json;
use support::{TempDir, TestDb};
use support_cli::Rv;

/// A Plex-shaped server on 127.0.0.1; stops when dropped.
struct FakePlex {
    server: Arc<tiny_http::Server>,
    worker: Option<thread::JoinHandle<()>>,
}

impl FakePlex {
    fn start() -> FakePlex {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let worker = {
            let server = server.clone();
            thread::spawn(move || {
                for request in server.incoming_requests() {
                    let path = request.url().split('?').next().unwrap().to_string();
                    let body = match path.as_str() {
                        "/library/sections" => json!({"MediaContainer": {"size": 1, "Directory": [
                            {"key": "1", "title": "TV Shows", "type": "show",
                             "Location": [{"id": 1, "path": "/data/tv"}]}]}}),
                        "/library/sections/1/all" => json!({"MediaContainer": {
                            "size": 2, "totalSize": 2, "offset": 0, "Metadata": [
                            {"ratingKey": "101", "type": "episode", "title": "Pilot",
                             "grandparentTitle": "Cheers", "parentIndex": 1, "index": 1,
                             "duration": 1_320_000,
                             "Media": [{"Part": [{"file": "/data/tv/Cheers/S01E01.mkv", "size": 10}]}]},
                            {"ratingKey": "102", "type": "episode", "title": "Sam's Women",
                             "grandparentTitle": "Cheers", "parentIndex": 1, "index": 2,
                             "duration": 1_380_000,
                             "Media": [{"Part": [{"file": "/data/tv/Cheers/S01E02.mkv", "size": 11}]}]}
                        ]}}),
                        _ => json!({}),
                    };
                    let header =
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                    let _ = request.respond(
                        tiny_http::Response::from_string(body.to_string()).with_header(header),
                    );
                }
            })
        };
        FakePlex {
            server,
            worker: Some(worker),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.server_addr().to_ip().unwrap())
    }
}

impl Drop for FakePlex {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

// contract: CLI-011
// contract: CLI-013
fn plex(db: &TestDb) {
    let plex = FakePlex::start();
    let home = TempDir::new("rvhome-");
    let rv = Rv::new(db.url(), &home.path);
    rv.ok(&[
        "source",
        "add",
        "--kind",
        "plex",
        "--id",
        "plex",
        "--url",
        &plex.url(),
        "--token",
        "secret",
        "--path-map",
        "/data=/mnt/nas",
    ]);
    let found = rv.json(&["source", "discover", "plex"]);
    assert_eq!(found["collections"][0]["id"], "plex-tv-shows");
    assert_eq!(
        found["collections"][0]["ingest_enabled"], false,
        "server sections are opted into"
    );
    rv.bad(&["collection", "ingest", "plex-tv-shows"]);
    rv.ok(&["collection", "update", "plex-tv-shows", "--ingest", "on"]);
    let report = rv.json(&["collection", "ingest", "plex-tv-shows"])["collections"].clone();
    assert_eq!(report[0]["inserted"], 2, "{report}");
    let assets = rv.json(&["asset", "list", "--series", "Cheers"]);
    assert_eq!(assets[0]["path"], "/mnt/nas/tv/Cheers/S01E01.mkv");
    assert_eq!(assets[0]["provider"], "plex");
    assert_eq!(assets[0]["external_id"], "101");
    assert_eq!(assets[0]["canonical_key"], "101");
    assert_eq!(
        assets[0]["state"], "ready",
        "the provider's duration is enough"
    );
    assert_eq!(assets[1]["duration_ms"], 1_380_000);
    let again = rv.json(&["collection", "ingest", "plex-tv-shows"])["collections"].clone();
    assert_eq!(again[0]["unchanged"], 2);
    assert_eq!(again[0]["inserted"], 0);
}

#[test]
fn plex_on_sqlite() {
    plex(&TestDb::sqlite());
}
