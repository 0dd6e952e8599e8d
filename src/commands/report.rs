//! `report`: one self-contained HTML file of experiments (src/web/report.rs).

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;
use keepsake_core::model::filter::Filter;
use serde_json::Value;

use super::{ls, open_project, Global};
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct ReportArgs {
    /// Experiments to put in the report (any unique prefix); none: every one `--filter` keeps
    ids: Vec<String>,
    /// Keep experiments matching `<name> <op> <value>` (as `ls --filter`); repeatable
    #[arg(short, long = "filter", value_name = "EXPR")]
    filters: Vec<String>,
    /// Sort by this key; `-KEY` sorts descending
    #[arg(short, long, default_value = "created", allow_hyphen_values = true)]
    sort: String,
    /// The HTML file to write
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// The report's title
    #[arg(long, default_value = "Experiments")]
    title: String,
}

pub fn cmd_report(g: &Global, args: ReportArgs) -> CliResult {
    if !args.ids.is_empty() && !args.filters.is_empty() {
        return Err(CliError::user(
            "Give either experiment IDs or --filter, not both",
            None,
        ));
    }
    let filters: Vec<Filter> = args
        .filters
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<_, _>>()?;
    let project = open_project(g)?;
    let mut wanted = Vec::new();
    for prefix in &args.ids {
        let id = keepsake_core::experiments::resolve::resolve(&project, prefix)?
            .experiment()
            .id
            .clone();
        if !wanted.contains(&id) {
            wanted.push(id);
        }
    }
    let selected = ls::select(&project, None, &filters, &args.sort)?;
    for w in &selected.warnings {
        ui::warn(w);
    }
    let mut rows = selected.rows;
    if !wanted.is_empty() {
        let mut by_id: HashMap<_, _> = rows
            .into_iter()
            .map(|s| (s.experiment.id.clone(), s))
            .collect();
        rows = wanted.iter().filter_map(|id| by_id.remove(id)).collect();
    }
    let running: HashMap<_, _> = rows
        .iter()
        .map(|s| (s.experiment.id.clone(), s.running))
        .collect();
    let (all, _) = keepsake_core::experiments::read::experiments(&project)?;
    let mut details = serde_json::Map::new();
    for e in all.iter().filter(|e| running.contains_key(&e.id)) {
        details.insert(
            e.id.to_string(),
            crate::web::api::detail_json(e, running[&e.id], selected.status_known),
        );
    }
    let rows_json: Value = serde_json::from_str(&ls::listing_json(&rows))
        .map_err(|e| CliError::user(format!("internal error: {e}"), None))?;
    let page = crate::web::report::html(
        &args.title,
        &crate::web::report::data(&args.title, rows_json, details),
    );
    // Written beside the target, then renamed: a reader never sees half a report.
    let tmp = args.output.with_file_name(format!(
        ".{}.tmp-{}",
        args.output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let written = std::fs::write(&tmp, page).and_then(|()| std::fs::rename(&tmp, &args.output));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::user(
            format!("Cannot write {}: {e}", args.output.display()),
            None,
        ));
    }
    ui::progress(&format!(
        "Wrote {} ({} experiment(s))",
        args.output.display(),
        rows.len()
    ));
    Ok(())
}
