//! `retrovue channel add|list|show|update|delete|validate`, and the save path the plan and zone
//! verbs share: every change is validated by the core's rules (`validate::check_channel`, the
//! lineup file's messages) before the whole channel is written (contracts/cli.md CLI-018, CLI-021).

use chrono_tz::Tz;
use clap::{Args, Subcommand};
use retrovue_core::lineup::DEFAULT_SPOT_COOLDOWN_MINUTES;
use retrovue_core::model::{AssetKind, BreakPolicy, Catalog, Channel, ItemRef, Lineup};
use retrovue_core::time::{fmt_hhmm, parse_hhmm};
use retrovue_core::validate::{check_channel, uncovered_minutes};

use crate::cli::db::open_store;
use crate::cli::operator::{
    confirm, parse_bool, parse_list, print_fields, print_json, Confirm, DryRun,
};
use crate::cli::preview::{add_to_json, print_preview, GuidePreview, PreviewArgs};
use crate::cli::schedule::require_channel;
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::store::media_check::vanished_media;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Create a channel (validated by the same rules as a lineup file).
    Add(AddArgs),
    /// List channels.
    List,
    /// Show a channel with its plans and zones.
    Show(IdArg),
    /// Change a channel's settings.
    Update(UpdateArgs),
    /// Delete a channel with its plans (refused when it has aired or scheduled history).
    Delete(DeleteArgs),
    /// Check a stored channel: grid rules, zone references, schedulable content, coverage.
    Validate(IdArg),
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// The channel id.
    pub id: String,
}

/// Channel settings; on `add` the unset ones take the defaults shown.
#[derive(Debug, Args, Default)]
pub struct ChannelFields {
    /// Guide number, e.g. 2 or 4.1.
    #[arg(long)]
    pub number: Option<String>,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Group shown in the M3U playlist.
    #[arg(long)]
    pub group: Option<String>,
    /// Logo URL shown in the M3U playlist and guide.
    #[arg(long)]
    pub logo: Option<String>,
    /// IANA time zone, e.g. America/New_York.
    #[arg(long)]
    pub timezone: Option<String>,
    /// 15, 30 or 60 [default on add: 30].
    #[arg(long)]
    pub grid: Option<u32>,
    /// Comma-separated block start minutes of the hour [default on add: every grid step].
    #[arg(long)]
    pub offsets: Option<String>,
    /// HH:MM on a grid boundary [default on add: 06:00].
    #[arg(long)]
    pub day_start: Option<String>,
    /// end or chapters [default on add: chapters].
    #[arg(long)]
    pub break_policy: Option<String>,
    /// Comma-separated interstitial kinds filling avails [default on add: commercial,promo,bumper,station_id].
    #[arg(long)]
    pub interstitials: Option<String>,
    /// on or off.
    #[arg(long)]
    pub active: Option<String>,
    /// Guide title of filler (default: the channel name).
    #[arg(long)]
    pub filler_title: Option<String>,
    /// Minutes before the same spot airs again on the channel.
    #[arg(long)]
    pub spot_cooldown_minutes: Option<u32>,
    /// Engine output profile, e.g. 720p30, 1080p60, 480p30:mpeg2 (ENGINE-020); "" clears it
    /// (the daemon's default then applies).
    #[arg(long)]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The channel id (a slug).
    pub id: String,
    #[command(flatten)]
    pub fields: ChannelFields,
    #[command(flatten)]
    pub dry_run: DryRun,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The channel id.
    pub id: String,
    #[command(flatten)]
    pub fields: ChannelFields,
    #[command(flatten)]
    pub dry_run: PreviewArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The channel id.
    pub id: String,
    #[command(flatten)]
    pub confirm: Confirm,
    #[command(flatten)]
    pub dry_run: DryRun,
}

fn parse_offsets(text: &str) -> AppResult<Vec<u32>> {
    parse_list(text)
        .iter()
        .map(|o| {
            o.parse::<u32>().map_err(|_| {
                AppError::bad(format!(
                    "--offsets: {o:?} is not a minute of the hour (e.g. --offsets 0,30)"
                ))
            })
        })
        .collect()
}

/// `HH:MM` for `flag` (`24:00` only where `allow_24`).
pub fn parse_time_arg(text: &str, flag: &str, allow_24: bool) -> AppResult<u32> {
    match parse_hhmm(text) {
        Some(m) if m < 1440 || (allow_24 && m == 1440) => Ok(m),
        _ => Err(AppError::bad(format!(
            "{flag}: {text:?} is not a time of day HH:MM ({})",
            if allow_24 {
                "00:00–24:00"
            } else {
                "00:00–23:59"
            }
        ))),
    }
}

fn apply_fields(channel: &mut Channel, f: &ChannelFields) -> AppResult<()> {
    if let Some(n) = &f.number {
        channel.number = n.clone();
    }
    if let Some(n) = &f.name {
        channel.name = n.clone();
    }
    if let Some(g) = &f.group {
        channel.group = Some(g.clone()).filter(|g| !g.is_empty());
    }
    if let Some(l) = &f.logo {
        channel.logo = Some(l.clone()).filter(|l| !l.is_empty());
    }
    if let Some(tz) = &f.timezone {
        channel.timezone = tz.parse::<Tz>().map_err(|_| {
            AppError::bad(format!(
                "--timezone: {tz:?} is not an IANA time zone name (e.g. \"America/New_York\")"
            ))
        })?;
    }
    if let Some(g) = f.grid {
        channel.grid_block_minutes = g;
    }
    if let Some(o) = &f.offsets {
        channel.block_start_offsets_minutes = parse_offsets(o)?;
    }
    if let Some(d) = &f.day_start {
        channel.programming_day_start_minute = parse_time_arg(d, "--day-start", false)?;
    }
    if let Some(p) = &f.break_policy {
        channel.break_policy = BreakPolicy::parse(p).ok_or_else(|| {
            AppError::bad(format!(
                "--break-policy: unknown break_policy {p:?} (allowed: end, chapters)"
            ))
        })?;
    }
    if let Some(list) = &f.interstitials {
        let mut kinds = Vec::new();
        for kind in parse_list(list) {
            match AssetKind::parse(&kind) {
                Some(k) if (k.is_interstitial() || k == AssetKind::Filler) && !kinds.contains(&k) => {
                    kinds.push(k)
                }
                Some(k) if kinds.contains(&k) => {
                    return Err(AppError::bad(format!(
                        "--interstitials: {kind:?} is listed twice"
                    )))
                }
                _ => {
                    return Err(AppError::bad(format!(
                        "--interstitials: {kind:?} is not an interstitial kind (allowed: commercial, promo, bumper, station_id, filler)"
                    )))
                }
            }
        }
        channel.interstitials = kinds;
    }
    if let Some(a) = &f.active {
        channel.active = parse_bool(a, "--active")?;
    }
    if let Some(t) = &f.filler_title {
        channel.filler_title = Some(t.clone()).filter(|t| !t.is_empty());
    }
    if let Some(m) = f.spot_cooldown_minutes {
        channel.spot_cooldown_minutes = m;
    }
    if let Some(p) = &f.profile {
        let p = p.trim();
        if !p.is_empty() {
            retrovue_core::validate::output_profile(p)
                .map_err(|e| AppError::bad(format!("--profile: {e}")))?;
        }
        channel.output_profile = Some(p.to_string()).filter(|p| !p.is_empty());
    }
    Ok(())
}

/// CLI-018: every core rule of the channel, as `channel "ID": KEY: MESSAGE`, all on one line.
pub fn check(channel: &Channel) -> AppResult<()> {
    let errors = check_channel(channel);
    if errors.is_empty() {
        return Ok(());
    }
    let text: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.key, e.message))
        .collect();
    Err(AppError::bad(format!(
        "channel {:?}: {}",
        channel.id,
        text.join("; ")
    )))
}

/// Validates and writes the whole channel (its plans and zones replaced) in one transaction;
/// with `dry_run` only validates.
pub fn save_channel(store: &mut dyn Store, channel: &Channel, dry_run: bool) -> AppResult<()> {
    check(channel)?;
    if !dry_run {
        store.import_lineup(&Lineup {
            catalog: Catalog::default(),
            channels: vec![channel.clone()],
        })?;
    }
    Ok(())
}

/// Prints what a plan/zone/channel verb did.
/// With a guide preview (CLI-075) its changes follow (`--json`: `changes` and `refused` keys).
pub fn report_change(
    what: &str,
    verb: &str,
    dry_run: bool,
    json: bool,
    value: serde_json::Value,
    preview: Option<&GuidePreview>,
) {
    if json {
        let mut doc = serde_json::json!({ verb: value, "dry_run": dry_run });
        add_to_json(&mut doc, preview);
        print_json(&doc);
    } else {
        let prefix = if dry_run { "dry run: would have " } else { "" };
        println!("{prefix}{verb} {what}");
        if let Some(preview) = preview {
            print_preview(preview);
        }
    }
}

fn add(args: AddArgs, global: &Global) -> AppResult<()> {
    let f = &args.fields;
    let timezone = f.timezone.clone().ok_or_else(|| {
        AppError::bad("--timezone: missing (an IANA time zone name, e.g. America/New_York)")
    })?;
    let grid = f.grid.unwrap_or(30);
    let mut channel = Channel {
        id: args.id.clone(),
        number: String::new(),
        name: String::new(),
        group: None,
        logo: None,
        timezone: timezone.parse::<Tz>().unwrap_or(chrono_tz::UTC),
        grid_block_minutes: grid,
        block_start_offsets_minutes: if grid > 0 && grid <= 60 {
            (0..60).step_by(grid as usize).collect()
        } else {
            vec![0]
        },
        programming_day_start_minute: 6 * 60,
        break_policy: BreakPolicy::Chapters,
        interstitials: vec![
            AssetKind::Commercial,
            AssetKind::Promo,
            AssetKind::Bumper,
            AssetKind::StationId,
        ],
        active: true,
        filler_title: None,
        spot_cooldown_minutes: DEFAULT_SPOT_COOLDOWN_MINUTES,
        output_profile: None,
        plans: Vec::new(),
    };
    apply_fields(&mut channel, f)?;
    if f.number.is_none() {
        return Err(AppError::bad(
            "--number: missing (the guide number, e.g. 2)",
        ));
    }
    if f.name.is_none() {
        return Err(AppError::bad("--name: missing"));
    }
    check(&channel)?;
    let mut store = open_store(global)?;
    if store.load_channel(&channel.id)?.is_some() {
        return Err(AppError::bad(format!(
            "channel {:?} already exists (change it with `retrovue channel update`)",
            channel.id
        )));
    }
    save_channel(store.as_mut(), &channel, args.dry_run.dry_run)?;
    report_change(
        &format!("channel {}", channel.id),
        "added",
        args.dry_run.dry_run,
        global.json,
        serde_json::to_value(&channel).expect("plain data"),
        None,
    );
    Ok(())
}

fn list(global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let channels = store.load_lineup()?.channels;
    if global.json {
        print_json(&channels);
        return Ok(());
    }
    if channels.is_empty() {
        println!(
            "no channels; add one: retrovue channel add ID --number N --name NAME --timezone TZ"
        );
    }
    for c in &channels {
        println!(
            "{:<20} {:>6}  {:<24} {:<20} {} plans{}",
            c.id,
            c.number,
            c.name,
            c.timezone.name(),
            c.plans.len(),
            if c.active { "" } else { "  (inactive)" }
        );
    }
    Ok(())
}

/// Human lines of a channel's plans and zones.
pub fn print_plans(channel: &Channel) {
    for plan in &channel.plans {
        let days: Vec<String> = plan
            .days
            .iter()
            .map(|d| d.to_string().to_lowercase())
            .collect();
        println!(
            "  plan {:?}  priority {}  days {}{}{}",
            plan.name,
            plan.priority,
            days.join(","),
            plan.start_date
                .map(|d| format!("  from {d}"))
                .unwrap_or_default(),
            plan.end_date
                .map(|d| format!("  until {d}"))
                .unwrap_or_default(),
        );
        for zone in &plan.zones {
            let items: Vec<String> = zone.items.iter().map(|i| i.reference()).collect();
            println!(
                "    zone {:?}  {}–{}  {}{}",
                zone.name,
                fmt_hhmm(zone.start_minute),
                fmt_hhmm(zone.end_minute),
                items.join(", "),
                if zone.enabled { "" } else { "  (disabled)" }
            );
        }
    }
}

fn show(args: IdArg, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &args.id)?;
    if global.json {
        print_json(&channel);
        return Ok(());
    }
    let interstitials: Vec<&str> = channel.interstitials.iter().map(|k| k.as_str()).collect();
    print_fields(&[
        ("id", channel.id.clone()),
        ("number", channel.number.clone()),
        ("name", channel.name.clone()),
        ("group", channel.group.clone().unwrap_or_default()),
        ("timezone", channel.timezone.name().to_string()),
        (
            "grid",
            format!(
                "{} min, offsets {:?}",
                channel.grid_block_minutes, channel.block_start_offsets_minutes
            ),
        ),
        ("day start", fmt_hhmm(channel.programming_day_start_minute)),
        ("break policy", channel.break_policy.as_str().into()),
        ("interstitials", interstitials.join(", ")),
        ("active", channel.active.to_string()),
        (
            "output profile",
            channel
                .output_profile
                .clone()
                .unwrap_or_else(|| "(daemon default)".into()),
        ),
    ]);
    print_plans(&channel);
    Ok(())
}

fn update(args: UpdateArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let mut channel = require_channel(store.as_mut(), &args.id)?;
    apply_fields(&mut channel, &args.fields)?;
    save_channel(store.as_mut(), &channel, args.dry_run.dry_run)?;
    let preview = args.dry_run.preview_channel(store.as_mut(), &channel)?;
    report_change(
        &format!("channel {}", channel.id),
        "updated",
        args.dry_run.dry_run,
        global.json,
        serde_json::to_value(&channel).expect("plain data"),
        preview.as_ref(),
    );
    Ok(())
}

fn delete(args: DeleteArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &args.id)?;
    // The history check runs in a dry run too (CLI-003).
    store.delete_channel(&channel.id, true)?;
    if !args.dry_run.dry_run {
        confirm(
            &format!(
                "delete channel {} with its {} plans",
                channel.id,
                channel.plans.len()
            ),
            args.confirm,
        )?;
        store.delete_channel(&channel.id, false)?;
    }
    report_change(
        &format!("channel {}", channel.id),
        "deleted",
        args.dry_run.dry_run,
        global.json,
        serde_json::json!(channel.id),
        None,
    );
    Ok(())
}

fn validate(args: IdArg, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &args.id)?;
    let catalog = store.load_catalog()?;
    let mut errors: Vec<String> = check_channel(&channel)
        .into_iter()
        .map(|e| format!("{}: {}", e.key, e.message))
        .collect();
    let mut warnings = Vec::new();
    for (p, plan) in channel.plans.iter().enumerate() {
        for (z, zone) in plan.zones.iter().enumerate() {
            let key = format!("plan[{p}].zone[{z}].items");
            for item in &zone.items {
                match item {
                    ItemRef::Program { id } => match catalog.programs.get(id) {
                        None => errors.push(format!("{key}: unknown program {id:?}")),
                        Some(program) => {
                            let schedulable = catalog.assets.values().any(|a| {
                                a.is_schedulable()
                                    && (program.assets.contains(&a.id)
                                        || (program.series.is_some() && a.series == program.series))
                            });
                            if !schedulable {
                                warnings.push(format!(
                                    "{key}: program {id:?} has no schedulable asset (ready, approved, not deleted, duration > 0)"
                                ));
                            }
                        }
                    },
                    ItemRef::Asset { id } => match catalog.assets.get(id) {
                        None => errors.push(format!("{key}: unknown asset {id:?}")),
                        Some(a) if !a.is_schedulable() => warnings.push(format!(
                            "{key}: asset {id:?} is not schedulable (state {}, approved {})",
                            a.state.as_str(),
                            a.approved
                        )),
                        Some(_) => {}
                    },
                    ItemRef::Virtual { id } if !catalog.virtual_assets.contains_key(id) => {
                        errors.push(format!("{key}: unknown virtual_asset {id:?}"))
                    }
                    _ => {}
                }
            }
        }
    }
    for (plan, from, to) in uncovered_minutes(&channel) {
        let start = (channel.programming_day_start_minute + from) % 1440;
        let end = (channel.programming_day_start_minute + to) % 1440;
        warnings.push(format!(
            "plan {plan:?}: {}–{} is covered by no zone (airs as avail)",
            fmt_hhmm(start),
            fmt_hhmm(if end == 0 && to == 1440 { 1440 } else { end })
        ));
    }
    // CLI-026: stored unaired days naming media that can no longer air (INGEST-016).
    let vanished = vanished_media(store.as_mut(), Some(&channel.id), crate::store::now_ms())?;
    let valid = errors.is_empty() && vanished.is_empty();
    if global.json {
        print_json(&serde_json::json!({
            "channel": channel.id, "valid": valid, "errors": errors, "warnings": warnings,
            "vanished": vanished,
        }));
    } else {
        for w in &warnings {
            println!("warning: {w}");
        }
        for day in &vanished {
            println!(
                "vanished: {}: {} playlog events name vanished media: {}",
                day.date,
                day.events(),
                day.describe_assets()
            );
        }
        if valid {
            println!("channel {} is valid", channel.id);
        }
    }
    if !errors.is_empty() {
        return Err(AppError::bad(format!(
            "channel {:?}: {}",
            channel.id,
            errors.join("; ")
        )));
    }
    if !vanished.is_empty() {
        let dates: Vec<String> = vanished.iter().map(|d| d.date.to_string()).collect();
        let (first, last) = (vanished[0].date, vanished[vanished.len() - 1].date);
        return Err(AppError::runtime(format!(
            "channel {:?}: {} stored unaired days name vanished media: {}; rebuild them: retrovue schedule build --channel {} --from {first} --days {}",
            channel.id,
            vanished.len(),
            dates.join(", "),
            channel.id,
            (last - first).num_days() + 1
        )));
    }
    Ok(())
}

pub fn run(cmd: ChannelCommand, global: &Global) -> AppResult<()> {
    match cmd {
        ChannelCommand::Add(args) => add(args, global),
        ChannelCommand::List => list(global),
        ChannelCommand::Show(args) => show(args, global),
        ChannelCommand::Update(args) => update(args, global),
        ChannelCommand::Delete(args) => delete(args, global),
        ChannelCommand::Validate(args) => validate(args, global),
    }
}
