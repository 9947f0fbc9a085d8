//! Guide previews of input changes (CLI-075, CLI-076): what rebuilding the stored unaired days
//! would change once a `lineup import` or `plan|zone|program|channel` change is in, planned by
//! the same `plan_chain` as `schedule build --dry-run` against the changed lineup held in memory.

use clap::Args;
use retrovue_core::model::{Catalog, Channel, Lineup};
use serde::Serialize;

use crate::cli::schedule::parse_instant_arg;
use crate::error::AppResult;
use crate::store::build::{plan_chain, DayChange, Edit};
use crate::store::{lock_instant, Store, StoreErrorKind};

/// `--dry-run` of a verb that changes stored inputs, with what its guide preview needs.
#[derive(Debug, Clone, Args)]
pub struct PreviewArgs {
    /// Validate everything, print what would change and the guide changes a rebuild of the
    /// stored unaired days would then make; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seed the stored days were built with (for the --dry-run guide preview).
    #[arg(long, default_value_t = 0, requires = "dry_run")]
    pub seed: u64,
    /// Pretend the current time is this RFC 3339 instant (for the --dry-run guide preview; may
    /// only lock more days than the real clock does).
    #[arg(long, requires = "dry_run")]
    pub now: Option<String>,
}

/// A channel whose rebuild would have to change an aired day (STORE-014).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub channel: String,
    pub error: String,
}

/// The guide changes of an input change on stored unaired days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GuidePreview {
    pub changes: Vec<DayChange>,
    pub refused: Vec<Refusal>,
}

impl PreviewArgs {
    /// The preview of `channels` (each as it would be stored) over `catalog` (as it would be
    /// stored), or None when this is not a dry run. Bad `--now` is bad input.
    pub fn preview(
        &self,
        store: &mut dyn Store,
        catalog: &Catalog,
        channels: &[Channel],
    ) -> AppResult<Option<GuidePreview>> {
        if !self.dry_run {
            return Ok(None);
        }
        let now = parse_instant_arg(self.now.as_deref(), "--now")?;
        guide_preview(store, catalog, channels, self.seed, now).map(Some)
    }
}

impl PreviewArgs {
    /// The preview of one changed channel over the stored catalog (`plan|zone|channel` verbs).
    pub fn preview_channel(
        &self,
        store: &mut dyn Store,
        channel: &Channel,
    ) -> AppResult<Option<GuidePreview>> {
        if !self.dry_run {
            return Ok(None);
        }
        let catalog = store.load_catalog()?;
        self.preview(store, &catalog, std::slice::from_ref(channel))
    }
}

/// CLI-075: for each channel (in the order given), plan the rebuild of its current stored days
/// from the first unaired one to its last with `catalog` and the channel as given, and collect
/// the guide changes on stored days. Writes nothing.
pub fn guide_preview(
    store: &mut dyn Store,
    catalog: &Catalog,
    channels: &[Channel],
    seed: u64,
    now: retrovue_core::model::UtcMs,
) -> AppResult<GuidePreview> {
    let lock_at = lock_instant(now);
    let mut out = GuidePreview::default();
    for channel in channels {
        let days = store.all_current_days(&channel.id)?;
        let Some(first) = days.iter().find(|d| !d.is_locked(lock_at)) else {
            continue;
        };
        let from = first.day.date;
        let last = days.last().map_or(from, |d| d.day.date);
        let count = u32::try_from((last - from).num_days() + 1).unwrap_or(u32::MAX);
        match plan_chain(
            store,
            catalog,
            channel,
            from,
            count,
            seed,
            now,
            &Edit::Build,
        ) {
            Ok(plan) => out
                .changes
                .extend(plan.changes().into_iter().filter(|c| c.stored)),
            Err(e) if e.kind == StoreErrorKind::Locked => out.refused.push(Refusal {
                channel: channel.id.clone(),
                error: e.to_string(),
            }),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The lineup as it would be stored after `import_lineup(change)` on `stored` (STORE-002:
/// catalog entries upserted, channels replaced whole by id).
pub fn merged(stored: Lineup, change: &Lineup) -> Lineup {
    let mut lineup = stored;
    let catalog = &mut lineup.catalog;
    for (id, asset) in &change.catalog.assets {
        catalog.assets.insert(id.clone(), asset.clone());
    }
    for (id, program) in &change.catalog.programs {
        catalog.programs.insert(id.clone(), program.clone());
    }
    for (id, virtual_asset) in &change.catalog.virtual_assets {
        catalog
            .virtual_assets
            .insert(id.clone(), virtual_asset.clone());
    }
    for channel in &change.channels {
        match lineup.channels.iter_mut().find(|c| c.id == channel.id) {
            Some(stored) => *stored = channel.clone(),
            None => lineup.channels.push(channel.clone()),
        }
    }
    lineup.channels.sort_by(|a, b| a.id.cmp(&b.id));
    lineup
}

/// CLI-075: the guide change lines for humans (after the verb's own line).
pub fn print_preview(preview: &GuidePreview) {
    if preview.changes.is_empty() {
        println!("dry run: no guide changes on stored unaired days");
    } else {
        crate::cli::schedule::print_change_lines(&preview.changes);
    }
    for r in &preview.refused {
        println!("{}: a rebuild would be refused: {}", r.channel, r.error);
    }
}

/// Adds the preview's keys to a verb's `--json` document.
pub fn add_to_json(value: &mut serde_json::Value, preview: Option<&GuidePreview>) {
    if let (Some(p), Some(map)) = (preview, value.as_object_mut()) {
        map.insert(
            "changes".into(),
            serde_json::to_value(&p.changes).expect("plain data"),
        );
        map.insert(
            "refused".into(),
            serde_json::to_value(&p.refused).expect("plain data"),
        );
    }
}
