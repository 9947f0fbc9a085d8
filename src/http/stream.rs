//! `GET /channel/{id}.ts` (HTTP-002, HTTP-003): tune the viewer in through the registry, then
//! copy its queue to the socket — chunked for HTTP/1.1, flushed chunk by chunk so the first
//! packets leave at once — until either side goes away.

use std::io::Write;
use std::sync::Arc;

use retrovue_core::manager::Answer;
use tiny_http::{HTTPVersion, Request};

use super::text;
use crate::runtime::channel::{Refusal, Registry};
use crate::runtime::cluster::lease_of;
use crate::runtime::metrics::ChannelMetrics;
use crate::runtime::Shared;

/// The one-line reason of a refusal.
pub fn refusal(answer: &Answer, channel: &str) -> (u16, String) {
    let status = answer.http_status();
    let why = match answer {
        Answer::NotFound => format!("unknown channel {channel:?}"),
        Answer::AssetMissing { asset } => {
            format!("asset {asset:?} file is missing; playout not started")
        }
        Answer::Gap => format!("schedule gap: nothing is scheduled on {channel:?} now"),
        Answer::Unavailable { reason } => {
            format!("channel {channel:?} is unavailable: its engine could not start: {reason}")
        }
        Answer::Stream => "stream".to_string(),
    };
    (status, format!("{status} {why}"))
}

/// The status and one-line reason of a refused tune-in (HTTP-003, HTTP-040, HTTP-042).
pub fn refusal_of(refused: &Refusal, channel: &str) -> (u16, String) {
    match refused {
        Refusal::Answer(answer) => refusal(answer, channel),
        Refusal::Elsewhere { node, url } => (
            307,
            format!("307 channel {channel:?} runs on node {node} ({url})"),
        ),
        Refusal::Cluster(reason) => (503, format!("503 channel {channel:?}: {reason}")),
    }
}

/// Answer a refused tune-in: a redirect to the owner (HTTP-040: its advertised URL + the same
/// path and query), else the status and reason as text.
pub fn respond_refusal(request: Request, refused: &Refusal, channel: &str) {
    let (status, body) = refusal_of(refused, channel);
    let mut response = text(status, &body);
    if let Refusal::Elsewhere { url, .. } = refused {
        let location = format!("{url}{}", request.url().trim_start_matches('/'));
        response = response.with_header(super::header("Location", &location));
    }
    let _ = request.respond(response);
}

/// HTTP-040: in cluster mode, a channel this node does not run and another live node does: that
/// node and its advertised URL (a read; nothing is taken).
pub fn elsewhere(shared: &Shared, channel: &str) -> Option<Refusal> {
    let cluster = shared.cluster()?;
    if shared.registry.is_active(channel) {
        return None;
    }
    cluster
        .owner_elsewhere(&lease_of(channel))
        .map(|(node, url)| Refusal::Elsewhere { node, url })
}

/// The head of a stream answer (HTTP-002), the same for GET and HEAD (HTTP-025).
fn stream_head(chunked: bool) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nCache-Control: no-cache, no-store\r\n\
         Pragma: no-cache\r\nConnection: close\r\n{}\r\n",
        if chunked {
            "Transfer-Encoding: chunked\r\n"
        } else {
            ""
        }
    )
}

pub fn serve_stream(request: Request, shared: &Arc<Shared>, channel: &str, head: bool) {
    let chunked = *request.http_version() >= HTTPVersion(1, 1);
    if head {
        if let Some(owner) = elsewhere(shared, channel) {
            return respond_refusal(request, &owner, channel);
        }
        // HTTP-025: what a GET would answer, decided from the plan at now; nothing starts.
        match Registry::preview(shared, channel) {
            Answer::Stream => {
                let mut out = request.into_writer();
                let _ = out
                    .write_all(stream_head(chunked).as_bytes())
                    .and_then(|_| out.flush());
            }
            answer => {
                let (status, body) = refusal(&answer, channel);
                let _ = request.respond(text(status, &body));
            }
        }
        return;
    }
    let stream = match Registry::tune_in(shared, channel) {
        Ok(stream) => stream,
        Err(refused) => {
            let (status, body) = refusal_of(&refused, channel);
            // DAEMON-012: every refusal is said in the log, not only to the viewer; a redirect
            // to the owner is no failure.
            if status == 307 {
                log::debug!("tune-in {channel:?}: {body}");
            } else {
                log::warn!("tune-in {channel:?}: refused: {body}");
            }
            return respond_refusal(request, &refused, channel);
        }
    };
    let metrics = shared.metrics.channel(channel);
    let mut out = request.into_writer();
    if out.write_all(stream_head(chunked).as_bytes()).is_err() {
        return;
    }
    for chunk in stream.chunks.iter() {
        let written = if chunked {
            write!(out, "{:x}\r\n", chunk.len())
                .and_then(|_| out.write_all(&chunk))
                .and_then(|_| out.write_all(b"\r\n"))
        } else {
            out.write_all(&chunk)
        };
        if written.and_then(|_| out.flush()).is_err() {
            break;
        }
        ChannelMetrics::add(&metrics.bytes_out, chunk.len() as u64);
    }
    if chunked {
        let _ = out.write_all(b"0\r\n\r\n").and_then(|_| out.flush());
    }
    drop(stream);
}
