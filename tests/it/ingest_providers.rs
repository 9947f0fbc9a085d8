//! Plex and Jellyfin importers against small local HTTP servers answering JSON shaped like the
//! real APIs: collections, items, paging, path mapping and failures (INGEST-005, 008..011).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;

use retrovue::error::AppError;
use retrovue::ingest::jellyfin::{JellyfinConfig, JellyfinImporter};
use retrovue::ingest::plex::{PlexConfig, PlexImporter};
use retrovue::ingest::{DiscoveredItem, PathMap, PathMapping, Provider, RemoteCollection};
use retrovue_core::model::AssetKind;
use serde_json::{json, Value};

/// One request the fake server saw: path with query, and headers (lower-case names).
#[derive(Debug, Clone)]
struct Seen {
    url: String,
    headers: BTreeMap<String, String>,
}

type Handler = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

/// A local HTTP server on 127.0.0.1 answering with `handler`; stops when dropped.
struct FakeServer {
    server: Arc<tiny_http::Server>,
    seen: Arc<Mutex<Vec<Seen>>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl FakeServer {
    fn start(handler: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> FakeServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let worker = {
            let server = server.clone();
            let seen = seen.clone();
            thread::spawn(move || {
                for request in server.incoming_requests() {
                    let request_seen = Seen {
                        url: request.url().to_string(),
                        headers: request
                            .headers()
                            .iter()
                            .map(|h| {
                                (
                                    h.field.as_str().as_str().to_ascii_lowercase(),
                                    h.value.as_str().to_string(),
                                )
                            })
                            .collect(),
                    };
                    let (status, body) = handler(&request_seen);
                    seen.lock().unwrap().push(request_seen);
                    let header =
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                    let response = tiny_http::Response::from_string(body)
                        .with_status_code(status)
                        .with_header(header);
                    let _ = request.respond(response);
                }
            })
        };
        FakeServer {
            server,
            seen,
            worker: Some(worker),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.server_addr().to_ip().unwrap())
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// A URL nothing listens on (a port that was just free).
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

fn query_of(url: &str) -> BTreeMap<String, String> {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%2C", ",")))
        .collect()
}

fn path_map() -> PathMap {
    PathMap::new(vec![
        PathMapping {
            from: "/data".into(),
            to: "/mnt/nas".into(),
        },
        PathMapping {
            from: "/data/tv".into(),
            to: "/srv/tv".into(),
        },
    ])
    .unwrap()
}

fn plex_episode(key: u32, episode: u32, file: &str) -> Value {
    json!({
        "ratingKey": key.to_string(), "type": "episode", "title": format!("Episode {episode}"),
        "grandparentTitle": "Cheers", "parentIndex": 1, "index": episode,
        "duration": 1_320_000 + episode, "summary": "Sam and Diane.", "contentRating": "TV-PG",
        "year": 1982, "updatedAt": 1_700_000_000, "Genre": [{"tag": "Comedy"}],
        "Chapter": [{"startTimeOffset": 0}, {"startTimeOffset": 600_000}, {"startTimeOffset": 300_000}],
        "Media": [{"duration": 1_320_000, "Part": [{"file": file, "size": 1234}]}]
    })
}

fn plex_handler(seen: &Seen) -> (u16, String) {
    if seen.headers.get("x-plex-token").map(String::as_str) != Some("secret") {
        return (401, "<html>Unauthorized</html>".into());
    }
    let path = seen.url.split('?').next().unwrap();
    let body = match path {
        "/library/sections" => json!({"MediaContainer": {"size": 3, "Directory": [
            {"key": "1", "title": "TV Shows", "type": "show", "Location": [{"id": 1, "path": "/data/tv"}]},
            {"key": "2", "title": "Movies", "type": "movie", "Location": [{"id": 2, "path": "/data/movies"}]},
            {"key": "3", "title": "Music", "type": "artist", "Location": [{"id": 3, "path": "/data/music"}]}
        ]}}),
        "/library/sections/1/all" => {
            let episodes = [
                plex_episode(101, 1, "/data/tv/Cheers/Season 01/Cheers - S01E01.mkv"),
                plex_episode(102, 2, "/data/tv/Cheers/Season 01/Cheers - S01E02.mkv"),
                plex_episode(103, 3, "/data/tv/Cheers/Season 01/Cheers - S01E03.mkv"),
            ];
            let start: usize = seen.headers["x-plex-container-start"].parse().unwrap();
            let size: usize = seen.headers["x-plex-container-size"].parse().unwrap();
            let page: Vec<Value> = episodes.iter().skip(start).take(size).cloned().collect();
            json!({"MediaContainer": {"size": page.len(), "totalSize": episodes.len(),
                   "offset": start, "Metadata": page}})
        }
        "/library/sections/2/all" => {
            json!({"MediaContainer": {"size": 3, "totalSize": 3, "Metadata": [
                {"ratingKey": 201, "type": "movie", "title": "Alien", "year": 1979, "duration": 7_020_000,
                 "Media": [{"Part": [{"file": "/data/movies/Alien (1979)/Alien (1979).mkv", "size": 99}]}]},
                {"ratingKey": "202", "type": "movie", "title": "Coke Is It",
                 "Media": [{"Part": [{"file": "/data/movies/commercials/coke.mp4"}]}]},
                {"ratingKey": "203", "type": "movie", "title": "Ghost"}
            ]}})
        }
        _ => return (404, "{}".into()),
    };
    (200, body.to_string())
}

fn plex(url: &str, token: &str) -> PlexImporter {
    let mut config = PlexConfig::new(url, token, path_map());
    config.page_size = 2;
    PlexImporter::new(config).unwrap()
}

fn by_key<'a>(items: &'a [DiscoveredItem], key: &str) -> &'a DiscoveredItem {
    items.iter().find(|i| i.canonical_key == key).unwrap()
}

// contract: INGEST-009, INGEST-008, INGEST-002
#[test]
fn plex_sections_and_episodes_with_paging_and_path_mapping() {
    let server = FakeServer::start(plex_handler);
    let importer = plex(&server.url(), "secret");
    let sections = importer.collections().unwrap();
    assert_eq!(
        sections[0],
        RemoteCollection {
            key: "1".into(),
            title: "TV Shows".into(),
            kind: "show".into(),
            locations: vec!["/data/tv".into()],
        }
    );
    assert_eq!(sections.len(), 3);

    let found = importer.discover(&sections[0]).unwrap();
    assert!(found.skipped.is_empty());
    let keys: Vec<&str> = found
        .items
        .iter()
        .map(|i| i.canonical_key.as_str())
        .collect();
    assert_eq!(keys, ["101", "102", "103"]);
    let second = by_key(&found.items, "102");
    assert_eq!(second.provider, Provider::Plex);
    assert_eq!(second.external_id, "102");
    assert_eq!(second.uri, format!("{}/library/metadata/102", server.url()));
    assert_eq!(
        second.local_path,
        Some(PathBuf::from(
            "/srv/tv/Cheers/Season 01/Cheers - S01E02.mkv"
        )),
        "the longest prefix (/data/tv) wins"
    );
    let e = &second.editorial;
    assert_eq!(e.kind, AssetKind::Episode);
    assert_eq!(e.title, "Episode 2");
    assert_eq!(
        (e.series.as_deref(), e.season, e.episode),
        (Some("Cheers"), Some(1), Some(2))
    );
    assert_eq!(e.description.as_deref(), Some("Sam and Diane."));
    assert_eq!(e.rating.as_deref(), Some("TV-PG"));
    assert_eq!(e.genres, ["Comedy"]);
    assert_eq!(e.year, Some(1982));
    assert_eq!(second.duration_ms, Some(1_320_002));
    assert_eq!(second.chapters_ms, [300_000, 600_000]);
    assert_eq!(second.size_bytes, Some(1234));
    assert_eq!(second.mtime_ms, Some(1_700_000_000_000));

    let requests = server.seen();
    let pages: Vec<&Seen> = requests
        .iter()
        .filter(|s| s.url.starts_with("/library/sections/1/all"))
        .collect();
    assert_eq!(pages.len(), 2, "3 episodes in pages of 2");
    assert_eq!(query_of(&pages[0].url)["type"], "4");
    assert_eq!(pages[1].headers["x-plex-container-start"], "2");
    assert!(requests
        .iter()
        .all(|s| s.headers.get("accept").map(String::as_str) == Some("application/json")));
}

// contract: INGEST-009, INGEST-005
#[test]
fn plex_movies_interstitial_folders_and_items_without_files() {
    let server = FakeServer::start(plex_handler);
    let importer = plex(&server.url(), "secret");
    let sections = importer.collections().unwrap();
    let found = importer.discover(&sections[1]).unwrap();
    let request = server.seen().last().unwrap().clone();
    assert_eq!(query_of(&request.url)["type"], "1");
    let alien = by_key(&found.items, "201");
    assert_eq!(alien.editorial.kind, AssetKind::Movie);
    assert_eq!(
        (alien.editorial.title.as_str(), alien.editorial.year),
        ("Alien", Some(1979))
    );
    assert_eq!(alien.editorial.series, None);
    assert_eq!(
        alien.local_path,
        Some(PathBuf::from(
            "/mnt/nas/movies/Alien (1979)/Alien (1979).mkv"
        ))
    );
    assert_eq!(
        by_key(&found.items, "202").editorial.kind,
        AssetKind::Commercial
    );
    assert_eq!(by_key(&found.items, "202").duration_ms, None);
    assert_eq!(found.skipped.len(), 1);
    assert_eq!(found.skipped[0].location, "plex item 203");
    assert!(found.skipped[0].reason.contains("no media file"));

    let error = importer.discover(&sections[2]).unwrap_err();
    assert!(
        matches!(&error, AppError::BadInput(m) if m.contains("only show and movie")),
        "{error:?}"
    );
}

// contract: INGEST-011
#[test]
fn plex_failures_name_the_url_and_never_the_token() {
    let server = FakeServer::start(plex_handler);
    let error = plex(&server.url(), "wrong-token")
        .collections()
        .unwrap_err();
    assert_eq!(
        error,
        AppError::Runtime(format!(
            "plex {}/library/sections: authentication failed (HTTP 401): check the token",
            server.url()
        ))
    );
    assert!(!error.to_string().contains("wrong-token"));

    let refused = refused_url();
    let error = plex(&refused, "secret").collections().unwrap_err();
    let AppError::Runtime(message) = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.starts_with(&format!(
            "plex {refused}/library/sections: connection failed"
        )),
        "{message}"
    );

    let bad_json = FakeServer::start(|_| (200, "{\"MediaContainer\": ".into()));
    let message = plex(&bad_json.url(), "secret")
        .collections()
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(&format!(
            "plex {}/library/sections: bad JSON",
            bad_json.url()
        )),
        "{message}"
    );

    let not_found = FakeServer::start(|_| (500, "{}".into()));
    let message = plex(&not_found.url(), "secret")
        .collections()
        .unwrap_err()
        .to_string();
    assert!(message.contains("/library/sections: HTTP 500"), "{message}");

    let wrong_shape = FakeServer::start(|_| (200, "{\"items\": []}".into()));
    let message = plex(&wrong_shape.url(), "secret")
        .collections()
        .unwrap_err()
        .to_string();
    assert!(message.contains("no MediaContainer"), "{message}");

    let bad_url = PlexImporter::new(PlexConfig::new("localhost:32400", "t", PathMap::default()));
    assert!(matches!(bad_url, Err(AppError::BadInput(m)) if m.contains("http://")));
}

fn jellyfin_item(id: &str, kind: &str, path: Option<&str>) -> Value {
    let mut item = json!({
        "Id": id, "Name": format!("Name {id}"), "Type": kind, "SeriesName": "Twin Peaks",
        "ParentIndexNumber": 2, "IndexNumber": 7, "RunTimeTicks": 28_800_000_000i64,
        "Overview": "Who killed Laura?", "OfficialRating": "TV-14", "ProductionYear": 1990,
        "Genres": ["Drama", "Mystery"],
        "Chapters": [{"StartPositionTicks": 0, "Name": "Start"},
                     {"StartPositionTicks": 9_000_000_000i64, "Name": "Act 2"}],
        "MediaSources": [{"Size": 4321, "Path": path}]
    });
    if let Some(path) = path {
        item["Path"] = json!(path);
    }
    item
}

fn jellyfin_handler(seen: &Seen) -> (u16, String) {
    if seen.headers.get("x-emby-token").map(String::as_str) != Some("key") {
        return (401, "".into());
    }
    let path = seen.url.split('?').next().unwrap();
    let body = match path {
        "/Library/VirtualFolders" => json!([
            {"Name": "Shows", "CollectionType": "tvshows", "ItemId": "f1", "Locations": ["/media/shows"]},
            {"Name": "Films", "CollectionType": "movies", "ItemId": "f2", "Locations": ["D:\\Films"]}
        ]),
        "/Items" => {
            let query = query_of(&seen.url);
            let items = if query["ParentId"] == "f1" {
                vec![
                    jellyfin_item("e1", "Episode", Some("/media/shows/Twin Peaks/S02E07.mkv")),
                    jellyfin_item("e2", "Episode", Some("/media/shows/Twin Peaks/S02E08.mkv")),
                    jellyfin_item("e3", "Episode", None),
                ]
            } else {
                vec![
                    jellyfin_item("m1", "Movie", Some("D:\\Films\\Fire Walk With Me.mkv")),
                    jellyfin_item("m2", "Movie", Some("D:\\Films\\Bumpers\\Intro.mkv")),
                ]
            };
            let start: usize = query["StartIndex"].parse().unwrap();
            let limit: usize = query["Limit"].parse().unwrap();
            let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
            json!({"Items": page, "TotalRecordCount": items.len(), "StartIndex": start})
        }
        _ => return (404, "".into()),
    };
    (200, body.to_string())
}

fn jellyfin(url: &str, token: &str) -> JellyfinImporter {
    let map = PathMap::new(vec![
        PathMapping {
            from: "/media".into(),
            to: "/mnt/jf".into(),
        },
        PathMapping {
            from: "D:\\Films".into(),
            to: "/mnt/films".into(),
        },
    ])
    .unwrap();
    let mut config = JellyfinConfig::new(url, token, map);
    config.page_size = 2;
    JellyfinImporter::new(config).unwrap()
}

// contract: INGEST-010, INGEST-008, INGEST-002
#[test]
fn jellyfin_libraries_items_paging_and_path_mapping() {
    let server = FakeServer::start(jellyfin_handler);
    let importer = jellyfin(&server.url(), "key");
    let libraries = importer.collections().unwrap();
    assert_eq!(libraries.len(), 2);
    assert_eq!(
        libraries[0],
        RemoteCollection {
            key: "f1".into(),
            title: "Shows".into(),
            kind: "tvshows".into(),
            locations: vec!["/media/shows".into()],
        }
    );
    let shows = importer.discover(&libraries[0]).unwrap();
    let keys: Vec<&str> = shows
        .items
        .iter()
        .map(|i| i.canonical_key.as_str())
        .collect();
    assert_eq!(keys, ["e1", "e2"]);
    assert_eq!(shows.skipped.len(), 1);
    assert_eq!(shows.skipped[0].location, "jellyfin item e3");
    assert!(shows.skipped[0].reason.contains("no Path"));
    let first = &shows.items[0];
    assert_eq!(first.provider, Provider::Jellyfin);
    assert_eq!(first.uri, format!("{}/Items/e1", server.url()));
    assert_eq!(
        first.local_path,
        Some(PathBuf::from("/mnt/jf/shows/Twin Peaks/S02E07.mkv"))
    );
    let e = &first.editorial;
    assert_eq!(e.kind, AssetKind::Episode);
    assert_eq!(e.title, "Name e1");
    assert_eq!(
        (e.series.as_deref(), e.season, e.episode),
        (Some("Twin Peaks"), Some(2), Some(7))
    );
    assert_eq!(e.description.as_deref(), Some("Who killed Laura?"));
    assert_eq!(e.rating.as_deref(), Some("TV-14"));
    assert_eq!(e.year, Some(1990));
    assert_eq!(e.genres, ["Drama", "Mystery"]);
    assert_eq!(first.duration_ms, Some(2_880_000), "ticks are 100 ns");
    assert_eq!(first.chapters_ms, [900_000]);
    assert_eq!(first.size_bytes, Some(4321));

    let requests = server.seen();
    let item_requests: Vec<&Seen> = requests
        .iter()
        .filter(|s| s.url.starts_with("/Items"))
        .collect();
    assert_eq!(item_requests.len(), 2, "3 items in pages of 2");
    let query = query_of(&item_requests[0].url);
    assert_eq!(query["Recursive"], "true");
    assert_eq!(query["IncludeItemTypes"], "Episode,Movie");
    assert_eq!(
        query["Fields"],
        "Path,Overview,Genres,Chapters,MediaSources"
    );
    assert_eq!(query_of(&item_requests[1].url)["StartIndex"], "2");

    let films = importer.discover(&libraries[1]).unwrap();
    let movie = by_key(&films.items, "m1");
    assert_eq!(movie.editorial.kind, AssetKind::Movie);
    assert_eq!(movie.editorial.series, None, "movies carry no series");
    assert_eq!(
        movie.local_path,
        Some(PathBuf::from("/mnt/films/Fire Walk With Me.mkv")),
        "a Windows prefix maps and the rest's backslashes become /"
    );
    assert_eq!(by_key(&films.items, "m2").editorial.kind, AssetKind::Bumper);
}

// contract: INGEST-011
#[test]
fn jellyfin_failures_name_the_url() {
    let server = FakeServer::start(jellyfin_handler);
    let error = jellyfin(&server.url(), "nope").collections().unwrap_err();
    assert_eq!(
        error,
        AppError::Runtime(format!(
            "jellyfin {}/Library/VirtualFolders: authentication failed (HTTP 401): check the token",
            server.url()
        ))
    );
    let refused = refused_url();
    let message = jellyfin(&refused, "key")
        .collections()
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(&format!(
            "jellyfin {refused}/Library/VirtualFolders: connection failed"
        )),
        "{message}"
    );
    let bad_json = FakeServer::start(|_| (200, "<xml/>".into()));
    let importer = jellyfin(&bad_json.url(), "key");
    let message = importer.collections().unwrap_err().to_string();
    assert!(
        message.contains("/Library/VirtualFolders: bad JSON"),
        "{message}"
    );
    let library = RemoteCollection {
        key: "f1".into(),
        title: "Shows".into(),
        kind: "tvshows".into(),
        locations: vec![],
    };
    let message = importer.discover(&library).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("jellyfin {}/Items?ParentId=f1", bad_json.url())),
        "{message}"
    );
    assert!(message.contains("bad JSON"), "{message}");
}
