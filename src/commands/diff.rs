//! `diff`: params, metrics, environment and code of two experiments or checkpoints.

use std::collections::BTreeSet;

use clap::Args;
use keepsake_core::model::StoreOnlyFile;
use keepsake_core::text::{escape_except, human_size};
use keepsake_core::{experiments, model::value, Checkpoint, Experiment, Project, Target};
use serde_json::{json, Map, Value};

use super::markdown::{self, Format};
use super::{open_project, Global};
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct DiffArgs {
    /// First experiment or checkpoint ID (any unique prefix)
    a: String,
    /// Second experiment or checkpoint ID
    b: String,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Output format (`markdown` for a pull-request comment)
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// The checkpoint a diff compares: the one named, or an experiment's best, else its latest.
fn pick<'a>(
    g: &Global,
    prefix: &str,
    target: &'a Target,
) -> CliResult<(&'a Experiment, Option<&'a Checkpoint>)> {
    let e = target.experiment();
    Ok(match target.checkpoint() {
        Some(c) => (e, Some(c)),
        None if g.dialect == super::Dialect::Keepsake => {
            // Keepsake 0.4.2's words, and its refusal to compare an experiment without any.
            let (c, words) = match (e.best(), e.latest()) {
                (Some(c), _) => (c, "matches an experiment, picking the best checkpoint"),
                (None, Some(c)) => (c, "is an experiment, picking the latest checkpoint"),
                (None, None) => {
                    return Err(CliError::user(
                        format!(
                            "Could not pick best checkpoint for experiment \"{}\": it does not have any checkpoints.",
                            e.id.short()
                        ),
                        None,
                    ))
                }
            };
            ui::progress(&format!("\"{prefix}\" {words}"));
            (e, Some(c))
        }
        None => {
            let c = e.best().or_else(|| e.latest());
            if let Some(c) = c {
                let which = if e.best().is_some() { "best" } else { "latest" };
                ui::progress(&format!(
                    "`{prefix}` is an experiment: comparing its {which} checkpoint {}",
                    c.id.short()
                ));
            }
            (e, c)
        }
    })
}

type Rows = Vec<(String, Option<String>, Option<String>)>;

fn map_rows(a: &Map<String, Value>, b: &Map<String, Value>) -> Rows {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            (
                k.clone(),
                a.get(k).map(value::display),
                b.get(k).map(value::display),
            )
        })
        .collect()
}

fn field_rows(pairs: &[(&str, String, String)]) -> Rows {
    pairs
        .iter()
        .filter(|(_, x, y)| x != y)
        .map(|(k, x, y)| (k.to_string(), Some(x.clone()), Some(y.clone())))
        .collect()
}

fn packages(e: &Experiment) -> Map<String, Value> {
    e.python_packages
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.clone())))
        .collect()
}

pub fn cmd_diff(g: &Global, args: DiffArgs) -> CliResult {
    let project = open_project(g)?;
    let (ta, tb) = (
        experiments::resolve::resolve(&project, &args.a)?,
        experiments::resolve::resolve(&project, &args.b)?,
    );
    let ((ea, ca), (eb, cb)) = (pick(g, &args.a, &ta)?, pick(g, &args.b, &tb)?);
    let keepsake = g.dialect == super::Dialect::Keepsake;
    let d = Comparison::of(&project, (ea, ca), (eb, cb), !keepsake)?;
    if args.json || args.format == Format::Json {
        return Ok(ui::out_json(
            &(value::to_go_json(&d.json(), Some("  ")) + "\n"),
        )?);
    }
    if args.format == Format::Markdown {
        return Ok(ui::out(&d.markdown())?);
    }
    Ok(ui::out_escaped(&d.text(keepsake))?)
}

/// What differs between two experiments (and the checkpoints compared), section by section,
/// once for every output format.
struct Comparison<'a> {
    a: (&'a Experiment, Option<&'a Checkpoint>),
    b: (&'a Experiment, Option<&'a Checkpoint>),
    experiment: Rows,
    params: Rows,
    env: Rows,
    checkpoint: Rows,
    metrics: Rows,
    store_only: Vec<(String, Option<&'a StoreOnlyFile>, Option<&'a StoreOnlyFile>)>,
    /// None outside git.
    code: Option<String>,
}

impl<'a> Comparison<'a> {
    fn of(
        project: &Project,
        (ea, ca): (&'a Experiment, Option<&'a Checkpoint>),
        (eb, cb): (&'a Experiment, Option<&'a Checkpoint>),
        with_code: bool,
    ) -> CliResult<Comparison<'a>> {
        let experiment = field_rows(&[
            ("Command", ea.command.clone(), eb.command.clone()),
            (
                "Created",
                ui::long_time(ea.created),
                ui::long_time(eb.created),
            ),
            ("Host", ea.host.clone(), eb.host.clone()),
            (
                "Python version",
                ea.python_version.clone(),
                eb.python_version.clone(),
            ),
            ("User", ea.user.clone(), eb.user.clone()),
        ]);
        let empty = Map::new();
        let checkpoint = field_rows(&[
            (
                "Created",
                ca.map(|c| ui::long_time(c.created)).unwrap_or_default(),
                cb.map(|c| ui::long_time(c.created)).unwrap_or_default(),
            ),
            (
                "Path",
                ca.map(|c| c.path.clone()).unwrap_or_default(),
                cb.map(|c| c.path.clone()).unwrap_or_default(),
            ),
            (
                "Step",
                ca.map(|c| c.step.to_string()).unwrap_or_default(),
                cb.map(|c| c.step.to_string()).unwrap_or_default(),
            ),
        ]);
        Ok(Comparison {
            a: (ea, ca),
            b: (eb, cb),
            experiment,
            params: map_rows(&ea.params, &eb.params),
            env: map_rows(&packages(ea), &packages(eb)),
            checkpoint,
            metrics: map_rows(
                ca.map(|c| &c.metrics).unwrap_or(&empty),
                cb.map(|c| &c.metrics).unwrap_or(&empty),
            ),
            store_only: store_only_rows(ea, eb),
            code: if with_code {
                code_diff(project, ea, eb)?
            } else {
                None
            },
        })
    }

    fn json(&self) -> Value {
        let section = |rows: &Rows| -> Value {
            Value::Object(
                rows.iter()
                    .map(|(k, a, b)| (k.clone(), json!([a, b])))
                    .collect(),
            )
        };
        let ((ea, ca), (eb, cb)) = (self.a, self.b);
        json!({
            "a": {"experiment": ea.id.as_str(), "checkpoint": ca.map(|c| c.id.as_str())},
            "b": {"experiment": eb.id.as_str(), "checkpoint": cb.map(|c| c.id.as_str())},
            "experiment": section(&self.experiment),
            "params": section(&self.params),
            "python_packages": section(&self.env),
            "checkpoint": section(&self.checkpoint),
            "metrics": section(&self.metrics),
            "store_only": Value::Object(
                self.store_only
                    .iter()
                    .map(|(k, a, b)| (k.clone(), json!([a, b])))
                    .collect(),
            ),
            "code": self.code,
        })
    }

    fn markdown(&self) -> String {
        let ((ea, ca), (eb, cb)) = (self.a, self.b);
        let mut out = format!(
            "### Experiment `{}` vs `{}`\n\n",
            ea.id.short(),
            eb.id.short()
        );
        let sections: [(&str, &Rows); 5] = [
            ("Experiment", &self.experiment),
            ("Params", &self.params),
            ("Python packages", &self.env),
            ("Checkpoint", &self.checkpoint),
            ("Metrics", &self.metrics),
        ];
        for (title, rows) in sections {
            out.push_str(&format!("#### {title}\n\n"));
            let mut body: Vec<Vec<String>> = Vec::new();
            if title == "Checkpoint" {
                body.push(vec![
                    "ID".into(),
                    markdown::cell(&short(ca)),
                    markdown::cell(&short(cb)),
                ]);
            }
            for (k, a, b) in rows {
                let cell = |v: &Option<String>| markdown::cell(v.as_deref().unwrap_or("(not set)"));
                body.push(vec![markdown::cell(k), cell(a), cell(b)]);
            }
            if body.is_empty() {
                out.push_str("(no difference)\n\n");
            } else {
                let (a, b) = (
                    format!("`{}`", ea.id.short()),
                    format!("`{}`", eb.id.short()),
                );
                out.push_str(&markdown::table(&["", &a, &b], &body));
                out.push('\n');
            }
        }
        out.push_str("#### Code\n\n");
        match &self.code {
            Some(c) if c.is_empty() => out.push_str("(no difference)\n"),
            Some(c) => out.push_str(&markdown::code_block("diff", c)),
            None => out.push_str("(code diff needs a git repository)\n"),
        }
        out
    }

    /// `keepsake`: Keepsake 0.4.2's five sections in its 26-column cells, nothing more.
    fn text(&self, keepsake: bool) -> String {
        let ((ea, ca), (eb, cb)) = (self.a, self.b);
        let mut t = ui::Table::default();
        if keepsake {
            // Go's tabwriter minimum of 26 counts the 2 spaces of padding.
            t.min_width = 24;
        }
        let mut section = |title: &str, id_row: Option<(String, String)>, rows: &Rows| {
            t.header(vec![vec![title.to_string()]]);
            if let Some((a, b)) = id_row {
                t.row(vec![vec!["ID:".into()], vec![a], vec![b]]);
                t.paint(1, ui::Kind::Id);
                t.paint(2, ui::Kind::Id);
            }
            // Keepsake also says so of two experiments whose fields are all alike.
            let same_experiment = ea.id == eb.id || !keepsake;
            if rows.is_empty() && (title != "Experiment" || !same_experiment) {
                t.row(vec![vec!["(no difference)".into()]]);
            }
            for (k, a, b) in rows {
                let cell =
                    |v: &Option<String>| value::truncate(v.as_deref().unwrap_or("(not set)"), 50);
                t.row(vec![vec![format!("{k}:")], vec![cell(a)], vec![cell(b)]]);
            }
            t.row(vec![vec![String::new()]]);
        };
        section(
            "Experiment",
            Some((ea.id.short().into(), eb.id.short().into())),
            &self.experiment,
        );
        section("Params", None, &self.params);
        section("Python Packages", None, &self.env);
        section("Checkpoint", Some((short(ca), short(cb))), &self.checkpoint);
        section("Metrics", None, &self.metrics);
        if keepsake {
            return t.render();
        }
        let describe = |f: &Option<&StoreOnlyFile>| {
            Some(match f {
                Some(f) => format!(
                    "{}, {}, blake3 {}",
                    human_size(f.size),
                    f.reason.as_str(),
                    &f.blake3[..12.min(f.blake3.len())]
                ),
                None => "(not store-only)".into(),
            })
        };
        let store_only_text: Rows = self
            .store_only
            .iter()
            .map(|(k, a, b)| (k.clone(), describe(a), describe(b)))
            .collect();
        section("Store-only files (not in git)", None, &store_only_text);
        let mut out = t.render();
        out.push_str(&ui::paint(ui::Kind::Header, "Code"));
        out.push('\n');
        match &self.code {
            Some(c) if c.is_empty() => out.push_str("(no difference)\n"),
            // Printed as it is (with the table's styles), so escaped here: it is the code's.
            Some(c) => out.push_str(&ui::paint_diff(&escape_except(c, &['\n', '\t']))),
            None => out.push_str("(code diff needs a git repository)\n"),
        }
        out
    }
}

/// A checkpoint's short ID, or `(none)`.
fn short(c: Option<&Checkpoint>) -> String {
    c.map(|c| c.id.short().to_string())
        .unwrap_or_else(|| "(none)".into())
}

/// Store-only files (left out of git) that differ by hash or exist on one side only.
fn store_only_rows<'a>(
    a: &'a Experiment,
    b: &'a Experiment,
) -> Vec<(String, Option<&'a StoreOnlyFile>, Option<&'a StoreOnlyFile>)> {
    let by_path = |e: &'a Experiment| -> std::collections::BTreeMap<&'a str, &'a StoreOnlyFile> {
        e.store_only.iter().map(|f| (f.path.as_str(), f)).collect()
    };
    let (in_a, in_b) = (by_path(a), by_path(b));
    let paths: BTreeSet<&str> = in_a.keys().chain(in_b.keys()).copied().collect();
    paths
        .into_iter()
        .filter_map(|p| {
            let (x, y) = (in_a.get(p).copied(), in_b.get(p).copied());
            let same =
                matches!((x, y), (Some(x), Some(y)) if x.blake3 == y.blake3 && x.size == y.size);
            (!same).then(|| (p.to_string(), x, y))
        })
        .collect()
}

fn code_diff(project: &Project, a: &Experiment, b: &Experiment) -> CliResult<Option<String>> {
    if !project.has_git() {
        return Ok(None);
    }
    experiments::read::code_diff(project, a, b)
        .map(Some)
        .map_err(CliError::from)
}
