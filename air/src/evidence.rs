//! AIR's execution evidence (contracts/engine-air.md AIR-008, AIR-009): the service the adapter
//! hosts for AIR (a bidirectional stream), the translation of AIR's records into our evidence
//! lines, and de-duplication by (session, sequence) with acks sent only after the line is out.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex};

use retrovue::engine::protocol::Evidence;
use tokio::sync::{mpsc, Notify};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::evidence_proto::evidence_from_air::Payload;
use crate::evidence_proto::execution_evidence_service_server::ExecutionEvidenceService;
use crate::evidence_proto::{EvidenceAckFromCore, EvidenceFromAir};
use crate::plan::{Planned, SegmentMeta};

/// Writes one evidence line to stderr and flushes it (ENGINE-005).
pub fn write_line(event: &Evidence) -> std::io::Result<()> {
    let mut err = std::io::stderr().lock();
    writeln!(err, "{}", event.to_line())?;
    err.flush()
}

/// Turns AIR's records into our evidence, using what the adapter noted when it sent each block.
#[derive(Debug, Default)]
pub struct Translator {
    metas: HashMap<(String, i32), SegmentMeta>,
    continuation_blocks: HashSet<String>,
    /// The segment on air: (event id, actual start), for the truncation at the end.
    open: Option<(String, i64)>,
}

impl Translator {
    /// Remembers a block given to AIR.
    pub fn register(&mut self, planned: &Planned) {
        if planned.continuation {
            self.continuation_blocks
                .insert(planned.plan.block_id.clone());
        }
        for (segment, meta) in planned.plan.segments.iter().zip(&planned.metas) {
            self.metas.insert(
                (planned.plan.block_id.clone(), segment.segment_index),
                meta.clone(),
            );
        }
    }

    fn meta(&self, block_id: &str, event_id: &str, index: Option<i32>) -> SegmentMeta {
        let found = match index {
            Some(i) => self.metas.get(&(block_id.to_string(), i)).cloned(),
            None => None,
        };
        found
            .or_else(|| {
                // SegmentEnd carries no index: find the segment by event id in its block.
                self.metas
                    .iter()
                    .filter(|((b, _), m)| b == block_id && m.event_id == event_id)
                    .min_by_key(|((_, i), _)| *i)
                    .map(|(_, m)| m.clone())
            })
            .unwrap_or(SegmentMeta {
                event_id: event_id.to_string(),
                continues: false,
                continuation: false,
                late: false,
            })
    }

    /// Our evidence for one record (none for Hello, BlockFence, ChannelTerminated and pads the
    /// adapter added).
    pub fn record(&mut self, record: &EvidenceFromAir) -> Vec<Evidence> {
        let mut out = Vec::new();
        match &record.payload {
            Some(Payload::BlockStart(start)) => {
                if !self.continuation_blocks.contains(&start.block_id) {
                    out.push(Evidence::BlockStarted {
                        block_id: start.block_id.clone(),
                        at: start.actual_start_utc_ms,
                    });
                }
            }
            Some(Payload::SegmentStart(start)) => {
                let meta = self.meta(&start.block_id, &start.event_id, Some(start.segment_index));
                if meta.event_id.is_empty() {
                    self.open = None;
                } else if meta.continuation
                    && self.open.as_ref().is_some_and(|(e, _)| *e == meta.event_id)
                {
                    // The second half of a split segment: it is already on air for us.
                } else {
                    self.open = Some((meta.event_id.clone(), start.actual_start_utc_ms));
                    out.push(Evidence::SegmentStarted {
                        event_id: meta.event_id,
                        at: start.actual_start_utc_ms,
                    });
                }
            }
            Some(Payload::SegmentEnd(end)) => {
                let meta = self.meta(&end.block_id, &end.event_id_ref, None);
                if meta.event_id.is_empty() || meta.continues {
                    return out;
                }
                let actual_start = match self.open.take() {
                    Some((event, at)) if event == meta.event_id => at,
                    _ => end.actual_start_utc_ms,
                };
                let actual_end = end.actual_end_utc_ms;
                let event_id = meta.event_id;
                let reason = if end.reason.is_empty() {
                    None
                } else {
                    Some(end.reason.clone())
                };
                out.push(match end.status.as_str() {
                    "SKIPPED" => Evidence::SegmentSkipped {
                        event_id,
                        reason: reason.unwrap_or_else(|| "skipped".into()),
                    },
                    "TRUNCATED" => Evidence::SegmentTruncated {
                        event_id,
                        actual_start,
                        actual_end,
                        reason: reason.unwrap_or_else(|| "truncated".into()),
                    },
                    _ if meta.late => Evidence::SegmentTruncated {
                        event_id,
                        actual_start,
                        actual_end,
                        reason: "late_feed".into(),
                    },
                    _ => Evidence::SegmentAired {
                        event_id,
                        actual_start,
                        actual_end,
                    },
                });
            }
            Some(Payload::Hello(_))
            | Some(Payload::BlockFence(_))
            | Some(Payload::ChannelTerminated(_))
            | None => {}
        }
        out
    }

    /// The segment still on air when the session ends is truncated at `at` (AIR sends it no
    /// SegmentEnd).
    pub fn finish(&mut self, at: i64, reason: &str) -> Vec<Evidence> {
        self.open
            .take()
            .map(|(event_id, actual_start)| Evidence::SegmentTruncated {
                event_id,
                actual_start,
                actual_end: at.max(actual_start),
                reason: reason.to_string(),
            })
            .into_iter()
            .collect()
    }
}

/// Which sequences of which sessions were written (AIR-009).
#[derive(Debug, Default)]
pub struct Dedup {
    sessions: HashMap<String, (u64, BTreeSet<u64>)>,
}

impl Dedup {
    /// The highest sequence `n` such that 1..=n were all written for `session`.
    pub fn watermark(&self, session: &str) -> u64 {
        self.sessions.get(session).map_or(0, |(w, _)| *w)
    }

    pub fn seen(&self, session: &str, sequence: u64) -> bool {
        self.sessions
            .get(session)
            .is_some_and(|(w, above)| sequence <= *w || above.contains(&sequence))
    }

    /// Records `sequence` as written and returns the new watermark.
    pub fn mark(&mut self, session: &str, sequence: u64) -> u64 {
        let (watermark, above) = self.sessions.entry(session.to_string()).or_default();
        if sequence > *watermark {
            above.insert(sequence);
        }
        while above.remove(&(*watermark + 1)) {
            *watermark += 1;
        }
        *watermark
    }
}

/// Everything the evidence streams share with the adapter's control loop.
#[derive(Debug, Default)]
pub struct EvidenceState {
    pub translator: Translator,
    pub dedup: Dedup,
    /// A ChannelTerminated arrived: (its time).
    pub terminated_at: Option<i64>,
    /// The adapter is finishing: nothing more is written.
    pub closed: bool,
}

/// Shared handle: the state plus a notification on every ChannelTerminated.
#[derive(Debug, Clone, Default)]
pub struct Evidences {
    pub state: Arc<Mutex<EvidenceState>>,
    pub terminated: Arc<Notify>,
}

impl Evidences {
    /// Handles one record: writes its lines once and returns the ack to send.
    pub fn handle(&self, record: &EvidenceFromAir) -> EvidenceAckFromCore {
        let session = record.playout_session_id.clone();
        let mut state = self.state.lock().expect("evidence state");
        let acked = match &record.payload {
            Some(Payload::Hello(_)) => state.dedup.watermark(&session),
            _ => {
                if !state.dedup.seen(&session, record.sequence) && !state.closed {
                    if let Some(Payload::ChannelTerminated(t)) = &record.payload {
                        state.terminated_at = Some(t.termination_utc_ms);
                        self.terminated.notify_waiters();
                    }
                    for line in state.translator.record(record) {
                        if let Err(error) = write_line(&line) {
                            return EvidenceAckFromCore {
                                channel_id: record.channel_id.clone(),
                                playout_session_id: session.clone(),
                                acked_sequence: state.dedup.watermark(&session),
                                error: format!("cannot write evidence: {error}"),
                            };
                        }
                    }
                    state.dedup.mark(&session, record.sequence)
                } else {
                    state.dedup.watermark(&session)
                }
            }
        };
        EvidenceAckFromCore {
            channel_id: record.channel_id.clone(),
            playout_session_id: session,
            acked_sequence: acked,
            error: String::new(),
        }
    }
}

#[tonic::async_trait]
impl ExecutionEvidenceService for Evidences {
    type EvidenceStreamStream = ReceiverStream<Result<EvidenceAckFromCore, Status>>;

    async fn evidence_stream(
        &self,
        request: Request<Streaming<EvidenceFromAir>>,
    ) -> Result<Response<Self::EvidenceStreamStream>, Status> {
        let mut inbound = request.into_inner();
        let (acks, receiver) = mpsc::channel(64);
        let evidences = self.clone();
        tokio::spawn(async move {
            while let Ok(Some(record)) = inbound.message().await {
                let ack = evidences.handle(&record);
                if acks.send(Ok(ack)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence_proto::{SegmentEnd, SegmentStart};

    fn start(seq: u64, event: &str, at: i64) -> EvidenceFromAir {
        EvidenceFromAir {
            playout_session_id: "PS-1".into(),
            sequence: seq,
            payload: Some(Payload::SegmentStart(SegmentStart {
                block_id: "0".into(),
                event_id: event.into(),
                actual_start_utc_ms: at,
                ..SegmentStart::default()
            })),
            ..EvidenceFromAir::default()
        }
    }

    fn end(seq: u64, event: &str, from: i64, to: i64, status: &str) -> EvidenceFromAir {
        EvidenceFromAir {
            playout_session_id: "PS-1".into(),
            sequence: seq,
            payload: Some(Payload::SegmentEnd(SegmentEnd {
                block_id: "0".into(),
                event_id_ref: event.into(),
                actual_start_utc_ms: from,
                actual_end_utc_ms: to,
                status: status.into(),
                ..SegmentEnd::default()
            })),
            ..EvidenceFromAir::default()
        }
    }

    // contract: AIR-008
    #[test]
    fn records_become_evidence_lines_with_actual_times() {
        let mut t = Translator::default();
        assert_eq!(
            t.record(&start(1, "e1", 100)),
            vec![Evidence::SegmentStarted {
                event_id: "e1".into(),
                at: 100
            }]
        );
        assert_eq!(
            t.record(&end(2, "e1", 100, 400, "AIRED")),
            vec![Evidence::SegmentAired {
                event_id: "e1".into(),
                actual_start: 100,
                actual_end: 400
            }]
        );
        assert!(matches!(
            t.record(&end(3, "e2", 400, 500, "TRUNCATED"))[0],
            Evidence::SegmentTruncated { .. }
        ));
        assert!(matches!(
            t.record(&end(4, "e3", 0, 0, "SKIPPED"))[0],
            Evidence::SegmentSkipped { .. }
        ));
        t.record(&start(5, "e4", 500));
        assert_eq!(
            t.finish(900, "stop"),
            vec![Evidence::SegmentTruncated {
                event_id: "e4".into(),
                actual_start: 500,
                actual_end: 900,
                reason: "stop".into()
            }]
        );
        assert!(t.finish(950, "stop").is_empty());
    }

    // contract: AIR-009
    #[test]
    fn dedup_keeps_a_contiguous_watermark_per_session() {
        let mut d = Dedup::default();
        assert_eq!(d.watermark("a"), 0);
        assert_eq!(d.mark("a", 1), 1);
        assert_eq!(d.mark("a", 3), 1, "a gap holds the watermark");
        assert!(d.seen("a", 3) && d.seen("a", 1) && !d.seen("a", 2));
        assert_eq!(d.mark("a", 2), 3);
        assert!(!d.seen("b", 1), "sessions are apart");
    }
}
