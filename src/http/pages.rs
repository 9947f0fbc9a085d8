//! The non-stream answers (HTTP-001, HTTP-004..007, HTTP-030..039): M3U, XMLTV (also gzipped),
//! HDHomeRun emulation, the JSON API, the web guide, logos and art, `/healthz` and Prometheus
//! `/metrics`, all rendered from the published schedules.

use std::fmt::Write as _;
use std::io::Cursor;

use retrovue_core::model::{Channel, EpgRow, UtcMs, MS_PER_MINUTE};
use retrovue_core::plan::event_at;
use retrovue_core::time::{fmt_utc, parse_utc};
use serde_json::{json, Value};
use tiny_http::Response;

use super::web::{self, Surface};
use super::{header, query_params, text, Route};
use crate::clock::now_ms;
use crate::runtime::metrics::ChannelMetrics;
use crate::runtime::Shared;

type Answer = Response<Cursor<Vec<u8>>>;

fn body(content_type: &str, body: String) -> Answer {
    Response::from_string(body).with_header(header("Content-Type", content_type))
}

fn bytes_body(content_type: &str, body: Vec<u8>) -> Answer {
    Response::from_data(body).with_header(header("Content-Type", content_type))
}

fn json_body(value: &Value) -> Answer {
    body(
        "application/json",
        serde_json::to_string_pretty(value).expect("plain JSON"),
    )
}

/// The daemon's XMLTV extras (HTTP-034): logo URLs, years, art.
struct GuideExtras<'a> {
    surface: &'a Surface,
    base: &'a str,
}

impl crate::xmltv::Extras for GuideExtras<'_> {
    fn channel_icon(&self, channel: &Channel) -> Option<String> {
        Some(web::logo_url(channel, self.base))
    }
    fn year(&self, row: &EpgRow) -> Option<i32> {
        self.surface.year(row.asset.as_deref())
    }
    fn icon(&self, row: &EpgRow) -> Option<String> {
        self.surface.art_url(row.asset.as_deref(), self.base)
    }
}

/// HTTP-004, HTTP-034: the daemon's XMLTV document.
fn xmltv(shared: &Shared, surface: &Surface, base: &str) -> String {
    let rows: Vec<EpgRow> = shared
        .channels
        .iter()
        .flat_map(|c| shared.schedule(&c.id).epg.clone())
        .collect();
    crate::xmltv::render_with(&shared.channels, &rows, &GuideExtras { surface, base })
}

/// HTTP-035: gzip of `text`.
pub fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 8),
        flate2::Compression::default(),
    );
    encoder
        .write_all(text.as_bytes())
        .expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// A file the daemon serves as an image (logo or art); 404 when it cannot be read.
fn image_file(path: &std::path::Path, ext: &str, what: &str) -> Answer {
    match std::fs::read(path) {
        Ok(bytes) => bytes_body(
            web::image_type(ext).unwrap_or("application/octet-stream"),
            bytes,
        ),
        Err(e) => {
            log::warn!("http: {what}: cannot read {}: {e}", path.display());
            text(404, &format!("404 {what}: its file cannot be read"))
        }
    }
}

/// HTTP-036: `POST /lineup.post?scan=start|abort`.
pub fn lineup_post(query: &str) -> Answer {
    match query_params(query) {
        Ok(params) => {
            for (name, value) in &params {
                if name != "scan" || !matches!(value.as_str(), "start" | "abort") {
                    return text(
                        400,
                        &format!("400 unknown query parameter {name:?}={value:?}: expected scan=start or scan=abort"),
                    );
                }
            }
            text(200, "ok")
        }
        Err(name) => text(400, &format!("400 malformed query parameter {name:?}")),
    }
}

pub fn answer(
    route: &Route,
    query: &str,
    base: &str,
    shared: &Shared,
    surface: &Surface,
) -> Answer {
    match route {
        Route::M3u => m3u_answer(&shared.channels, base, query),
        Route::Xmltv => body(
            "application/xml; charset=utf-8",
            xmltv(shared, surface, base),
        ),
        Route::XmltvGz => bytes_body("application/gzip", gzip(&xmltv(shared, surface, base))),
        Route::Web => body("text/html; charset=utf-8", web::index_html().to_string())
            .with_header(header("Cache-Control", "no-cache")),
        Route::Static(name) => match web::static_asset(name) {
            Some((kind, text)) => body(kind, text.to_string()),
            None => text(404, "404 not found"),
        },
        Route::Logo(id, ext) => {
            let Some(channel) = shared.channel(id) else {
                return text(404, &format!("404 unknown channel {id:?}"));
            };
            match web::logo_file(channel) {
                Some((path, have)) if have == *ext => image_file(&path, ext, "logo"),
                _ if ext == "svg" => body("image/svg+xml", web::generated_logo(channel)),
                _ => text(404, &format!("404 channel {id:?} has no .{ext} logo")),
            }
        }
        Route::Art(id, ext) => match surface.art_file(id, ext) {
            Some(path) => image_file(path, ext, "art"),
            None => text(404, &format!("404 no .{ext} art for asset {id:?}")),
        },
        Route::LineupPost => lineup_post(query),
        Route::Discover => json_body(&discover(surface, base)),
        Route::Lineup => json_body(&Value::Array(
            shared
                .channels
                .iter()
                .map(|c| {
                    json!({
                        "GuideNumber": c.number,
                        "GuideName": c.name,
                        "URL": format!("{base}/channel/{}.ts", c.id),
                        "ImageURL": web::logo_url(c, base),
                    })
                })
                .collect(),
        )),
        Route::LineupStatus => json_body(&json!({
            "ScanInProgress": 0,
            "ScanPossible": 1,
            "Source": "Cable",
            "SourceList": ["Cable"],
        })),
        Route::DeviceXml => body("application/xml", device_xml(base)),
        Route::ApiChannels => json_body(&api_channels(shared, base)),
        Route::ApiNow(id) => api_now(shared, id, &GuideExtras { surface, base }),
        Route::ApiEpg => api_epg(shared, query, &GuideExtras { surface, base }),
        Route::Healthz => {
            let problems = shared.unhealthy();
            if problems.is_empty() {
                text(200, "ok")
            } else {
                text(503, &problems.join("\n"))
            }
        }
        Route::Metrics => body("text/plain; version=0.0.4", metrics(shared)),
        Route::NotFound => text(404, "404 not found"),
        Route::Stream(_) | Route::Playlist(_) | Route::Segment(..) => text(404, "404 not found"),
    }
}

/// M3U attribute values may not hold a double quote.
fn attr(value: &str) -> String {
    value.replace('"', "'").replace(['\n', '\r'], " ")
}

/// HTTP-001, HTTP-033: the playlist of every active channel (already sorted by guide number).
pub fn m3u(channels: &[Channel], base: &str) -> String {
    let mut out = format!("#EXTM3U url-tvg=\"{base}/epg.xml\" x-tvg-url=\"{base}/epg.xml\"\n");
    for c in channels {
        let _ = writeln!(
            out,
            "#EXTINF:-1 tvg-id=\"{}\" tvg-chno=\"{}\" tvg-name=\"{}\" tvg-logo=\"{}\" group-title=\"{}\",{}",
            attr(&c.id),
            attr(&c.number),
            attr(&c.name),
            attr(&web::logo_url(c, base)),
            attr(c.group.as_deref().unwrap_or("")),
            c.name.replace(['\n', '\r'], " ")
        );
        let _ = writeln!(out, "{base}/channel/{}.ts", c.id);
    }
    out
}

/// HTTP-001 or, with `format=hls`, HTTP-026.
fn m3u_answer(channels: &[Channel], base: &str, query: &str) -> Answer {
    let params = match query_params(query) {
        Ok(params) => params,
        Err(name) => return text(400, &format!("400 malformed query parameter {name:?}")),
    };
    let list = m3u(channels, base);
    match params.iter().rev().find(|(name, _)| name == "format") {
        None => body("audio/x-mpegurl", list),
        Some((_, format)) if format == "ts" => body("audio/x-mpegurl", list),
        Some((_, format)) if format == "hls" => {
            body("audio/x-mpegurl", m3u_hls(channels, base, &list))
        }
        Some((_, other)) => text(
            400,
            &format!("400 format: expected \"ts\" or \"hls\", got {other:?}"),
        ),
    }
}

/// HTTP-026: the TS list with each channel's `.m3u8` URL instead of its `.ts` URL.
pub fn m3u_hls(channels: &[Channel], base: &str, list: &str) -> String {
    let urls: std::collections::BTreeMap<String, String> = channels
        .iter()
        .map(|c| {
            (
                format!("{base}/channel/{}.ts", c.id),
                format!("{base}/channel/{}.m3u8", c.id),
            )
        })
        .collect();
    let mut out = String::with_capacity(list.len() + 2 * channels.len());
    for line in list.lines() {
        out.push_str(urls.get(line).map_or(line, String::as_str));
        out.push('\n');
    }
    out
}

const DEVICE_ID: &str = "52455456";

/// The UPnP device's `uuid:…` (its UDN in `/device.xml`, the USN of SSDP).
pub fn udn() -> String {
    format!("uuid:{DEVICE_ID}-0000-0000-0000-000000000000")
}

fn discover(surface: &Surface, base: &str) -> Value {
    json!({
        "FriendlyName": "RetroVue",
        "Manufacturer": "RetroVue",
        "ModelNumber": "HDTC-2US",
        "FirmwareName": "hdhomeruntc_atsc",
        "FirmwareVersion": "20200101",
        "DeviceID": DEVICE_ID,
        "DeviceAuth": "retrovue",
        "BaseURL": base,
        "LineupURL": format!("{base}/lineup.json"),
        "TunerCount": surface.tuner_count.max(1),
    })
}

fn device_xml(base: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <URLBase>{base}</URLBase>
  <device>
    <deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType>
    <friendlyName>RetroVue</friendlyName>
    <manufacturer>RetroVue</manufacturer>
    <modelName>HDTC-2US</modelName>
    <modelNumber>HDTC-2US</modelNumber>
    <serialNumber>{DEVICE_ID}</serialNumber>
    <UDN>{udn}</UDN>
  </device>
</root>
"#,
        udn = udn()
    )
}

fn api_channels(shared: &Shared, base: &str) -> Value {
    Value::Array(
        shared
            .channels
            .iter()
            .map(|c| {
                let m = shared.metrics.channel(&c.id);
                json!({
                    "id": c.id,
                    "number": c.number,
                    "name": c.name,
                    "group": c.group,
                    "logo": web::logo_url(c, base),
                    "url": format!("{base}/channel/{}.ts", c.id),
                    "hls": format!("{base}/channel/{}.m3u8", c.id),
                    "viewers": ChannelMetrics::gauge(&m.viewers),
                    "engine_running": ChannelMetrics::gauge(&m.engine_running) > 0,
                })
            })
            .collect(),
    )
}

fn row_json(row: &EpgRow, extras: &GuideExtras) -> Value {
    use crate::xmltv::Extras as _;
    json!({
        "channel": row.channel,
        "start": fmt_utc(row.start),
        "end": fmt_utc(row.end),
        "title": row.title,
        "episode_title": row.episode_title,
        "season": row.season,
        "episode": row.episode,
        "description": row.description,
        "rating": row.rating,
        "category": row.category,
        "filler": row.filler,
        "year": extras.year(row),
        "icon": extras.icon(row),
    })
}

fn api_now(shared: &Shared, id: &str, extras: &GuideExtras) -> Answer {
    if shared.channel(id).is_none() {
        return text(404, &format!("404 unknown channel {id:?}"));
    }
    let now = now_ms();
    let schedule = shared.schedule(id);
    let Some(i) = event_at(&schedule.events, now) else {
        return text(
            503,
            &format!("503 schedule gap: nothing is scheduled on {id:?} now"),
        );
    };
    let event = &schedule.events[i];
    let row = schedule
        .epg
        .iter()
        .find(|r| r.start <= now && now < r.end)
        .map(|r| row_json(r, extras));
    json_body(&json!({
        "channel": id,
        "at": fmt_utc(now),
        "programme": row,
        "event": {
            "id": event.id,
            "start": fmt_utc(event.start),
            "end": fmt_utc(event.end),
            "kind": event.kind.as_str(),
            "asset": event.asset,
            "offset_ms": now - event.start + event.in_point_ms,
        },
    }))
}

fn api_epg(shared: &Shared, query: &str, extras: &GuideExtras) -> Answer {
    let params = match query_params(query) {
        Ok(p) => p,
        Err(name) => return text(400, &format!("400 malformed query parameter {name:?}")),
    };
    let now = now_ms();
    let mut channel: Option<String> = None;
    let mut from: UtcMs = now;
    let mut to: Option<UtcMs> = None;
    for (name, value) in params {
        match name.as_str() {
            "channel" => channel = Some(value),
            "from" | "to" => {
                let Some(t) = parse_utc(&value) else {
                    return text(
                        400,
                        &format!("400 {name}: expected an RFC 3339 instant, got {value:?}"),
                    );
                };
                if name == "from" {
                    from = t;
                } else {
                    to = Some(t);
                }
            }
            other => return text(400, &format!("400 unknown query parameter {other:?}")),
        }
    }
    let to = to.unwrap_or(from + 24 * 60 * MS_PER_MINUTE);
    if let Some(id) = &channel {
        if shared.channel(id).is_none() {
            return text(404, &format!("404 unknown channel {id:?}"));
        }
    }
    let rows: Vec<Value> = shared
        .channels
        .iter()
        .filter(|c| channel.as_ref().is_none_or(|id| *id == c.id))
        .flat_map(|c| {
            shared
                .schedule(&c.id)
                .epg
                .iter()
                .filter(|r| r.end > from && r.start < to)
                .map(|r| row_json(r, extras))
                .collect::<Vec<_>>()
        })
        .collect();
    json_body(&Value::Array(rows))
}

/// HTTP-007: Prometheus text exposition.
pub fn metrics(shared: &Shared) -> String {
    let now = now_ms();
    let mut out = String::new();
    type Get = fn(&ChannelMetrics) -> i64;
    let series: [(&str, &str, &str, Get); 7] = [
        (
            "retrovue_viewers",
            "gauge",
            "Viewers watching the channel.",
            |m| ChannelMetrics::gauge(&m.viewers),
        ),
        (
            "retrovue_engine_running",
            "gauge",
            "1 while the channel's engine runs.",
            |m| ChannelMetrics::gauge(&m.engine_running),
        ),
        (
            "retrovue_engine_starts_total",
            "counter",
            "Engine processes started.",
            |m| ChannelMetrics::get(&m.engine_starts) as i64,
        ),
        (
            "retrovue_engine_restarts_total",
            "counter",
            "Engine restarts after a failure.",
            |m| ChannelMetrics::get(&m.restarts) as i64,
        ),
        (
            "retrovue_engine_crashes_total",
            "counter",
            "Engines that exited unasked.",
            |m| ChannelMetrics::get(&m.crashes) as i64,
        ),
        (
            "retrovue_bytes_out_total",
            "counter",
            "Stream bytes written to viewers.",
            |m| ChannelMetrics::get(&m.bytes_out) as i64,
        ),
        (
            "retrovue_dropped_viewers_total",
            "counter",
            "Viewers dropped for falling behind.",
            |m| ChannelMetrics::get(&m.dropped_viewers) as i64,
        ),
    ];
    for (name, kind, help, get) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (id, m) in shared.metrics.iter() {
            let _ = writeln!(out, "{name}{{channel=\"{}\"}} {}", label(id), get(m));
        }
    }
    let _ = writeln!(
        out,
        "# HELP retrovue_horizon_playlog_seconds How far ahead of now the playlog is loaded.\n\
         # TYPE retrovue_horizon_playlog_seconds gauge"
    );
    for c in &shared.channels {
        let ahead = shared
            .schedule(&c.id)
            .playlog_until()
            .map_or(0, |until| (until - now).max(0) / 1000);
        let _ = writeln!(
            out,
            "retrovue_horizon_playlog_seconds{{channel=\"{}\"}} {ahead}",
            label(&c.id)
        );
    }
    let _ = writeln!(
        out,
        "# HELP retrovue_horizon_days ScheduleDays stored from today on.\n\
         # TYPE retrovue_horizon_days gauge"
    );
    for c in &shared.channels {
        let _ = writeln!(
            out,
            "retrovue_horizon_days{{channel=\"{}\"}} {}",
            label(&c.id),
            shared.schedule(&c.id).days_ahead
        );
    }
    let m = &shared.metrics;
    let _ = writeln!(
        out,
        "# HELP retrovue_invariant_violations_total Invariant violations found in published snapshots.\n\
         # TYPE retrovue_invariant_violations_total counter\n\
         retrovue_invariant_violations_total {}\n\
         # HELP retrovue_keeper_failures_total Failed ScheduleDay builds or publishes of the horizon keeper.\n\
         # TYPE retrovue_keeper_failures_total counter\n\
         retrovue_keeper_failures_total {}\n\
         # HELP retrovue_keeper_retries_total Retries of the horizon keeper after a failure.\n\
         # TYPE retrovue_keeper_retries_total counter\n\
         retrovue_keeper_retries_total {}",
        m.invariant_violations.load(std::sync::atomic::Ordering::Relaxed),
        m.keeper_failures.load(std::sync::atomic::Ordering::Relaxed),
        m.keeper_retries.load(std::sync::atomic::Ordering::Relaxed)
    );
    match shared.cluster() {
        Some(cluster) => {
            let _ = writeln!(
                out,
                "# HELP retrovue_cluster_leases Cluster leases this node holds.\n\
                 # TYPE retrovue_cluster_leases gauge\n\
                 retrovue_cluster_leases {}\n\
                 # HELP retrovue_cluster_statements_total Lease and heartbeat statements sent.\n\
                 # TYPE retrovue_cluster_statements_total counter\n\
                 retrovue_cluster_statements_total {}",
                cluster.held_count(),
                cluster
                    .statements
                    .load(std::sync::atomic::Ordering::Relaxed)
            );
            with_node_label(&out, &cluster.node)
        }
        None => out,
    }
}

/// HTTP-041: every series labelled `node="<node id>"` (the first label).
pub fn with_node_label(text: &str, node: &str) -> String {
    let node = format!("node=\"{}\"", label(node));
    let mut out = String::with_capacity(text.len() + text.lines().count() * (node.len() + 3));
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            out.push_str(line);
        } else if let Some((name, rest)) = line.split_once('{') {
            let _ = write!(out, "{name}{{{node},{rest}");
        } else if let Some((name, value)) = line.split_once(' ') {
            let _ = write!(out, "{name}{{{node}}} {value}");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
