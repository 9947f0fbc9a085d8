//! `retrovue plan add|list|show|update|delete --channel ID`: a channel's SchedulePlans, saved
//! through the channel's validation (contracts/cli.md CLI-019).

use chrono::{NaiveDate, Weekday};
use clap::{Args, Subcommand};
use retrovue_core::model::{Channel, SchedulePlan};

use crate::cli::channel::{print_plans, report_change, save_channel};
use crate::cli::db::open_store;
use crate::cli::operator::{check_name, confirm, parse_bool, parse_list, print_json, Confirm};
use crate::cli::preview::PreviewArgs;
use crate::cli::schedule::{parse_date_arg, require_channel};
use crate::cli::Global;
use crate::error::{AppError, AppResult};

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Add a plan to a channel.
    Add(AddArgs),
    /// List a channel's plans.
    List(ChannelArg),
    /// Show one plan with its zones.
    Show(NameArgs),
    /// Change a plan.
    Update(UpdateArgs),
    /// Delete a plan with its zones.
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct ChannelArg {
    /// The channel id.
    #[arg(long)]
    pub channel: String,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The channel id.
    #[arg(long)]
    pub channel: String,
    /// The plan's name.
    pub name: String,
}

#[derive(Debug, Args, Default)]
pub struct PlanFields {
    /// Comma-separated weekdays (mon,tue,…) [default on add: every day].
    #[arg(long)]
    pub days: Option<String>,
    /// Higher wins when several plans apply [default on add: 0].
    #[arg(long)]
    pub priority: Option<u32>,
    /// First date it applies, YYYY-MM-DD (empty clears).
    #[arg(long)]
    pub start_date: Option<String>,
    /// Last date it applies, YYYY-MM-DD (empty clears).
    #[arg(long)]
    pub end_date: Option<String>,
    /// on or off.
    #[arg(long)]
    pub active: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The channel id.
    #[arg(long)]
    pub channel: String,
    /// The plan's name.
    pub name: String,
    #[command(flatten)]
    pub fields: PlanFields,
    #[command(flatten)]
    pub dry_run: PreviewArgs,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The channel id.
    #[arg(long)]
    pub channel: String,
    /// The plan's name.
    pub name: String,
    /// New name.
    #[arg(long)]
    pub rename: Option<String>,
    #[command(flatten)]
    pub fields: PlanFields,
    #[command(flatten)]
    pub dry_run: PreviewArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The channel id.
    #[arg(long)]
    pub channel: String,
    /// The plan's name.
    pub name: String,
    #[command(flatten)]
    pub confirm: Confirm,
    #[command(flatten)]
    pub dry_run: PreviewArgs,
}

const ALL_WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn parse_days(text: &str) -> AppResult<Vec<Weekday>> {
    let mut days = Vec::new();
    for name in parse_list(text) {
        let day = retrovue_core::lineup::parse_weekday(&name).ok_or_else(|| {
            AppError::bad(format!(
                "--days: {name:?} is not a weekday (mon, tue, wed, thu, fri, sat, sun)"
            ))
        })?;
        if days.contains(&day) {
            return Err(AppError::bad(format!("--days: {name:?} is listed twice")));
        }
        days.push(day);
    }
    if days.is_empty() {
        return Err(AppError::bad("--days: days must list at least one day"));
    }
    Ok(days)
}

fn optional_date(text: &str, flag: &str) -> AppResult<Option<NaiveDate>> {
    if text.is_empty() {
        Ok(None)
    } else {
        parse_date_arg(text, flag).map(Some)
    }
}

fn apply(plan: &mut SchedulePlan, f: &PlanFields) -> AppResult<()> {
    if let Some(d) = &f.days {
        plan.days = parse_days(d)?;
    }
    if let Some(p) = f.priority {
        plan.priority = p;
    }
    if let Some(d) = &f.start_date {
        plan.start_date = optional_date(d, "--start-date")?;
    }
    if let Some(d) = &f.end_date {
        plan.end_date = optional_date(d, "--end-date")?;
    }
    if let Some(a) = &f.active {
        plan.active = parse_bool(a, "--active")?;
    }
    Ok(())
}

/// The index of the plan called `name`, or bad input.
pub fn find_plan(channel: &Channel, name: &str) -> AppResult<usize> {
    channel
        .plans
        .iter()
        .position(|p| p.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = channel.plans.iter().map(|p| p.name.as_str()).collect();
            AppError::bad(format!(
                "channel {:?} has no plan {name:?} (plans: {})",
                channel.id,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
}

fn add(args: AddArgs, global: &Global) -> AppResult<()> {
    check_name("plan", &args.name)?;
    let mut store = open_store(global)?;
    let mut channel = require_channel(store.as_mut(), &args.channel)?;
    if channel.plans.iter().any(|p| p.name == args.name) {
        return Err(AppError::bad(format!(
            "channel {:?}: duplicate plan name {:?}",
            channel.id, args.name
        )));
    }
    let mut plan = SchedulePlan {
        name: args.name.clone(),
        priority: 0,
        days: ALL_WEEKDAYS.to_vec(),
        start_date: None,
        end_date: None,
        active: true,
        zones: Vec::new(),
    };
    apply(&mut plan, &args.fields)?;
    channel.plans.push(plan.clone());
    save_channel(store.as_mut(), &channel, args.dry_run.dry_run)?;
    let preview = args.dry_run.preview_channel(store.as_mut(), &channel)?;
    report_change(
        &format!("plan {:?} of channel {}", plan.name, channel.id),
        "added",
        args.dry_run.dry_run,
        global.json,
        serde_json::to_value(&plan).expect("plain data"),
        preview.as_ref(),
    );
    Ok(())
}

fn list(args: ChannelArg, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let channel = require_channel(store.as_mut(), &args.channel)?;
    if global.json {
        print_json(&channel.plans);
        return Ok(());
    }
    if channel.plans.is_empty() {
        println!(
            "channel {} has no plans; add one: retrovue plan add --channel {} NAME",
            channel.id, channel.id
        );
    }
    print_plans(&channel);
    Ok(())
}

fn show(args: NameArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let mut channel = require_channel(store.as_mut(), &args.channel)?;
    let index = find_plan(&channel, &args.name)?;
    if global.json {
        print_json(&channel.plans[index]);
        return Ok(());
    }
    channel.plans = vec![channel.plans.swap_remove(index)];
    print_plans(&channel);
    Ok(())
}

fn update(args: UpdateArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let mut channel = require_channel(store.as_mut(), &args.channel)?;
    let index = find_plan(&channel, &args.name)?;
    if let Some(new_name) = &args.rename {
        check_name("--rename: plan", new_name)?;
        if channel.plans.iter().any(|p| &p.name == new_name) {
            return Err(AppError::bad(format!(
                "channel {:?}: duplicate plan name {new_name:?}",
                channel.id
            )));
        }
        channel.plans[index].name = new_name.clone();
    }
    apply(&mut channel.plans[index], &args.fields)?;
    save_channel(store.as_mut(), &channel, args.dry_run.dry_run)?;
    let preview = args.dry_run.preview_channel(store.as_mut(), &channel)?;
    let plan = &channel.plans[index];
    report_change(
        &format!("plan {:?} of channel {}", plan.name, channel.id),
        "updated",
        args.dry_run.dry_run,
        global.json,
        serde_json::to_value(plan).expect("plain data"),
        preview.as_ref(),
    );
    Ok(())
}

fn delete(args: DeleteArgs, global: &Global) -> AppResult<()> {
    let mut store = open_store(global)?;
    let mut channel = require_channel(store.as_mut(), &args.channel)?;
    let index = find_plan(&channel, &args.name)?;
    let plan = channel.plans.remove(index);
    if !args.dry_run.dry_run {
        confirm(
            &format!(
                "delete plan {:?} of channel {} with its {} zones",
                plan.name,
                channel.id,
                plan.zones.len()
            ),
            args.confirm,
        )?;
    }
    save_channel(store.as_mut(), &channel, args.dry_run.dry_run)?;
    let preview = args.dry_run.preview_channel(store.as_mut(), &channel)?;
    report_change(
        &format!("plan {:?} of channel {}", plan.name, channel.id),
        "deleted",
        args.dry_run.dry_run,
        global.json,
        serde_json::json!(plan.name),
        preview.as_ref(),
    );
    Ok(())
}

pub fn run(cmd: PlanCommand, global: &Global) -> AppResult<()> {
    match cmd {
        PlanCommand::Add(args) => add(args, global),
        PlanCommand::List(args) => list(args, global),
        PlanCommand::Show(args) => show(args, global),
        PlanCommand::Update(args) => update(args, global),
        PlanCommand::Delete(args) => delete(args, global),
    }
}
