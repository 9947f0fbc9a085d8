//! The viewer HTTP surface (HTTP-001..039) on tiny_http: strict routing, the
//! M3U, the `.ts` streams, XMLTV, HDHomeRun emulation, the JSON API, health and metrics, and the
//! web guide with its logos and art (`web`). Every request runs on its own thread, so a stream
//! never holds up another request.

pub mod hls;
pub mod pages;
pub mod stream;
pub mod web;

pub use web::Surface;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server};

use crate::runtime::Shared;

/// The longest request target accepted (HTTP-008).
pub const MAX_TARGET: usize = 1024;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    M3u,
    Stream(String),
    /// `/channel/{id}.m3u8` (HTTP-020).
    Playlist(String),
    /// `/channel/{id}/{seq}.ts` (HTTP-021).
    Segment(String, u64),
    Xmltv,
    /// `/epg.xml.gz` (HTTP-035).
    XmltvGz,
    Discover,
    Lineup,
    LineupStatus,
    DeviceXml,
    /// `POST /lineup.post` (HTTP-036).
    LineupPost,
    /// The web guide `/` (HTTP-030).
    Web,
    /// An embedded asset `/static/{name}`.
    Static(String),
    /// `/logo/{channel}.{ext}` (HTTP-032).
    Logo(String, String),
    /// `/art/{asset}.{ext}` (HTTP-038).
    Art(String, String),
    ApiChannels,
    ApiNow(String),
    ApiEpg,
    Healthz,
    Metrics,
    NotFound,
}

/// Parse a request path strictly (HTTP-008): no traversal, no escapes, bounded length.
pub fn route(path: &str) -> Route {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._~/-".contains(c);
    if path.len() > MAX_TARGET
        || !path.starts_with('/')
        || path.contains("..")
        || path.contains("//")
        || !path.chars().all(allowed)
    {
        return Route::NotFound;
    }
    let channel_id = |s: &str| (!s.is_empty() && !s.contains('/')).then(|| s.to_string());
    let named = |s: &str| {
        s.rsplit_once('.')
            .filter(|(name, ext)| !name.is_empty() && !name.contains('/') && !ext.is_empty())
            .map(|(name, ext)| (name.to_string(), ext.to_string()))
    };
    match path {
        "/" => Route::Web,
        "/channellist.m3u" => Route::M3u,
        "/epg.xml" => Route::Xmltv,
        "/epg.xml.gz" => Route::XmltvGz,
        "/lineup.post" => Route::LineupPost,
        "/discover.json" => Route::Discover,
        "/lineup.json" => Route::Lineup,
        "/lineup_status.json" => Route::LineupStatus,
        "/device.xml" => Route::DeviceXml,
        "/api/channels" => Route::ApiChannels,
        "/api/epg" => Route::ApiEpg,
        "/healthz" => Route::Healthz,
        "/metrics" => Route::Metrics,
        _ => {
            if let Some(rest) = path.strip_prefix("/channel/") {
                if let Some(id) = rest.strip_suffix(".ts").and_then(channel_id) {
                    return Route::Stream(id);
                }
                if let Some(id) = rest.strip_suffix(".m3u8").and_then(channel_id) {
                    return Route::Playlist(id);
                }
                if let Some((id, seq)) = rest.strip_suffix(".ts").and_then(|r| r.split_once('/')) {
                    // Canonical decimal only: one path per segment.
                    let canonical = seq.parse::<u64>().ok().filter(|n| n.to_string() == seq);
                    if let (Some(id), Some(seq)) = (channel_id(id), canonical) {
                        return Route::Segment(id, seq);
                    }
                }
            }
            if let Some(name) = path.strip_prefix("/static/").and_then(channel_id) {
                return Route::Static(name);
            }
            if let Some((id, ext)) = path.strip_prefix("/logo/").and_then(named) {
                return Route::Logo(id, ext);
            }
            if let Some((id, ext)) = path.strip_prefix("/art/").and_then(named) {
                return Route::Art(id, ext);
            }
            if let Some(rest) = path.strip_prefix("/api/channels/") {
                if let Some(id) = rest.strip_suffix("/now").and_then(channel_id) {
                    return Route::ApiNow(id);
                }
            }
            Route::NotFound
        }
    }
}

/// Split a target into its path and query.
pub fn split_target(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

/// Decode one `application/x-www-form-urlencoded` value; `None` when malformed.
pub fn decode_query_value(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The query's parameters, decoded; `Err(name)` for a malformed one.
pub fn query_params(query: &str) -> Result<Vec<(String, String)>, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode_query_value(name).ok_or_else(|| name.to_string())?;
            let value = decode_query_value(value).ok_or_else(|| name.clone())?;
            Ok((name, value))
        })
        .collect()
}

pub fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

/// A short text answer.
pub fn text(status: u16, body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(format!("{body}\n"))
        .with_status_code(status)
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
        // HTTP-021: a refusal (a segment not cut yet, a channel that moved) is of the moment;
        // no cache in front may keep it.
        .with_header(header("Cache-Control", "no-store"))
}

/// `http://` + the Host header when it looks like a host, else the bound address.
pub fn base_url(request: &Request, shared: &Shared) -> String {
    let host = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str().to_string())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
        });
    let host = host.unwrap_or_else(|| {
        shared
            .bound
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    });
    format!("http://{host}")
}

/// Accept requests until `stop` is set, one thread per request.
pub fn serve(
    server: &Server,
    shared: &Arc<Shared>,
    surface: &Arc<Surface>,
    stop: &Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        let request = match server.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(e) => {
                log::warn!("http: {e}");
                continue;
            }
        };
        // DAEMON-013: a bounded number of request threads; past it a short 503 from here.
        let serving = shared.connections.fetch_add(1, Ordering::SeqCst);
        if serving >= shared.max_connections {
            shared.connections.fetch_sub(1, Ordering::SeqCst);
            log::warn!(
                "http: {serving} requests in progress (--max-connections): refusing {}",
                request.url()
            );
            let _ = request.respond(text(
                503,
                &format!("503 server busy: {serving} requests in progress"),
            ));
            continue;
        }
        // Given back when the request is done, even by a panic or a failed spawn.
        let slot = Connection(Arc::clone(shared));
        let surface = Arc::clone(surface);
        let spawned = std::thread::Builder::new()
            .name("http".into())
            .stack_size(256 * 1024)
            .spawn(move || handle(request, &slot.0, &surface));
        if let Err(e) = spawned {
            log::error!("http: cannot start a request thread: {e}");
        }
    }
}

/// One of the daemon's request places (DAEMON-013).
struct Connection(Arc<Shared>);

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

fn handle(request: Request, shared: &Arc<Shared>, surface: &Surface) {
    let target = request.url().to_string();
    let (path, query) = split_target(&target);
    let route = if target.len() > MAX_TARGET {
        Route::NotFound
    } else {
        route(path)
    };
    let head = match (request.method(), &route) {
        // HTTP-036: the one POST.
        (Method::Post, Route::LineupPost) => {
            let _ = request.respond(pages::lineup_post(query));
            return;
        }
        (_, Route::LineupPost) => {
            let response =
                text(405, "405 method not allowed: use POST").with_header(header("Allow", "POST"));
            let _ = request.respond(response);
            return;
        }
        (Method::Get, _) => false,
        (Method::Head, _) => true,
        _ => {
            let response = text(405, "405 method not allowed: use GET or HEAD")
                .with_header(header("Allow", "GET, HEAD"));
            let _ = request.respond(response);
            return;
        }
    };
    match &route {
        Route::Stream(id) => return stream::serve_stream(request, shared, id, head),
        Route::Playlist(id) => return hls::serve_playlist(request, shared, id, head),
        Route::Segment(id, seq) => return hls::serve_segment(request, shared, id, *seq, head),
        _ => {}
    }
    let base = base_url(&request, shared);
    let response = pages::answer(&route, query, &base, shared, surface);
    let _ = request.respond(response);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_parsed_strictly() {
        // contract: HTTP-008
        assert_eq!(
            route("/channel/retro-one.ts"),
            Route::Stream("retro-one".into())
        );
        assert_eq!(route("/api/channels/a_b/now"), Route::ApiNow("a_b".into()));
        // contract: HTTP-020
        // contract: HTTP-021
        assert_eq!(route("/channel/a.m3u8"), Route::Playlist("a".into()));
        assert_eq!(route("/channel/a/17.ts"), Route::Segment("a".into(), 17));
        assert_eq!(route("/channel/a/0.ts"), Route::Segment("a".into(), 0));
        assert_eq!(route("/"), Route::Web);
        assert_eq!(route("/static/guide.js"), Route::Static("guide.js".into()));
        assert_eq!(
            route("/logo/retro-one.svg"),
            Route::Logo("retro-one".into(), "svg".into())
        );
        assert_eq!(
            route("/art/ep.1.jpg"),
            Route::Art("ep.1".into(), "jpg".into())
        );
        assert_eq!(route("/epg.xml.gz"), Route::XmltvGz);
        for bad in [
            "/channel/../etc/passwd.ts",
            "/channel/a/b.ts",
            "/channel/a/017.ts",
            "/channel/a/-1.ts",
            "/channel/a/1/2.ts",
            "/channel//1.ts",
            "/channel/a/99999999999999999999.ts",
            "/channel/.m3u8",
            "/channel/.ts",
            "/channel/%2e%2e.ts",
            "//channellist.m3u",
            "/channellist.m3u/",
            "/channel/a\\b.ts",
            "/static/",
            "/static/a/b.js",
            "/logo/x",
            "/logo/.svg",
            "/logo/a/b.svg",
            "/nope",
            "",
        ] {
            assert_eq!(route(bad), Route::NotFound, "{bad}");
        }
        let long = format!("/channel/{}.ts", "a".repeat(MAX_TARGET));
        assert_eq!(route(&long), Route::NotFound);
        assert_eq!(
            query_params("channel=a&from=2026-01-01T00%3A00%3A00Z").unwrap(),
            vec![
                ("channel".to_string(), "a".to_string()),
                ("from".to_string(), "2026-01-01T00:00:00Z".to_string())
            ]
        );
        assert!(query_params("from=%zz").is_err());
    }
}
