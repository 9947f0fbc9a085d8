//! ChannelManager contract tests (contracts/manager.md) and a proptest state-machine test that
//! runs the machine against a small reference model.

use std::collections::BTreeSet;

use proptest::prelude::*;
use retrovue_core::engine::{EngineEvidence, EngineExit, SegmentRef};
use retrovue_core::manager::{
    Action, Answer, ChannelManager, ChannelRegistry, ManagerConfig, Phase, PlaylogSource,
};
use retrovue_core::model::{EventKind, PlaylogEvent, UtcMs};
use retrovue_core::plan::{plan_at, PlanOutcome};

const MIN: i64 = 60_000;
/// 2026-03-02T11:00:00Z
const T0: UtcMs = 1_772_449_200_000;

/// A tiled playlog of 10-minute events over `hours` from T0, assets a0, a1, …
fn playlog(hours: i64) -> Vec<PlaylogEvent> {
    (0..hours * 6)
        .map(|k| PlaylogEvent {
            id: format!("ch:2026-03-02:{k:05}"),
            channel: "ch".into(),
            start: T0 + k * 10 * MIN,
            end: T0 + (k + 1) * 10 * MIN,
            kind: EventKind::Content,
            asset: Some(format!("a{k}")),
            in_point_ms: 0,
            item_start: None,
        })
        .collect()
}

struct Files {
    events: Vec<PlaylogEvent>,
    missing: BTreeSet<String>,
}

impl PlaylogSource for Files {
    fn events(&self) -> &[PlaylogEvent] {
        &self.events
    }
    fn asset_missing(&self, asset: &str) -> bool {
        self.missing.contains(asset)
    }
}

fn drain(m: &mut ChannelManager) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

fn manager() -> ChannelManager {
    ChannelManager::new("ch", ManagerConfig::default())
}

/// Join one viewer at `t` and bring the engine up; returns its session.
fn start(m: &mut ChannelManager, src: &[PlaylogEvent], t: UtcMs) -> u64 {
    m.handle_viewer_joined(t, 1, src);
    let session = m.session().expect("engine spawned");
    m.handle_engine_started(t, session);
    drain(m);
    session
}

#[test]
fn first_viewer_spawns_at_the_plan_for_now() {
    // contract: MGR-001
    let src = playlog(3);
    let mut m = manager();
    let join = T0 + 7 * MIN;
    m.handle_viewer_joined(join, 1, src.as_slice());
    let actions = drain(&mut m);
    let Action::SpawnEngine {
        join_at, blocks, ..
    } = &actions[0]
    else {
        panic!("expected a spawn, got {actions:?}");
    };
    assert_eq!(*join_at, join);
    let spawned: Vec<_> = blocks.iter().flat_map(|b| b.segments.clone()).collect();
    let PlanOutcome::Plan(plan) = plan_at(&src, join, blocks.last().unwrap().end, |_| false) else {
        panic!("plan");
    };
    assert_eq!(spawned, plan);
    assert_eq!(spawned[0].in_point_ms, 7 * MIN);
    // The answer waits for the engine's output (MGR-011).
    assert_eq!(actions.len(), 1, "{actions:?}");
    let Action::SpawnEngine { session, .. } = actions[0] else {
        unreachable!()
    };
    m.handle_engine_started(join + 200, session);
    assert_eq!(
        drain(&mut m),
        vec![Action::AnswerViewer {
            viewer: 1,
            answer: Answer::Stream
        }]
    );
}

#[test]
fn a_first_spawn_without_output_is_refused_within_the_answer_timeout() {
    // contract: MGR-011
    let src = playlog(3);
    let mut m = manager();
    m.handle_viewer_joined(T0, 1, src.as_slice());
    let session = m.session().unwrap();
    drain(&mut m);
    // A second viewer joining meanwhile waits too.
    m.handle_viewer_joined(T0 + 1_000, 2, src.as_slice());
    assert!(drain(&mut m).is_empty());
    assert_eq!(m.poll_timeout(), Some(T0 + 3_000));
    m.handle_timeout(T0 + 3_000, src.as_slice());
    let actions = drain(&mut m);
    assert!(
        matches!(&actions[0], Action::StopEngine { session: s, reason } if *s == session && reason == "start timeout"),
        "{actions:?}"
    );
    let refused: Vec<u64> = actions
        .iter()
        .filter_map(|a| match a {
            Action::AnswerViewer {
                viewer,
                answer: Answer::Unavailable { reason },
            } if reason == "start timeout" => Some(*viewer),
            _ => None,
        })
        .collect();
    assert_eq!(refused, vec![1, 2]);
    assert_eq!(
        Answer::Unavailable { reason: "x".into() }.http_status(),
        503
    );
    assert!(m.viewers().is_empty());
    assert_eq!(m.phase(), &Phase::Idle);
    // An engine that dies before any output: refused at once with its reason.
    m.handle_viewer_joined(T0 + 5_000, 3, src.as_slice());
    let session = m.session().unwrap();
    drain(&mut m);
    let exit = EngineExit::Crashed {
        reason: "ffmpeg not found".into(),
    };
    m.handle_engine_exited(T0 + 5_050, session, &exit);
    assert!(drain(&mut m).contains(&Action::AnswerViewer {
        viewer: 3,
        answer: Answer::Unavailable {
            reason: "ffmpeg not found".into()
        }
    }));
    assert_eq!(m.phase(), &Phase::Idle);
}

#[test]
fn later_viewers_share_the_engine() {
    // contract: MGR-002
    let src = playlog(3);
    let mut m = manager();
    start(&mut m, &src, T0);
    m.handle_viewer_joined(T0 + MIN, 2, src.as_slice());
    let actions = drain(&mut m);
    assert_eq!(
        actions,
        vec![Action::AnswerViewer {
            viewer: 2,
            answer: Answer::Stream
        }]
    );
    assert_eq!(m.stats().engine_starts, 1);
}

#[test]
fn last_viewer_out_lingers_then_stops() {
    // contract: MGR-003
    let src = playlog(3);
    let mut m = manager();
    let session = start(&mut m, &src, T0);
    m.handle_viewer_left(T0 + MIN, 1);
    assert_eq!(m.poll_timeout(), Some(T0 + MIN + 5_000));
    // A flip back within the linger: nothing restarts.
    m.handle_viewer_joined(T0 + MIN + 3_000, 2, src.as_slice());
    assert!(matches!(drain(&mut m)[..], [Action::AnswerViewer { .. }]));
    assert_eq!(m.session(), Some(session));
    m.handle_viewer_left(T0 + 2 * MIN, 2);
    m.handle_timeout(T0 + 2 * MIN + 5_000, src.as_slice());
    let actions = drain(&mut m);
    assert!(matches!(&actions[0], Action::StopEngine { session: s, .. } if *s == session));
    assert_eq!(m.phase(), &Phase::Idle);
    // The stopped session's exit is ignored.
    m.handle_engine_exited(T0 + 3 * MIN, session, &EngineExit::Ended);
    assert!(drain(&mut m).is_empty());
}

#[test]
fn decisions_404_500_503() {
    // contract: MGR-004
    let mut registry = ChannelRegistry::new();
    registry.insert(manager());
    assert_eq!(registry.route("nope").unwrap_err(), Answer::NotFound);
    assert_eq!(Answer::NotFound.http_status(), 404);
    let m = registry.route("ch").unwrap();
    let files = Files {
        events: playlog(1),
        missing: BTreeSet::from(["a0".to_string()]),
    };
    m.handle_viewer_joined(T0 + MIN, 1, &files);
    let actions = drain(m);
    let answer = Action::AnswerViewer {
        viewer: 1,
        answer: Answer::AssetMissing { asset: "a0".into() },
    };
    assert_eq!(actions, vec![answer]);
    assert_eq!(
        Answer::AssetMissing { asset: "a0".into() }.http_status(),
        500
    );
    // After the playlog ends: a gap.
    m.handle_viewer_joined(T0 + 2 * 60 * MIN, 2, &files);
    let actions = drain(m);
    assert_eq!(
        actions,
        vec![Action::AnswerViewer {
            viewer: 2,
            answer: Answer::Gap
        }]
    );
    assert_eq!(Answer::Gap.http_status(), 503);
    assert!(m.viewers().is_empty());
    assert_eq!(m.phase(), &Phase::Idle);
}

#[test]
fn the_engine_is_fed_ahead_with_abutting_blocks() {
    // contract: MGR-005
    let src = playlog(3);
    let mut m = manager();
    m.handle_viewer_joined(T0 + 25 * MIN, 1, src.as_slice());
    let Action::SpawnEngine {
        session, blocks, ..
    } = drain(&mut m).remove(0)
    else {
        panic!("spawn");
    };
    m.handle_engine_started(T0 + 25 * MIN, session);
    let mut fed_until = blocks.last().unwrap().end;
    assert!(fed_until >= T0 + 25 * MIN + 30_000);
    let mut t = T0 + 25 * MIN;
    while t < T0 + 2 * 60 * MIN {
        let previous = t;
        t = m.poll_timeout().unwrap();
        assert!(
            t <= fed_until - 30_000,
            "fed no later than feed-ahead before the end"
        );
        // The engine reports every segment that ended by now.
        for e in src.iter().filter(|e| e.end <= t && e.end > previous) {
            let seg = retrovue_core::plan::Segment::from_event(e);
            m.handle_engine_evidence(
                t,
                session,
                &EngineEvidence::SegmentAired {
                    segment: SegmentRef::of(&seg),
                    start: e.start,
                    end: e.end,
                },
            );
        }
        m.handle_timeout(t, src.as_slice());
        for action in drain(&mut m) {
            if let Action::FeedBlock { block, .. } = action {
                assert_eq!(block.segments[0].start, fed_until);
                fed_until = block.end;
            }
        }
    }
    assert_eq!(m.session(), Some(session), "no stall was detected");
}

#[test]
fn crash_backoff_doubles_and_gives_up() {
    // contract: MGR-006
    let src = playlog(3);
    let mut m = manager();
    let mut session = start(&mut m, &src, T0);
    let mut t = T0 + MIN;
    let mut waits = Vec::new();
    loop {
        m.handle_engine_exited(
            t,
            session,
            &EngineExit::Crashed {
                reason: "boom".into(),
            },
        );
        let actions = drain(&mut m);
        if let Some(Action::CloseViewers { viewers, .. }) = actions
            .iter()
            .find(|a| matches!(a, Action::CloseViewers { .. }))
        {
            assert_eq!(viewers, &vec![1]);
            break;
        }
        let until = m.poll_timeout().unwrap();
        waits.push(until - t);
        m.handle_timeout(until, src.as_slice());
        let actions = drain(&mut m);
        let Action::SpawnEngine {
            join_at,
            blocks,
            restart,
            ..
        } = &actions[0]
        else {
            panic!("restart expected, got {actions:?}");
        };
        assert!(*restart);
        // Resumes at the right offset for the new now.
        assert_eq!(*join_at, until);
        assert_eq!(blocks[0].segments[0].start, until);
        session = m.session().unwrap();
        t = until;
    }
    assert_eq!(waits, vec![500, 1_000, 2_000, 4_000, 8_000]);
    assert_eq!(m.phase(), &Phase::Idle);
    assert_eq!(m.stats().restarts, 5);
}

#[test]
fn crash_while_lingering_does_not_restart() {
    // contract: MGR-007
    let src = playlog(3);
    let mut m = manager();
    let session = start(&mut m, &src, T0);
    m.handle_viewer_left(T0 + MIN, 1);
    m.handle_engine_exited(T0 + MIN + 1_000, session, &EngineExit::Ended);
    let actions = drain(&mut m);
    assert!(actions
        .iter()
        .all(|a| !matches!(a, Action::SpawnEngine { .. })));
    assert_eq!(m.phase(), &Phase::Idle);
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn start_timeout_and_stall_are_treated_as_crashes() {
    // contract: MGR-008
    let src = playlog(3);
    let mut m = manager();
    let first = start(&mut m, &src, T0);
    // A crash under a watching viewer: the restart that never comes up times out after the
    // start timeout (10 s) and is treated as a crash.
    let exit = EngineExit::Crashed { reason: "x".into() };
    m.handle_engine_exited(T0 + 1_000, first, &exit);
    let restart_at = m.poll_timeout().unwrap();
    m.handle_timeout(restart_at, src.as_slice());
    let session = m.session().unwrap();
    drain(&mut m);
    m.handle_timeout(restart_at + 10_000, src.as_slice());
    let actions = drain(&mut m);
    assert!(
        matches!(&actions[0], Action::StopEngine { session: s, reason } if *s == session && reason == "start timeout")
    );
    assert!(matches!(m.phase(), Phase::Backoff { .. }));
    // Restart, come up, then go silent: the first segment's evidence is due at its end.
    let until = m.poll_timeout().unwrap();
    m.handle_timeout(until, src.as_slice());
    let session = m.session().unwrap();
    m.handle_engine_started(until, session);
    drain(&mut m);
    let first_end = T0 + 10 * MIN;
    // The watchdog (first segment's end + grace) comes before the next feed.
    assert_eq!(m.poll_timeout(), Some(first_end.max(until) + 10_000));
    let mut t = until;
    while m.session() == Some(session) {
        t = m.poll_timeout().unwrap();
        m.handle_timeout(t, src.as_slice());
    }
    assert_eq!(t, first_end.max(until) + 10_000);
    assert!(drain(&mut m)
        .iter()
        .any(|a| matches!(a, Action::StopEngine { reason, .. } if reason == "stalled")));
}

#[test]
fn idle_manager_has_no_deadline() {
    // contract: MGR-009
    let m = manager();
    assert_eq!(m.poll_timeout(), None);
}

/// Operations the property test applies.
#[derive(Debug, Clone)]
enum Op {
    Join(u64),
    Leave(u64),
    Wait(i64),
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..4).prop_map(Op::Join),
        (0u64..4).prop_map(Op::Leave),
        (1i64..20_000).prop_map(Op::Wait),
        Just(Op::Crash),
    ]
}

/// The reference model: who watches, whether an engine should be held, and until when it may
/// linger or back off.
#[derive(Debug, Default)]
struct Model {
    viewers: BTreeSet<u64>,
    held: bool,
    linger_until: Option<UtcMs>,
    backoff_until: Option<UtcMs>,
    failures: u32,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn manager_follows_the_reference_model(ops in proptest::collection::vec(op(), 1..60)) {
        // contract: MGR-002
        // contract: MGR-003
        // contract: MGR-006
        let config = ManagerConfig::default();
        let src = playlog(12);
        let mut m = ChannelManager::new("ch", config.clone());
        let mut model = Model::default();
        let mut now = T0;
        // The running engine: (session, when it came up).
        let mut engine: Option<(u64, UtcMs)> = None;
        let mut spawns = 0u64;
        // Deliver every deadline up to `until`, keeping the simulated engine in step.
        let settle = |m: &mut ChannelManager, model: &mut Model, engine: &mut Option<(u64, UtcMs)>,
                          spawns: &mut u64, until: UtcMs| {
            while let Some(t) = m.poll_timeout().filter(|t| *t <= until) {
                m.handle_timeout(t, src.as_slice());
                if model.linger_until.is_some_and(|l| t >= l) && model.viewers.is_empty() {
                    model.held = false;
                    model.linger_until = None;
                }
                if model.backoff_until.is_some_and(|b| t >= b) {
                    model.backoff_until = None;
                }
                let actions: Vec<Action> = std::iter::from_fn(|| m.poll_action()).collect();
                for a in actions {
                    match a {
                        Action::SpawnEngine { session, .. } => {
                            *engine = Some((session, t));
                            *spawns += 1;
                            m.handle_engine_started(t, session);
                        }
                        Action::StopEngine { .. } => *engine = None,
                        _ => {}
                    }
                }
            }
        };
        for op in ops {
            match op {
                Op::Join(v) => {
                    m.handle_viewer_joined(now, v, src.as_slice());
                    model.viewers.insert(v);
                    model.linger_until = None;
                    model.held = true;
                }
                Op::Leave(v) => {
                    m.handle_viewer_left(now, v);
                    if model.viewers.remove(&v) && model.viewers.is_empty() {
                        if model.backoff_until.is_some() {
                            model.held = false;
                            model.backoff_until = None;
                        } else if model.held {
                            model.linger_until = Some(now + config.linger_ms);
                        }
                    }
                }
                Op::Wait(ms) => {
                    settle(&mut m, &mut model, &mut engine, &mut spawns, now + ms);
                    now += ms;
                }
                Op::Crash => {
                    if let Some((session, started_at)) = engine.take() {
                        m.handle_engine_exited(now, session, &EngineExit::Crashed { reason: "x".into() });
                        if now - started_at >= config.stable_ms {
                            model.failures = 0;
                        }
                        if model.viewers.is_empty() {
                            model.held = false;
                            model.linger_until = None;
                        } else {
                            model.failures += 1;
                            if model.failures > config.max_restarts {
                                model.viewers.clear();
                                model.held = false;
                                model.failures = 0;
                            } else {
                                model.backoff_until = Some(now + config.backoff_ms(model.failures));
                            }
                        }
                    }
                }
            }
            let actions: Vec<Action> = std::iter::from_fn(|| m.poll_action()).collect();
            for a in actions {
                match a {
                    Action::SpawnEngine { session, .. } => {
                        prop_assert!(engine.is_none(), "at most one engine");
                        engine = Some((session, now));
                        spawns += 1;
                        m.handle_engine_started(now, session);
                    }
                    Action::StopEngine { .. } => engine = None,
                    Action::AnswerViewer { answer, .. } => prop_assert_eq!(answer, Answer::Stream),
                    _ => {}
                }
            }
            prop_assert_eq!(m.viewers(), &model.viewers);
            prop_assert_eq!(m.is_active(), model.held, "held engine: {:?}", m.phase());
            let backing_off = matches!(m.phase(), Phase::Backoff { .. });
            prop_assert_eq!(backing_off, model.backoff_until.is_some());
            if !model.viewers.is_empty() && !backing_off {
                prop_assert!(engine.is_some(), "viewers watch a running engine");
            }
            prop_assert_eq!(m.stats().engine_starts, spawns);
        }
    }
}

#[test]
fn a_schedule_gap_takes_the_channel_off_the_air() {
    // contract: MGR-010
    // Content 11:00–12:00, a fault day's gap 12:00–13:00, content again 13:00–14:00.
    let mut src = playlog(3);
    src.retain(|e| !(T0 + 60 * MIN..T0 + 120 * MIN).contains(&e.start));
    // No evidence is delivered here, so keep the stall watchdog out of the way.
    let config = ManagerConfig {
        stall_grace_ms: 24 * 60 * MIN,
        ..ManagerConfig::default()
    };
    let mut m = ChannelManager::new("ch", config);
    let session = start(&mut m, &src, T0 + 30 * MIN);
    // Fed up to the gap, never past it; the next deadline is the gap's start at the latest.
    let mut t = T0 + 30 * MIN;
    let mut off_air = Vec::new();
    while t < T0 + 61 * MIN {
        t = m.poll_timeout().expect("running").max(t);
        m.handle_timeout(t, src.as_slice());
        let actions = drain(&mut m);
        for action in &actions {
            if let Action::FeedBlock { block, .. } = action {
                assert!(block.end <= T0 + 60 * MIN, "fed into the gap: {block:?}");
            }
        }
        if actions
            .iter()
            .any(|a| matches!(a, Action::StopEngine { .. }))
        {
            off_air = actions;
            break;
        }
    }
    assert_eq!(t, T0 + 60 * MIN, "off the air exactly at the gap");
    assert!(off_air.contains(&Action::StopEngine {
        session,
        reason: "schedule gap: off the air".into()
    }));
    assert!(off_air
        .iter()
        .any(|a| matches!(a, Action::CloseViewers { viewers, .. } if viewers == &vec![1])));
    assert_eq!(m.phase(), &Phase::Idle);
    assert!(m.viewers().is_empty());
    // During the gap a tune-in is a 503; once content resumes it streams again.
    m.handle_viewer_joined(T0 + 90 * MIN, 2, src.as_slice());
    assert!(drain(&mut m).contains(&Action::AnswerViewer {
        viewer: 2,
        answer: Answer::Gap
    }));
    m.handle_viewer_joined(T0 + 125 * MIN, 3, src.as_slice());
    assert!(drain(&mut m)
        .iter()
        .any(|a| matches!(a, Action::SpawnEngine { join_at, .. } if *join_at == T0 + 125 * MIN)));
}
