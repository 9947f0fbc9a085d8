//! HLS (HTTP-020..025): `/channel/{id}.m3u8`, the live media playlist of the channel's shared
//! engine, and `/channel/{id}/{seq}.ts`, its segments served from the daemon's memory. The
//! segments are cut by the runtime's segmenter (DAEMON-020); a GET here keeps the channel's HLS
//! viewer watching (HTTP-024). HEAD answers what GET would, without a body and without starting
//! anything (HTTP-025).

use std::sync::Arc;
use std::time::Duration;

use retrovue_core::manager::Answer;
use tiny_http::{Request, Response};

use super::stream::{elsewhere, refusal, refusal_of, respond_refusal};
use super::{base_url, header, text};
use crate::runtime::channel::Registry;
use crate::runtime::metrics::ChannelMetrics;
use crate::runtime::segmenter;
use crate::runtime::Shared;

/// How long a playlist GET waits for the first segment of a channel that has none (HTTP-020).
const FIRST_SEGMENT_WAIT: Duration = Duration::from_secs(3);

fn refuse(request: Request, answer: &Answer, channel: &str, log: bool) {
    let (status, body) = refusal(answer, channel);
    if log {
        // DAEMON-012: every refusal is said in the log, not only to the viewer.
        log::warn!("HLS {channel:?}: refused: {body}");
    }
    let _ = request.respond(text(status, &body));
}

pub fn serve_playlist(request: Request, shared: &Arc<Shared>, channel: &str, head: bool) {
    let Some(hls) = shared.hls.get(channel) else {
        return refuse(request, &Answer::NotFound, channel, !head);
    };
    if head {
        if let Some(owner) = elsewhere(shared, channel) {
            return respond_refusal(request, &owner, channel);
        }
        // Without a lease, what the GET's tune-in would answer, from the plan at now.
        if !hls.has_lease() {
            let answer = Registry::preview(shared, channel);
            if answer != Answer::Stream {
                return refuse(request, &answer, channel, false);
            }
        }
    } else {
        if let Err(refused) = segmenter::watch(shared, channel) {
            let (status, body) = refusal_of(&refused, channel);
            if status != 307 {
                // DAEMON-012: every refusal is said in the log, not only to the viewer.
                log::warn!("HLS {channel:?}: refused: {body}");
            }
            return respond_refusal(request, &refused, channel);
        }
        hls.wait_for_segment(FIRST_SEGMENT_WAIT);
    }
    let base = base_url(&request, shared);
    let body = hls
        .window()
        .playlist(|seq| format!("{base}/channel/{channel}/{seq}.ts"));
    let response = Response::from_string(body)
        .with_header(header("Content-Type", "application/vnd.apple.mpegurl"))
        .with_header(header("Cache-Control", PLAYLIST_CACHE_CONTROL));
    let _ = request.respond(response);
}

/// HTTP-020: a cache may answer a playlist for a second — under half a target duration, so a
/// player reloading it each target duration still sees it advance.
const PLAYLIST_CACHE_CONTROL: &str = "public, max-age=1";

/// HTTP-021: a segment URL never names two different segments (HTTP-022), so a cache may keep
/// one for the 8-segment window without revalidating it.
const SEGMENT_CACHE_CONTROL: &str = "public, max-age=16, immutable";

pub fn serve_segment(request: Request, shared: &Arc<Shared>, channel: &str, seq: u64, head: bool) {
    let Some(hls) = shared.hls.get(channel) else {
        return refuse(request, &Answer::NotFound, channel, false);
    };
    let Some(segment) = hls.window().segment(seq) else {
        // HTTP-040: the segments of a channel another node runs are there.
        if let Some(owner) = elsewhere(shared, channel) {
            return respond_refusal(request, &owner, channel);
        }
        let body = format!("404 segment {seq} of {channel:?} is not held (any more)");
        let _ = request.respond(text(404, &body));
        return;
    };
    if !head {
        // A fetch keeps the HLS viewer watching; a refusal now (say, a gap just began) does not
        // take back a segment already cut.
        if let Err(refused) = segmenter::watch(shared, channel) {
            log::debug!(
                "HLS {channel:?}: segment {seq} served, but the viewer could not join: {}",
                refusal_of(&refused, channel).1
            );
        }
        let metrics = shared.metrics.channel(channel);
        ChannelMetrics::add(&metrics.bytes_out, segment.data.len() as u64);
    }
    let len = segment.data.len();
    let response = Response::new(
        200.into(),
        vec![
            header("Content-Type", "video/mp2t"),
            header("Cache-Control", SEGMENT_CACHE_CONTROL),
        ],
        std::io::Cursor::new(segment.data),
        Some(len),
        None,
    )
    // A Content-Length, not chunks: the segment's size is known.
    .with_chunked_threshold(usize::MAX);
    let _ = request.respond(response);
}
