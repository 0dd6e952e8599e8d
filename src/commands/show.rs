//! `show`: one experiment (all fields and its checkpoints) or one checkpoint.

use clap::Args;
use keepsake_core::experiments;
use keepsake_core::text::human_size;
use keepsake_core::{model::value, Checkpoint, Experiment, Target};
use serde_json::Value;

use super::{open_project, Global};
use crate::error::CliResult;
use crate::ui;

#[derive(Args)]
pub struct ShowArgs {
    /// Experiment or checkpoint ID (any unique prefix)
    id: String,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Show all Python packages
    #[arg(long)]
    all: bool,
    /// With --json of a checkpoint: add `contents`, the files in its tarball with their sizes
    /// (read from the store; without it the JSON is Keepsake's checkpoint exactly)
    #[arg(long, requires = "json")]
    files: bool,
}

/// Lines of a `show` page; field rows share one column width across sections.
pub enum Line {
    Title(String),
    Heading(&'static str),
    Blank,
    Field(String, String),
    Raw(String),
}

pub fn render(lines: &[Line]) -> String {
    use keepsake_core::text::escape_controls;
    let width = lines
        .iter()
        .filter_map(|l| match l {
            Line::Field(k, _) => Some(ui::width(&escape_controls(k)) + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        + 2;
    let mut out = String::new();
    for l in lines {
        let text = match l {
            // Tables come rendered (their cells escaped); everything else is one line each.
            Line::Raw(t) => t.clone(),
            // Keepsake's title is bold and underlined; ours colours the ID as git colours a commit's.
            Line::Title(t) if ui::dialect() == ui::Dialect::Keepsake => {
                ui::paint(ui::Kind::Title, &escape_controls(t))
            }
            // "Experiment: <id>": the ID coloured, as git colours a commit's.
            Line::Title(t) => match t.split_once(": ") {
                Some((label, id)) => {
                    format!("{label}: {}", ui::paint(ui::Kind::Id, &escape_controls(id)))
                }
                None => escape_controls(t).into_owned(),
            },
            Line::Heading(h) => ui::paint(ui::Kind::Header, h),
            Line::Blank => String::new(),
            Line::Field(k, v) => {
                let key = format!("{}:", escape_controls(k));
                let pad = " ".repeat(width.saturating_sub(ui::width(&key)));
                format!("{key}{pad}{}", escape_controls(v))
            }
        };
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// `show --json` of an experiment (the dashboard's `/api/experiments/<id>` starts from it).
pub fn experiment_json(e: &Experiment) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    // As Keepsake's `show --json`: `{}` for no params, while the metadata has `null`.
    if v["params"].is_null() {
        v["params"] = Value::Object(Default::default());
    }
    // Only when there are some, so Keepsake's own experiments read as Keepsake shows them.
    if !e.store_only.is_empty() {
        v["store_only"] = serde_json::to_value(&e.store_only).unwrap_or(Value::Null);
    }
    v
}

pub fn cmd_show(g: &Global, args: ShowArgs) -> CliResult {
    let project = open_project(g)?;
    let target = experiments::resolve::resolve(&project, &args.id)?;
    // Git has all the rest: a store that does not answer only leaves the status unknown.
    let status = experiments::running::running_status(&project);
    if let Some(e) = &status.unknown {
        ui::warn(&format!("status unknown: store unreachable ({e})"));
    }
    let running = status.ids.contains(&target.experiment().id);
    if args.json {
        let v = match &target {
            Target::Experiment(e) => experiment_json(e),
            Target::Checkpoint(e, id) => match e.checkpoint(id) {
                Some(c) if args.files => {
                    let mut v = c.to_json_value();
                    let files =
                        experiments::checkout::checkpoint_files(&project, c, &ui::bars_if_slow())?;
                    v["contents"] = files
                        .into_iter()
                        .map(|(path, size)| serde_json::json!({"path": path, "size": size}))
                        .collect();
                    v
                }
                Some(c) => c.to_json_value(),
                None => Value::Null,
            },
        };
        return Ok(ui::out_json(&(value::to_go_json(&v, Some("  ")) + "\n"))?);
    }
    let keepsake = g.dialect == super::Dialect::Keepsake;
    let mut lines = Vec::new();
    match &target {
        Target::Experiment(e) => {
            lines.push(Line::Title(format!("Experiment: {}", e.id)));
            lines.push(Line::Blank);
            experiment_fields(e, running, args.all, keepsake, &mut lines);
            checkpoints_table(e, keepsake, &mut lines);
        }
        Target::Checkpoint(e, id) => {
            let Some(c) = e.checkpoint(id) else {
                return Ok(());
            };
            lines.push(Line::Title(format!("Checkpoint: {}", c.id)));
            lines.push(Line::Blank);
            lines.push(Line::Field("Created".into(), ui::long_time(c.created)));
            lines.push(Line::Field("Path".into(), c.path.clone()));
            lines.push(Line::Field("Step".into(), c.step.to_string()));
            if let Some(f) = c.files.as_ref().filter(|_| !keepsake) {
                lines.push(Line::Field(
                    "Files".into(),
                    match f.digest() {
                        Some((algorithm, hash)) => {
                            format!("{} ({} bytes, {} {hash})", f.key, f.size, algorithm.name())
                        }
                        None => format!("{} ({} bytes)", f.key, f.size),
                    },
                ));
            }
            // Keepsake 0.4.2 lists no files on a checkpoint page.
            if !keepsake {
                contents_section(&project, c, &mut lines);
            }
            lines.push(Line::Blank);
            lines.push(Line::Heading("Experiment"));
            lines.push(Line::Field("ID".into(), e.id.to_string()));
            experiment_fields(e, running, args.all, keepsake, &mut lines);
            lines.push(Line::Blank);
            lines.push(Line::Heading("Metrics"));
            for (k, v) in &c.metrics {
                let primary = c.primary_metric.as_ref().filter(|p| &p.name == k);
                let suffix = primary
                    .map(|p| format!(" (primary, {})", p.goal.as_str()))
                    .unwrap_or_default();
                lines.push(Line::Field(
                    k.clone(),
                    format!("{}{suffix}", shown(v, keepsake)),
                ));
            }
            if c.metrics.is_empty() {
                lines.push(Line::Raw("(none)".into()));
            }
            if keepsake {
                lines.push(Line::Blank); // Keepsake ends a checkpoint's page with an empty line
            }
        }
    }
    Ok(ui::out_escaped(&render(&lines))?)
}

/// A value on a `show` page; Keepsake 0.4.2 prints NaN and the infinities as their JSON
/// strings, quotes included.
fn shown(v: &Value, keepsake: bool) -> String {
    match v {
        Value::String(s)
            if keepsake && ["[NaN]", "[+Infinity]", "[-Infinity]"].contains(&s.as_str()) =>
        {
            format!("\"{s}\"")
        }
        _ => value::display(v),
    }
}

const INTERESTING_PACKAGES: [&str; 10] = [
    "cntk",
    "keras",
    "jax",
    "mxnet",
    "numpy",
    "pandas",
    "pytorch_lightning",
    "sklearn",
    "tensorflow",
    "torch",
];

/// `keepsake`: Keepsake 0.4.2's rows only where it has the same facts (no `Code` row).
fn experiment_fields(
    e: &Experiment,
    running: bool,
    all: bool,
    keepsake: bool,
    lines: &mut Vec<Line>,
) {
    lines.push(Line::Field("Created".into(), ui::long_time(e.created)));
    lines.push(Line::Field(
        "Status".into(),
        if running { "running" } else { "stopped" }.into(),
    ));
    lines.push(Line::Field("Host".into(), e.host.clone()));
    lines.push(Line::Field("User".into(), e.user.clone()));
    lines.push(Line::Field("Command".into(), e.command.clone()));
    if !e.path.is_empty() && !keepsake {
        lines.push(Line::Field("Code".into(), e.path.clone()));
    }
    if let Some(commit) = &e.git_commit {
        let dirty = if e.git_dirty {
            " (with uncommitted changes)"
        } else {
            ""
        };
        lines.push(Line::Field("Git commit".into(), format!("{commit}{dirty}")));
    }
    store_only_section(e, lines);
    lines.push(Line::Blank);
    lines.push(Line::Heading("Params"));
    for (k, v) in &e.params {
        lines.push(Line::Field(k.clone(), shown(v, keepsake)));
    }
    if e.params.is_empty() {
        lines.push(Line::Raw("(none)".into()));
    }
    if !e.python_version.is_empty() {
        lines.push(Line::Blank);
        lines.push(Line::Heading("System"));
        lines.push(Line::Field(
            "Python version".into(),
            e.python_version.clone(),
        ));
    }
    lines.push(Line::Blank);
    lines.push(Line::Heading("Python packages"));
    let packages: Vec<(&String, &String)> = e.python_packages.iter().collect();
    let shown: Vec<_> = if all || packages.len() <= 5 {
        packages.clone()
    } else {
        let interesting: Vec<_> = packages
            .iter()
            .copied()
            .filter(|(k, _)| INTERESTING_PACKAGES.contains(&k.as_str()))
            .collect();
        if interesting.is_empty() {
            packages.iter().copied().take(5).collect()
        } else {
            interesting
        }
    };
    for (k, v) in &shown {
        lines.push(Line::Field((*k).clone(), (*v).clone()));
    }
    if packages.is_empty() {
        lines.push(Line::Raw("(none)".into()));
    } else if shown.len() < packages.len() {
        lines.push(Line::Raw(format!(
            "... and {} more. Use --all to view.",
            packages.len() - shown.len()
        )));
    }
}

/// The files in a checkpoint's tarball with their sizes, read from the store (headers only,
/// checked like a checkout). A store that cannot give them leaves a warning, not a failure:
/// git has everything else on the page.
fn contents_section(project: &keepsake_core::Project, c: &Checkpoint, lines: &mut Vec<Line>) {
    if c.path.is_empty() {
        return;
    }
    lines.push(Line::Blank);
    lines.push(Line::Heading("Contents"));
    match experiments::checkout::checkpoint_files(project, c, &ui::bars_if_slow()) {
        Ok(files) => {
            let mut files = files;
            files.sort();
            let mut t = ui::Table::default();
            t.row(vec![vec!["PATH".into()], vec!["SIZE".into()]]);
            for (path, size) in &files {
                t.row(vec![vec![path.clone()], vec![human_size(*size)]]);
            }
            lines.push(Line::Raw(t.render().trim_end().to_string()));
            let total: u64 = files.iter().map(|(_, s)| s).sum();
            lines.push(Line::Raw(format!(
                "{}, {}",
                ui::count(files.len(), "file"),
                human_size(total)
            )));
        }
        Err(e) => {
            ui::warn(&format!("files unknown: {}", ui::one_line(&e.to_string())));
            lines.push(Line::Raw("(unknown: the store did not give them)".into()));
        }
    }
}

/// The files of the code snapshot that git left out (the store's tarball has them).
fn store_only_section(e: &Experiment, lines: &mut Vec<Line>) {
    if e.store_only.is_empty() {
        return;
    }
    lines.push(Line::Blank);
    lines.push(Line::Heading("Store only (left out of git)"));
    let mut t = ui::Table::default();
    t.header(vec![
        vec!["PATH".into()],
        vec!["SIZE".into()],
        vec!["WHY".into()],
    ]);
    for f in &e.store_only {
        t.row(vec![
            vec![f.path.clone()],
            vec![human_size(f.size)],
            vec![f.reason.as_str().into()],
        ]);
    }
    lines.push(Line::Raw(t.render().trim_end().to_string()));
}

fn checkpoints_table(e: &Experiment, keepsake: bool, lines: &mut Vec<Line>) {
    lines.push(Line::Blank);
    lines.push(Line::Heading("Checkpoints"));
    if e.checkpoints.is_empty() {
        lines.push(Line::Raw("(none)".into()));
        return;
    }
    let metrics: Vec<String> = e.checkpoints[0].metrics.keys().cloned().collect();
    let best = e.best().map(|c| c.id.clone());
    let mut t = ui::Table::default();
    let mut header = vec![
        vec!["ID".to_string()],
        vec!["STEP".to_string()],
        vec!["CREATED".to_string()],
    ];
    header.extend(metrics.iter().map(|m| vec![m.to_uppercase()]));
    t.header(header);
    for c in &e.checkpoints {
        let mut row = vec![
            vec![c.id.short().to_string()],
            vec![c.step.to_string()],
            // Keepsake's table says how long ago, like `ls`.
            vec![if keepsake {
                ui::ago(c.created, keepsake_core::clock::now())
            } else {
                ui::long_time(c.created)
            }],
        ];
        for m in &metrics {
            let mut cell = c
                .metrics
                .get(m)
                .map(|v| value::short_string(v, 10, 5))
                .unwrap_or_default();
            let is_primary = c.primary_metric.as_ref().is_some_and(|p| &p.name == m);
            if is_primary && best.as_ref() == Some(&c.id) {
                cell.push_str(" (best)");
            }
            row.push(vec![cell]);
        }
        t.row(row);
    }
    lines.push(Line::Raw(t.render().trim_end().to_string()));
    lines.push(Line::Blank);
    lines.push(Line::Raw(
        "To see more details about a checkpoint, run:".into(),
    ));
    let program = if keepsake { "keepsake" } else { "git keepsake" };
    lines.push(Line::Raw(format!("  {program} show <checkpoint ID>")));
}
