//! `retrovue zone add|list|show|update|delete --channel ID --plan NAME`: the time windows of a
//! plan and what they hold, saved through the channel's validation (contracts/cli.md CLI-020).

use clap::{Args, Subcommand};
use retrovue_core::model::{Catalog, ItemRef, Zone};

use crate::cli::channel::{parse_time_arg, print_plans, report_change, save_channel};
use crate::cli::db::open_store;
use crate::cli::operator::{check_name, confirm, parse_bool, parse_list, print_json, Confirm};
use crate::cli::plan::find_plan;
use crate::cli::preview::PreviewArgs;
use crate::cli::schedule::require_channel;
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use retrovue_core::lineup::resolve_item;

#[derive(Debug, Subcommand)]
pub enum ZoneCommand {
    /// Add a zone to a plan.
    Add(AddArgs),
    /// List a channel's zones (of one plan with --plan).
    List(ListArgs),
    /// Show one zone.
    Show(ZoneArgs),
    /// Change a zone's window, items or enabled flag.
    Update(UpdateArgs),
    /// Delete a zone.
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The channel id.
    #[arg(long)]
    pub channel: String,
    /// The plan's name.
    #[arg(long)]
    pub plan: Option<String>,
}

#[derive(Debug, Args)]
pub struct ZoneArgs {
    /// The channel id.
    #[arg(long)]
    pub channel: String,
    /// The plan's name.
    #[arg(long)]
    pub plan: String,
    /// The zone's name.
    pub name: String,
}

#[derive(Debug, Args, Default)]
pub struct ZoneFields {
    /// Local start time HH:MM, on a grid boundary.
    #[arg(long)]
    pub start: Option<String>,
    /// Local end time HH:MM (24:00 allowed; equal to start = the whole day).
    #[arg(long)]
    pub end: Option<String>,
    /// Comma-separated program, asset or virtual asset ids, or synthetic:KIND:MS.
    #[arg(long)]
    pub items: Option<String>,
    /// on or off.
    #[arg(long)]
    pub enabled: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub zone: ZoneArgs,
    #[command(flatten)]
    pub fields: ZoneFields,
    #[command(flatten)]
    pub dry_run: PreviewArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub zone: ZoneArgs,
    /// New name.
    #[arg(long)]
    pub rename: Option<String>,
    #[command(flatten)]
    pub fields: ZoneFields,
    #[command(flatten)]
    pub dry_run: PreviewArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub zone: ZoneArgs,
    #[command(flatten)]
    pub confirm: Confirm,
    #[command(flatten)]
    pub dry_run: PreviewArgs,
}

fn parse_items(text: &str, catalog: &Catalog) -> AppResult<Vec<ItemRef>> {
    let items: Vec<String> = parse_list(text);
    if items.is_empty() {
        return Err(AppError::bad("--items: a zone must hold at least one item"));
    }
    items
        .iter()
        .map(|i| resolve_item(i, catalog).map_err(|m| AppError::bad(format!("--items: {m}"))))
        .collect()
}

fn apply(zone: &mut Zone, f: &ZoneFields, catalog: &Catalog) -> AppResult<()> {
    if let Some(s) = &f.start {
        zone.start_minute = parse_time_arg(s, "--start", false)?;
    }
    if let Some(e) = &f.end {
        zone.end_minute = parse_time_arg(e, "--end", true)?;
    }
    if let Some(items) = &f.items {
        zone.items = parse_items(items, catalog)?;
    }
    if let Some(e) = &f.enabled {
        zone.enabled = parse_bool(e, "--enabled")?;
    }
    Ok(())
}

fn find_zone(zones: &[Zone], args: &ZoneArgs) -> AppResult<usize> {
    zones
        .iter()
        .position(|z| z.name == args.name)
        .ok_or_else(|| {
            AppError::bad(format!(
                "channel {:?} plan {:?} has no zone {:?}",
                args.channel, args.plan, args.name
            ))
        })
}

fn add(args: AddArgs, global: &Global) -> AppResult<()> {
    let a = &args.zone;
    let f = &args.fields;
    let (Some(_), Some(_), Some(_)) = (&f.start, &f.end, &f.items) else {
        return Err(AppError::bad(
            "zone add: --start, --end and --items are required",
        ));
    };
    check_name("zone", &a.name)?;
    let mut store = open_store(global)?;
    let mut channel = require_channel(store.as_mut(), &a.channel)?;
    let p = find_plan(&channel, &a.plan)?;
    if channel.plans[p].zones.iter().any(|z| z.name == a.name) {
        return Err(AppError::bad(format!(
            "channel {:?} plan {:?}: duplicate zone name {:?}",
            a.channel, a.plan, a.name
        )));
    }
    let catalog = store.load_catalog()?;
    let mut zone = Zone {
        name: a.name.clone(),
        start_minute: 0,
        end_minute: 0,
        items: Vec::new(),
        enabled: true,
    };
    apply(&mut zone, f, &catalog)?;
    channel.plans[p].zones.push(zone.clone());
    save_channel(store.as_mut(), &channel, args.dry_run.dry_run)?;
    let preview = args.dry_run.preview_channel(store.as_mut(), &channel)?;
    report_change(
        &format!(
            "zone {:?} of channel {} plan {:?}",
            zone.name, channel.id, a.plan
        ),
        "added",
        args.dry_run.dry_run,
        global.json,
        serde_json::to_value(&zone).expect("plain data"),
        preview.as_ref(),
    );
    Ok(())
}

fn list(args: ListArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let mut channel = require_channel(store.as_mut(), &args.channel)?;
    if let Some(plan) = &args.plan {
        let p = find_plan(&channel, plan)?;
        channel.plans = vec![channel.plans.swap_remove(p)];
    }
    if global.json {
        let zones: Vec<serde_json::Value> = channel
            .plans
            .iter()
            .flat_map(|plan| {
                plan.zones
                    .iter()
                    .map(move |z| serde_json::json!({ "plan": plan.name, "zone": z }))
            })
            .collect();
        print_json(&zones);
        return Ok(());
    }
    print_plans(&channel);
    Ok(())
}

fn show(args: ZoneArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let mut channel = require_channel(store.as_mut(), &args.channel)?;
    let p = find_plan(&channel, &args.plan)?;
    let z = find_zone(&channel.plans[p].zones, &args)?;
    if global.json {
        print_json(&channel.plans[p].zones[z]);
        return Ok(());
    }
    let mut plan = channel.plans.swap_remove(p);
    plan.zones = vec![plan.zones.swap_remove(z)];
    channel.plans = vec![plan];
    print_plans(&channel);
    Ok(())
}

fn update(args: UpdateArgs, global: &Global) -> AppResult<()> {
    let a = &args.zone;
    let mut store = open_store(global)?;
    let mut channel = require_channel(store.as_mut(), &a.channel)?;
    let p = find_plan(&channel, &a.plan)?;
    let z = find_zone(&channel.plans[p].zones, a)?;
    let catalog = store.load_catalog()?;
    if let Some(new_name) = &args.rename {
        check_name("--rename: zone", new_name)?;
        if channel.plans[p]
            .zones
            .iter()
            .any(|zone| &zone.name == new_name)
        {
            return Err(AppError::bad(format!(
                "channel {:?} plan {:?}: duplicate zone name {new_name:?}",
                a.channel, a.plan
            )));
        }
        channel.plans[p].zones[z].name = new_name.clone();
    }
    apply(&mut channel.plans[p].zones[z], &args.fields, &catalog)?;
    save_channel(store.as_mut(), &channel, args.dry_run.dry_run)?;
    let preview = args.dry_run.preview_channel(store.as_mut(), &channel)?;
    let zone = &channel.plans[p].zones[z];
    report_change(
        &format!(
            "zone {:?} of channel {} plan {:?}",
            zone.name, channel.id, a.plan
        ),
        "updated",
        args.dry_run.dry_run,
        global.json,
        serde_json::to_value(zone).expect("plain data"),
        preview.as_ref(),
    );
    Ok(())
}

fn delete(args: DeleteArgs, global: &Global) -> AppResult<()> {
    let a = &args.zone;
    let mut store = open_store(global)?;
    let mut channel = require_channel(store.as_mut(), &a.channel)?;
    let p = find_plan(&channel, &a.plan)?;
    let z = find_zone(&channel.plans[p].zones, a)?;
    let zone = channel.plans[p].zones.remove(z);
    if !args.dry_run.dry_run {
        confirm(
            &format!(
                "delete zone {:?} of channel {} plan {:?}",
                zone.name, channel.id, a.plan
            ),
            args.confirm,
        )?;
    }
    save_channel(store.as_mut(), &channel, args.dry_run.dry_run)?;
    let preview = args.dry_run.preview_channel(store.as_mut(), &channel)?;
    report_change(
        &format!(
            "zone {:?} of channel {} plan {:?}",
            zone.name, channel.id, a.plan
        ),
        "deleted",
        args.dry_run.dry_run,
        global.json,
        serde_json::json!(zone.name),
        preview.as_ref(),
    );
    Ok(())
}

pub fn run(cmd: ZoneCommand, global: &Global) -> AppResult<()> {
    match cmd {
        ZoneCommand::Add(args) => add(args, global),
        ZoneCommand::List(args) => list(args, global),
        ZoneCommand::Show(args) => show(args, global),
        ZoneCommand::Update(args) => update(args, global),
        ZoneCommand::Delete(args) => delete(args, global),
    }
}
