//! The horizon keeper thread (DOMAIN §5, DAEMON-001): drives the core's `HorizonKeeper` with the
//! system clock, builds and stores ScheduleDays through the store, and publishes each channel's
//! playlog and guide rows for the ChannelManager threads and the HTTP side.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use retrovue_core::horizon::{HorizonAction, HorizonKeeper};
use retrovue_core::model::{Catalog, Channel, UtcMs, MS_PER_MINUTE};
use retrovue_core::time::ChannelClock;

use super::{ChannelSchedule, ServeConfig, Shared};
use crate::error::{AppError, AppResult};
use crate::store::build::build_and_store;
use crate::clock::now_ms;
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

struct Keeper {
    store: Box<dyn Store>,
    catalog: Catalog,
    channels: Vec<Channel>,
    keeper: HorizonKeeper,
    build: bool,
    shared: Arc<Shared>,
}

impl Keeper {
    fn tick(&mut self, now: UtcMs) -> AppResult<()> {
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
                        let built = build_and_store(
                            self.store.as_mut(),
                            &self.catalog,
                            ch,
                            from,
                            days,
                            0,
                            now,
                            |_| {},
                        )?;
                        log::info!(
                            "built {} ScheduleDays of {channel} from {from}",
                            built.len()
                        );
                    }
                    let through = from + chrono::Days::new(days.saturating_sub(1) as u64);
                    self.keeper.handle_days_built(&channel, through);
                    touched.insert(channel);
                }
                HorizonAction::ExtendPlaylog { channel, until } => {
                    let covered = self.publish(&channel, now, until)?;
                    self.keeper
                        .handle_playlog_extended(&channel, covered.min(until));
                    touched.remove(&channel);
                }
            }
        }
        for channel in touched {
            let until = self.keeper.playlog_until(&channel).unwrap_or(now);
            self.publish(&channel, now, until)?;
        }
        Ok(())
    }

    /// Load a channel's playlog `[now − 1 h, until)` and guide from the store and publish them.
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
        self.shared.publish_schedule(
            channel,
            ChannelSchedule {
                events,
                epg,
                days_ahead,
            },
        );
        Ok(covered)
    }

    fn refresh_all(&mut self, now: UtcMs) -> AppResult<()> {
        let ids: Vec<String> = self.channels.iter().map(|c| c.id.clone()).collect();
        for id in ids {
            let until = self.keeper.playlog_until(&id).unwrap_or(now);
            self.publish(&id, now, until)?;
        }
        Ok(())
    }
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
                    let catalog = store.load_catalog()?;
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
                        shared: Arc::clone(&shared),
                    };
                    k.tick(now)?;
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
    loop {
        let now = now_ms();
        let due = keeper
            .keeper
            .poll_timeout()
            .unwrap_or(UtcMs::MAX)
            .min(next_refresh);
        let wait = Duration::from_millis(due.saturating_sub(now).clamp(0, 60_000) as u64);
        match stop.recv_timeout(wait) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let now = now_ms();
        // A failing store must not take the daemon down: log, retry at the next threshold.
        if let Err(e) = keeper.tick(now) {
            log::error!("horizon keeper: {e}");
        }
        if now >= next_refresh {
            if let Err(e) = keeper.refresh_all(now) {
                log::error!("horizon keeper: {e}");
            }
            next_refresh = now + REFRESH_MS;
        }
    }
}
