//! `retrovue asset list|show|update|approve|retire`: the catalog as operators curate it
//! (contracts/assets.md ASSET-006..009, contracts/cli.md CLI-016).

use clap::{Args, Subcommand};
use retrovue_core::model::{AssetKind, AssetState};
use retrovue_core::time::{fmt_utc, parse_hms_duration};

use crate::cli::db::open_store;
use crate::cli::operator::{or_dash, parse_bool, parse_list, print_fields, print_json, DryRun};
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::store::{AssetFilter, CatalogAsset, Store, EDITABLE_FIELDS};

#[derive(Debug, Subcommand)]
pub enum AssetCommand {
    /// List assets, filtered.
    List(ListArgs),
    /// Show one asset with its ingest identity.
    Show(IdArg),
    /// Edit an asset's editorial fields, duration, chapters or state.
    Update(UpdateArgs),
    /// Approve assets for scheduling (by id, or every ready one matching the filters).
    Approve(ApproveArgs),
    /// Retire assets: they stay in the catalog and in history but are never scheduled again.
    Retire(RetireArgs),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The asset id.
    pub id: String,
}

#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Only the assets of this collection.
    #[arg(long)]
    pub collection: Option<String>,
    /// episode, movie, commercial, promo, bumper, station_id or filler.
    #[arg(long)]
    pub kind: Option<String>,
    /// new, enriching, ready or retired.
    #[arg(long)]
    pub state: Option<String>,
    /// Only the assets of this series.
    #[arg(long)]
    pub series: Option<String>,
    /// yes or no.
    #[arg(long)]
    pub approved: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Include assets whose files vanished.
    #[arg(long)]
    pub include_deleted: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The asset id.
    pub id: String,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New kind: episode, movie, commercial, promo, bumper, station_id or filler.
    #[arg(long)]
    pub kind: Option<String>,
    /// New series name (empty clears).
    #[arg(long)]
    pub series: Option<String>,
    /// New season number.
    #[arg(long)]
    pub season: Option<u32>,
    /// New episode number.
    #[arg(long)]
    pub episode: Option<u32>,
    /// New description.
    #[arg(long)]
    pub description: Option<String>,
    /// New rating (e.g. TV-PG).
    #[arg(long)]
    pub rating: Option<String>,
    /// Comma-separated genres (replaces the list).
    #[arg(long)]
    pub genres: Option<String>,
    /// New year of release.
    #[arg(long)]
    pub year: Option<i32>,
    /// Duration: milliseconds or HH:MM:SS[.mmm].
    #[arg(long)]
    pub duration: Option<String>,
    /// Comma-separated chapter markers in ms (replaces the list; empty clears it).
    #[arg(long)]
    pub chapters: Option<String>,
    /// new, ready or retired (enriching is set by ingest only).
    #[arg(long)]
    pub state: Option<String>,
    /// Comma-separated fields (or `all`) whose edits to forget: the next ingest sets them again
    /// from names, sidecars and probes. Fields: kind, title, series, season, episode,
    /// description, rating, genres, year, chapters_ms.
    #[arg(long = "reset-edits", value_name = "FIELDS")]
    pub reset_edits: Option<String>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Asset ids; with none, every ready, unapproved asset matching the filters.
    pub ids: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Withdraw approval instead.
    #[arg(long)]
    pub revoke: bool,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct RetireArgs {
    /// Comma-separated asset ids.
    #[arg(required = true)]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub dry_run: DryRun,
}

fn parse_kind(text: &str, flag: &str) -> AppResult<AssetKind> {
    AssetKind::parse(text).ok_or_else(|| {
        AppError::bad(format!(
            "{flag}: unknown kind {text:?} (allowed: episode, movie, commercial, promo, bumper, station_id, filler)"
        ))
    })
}

fn parse_state(text: &str, flag: &str) -> AppResult<AssetState> {
    AssetState::parse(text).ok_or_else(|| {
        AppError::bad(format!(
            "{flag}: unknown state {text:?} (allowed: new, enriching, ready, retired)"
        ))
    })
}

fn filter(args: &FilterArgs, include_deleted: bool) -> AppResult<AssetFilter> {
    Ok(AssetFilter {
        collection: args.collection.clone(),
        kind: args
            .kind
            .as_deref()
            .map(|k| parse_kind(k, "--kind"))
            .transpose()?,
        state: args
            .state
            .as_deref()
            .map(|s| parse_state(s, "--state"))
            .transpose()?,
        series: args.series.clone(),
        approved: args
            .approved
            .as_deref()
            .map(|a| parse_bool(a, "--approved"))
            .transpose()?,
        include_deleted,
    })
}

/// The stored asset, or bad input naming it.
pub fn require_asset(store: &mut dyn Store, id: &str) -> AppResult<CatalogAsset> {
    store
        .catalog_asset(id)?
        .ok_or_else(|| AppError::bad(format!("unknown asset {id:?} (see `retrovue asset list`)")))
}

fn fmt_duration(ms: i64) -> String {
    let s = ms / 1000;
    format!(
        "{}:{:02}:{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms % 1000
    )
}

fn list(args: ListArgs, global: &Global) -> AppResult<()> {
    let filter = filter(&args.filter, args.include_deleted)?;
    let mut store = open_store(global)?;
    let assets = store.catalog_assets(&filter)?;
    if global.json {
        print_json(&assets);
        return Ok(());
    }
    for a in &assets {
        let asset = &a.asset;
        let what = match (&asset.series, asset.season, asset.episode) {
            (Some(series), Some(s), Some(e)) => format!("{series} S{s:02}E{e:02} {}", asset.title),
            _ => asset.title.clone(),
        };
        println!(
            "{:<36} {:<10} {:<9} {:<8} {}  {}{}",
            asset.id,
            asset.kind.as_str(),
            asset.state.as_str(),
            if asset.approved { "approved" } else { "-" },
            fmt_duration(asset.duration_ms),
            what,
            if asset.deleted { "  (deleted)" } else { "" }
        );
    }
    if assets.is_empty() {
        println!("no assets match");
    }
    Ok(())
}

fn show(args: IdArg, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let a = require_asset(store.as_mut(), &args.id)?;
    if global.json {
        print_json(&serde_json::json!({ "asset": a, "schedulable": a.asset.is_schedulable() }));
        return Ok(());
    }
    let asset = &a.asset;
    print_fields(&[
        ("id", asset.id.clone()),
        ("kind", asset.kind.as_str().into()),
        ("title", asset.title.clone()),
        ("series", or_dash(asset.series.as_ref())),
        (
            "season/episode",
            format!("{} / {}", or_dash(asset.season), or_dash(asset.episode)),
        ),
        ("duration", fmt_duration(asset.duration_ms)),
        ("chapters (ms)", format!("{:?}", asset.chapters_ms)),
        ("state", asset.state.as_str().into()),
        ("state reason", or_dash(a.state_reason.as_ref())),
        ("approved", asset.approved.to_string()),
        ("schedulable", asset.is_schedulable().to_string()),
        ("collection", or_dash(a.collection_id.as_ref())),
        ("canonical key", or_dash(a.canonical_key.as_ref())),
        ("path", or_dash(asset.path.as_ref())),
        (
            "provider ref",
            format!(
                "{} {}",
                or_dash(a.provider.as_ref()),
                or_dash(a.external_id.as_ref())
            ),
        ),
        ("size bytes", or_dash(a.size_bytes)),
        ("probe", or_dash(a.probe_json.as_ref())),
        ("deleted at", or_dash(a.deleted_at_ms.map(fmt_utc))),
        (
            "edited",
            if a.edited_fields.is_empty() {
                "-".into()
            } else {
                a.edited_fields.join(", ")
            },
        ),
    ]);
    Ok(())
}

/// ASSET-006: what an operator may set the state to.
fn set_state(a: &mut CatalogAsset, state: AssetState) -> AppResult<()> {
    match state {
        AssetState::Enriching => {
            return Err(AppError::bad(
                "--state: enriching is set by ingest only (allowed: new, ready, retired)",
            ))
        }
        AssetState::Ready if a.asset.duration_ms <= 0 => {
            return Err(AppError::bad(format!(
                "--state: asset {:?} cannot be ready: its duration is unknown (set --duration)",
                a.asset.id
            )))
        }
        _ => {}
    }
    a.asset.state = state;
    if state != AssetState::New {
        a.state_reason = None;
    }
    Ok(())
}

/// CLI-072: the fields named by `--reset-edits` (`all`, or a comma list of [`EDITABLE_FIELDS`]).
fn parse_reset(text: &str) -> AppResult<Vec<String>> {
    if text.trim() == "all" {
        return Ok(EDITABLE_FIELDS.iter().map(|f| f.to_string()).collect());
    }
    let fields = parse_list(text);
    if fields.is_empty() {
        return Err(AppError::bad(
            "--reset-edits: name the fields (or all), e.g. --reset-edits title,genres",
        ));
    }
    for field in &fields {
        if !EDITABLE_FIELDS.contains(&field.as_str()) {
            return Err(AppError::bad(format!(
                "--reset-edits: unknown field {field:?} (allowed: all, {})",
                EDITABLE_FIELDS.join(", ")
            )));
        }
    }
    Ok(fields)
}

/// INGEST-030: the editable fields this `asset update` sets, as `edited_fields` names them.
fn edited_by(args: &UpdateArgs) -> Vec<&'static str> {
    [
        ("kind", args.kind.is_some()),
        ("title", args.title.is_some()),
        ("series", args.series.is_some()),
        ("season", args.season.is_some()),
        ("episode", args.episode.is_some()),
        ("description", args.description.is_some()),
        ("rating", args.rating.is_some()),
        ("genres", args.genres.is_some()),
        ("year", args.year.is_some()),
        ("chapters_ms", args.chapters.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect()
}

fn update(args: UpdateArgs, global: &Global) -> AppResult<()> {
    let reset = args.reset_edits.as_deref().map(parse_reset).transpose()?;
    let mut store = open_store(global)?;
    let mut a = require_asset(store.as_mut(), &args.id)?;
    if let Some(reset) = &reset {
        a.edited_fields.retain(|f| !reset.contains(f));
    }
    for field in edited_by(&args) {
        a.mark_edited(field);
    }
    let asset = &mut a.asset;
    if let Some(title) = args.title {
        if title.trim().is_empty() {
            return Err(AppError::bad("--title: must not be empty"));
        }
        asset.title = title;
    }
    if let Some(kind) = &args.kind {
        asset.kind = parse_kind(kind, "--kind")?;
    }
    let optional = |text: String| if text.is_empty() { None } else { Some(text) };
    if let Some(series) = args.series {
        asset.series = optional(series);
    }
    if args.season.is_some() {
        asset.season = args.season;
    }
    if args.episode.is_some() {
        asset.episode = args.episode;
    }
    if let Some(d) = args.description {
        asset.description = optional(d);
    }
    if let Some(r) = args.rating {
        asset.rating = optional(r);
    }
    if let Some(g) = args.genres {
        asset.genres = parse_list(&g);
    }
    if args.year.is_some() {
        asset.year = args.year;
    }
    if let Some(d) = &args.duration {
        let ms = d
            .parse::<i64>()
            .ok()
            .or_else(|| parse_hms_duration(d))
            .ok_or_else(|| {
                AppError::bad(format!(
                    "--duration: expected milliseconds > 0 or HH:MM:SS[.mmm], got {d:?}"
                ))
            })?;
        // SCHED-008: negative, zero or above 7 days is bad input naming the asset.
        let ms = retrovue_core::validate::check_duration(ms)
            .map_err(|e| AppError::bad(format!("--duration: asset {:?}: {e}", asset.id)))?;
        if ms != asset.duration_ms {
            // A different runtime is different media as far as the schedule knows (ASSET-004).
            asset.approved = false;
        }
        asset.duration_ms = ms;
    }
    if let Some(c) = &args.chapters {
        let mut chapters = Vec::new();
        for part in parse_list(c) {
            let ms: i64 = part.parse().map_err(|_| {
                AppError::bad(format!(
                    "--chapters: {part:?} is not a number of milliseconds"
                ))
            })?;
            chapters.push(ms);
        }
        // CLI-080: markers are given in order, each once.
        if let Some(pair) = chapters.windows(2).find(|w| w[0] >= w[1]) {
            return Err(AppError::bad(format!(
                "--chapters: markers must be increasing, but {} comes after {}",
                pair[1], pair[0]
            )));
        }
        asset.chapters_ms = chapters;
    }
    if let Some(bad) = asset
        .chapters_ms
        .iter()
        .find(|&&c| c <= 0 || c >= asset.duration_ms.max(1))
    {
        return Err(AppError::bad(format!(
            "--chapters: chapter {bad} is not strictly inside (0, {})",
            asset.duration_ms
        )));
    }
    if let Some(state) = &args.state {
        let state = parse_state(state, "--state")?;
        set_state(&mut a, state)?;
    }
    a.updated_at_ms = Some(crate::store::now_ms());
    if !args.dry_run.dry_run {
        store.put_catalog_asset(&a)?;
    }
    finish(&[a], "updated", args.dry_run.dry_run, global);
    Ok(())
}

fn finish(assets: &[CatalogAsset], verb: &str, dry_run: bool, global: &Global) {
    if global.json {
        print_json(&serde_json::json!({ verb: assets, "dry_run": dry_run }));
        return;
    }
    let prefix = if dry_run { "dry run: would have " } else { "" };
    for a in assets {
        println!(
            "{prefix}{verb} {} (state {}, approved {}, schedulable {})",
            a.asset.id,
            a.asset.state.as_str(),
            a.asset.approved,
            a.asset.is_schedulable()
        );
    }
    if assets.is_empty() {
        println!("{prefix}{verb} nothing: no asset matches");
    }
}

fn approve(args: ApproveArgs, global: &Global) -> AppResult<()> {
    let filter_given = args.filter.collection.is_some()
        || args.filter.kind.is_some()
        || args.filter.series.is_some()
        || args.filter.state.is_some()
        || args.filter.approved.is_some();
    if args.ids.is_empty() && !filter_given {
        return Err(AppError::bad(
            "asset approve: name asset ids, or select with --collection/--kind/--series",
        ));
    }
    let mut store = open_store(global)?;
    let mut targets = Vec::new();
    if args.ids.is_empty() {
        let mut f = filter(&args.filter, false)?;
        if f.state.is_none() && !args.revoke {
            f.state = Some(AssetState::Ready);
        }
        targets = store.catalog_assets(&f)?;
    } else {
        for id in &args.ids {
            targets.push(require_asset(store.as_mut(), id)?);
        }
    }
    let now = crate::store::now_ms();
    for a in &mut targets {
        if !args.revoke {
            if a.asset.deleted {
                return Err(AppError::bad(format!(
                    "asset {:?}: its file vanished (deleted); it cannot be approved",
                    a.asset.id
                )));
            }
            if a.asset.state == AssetState::Retired {
                return Err(AppError::bad(format!(
                    "asset {:?} is retired; set it back with `asset update {} --state ready` first",
                    a.asset.id, a.asset.id
                )));
            }
        }
        a.asset.approved = !args.revoke;
        a.updated_at_ms = Some(now);
    }
    if !args.dry_run.dry_run {
        for a in &targets {
            store.put_catalog_asset(a)?;
        }
    }
    let verb = if args.revoke { "revoked" } else { "approved" };
    finish(&targets, verb, args.dry_run.dry_run, global);
    Ok(())
}

fn retire(args: RetireArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let mut targets = Vec::new();
    for id in &args.ids {
        let mut a = require_asset(store.as_mut(), id)?;
        a.asset.state = AssetState::Retired;
        a.state_reason = None;
        a.updated_at_ms = Some(crate::store::now_ms());
        targets.push(a);
    }
    if !args.dry_run.dry_run {
        for a in &targets {
            store.put_catalog_asset(a)?;
        }
    }
    finish(&targets, "retired", args.dry_run.dry_run, global);
    Ok(())
}

pub fn run(cmd: AssetCommand, global: &Global) -> AppResult<()> {
    match cmd {
        AssetCommand::List(args) => list(args, global),
        AssetCommand::Show(args) => show(args, global),
        AssetCommand::Update(args) => update(args, global),
        AssetCommand::Approve(args) => approve(args, global),
        AssetCommand::Retire(args) => retire(args, global),
    }
}
