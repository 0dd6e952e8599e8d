//! `ls` and `ps`: Keepsake's experiment table, `--json` and `-q`.

use std::collections::{BTreeMap, BTreeSet};

use clap::Args;
use keepsake_core::model::filter::{self, Filter};
use keepsake_core::{clock, model::value, Checkpoint, Summary};
use serde_json::{json, Value};

use super::markdown::{self, Format};
use super::{open_project, Global};
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct LsArgs {
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Output format (`markdown` for a pull-request comment)
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Print only IDs
    #[arg(short, long)]
    quiet: bool,
    /// Show all params and metrics, not only those that differ
    #[arg(long)]
    all: bool,
    /// Keep experiments matching `<name> <op> <value>` (op: = != < <= > >=); repeatable
    #[arg(short, long = "filter", value_name = "EXPR")]
    filters: Vec<String>,
    /// Sort by this key; `-KEY` sorts descending
    #[arg(short, long, default_value = "created", allow_hyphen_values = true)]
    sort: String,
    /// List the experiments on this git remote instead
    #[arg(long, value_name = "REMOTE")]
    remote: Option<String>,
    /// Show only the first N experiments (after sorting)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    limit: Option<i64>,
    /// The table's columns, in order: experiment, started, status, host, user, params, best,
    /// latest, or the name of a param or metric (a column of its own)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    columns: Vec<String>,
}

pub fn cmd_ls(g: &Global, mut args: LsArgs, running_only: bool) -> CliResult {
    args.json |= args.format == Format::Json;
    if g.dialect == super::Dialect::Keepsake && args.quiet && (args.json || args.all) {
        let flag = if args.json { "--json" } else { "--all" };
        return Err(CliError::user(
            format!("Cannot use the --quiet flag in combination with {flag}"),
            None,
        ));
    }
    if args.quiet && (args.json || args.format == Format::Markdown) {
        return Err(CliError::user(
            "Cannot use --quiet with --json or --format markdown",
            None,
        ));
    }
    let limit = match args.limit {
        Some(n) if n <= 0 => {
            return Err(keepsake_core::Error::invalid("--limit", n, "it must be 1 or more").into())
        }
        n => n.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    if !args.columns.is_empty() && (args.json || args.quiet || args.format == Format::Markdown) {
        return Err(CliError::user(
            "Cannot use --columns with --json, --quiet or --format markdown",
            Some("--columns chooses the columns of the table"),
        ));
    }
    let mut filters: Vec<Filter> = args
        .filters
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<_, _>>()?;
    if running_only {
        filters.retain(|f| f.name != "status");
        filters.push(Filter::parse("status = running")?);
    }
    let project = open_project(g)?;
    let selected = select(&project, args.remote.as_deref(), &filters, &args.sort)?;
    for w in &selected.warnings {
        ui::warn(w);
    }
    let (mut rows, status_known) = (selected.rows, selected.status_known);
    if let Some(n) = limit {
        rows.truncate(n);
    }
    let columns = columns(&rows, &args.columns)?;
    let now = clock::now();
    if args.json {
        return Ok(ui::out_json(&listing_json(&rows))?);
    }
    if args.quiet {
        let ids: String = rows
            .iter()
            .map(|s| format!("{}\n", s.experiment.id))
            .collect();
        return Ok(ui::out(&ids)?);
    }
    if args.format == Format::Markdown {
        return Ok(ui::out(&markdown_table(&rows, args.all, status_known))?);
    }
    if rows.is_empty() {
        ui::progress("No experiments found");
        return Ok(());
    }
    Ok(ui::out_escaped(&table(
        &rows,
        columns,
        args.all,
        now,
        status_known,
    ))?)
}

/// The rows `ls` shows: the listing (local, or a remote's), filtered and sorted; what could not be
/// read is in `warnings`. The dashboard's `/api/experiments` is this too.
pub struct Selected {
    pub rows: Vec<Summary>,
    pub status_known: bool,
    pub warnings: Vec<String>,
}

pub fn select(
    project: &keepsake_core::Project,
    remote: Option<&str>,
    filters: &[Filter],
    sort: &str,
) -> CliResult<Selected> {
    let listing = match remote {
        Some(remote) => keepsake_core::sharing::list_remote(project, remote)?,
        None => keepsake_core::experiments::read::list(project)?,
    };
    let mut warnings: Vec<String> = listing.problems.iter().map(|p| p.to_string()).collect();
    if let Some(e) = &listing.status_unknown {
        warnings.push(format!("status unknown: store unreachable ({e})"));
    }
    let status_known = listing.status_unknown.is_none();
    if listing.unimported > 0 {
        warnings.push(format!(
            "{} experiment(s) in {} have no git ref yet: run `git keepsake import` to list them",
            listing.unimported,
            project.store_url()
        ));
    }
    let rows = filter::select(listing.experiments, filters, Some(sort))?;
    Ok(Selected {
        rows,
        status_known,
        warnings,
    })
}

/// `ls --json`'s text: an array of `summary_json`, in Go's layout.
pub fn listing_json(rows: &[Summary]) -> String {
    let items: Vec<Value> = rows.iter().map(summary_json).collect();
    value::to_go_json(&Value::Array(items), Some("  ")) + "\n"
}

/// Keepsake's `ls --json` object, with its key order.
pub fn summary_json(s: &Summary) -> Value {
    let e = &s.experiment;
    // Keepsake's listing shows `{}` for an experiment without params (its metadata has `null`).
    let params = Value::Object(e.params.clone());
    json!({
        "id": e.id.as_str(),
        "created": clock::format(&e.created),
        "params": params,
        "command": e.command,
        "num_checkpoints": s.num_checkpoints,
        "latest_checkpoint": s.latest.as_ref().map(Checkpoint::to_json_value),
        "best_checkpoint": s.best.as_ref().map(Checkpoint::to_json_value),
        "user": e.user,
        "host": e.host,
        "running": s.running,
    })
}

/// A column of the text table.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    Experiment,
    Started,
    Status,
    Host,
    User,
    Params,
    Best,
    Latest,
    /// A param, metric or built-in field by name, in a column of its own.
    Value(String),
}

/// `--columns`' fixed names (and their other spellings).
const FIXED_COLUMNS: [(&str, Column); 12] = [
    ("experiment", Column::Experiment),
    ("id", Column::Experiment),
    ("started", Column::Started),
    ("created", Column::Started),
    ("status", Column::Status),
    ("host", Column::Host),
    ("user", Column::User),
    ("params", Column::Params),
    ("best", Column::Best),
    ("best_checkpoint", Column::Best),
    ("latest", Column::Latest),
    ("latest_checkpoint", Column::Latest),
];

/// The columns `--columns` names (each checked: a name no experiment has is an error with the
/// closest names), or None for Keepsake's own choice.
fn columns(rows: &[Summary], names: &[String]) -> CliResult<Option<Vec<Column>>> {
    if names.is_empty() {
        return Ok(None);
    }
    let fixed: Vec<&str> = FIXED_COLUMNS.iter().map(|(n, _)| *n).collect();
    let mut out = Vec::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() {
            return Err(keepsake_core::Error::invalid(
                "--columns",
                names.join(","),
                "a column name is empty",
            )
            .into());
        }
        if let Some((_, c)) = FIXED_COLUMNS.iter().find(|(n, _)| *n == name) {
            out.push(c.clone());
            continue;
        }
        filter::check_name(rows, "column", name, &fixed)?;
        out.push(Column::Value(name.to_string()));
    }
    Ok(Some(out))
}

fn table(
    rows: &[Summary],
    chosen: Option<Vec<Column>>,
    all: bool,
    now: chrono::DateTime<chrono::Utc>,
    status_known: bool,
) -> String {
    let distinct =
        |f: fn(&Summary) -> &String| rows.iter().map(f).collect::<BTreeSet<_>>().len() > 1;
    let columns = chosen.unwrap_or_else(|| {
        let mut c = vec![Column::Experiment, Column::Started, Column::Status];
        if distinct(|s| &s.experiment.host) {
            c.push(Column::Host);
        }
        if distinct(|s| &s.experiment.user) {
            c.push(Column::User);
        }
        c.push(Column::Params);
        if rows.iter().any(|s| s.best.is_some()) {
            c.push(Column::Best);
        }
        c.push(Column::Latest);
        c
    });
    let param_keys = param_keys(rows, all);
    let metric_keys = metric_keys(rows, all);
    let mut t = ui::Table::default();
    t.header(
        columns
            .iter()
            .map(|c| {
                vec![match c {
                    Column::Experiment => "EXPERIMENT".into(),
                    Column::Started => "STARTED".into(),
                    Column::Status => "STATUS".into(),
                    Column::Host => "HOST".into(),
                    Column::User => "USER".into(),
                    Column::Params => "PARAMS".into(),
                    Column::Best => "BEST CHECKPOINT".into(),
                    Column::Latest => "LATEST CHECKPOINT".into(),
                    Column::Value(name) => name.to_uppercase(),
                }]
            })
            .collect(),
    );
    // On a terminal too narrow for the table, params are shortened first (to what still shows
    // some of each value), then the checkpoints' metrics (to the short ID), then params again.
    let longest_key = param_keys.iter().map(|k| ui::width(k)).max().unwrap_or(0);
    for (i, c) in columns.iter().enumerate() {
        match c {
            Column::Params => {
                t.shrinkable(i, (longest_key + 8).clamp(12, 24), 0);
                t.shrinkable(i, (longest_key + 2).clamp(6, 16), 2);
            }
            Column::Best | Column::Latest => t.shrinkable(i, 8, 1),
            Column::Value(name) => {
                let metric = rows.iter().any(|s| {
                    [&s.best, &s.latest]
                        .into_iter()
                        .flatten()
                        .any(|c| c.metrics.contains_key(name))
                });
                if metric {
                    t.shrinkable(i, 6, 1);
                } else {
                    t.shrinkable(i, 10, 0);
                    t.shrinkable(i, 6, 2);
                }
            }
            _ => {}
        }
    }
    for s in rows {
        let e = &s.experiment;
        let cells = columns
            .iter()
            .map(|c| match c {
                Column::Experiment => vec![e.id.short().to_string()],
                Column::Started => vec![ui::ago(e.created, now)],
                Column::Status => vec![status_word(status_known, s.running).to_string()],
                Column::Host => vec![e.host.clone()],
                Column::User => vec![e.user.clone()],
                Column::Params => param_keys
                    .iter()
                    .filter_map(|k| {
                        e.params
                            .get(k)
                            .map(|v| format!("{k}={}", value::short_string(v, 20, 5)))
                    })
                    .collect(),
                Column::Best => checkpoint_cell(s.best.as_ref(), &metric_keys),
                Column::Latest => checkpoint_cell(s.latest.as_ref(), &metric_keys),
                Column::Value(name) => {
                    let v = filter::lookup(s, name);
                    if value::is_none(&v) {
                        vec![]
                    } else {
                        vec![value::short_string(&v, 20, 5)]
                    }
                }
            })
            .collect();
        t.row(cells);
        if status_known && s.running {
            if let Some(i) = columns.iter().position(|c| *c == Column::Status) {
                t.paint(i, ui::Kind::Running);
            }
        }
        t.row(vec![vec![String::new()]]);
    }
    t.render()
}

/// The table as Markdown: the same columns, a checkpoint's lines joined in one cell, and times
/// absolute (a comment outlives "2 minutes ago").
fn markdown_table(rows: &[Summary], all: bool, status_known: bool) -> String {
    let param_keys = param_keys(rows, all);
    let metric_keys = metric_keys(rows, all);
    let distinct =
        |f: fn(&Summary) -> &String| rows.iter().map(f).collect::<BTreeSet<_>>().len() > 1;
    let (show_host, show_user) = (
        distinct(|s| &s.experiment.host),
        distinct(|s| &s.experiment.user),
    );
    let mut header = vec!["Experiment", "Created", "Status"];
    if show_host {
        header.push("Host");
    }
    if show_user {
        header.push("User");
    }
    header.extend(["Params", "Best checkpoint", "Latest checkpoint"]);
    let ckpt = |c: Option<&Checkpoint>| {
        checkpoint_cell(c, &metric_keys)
            .iter()
            .map(|l| markdown::cell(l))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            let e = &s.experiment;
            let mut r = vec![
                format!("`{}`", e.id.short()),
                markdown::cell(&clock::format(&e.created)),
                status_word(status_known, s.running).to_string(),
            ];
            if show_host {
                r.push(markdown::cell(&e.host));
            }
            if show_user {
                r.push(markdown::cell(&e.user));
            }
            r.push(
                param_keys
                    .iter()
                    .filter_map(|k| {
                        let v = e.params.get(k)?;
                        Some(markdown::cell(&format!(
                            "{k}={}",
                            value::short_string(v, 20, 5)
                        )))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            r.push(ckpt(s.best.as_ref()));
            r.push(ckpt(s.latest.as_ref()));
            r
        })
        .collect();
    markdown::table(&header, &body)
}

fn status_word(status_known: bool, running: bool) -> &'static str {
    match (status_known, running) {
        (false, _) => "unknown",
        (true, true) => "running",
        (true, false) => "stopped",
    }
}

/// Metrics to show: every one of each row's best (else latest) checkpoint with `--all`,
/// otherwise the primary metrics.
fn metric_keys(rows: &[Summary], all: bool) -> BTreeSet<String> {
    if all {
        rows.iter()
            .filter_map(|s| s.best.as_ref().or(s.latest.as_ref()))
            .flat_map(|c| c.metrics.keys().cloned())
            .collect()
    } else {
        rows.iter()
            .filter_map(|s| {
                s.best
                    .as_ref()?
                    .primary_metric
                    .as_ref()
                    .map(|p| p.name.clone())
            })
            .collect()
    }
}

/// Params to show: every scalar one with `--all`; otherwise those whose values differ between
/// the experiments that have them.
fn param_keys(rows: &[Summary], all: bool) -> Vec<String> {
    let mut values: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for s in rows {
        for (k, v) in &s.experiment.params {
            if !matches!(v, Value::Object(_) | Value::Array(_)) {
                values.entry(k).or_default().push(v);
            }
        }
    }
    values
        .into_iter()
        .filter(|(_, vs)| all || (vs.len() > 1 && vs.iter().any(|v| *v != vs[0])))
        .map(|(k, _)| k.to_string())
        .collect()
}

fn checkpoint_cell(c: Option<&Checkpoint>, metrics: &BTreeSet<String>) -> Vec<String> {
    let Some(c) = c else { return vec![] };
    let mut lines = vec![format!("{} (step {})", c.id.short(), c.step)];
    for m in metrics {
        if let Some(v) = c.metrics.get(m) {
            lines.push(format!("{m}={}", value::short_string(v, 20, 5)));
        }
    }
    lines
}
