//! The horizon keeper thread (HORIZON-001..008, DAEMON-001): drives the core's `HorizonKeeper` with the
//! system clock, builds and stores ScheduleDays through the store, and publishes each channel's
//! playlog and guide rows for the ChannelManager threads and the HTTP side.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use retrovue_core::horizon::{known_until, HorizonAction, HorizonKeeper};
use retrovue_core::invariants::check_snapshot;
use retrovue_core::model::{Catalog, Channel, UtcMs, MS_PER_MINUTE};
use retrovue_core::time::ChannelClock;

use super::cluster::{Cluster, LeaseGuard, Placement};
use super::{ChannelSchedule, ServeConfig, Shared};
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::build::build_and_store;
use crate::store::cluster::KEEPER_LEASE;
use crate::store::media_check::vanished_media;
use crate::store::{self, Store};

/// The keeper thread; `stop` ends and joins it.
pub struct KeeperHandle {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl KeeperHandle {
    pub fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

/// How far back the published playlog and guide reach (a join needs the current event).
const BEHIND_MS: UtcMs = 60 * MS_PER_MINUTE;
/// Re-publish at least this often, so past events are let go.
const REFRESH_MS: UtcMs = 10 * MS_PER_MINUTE;
/// A read-only keeper (cluster mode, HORIZON-009) reloads what is stored this often.
const FOLLOW_REFRESH: Duration = Duration::from_secs(30);

struct Keeper {
    store: Box<dyn Store>,
    catalog: Catalog,
    channels: Vec<Channel>,
    keeper: HorizonKeeper,
    build: bool,
    shared: Arc<Shared>,
    /// `serve` may build (no `--no-build`); in cluster mode only under the keeper lease.
    may_build: bool,
    cluster: Option<Arc<Cluster>>,
    /// The keeper lease while this node holds it (HORIZON-009).
    lease: Option<LeaseGuard>,
    /// Last logged role (true: building), so a role change is logged once.
    leading: Option<bool>,
}

impl Keeper {
    /// Cluster mode: keep or take the keeper lease; build only under it (HORIZON-009/010).
    fn try_lead(&mut self) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        if self.lease.as_ref().is_some_and(|g| !g.held()) {
            self.lease = None;
            log::warn!("horizon keeper: lost the keeper lease; read-only from now on");
            self.leading = Some(false);
        }
        let mut holder = None;
        if self.lease.is_none() {
            match cluster.claim(KEEPER_LEASE) {
                Placement::Here(guard) => {
                    log::info!(
                        "horizon keeper: took the keeper lease (token {})",
                        guard.token()
                    );
                    self.lease = Some(guard);
                }
                Placement::Elsewhere { node, .. } => holder = Some(node),
                Placement::Unavailable(why) => holder = Some(format!("nobody now: {why}")),
            }
        }
        let leading = self.lease.is_some();
        if !leading && self.leading != Some(false) {
            log::info!(
                "horizon keeper: read-only (keeper lease held by {}): serving the stored days",
                holder.unwrap_or_default()
            );
        }
        self.leading = Some(leading);
        self.build = self.may_build && leading;
    }

    /// One clock threshold: carry out what the keeper machine asks; failures go back to it
    /// (HORIZON-005), so nothing is lost and nothing is retried here.
    fn tick(&mut self, now: UtcMs) {
        self.keeper.handle_tick(now);
        let mut touched = BTreeSet::new();
        while let Some(action) = self.keeper.poll_action() {
            match action {
                HorizonAction::BuildDays {
                    channel,
                    from,
                    days,
                } => {
                    if self.build {
                        let Some(ch) = self.channels.iter().find(|c| c.id == channel) else {
                            continue;
                        };
                        match build_and_store(
                            self.store.as_mut(),
                            &self.catalog,
                            ch,
                            from,
                            days,
                            0,
                            now,
                            |_| {},
                        ) {
                            Ok(built) => log::info!(
                                "built {} ScheduleDays of {channel} from {from}",
                                built.len()
                            ),
                            Err(e) => {
                                self.failed(&channel, &format!("building days from {from}: {e}"));
                                self.keeper.handle_build_failed(&channel, now);
                                continue;
                            }
                        }
                    }
                    let through = from + chrono::Days::new(days.saturating_sub(1) as u64);
                    self.keeper.handle_days_built(&channel, through);
                    touched.insert(channel);
                }
                HorizonAction::ExtendPlaylog { channel, until } => {
                    match self.publish(&channel, now, until) {
                        Ok(covered) => {
                            self.keeper
                                .handle_playlog_extended(&channel, covered.min(until));
                            touched.remove(&channel);
                        }
                        Err(e) => {
                            self.failed(&channel, &format!("publishing: {e}"));
                            self.keeper.handle_publish_failed(&channel, now);
                        }
                    }
                }
            }
        }
        for channel in touched {
            let until = self.keeper.playlog_until(&channel).unwrap_or(now);
            if let Err(e) = self.publish(&channel, now, until) {
                self.failed(&channel, &format!("publishing: {e}"));
                self.keeper.handle_publish_failed(&channel, now);
            }
        }
        self.report_health(now);
    }

    fn failed(&self, channel: &str, what: &str) {
        log::error!("horizon keeper: channel {channel}: {what}; retrying with backoff");
        self.shared
            .metrics
            .keeper_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Share which horizons are behind, for `/healthz` (HORIZON-007).
    fn report_health(&self, now: UtcMs) {
        let behind: BTreeMap<String, String> = self
            .channels
            .iter()
            .filter_map(|c| {
                self.keeper
                    .behind(&c.id, now)
                    .map(|why| (c.id.clone(), why))
            })
            .collect();
        *self.shared.health.lock().unwrap_or_else(|e| e.into_inner()) = behind;
        self.shared
            .metrics
            .keeper_retries
            .store(self.keeper.stats().retries as i64, Ordering::Relaxed);
    }

    /// Load a channel's playlog `[now − 1 h, until)` and guide from the store, check them
    /// (HORIZON-008) and publish them.
    fn publish(&mut self, channel: &str, now: UtcMs, until: UtcMs) -> AppResult<UtcMs> {
        let Some(ch) = self.channels.iter().find(|c| c.id == channel) else {
            return Ok(now);
        };
        let events = self
            .store
            .playlog(channel, now - BEHIND_MS, until.max(now))?;
        let clock = ChannelClock::of(ch);
        let today = clock.broadcast_date(now);
        let from = today.pred_opt().unwrap_or(today);
        let to = today + chrono::Days::new(self.keeper.config().days_ahead as u64 + 1);
        let days: Vec<_> = self
            .store
            .current_days(channel, from, to)?
            .into_iter()
            .map(|d| d.day)
            .collect();
        let days_ahead = days.iter().filter(|d| d.date >= today).count() as u32;
        let mut epg = retrovue_core::epg::epg_rows(ch, &days);
        epg.retain(|r| r.end > now - BEHIND_MS);
        let covered = events.last().map_or(now, |e| e.end);
        let known_until = known_until(&days, now, until.max(now));
        // Guide = playlog over what both cover of the published window.
        let check_from = (now - BEHIND_MS)
            .max(events.first().map_or(now, |e| e.start))
            .max(epg.first().map_or(now, |r| r.start));
        let check_to = known_until.min(covered);
        let violations = if check_from < check_to {
            check_snapshot(&events, &epg, check_from, check_to)
        } else {
            Vec::new()
        };
        if !violations.is_empty() {
            for v in &violations {
                log::error!(
                    "horizon keeper: channel {channel}: invariant {} violated at {}: {}",
                    v.invariant,
                    retrovue_core::time::fmt_utc(v.at),
                    v.detail
                );
            }
            self.shared
                .metrics
                .invariant_violations
                .fetch_add(violations.len() as u64, Ordering::Relaxed);
            self.shared
                .violations
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(channel.to_string(), violations[0].detail.clone());
        }
        self.shared.publish_schedule(
            channel,
            ChannelSchedule {
                events,
                epg,
                days_ahead,
                known_until,
            },
        );
        Ok(covered)
    }

    /// Stored unaired days naming media whose files are gone are rebuilt without them
    /// (DAEMON-009): the catalog is reloaded, assets whose files are missing are left out,
    /// and the keeper machine asks for the days again.
    fn rebuild_vanished(&mut self, now: UtcMs) {
        if !self.build {
            return;
        }
        let mut found = Vec::new();
        for ch in &self.channels {
            match vanished_media(self.store.as_mut(), Some(&ch.id), now) {
                Ok(days) => found.extend(days),
                Err(e) => log::warn!("horizon keeper: checking media of {}: {e}", ch.id),
            }
        }
        if found.is_empty() {
            return;
        }
        match load_playable_catalog(self.store.as_mut()) {
            Ok(catalog) => self.catalog = catalog,
            Err(e) => {
                log::warn!("horizon keeper: reloading the catalog: {e}");
                return;
            }
        }
        for day in found {
            log::warn!(
                "channel {}: stored day {} names vanished media ({}); rebuilding it",
                day.channel,
                day.date,
                day.assets
                    .iter()
                    .map(|a| format!("{} {}", a.asset, a.problem))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.keeper.handle_rebuild(&day.channel, day.date);
        }
        self.tick(now);
    }

    fn refresh_all(&mut self, now: UtcMs) {
        self.rebuild_vanished(now);
        let ids: Vec<String> = self.channels.iter().map(|c| c.id.clone()).collect();
        for id in ids {
            let until = self.keeper.playlog_until(&id).unwrap_or(now);
            if let Err(e) = self.publish(&id, now, until) {
                self.failed(&id, &format!("publishing: {e}"));
                self.keeper.handle_publish_failed(&id, now);
            }
        }
        self.report_health(now);
    }
}

/// The stored catalog, with assets whose files are missing left out of scheduling
/// (DAEMON-009): the keeper never builds a day around a file it cannot play.
fn load_playable_catalog(store: &mut dyn Store) -> AppResult<Catalog> {
    let mut catalog = store.load_catalog()?;
    for asset in catalog.assets.values_mut() {
        if asset
            .path
            .as_deref()
            .is_some_and(|p| !Path::new(p).is_file())
        {
            log::warn!(
                "asset {}: file {} is missing; it is left out of new ScheduleDays",
                asset.id,
                asset.path.as_deref().unwrap_or("")
            );
            asset.deleted = true;
        }
    }
    Ok(catalog)
}

/// Start the keeper: its first tick (build and publish everything) completes before this
/// returns, so the daemon serves a full horizon from its first request.
pub fn spawn_keeper(config: &ServeConfig, shared: Arc<Shared>) -> AppResult<KeeperHandle> {
    let (ready_tx, ready_rx) = crossbeam_channel::bounded::<AppResult<()>>(1);
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    let db_url = config.db_url.clone();
    let horizon = config.horizon.clone();
    let build = config.build;
    let thread = std::thread::Builder::new()
        .name("horizon-keeper".into())
        .spawn(move || {
            let keeper = store::open(&db_url)
                .map_err(AppError::from)
                .and_then(|mut store| {
                    let catalog = load_playable_catalog(store.as_mut())?;
                    let now = now_ms();
                    let mut keeper = HorizonKeeper::new(horizon);
                    for ch in &shared.channels {
                        let clock = ChannelClock::of(ch);
                        let today = clock.broadcast_date(now);
                        // Yesterday too: its carry-over may still be on air.
                        let first = today.pred_opt().unwrap_or(today);
                        keeper.add_channel(&ch.id, clock, first, None, None);
                    }
                    let mut k = Keeper {
                        store,
                        catalog,
                        channels: shared.channels.clone(),
                        keeper,
                        build,
                        cluster: shared.cluster().cloned(),
                        shared: Arc::clone(&shared),
                        may_build: build,
                        lease: None,
                        leading: None,
                    };
                    k.try_lead();
                    k.tick(now);
                    k.rebuild_vanished(now);
                    Ok(k)
                });
            let mut keeper = match keeper {
                Ok(k) => {
                    let _ = ready_tx.send(Ok(()));
                    k
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            run_loop(&mut keeper, &stop_rx);
        })
        .map_err(|e| AppError::runtime(format!("cannot start the horizon keeper: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(KeeperHandle {
            stop: stop_tx,
            thread,
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(AppError::runtime("the horizon keeper died while starting"))
        }
    }
}

fn run_loop(keeper: &mut Keeper, stop: &Receiver<()>) {
    let mut next_refresh = now_ms() + REFRESH_MS;
    // Cluster mode: try for the keeper lease every ttl; reload the stored days while read-only.
    let lead_every = keeper.cluster.as_ref().map(|c| c.ttl);
    let mut next_follow = std::time::Instant::now() + FOLLOW_REFRESH;
    loop {
        let now = now_ms();
        let due = keeper
            .keeper
            .poll_timeout()
            .unwrap_or(UtcMs::MAX)
            .min(next_refresh);
        let mut wait = Duration::from_millis(due.saturating_sub(now).clamp(0, 60_000) as u64);
        if let Some(every) = lead_every {
            wait = wait.min(every);
        }
        match stop.recv_timeout(wait) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        keeper.try_lead();
        let now = now_ms();
        keeper.tick(now);
        let follow_due = keeper.leading == Some(false) && std::time::Instant::now() >= next_follow;
        if now >= next_refresh || follow_due {
            keeper.refresh_all(now);
            next_refresh = now + REFRESH_MS;
            next_follow = std::time::Instant::now() + FOLLOW_REFRESH;
        }
    }
}
