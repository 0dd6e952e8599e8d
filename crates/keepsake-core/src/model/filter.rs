//! `ls --filter` and `--sort`: Keepsake's grammar (`<name> <op> <value>`), with nested names by
//! dots, metrics from the best checkpoint (else the latest), and clean errors where Keepsake
//! panicked.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::{value, Experiment, Summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub name: String,
    pub op: Op,
    pub value: Value,
}

impl Filter {
    pub fn parse(expr: &str) -> Result<Filter> {
        let bad = |why: &str| Error::BadExpression {
            what: "filter".into(),
            value: expr.to_string(),
            message: format!(
                "{why}; the format is `<name> <op> <value>` with op one of = != < <= > >="
            ),
        };
        // Two-character operators first, so `<=` is not read as `<`.
        let ops = [
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let (pos, len, op) = ops
            .iter()
            .filter_map(|(s, op)| expr.find(s).map(|p| (p, s.len(), *op)))
            .min_by_key(|(p, len, _)| (*p, usize::MAX - len))
            .ok_or_else(|| bad("no operator"))?;
        let name = expr[..pos].trim();
        let raw = expr[pos + len..].trim();
        if raw.starts_with(['=', '<', '>']) {
            return Err(bad("unknown operator"));
        }
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_. ".contains(c));
        if !name_ok {
            return Err(bad(
                "the name is empty or has characters other than letters, digits, `-`, `_`, `.`",
            ));
        }
        Ok(Filter {
            name: name.to_string(),
            op,
            value: parse_value(raw),
        })
    }

    pub fn matches(&self, s: &Summary) -> Result<bool> {
        let actual = lookup(s, &self.name);
        let wanted = if self.name == "created" || self.name == "started" {
            match parse_date(&self.value) {
                Some(t) => Value::from(t),
                None => {
                    return Err(Error::BadExpression {
                        what: "date".into(),
                        value: value::display(&self.value).to_string(),
                        message: "use YYYY-MM-DD or RFC 3339".to_string(),
                    })
                }
            }
        } else {
            self.value.clone()
        };
        if value::is_none(&wanted) {
            let none = value::is_none(&actual);
            return Ok(if self.op == Op::Eq { none } else { !none });
        }
        if value::is_none(&actual) {
            return Ok(false);
        }
        if matches!(actual, Value::Object(_) | Value::Array(_))
            || matches!(wanted, Value::Object(_) | Value::Array(_))
        {
            return match self.op {
                Op::Eq => Ok(actual == wanted),
                Op::Ne => Ok(actual != wanted),
                _ => Err(Error::BadExpression {
                    what: "filter".into(),
                    value: self.name.to_string(),
                    message: "objects and lists can only be compared with = and !=".to_string(),
                }),
            };
        }
        let ord = value::compare(&actual, &wanted).map_err(|m| Error::BadExpression {
            what: "filter".into(),
            value: self.name.to_string(),
            message: m.to_string(),
        })?;
        Ok(match self.op {
            Op::Eq => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
        })
    }
}

fn parse_value(raw: &str) -> Value {
    match raw {
        "null" | "None" => return Value::Null,
        _ => {}
    }
    if raw.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if raw.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ (Value::Number(_) | Value::Object(_) | Value::Array(_))) => value::normalize(v),
        _ => Value::String(raw.to_string()),
    }
}

fn parse_date(v: &Value) -> Option<i64> {
    let s = value::display(v);
    if let Some(t) = crate::clock::parse(&s) {
        return Some(t.timestamp());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&s, fmt) {
            return Some(t.and_utc().timestamp());
        }
    }
    chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

fn nested<'a>(map: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(name) {
        return Some(v);
    }
    let (head, rest) = name.split_once('.')?;
    match map.get(head)? {
        Value::Object(m) => nested(m, rest),
        _ => None,
    }
}

/// The value `name` has for an experiment: a built-in field, a metric of its best (else latest)
/// checkpoint, or a param; Null when it has none.
pub fn lookup(s: &Summary, name: &str) -> Value {
    let e = &s.experiment;
    match name {
        "created" | "started" => return Value::from(e.created.timestamp()),
        "step" => return Value::from(s.latest.as_ref().map(|c| c.step).unwrap_or(0)),
        "user" => return Value::from(e.user.clone()),
        "host" => return Value::from(e.host.clone()),
        "command" => return Value::from(e.command.clone()),
        "status" => return Value::from(if s.running { "running" } else { "stopped" }),
        "id" => return Value::from(e.id.to_string()),
        _ => {}
    }
    if let Some(v) = s
        .best
        .as_ref()
        .or(s.latest.as_ref())
        .and_then(|c| nested(&c.metrics, name))
    {
        return v.clone();
    }
    nested(&e.params, name).cloned().unwrap_or(Value::Null)
}

/// The names every experiment has, besides its params and metrics.
pub const BUILT_IN: [&str; 8] = [
    "created", "started", "step", "user", "host", "command", "status", "id",
];

/// A sort key's name and whether it is descending: `KEY`, `-KEY` or Keepsake's `KEY-desc` /
/// `KEY-asc`.
pub fn sort_key(key: &str) -> (&str, bool) {
    if let Some(k) = key.strip_prefix('-') {
        (k, true)
    } else if let Some(k) = key.strip_suffix("-desc") {
        (k, true)
    } else {
        (key.strip_suffix("-asc").unwrap_or(key), false)
    }
}

/// Whether `name` is a built-in field or a param or metric (nested by dots) of some row; a name
/// whose value is null counts, since `name = None` means something then.
fn has_name(rows: &[Summary], name: &str) -> bool {
    BUILT_IN.contains(&name)
        || rows.iter().any(|s| {
            nested(&s.experiment.params, name).is_some()
                || [&s.best, &s.latest]
                    .into_iter()
                    .flatten()
                    .any(|c| nested(&c.metrics, name).is_some())
        })
}

/// Every name `has_name` takes for these rows, sorted: built-ins, params and metrics, nested
/// ones by dots.
fn known_names(rows: &[Summary]) -> Vec<String> {
    fn walk(prefix: &str, map: &serde_json::Map<String, Value>, out: &mut BTreeSet<String>) {
        for (k, v) in map {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if let Value::Object(m) = v {
                walk(&name, m, out);
            }
            out.insert(name);
        }
    }
    let mut names: BTreeSet<String> = BUILT_IN.iter().map(|s| s.to_string()).collect();
    for s in rows {
        walk("", &s.experiment.params, &mut names);
        for c in [&s.best, &s.latest].into_iter().flatten() {
            walk("", &c.metrics, &mut names);
        }
    }
    names.into_iter().collect()
}

/// The names of `candidates` closest to `name`, best first, at most three (none when nothing
/// is close enough to be a likely typo).
fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        // clap's threshold for "did you mean".
        .filter(|(score, _)| *score > 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// An error naming `name` unless some row has it (`what` says where it came from: "filter",
/// "sort key", "column"); `also` are more names that count (a caller's own columns). With no
/// rows there is nothing to tell a typo by, so every name passes.
pub fn check_name(rows: &[Summary], what: &str, name: &str, also: &[&str]) -> Result<()> {
    if rows.is_empty() || also.contains(&name) || has_name(rows, name) {
        return Ok(());
    }
    let known = known_names(rows);
    let candidates = known.iter().map(String::as_str).chain(also.iter().copied());
    Err(Error::UnknownName {
        what: what.to_string(),
        name: name.to_string(),
        suggestions: closest(name, candidates),
    })
}

/// Checks that every filter and the sort key (when given) name something at least one of
/// `rows` has: a typo is an error with the closest names, never an empty listing.
pub fn check_names(rows: &[Summary], filters: &[Filter], sort: Option<&str>) -> Result<()> {
    for f in filters {
        check_name(rows, "filter", &f.name, &[])?;
    }
    if let Some(key) = sort {
        check_name(rows, "sort key", sort_key(key).0, &[])?;
    }
    Ok(())
}

/// `rows` checked (`check_names`), filtered and sorted: what `ls`, the dashboard and Python's
/// `experiments.list(filter=...)` show.
pub fn select(
    rows: Vec<Summary>,
    filters: &[Filter],
    sort_by: Option<&str>,
) -> Result<Vec<Summary>> {
    check_names(&rows, filters, sort_by)?;
    let mut kept = Vec::with_capacity(rows.len());
    for s in rows {
        let mut keep = true;
        for f in filters {
            keep &= f.matches(&s)?;
        }
        if keep {
            kept.push(s);
        }
    }
    if let Some(key) = sort_by {
        sort(&mut kept, key)?;
    }
    Ok(kept)
}

/// `KEY` ascending, `-KEY` (or Keepsake's `KEY-desc`) descending.
pub fn sort(rows: &mut Vec<Summary>, key: &str) -> Result<()> {
    let (name, descending) = sort_key(key);
    let mut keyed: Vec<(Value, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, s)| (lookup(s, name), i))
        .collect();
    let mut error = None;
    keyed.sort_by(|(a, ia), (b, ib)| {
        let ord = match (value::is_none(a), value::is_none(b)) {
            (true, true) => Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => value::compare(a, b).unwrap_or_else(|m| {
                error.get_or_insert(m);
                Ordering::Equal
            }),
        };
        let ord = if descending { ord.reverse() } else { ord };
        ord.then(ia.cmp(ib))
    });
    if let Some(m) = error {
        return Err(Error::BadExpression {
            what: "sort key".into(),
            value: name.to_string(),
            message: m.to_string(),
        });
    }
    let mut taken: Vec<Option<Summary>> = rows.drain(..).map(Some).collect();
    rows.extend(keyed.iter().filter_map(|(_, i)| taken[*i].take()));
    Ok(())
}

/// Of `exps` (each with whether it is running), those every filter keeps, as `ls --filter`
/// keeps rows; a filter naming what none of them has is an error (`check_names`).
pub fn keep_experiments(
    exps: Vec<(Experiment, bool)>,
    filters: &[Filter],
) -> Result<Vec<Experiment>> {
    let rows: Vec<Summary> = exps
        .iter()
        .map(|(e, running)| Summary::of(e.clone(), *running))
        .collect();
    check_names(&rows, filters, None)?;
    let mut out = Vec::new();
    for ((exp, _), row) in exps.into_iter().zip(&rows) {
        let mut keep = true;
        for f in filters {
            keep &= f.matches(row)?;
        }
        if keep {
            out.push(exp);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_without_suggestions_lists_every_built_in_name() {
        let e = Error::UnknownName {
            what: "filter".into(),
            name: "zzz".into(),
            suggestions: vec![],
        };
        let hint = e.hint().unwrap();
        assert!(BUILT_IN.iter().all(|n| hint.contains(n)), "{hint}");
    }

    #[test]
    fn parses_keepsake_grammar() {
        let f = Filter::parse("note = lower lr, wider layer").unwrap();
        assert_eq!(
            (f.name.as_str(), f.op, f.value.as_str()),
            ("note", Op::Eq, Some("lower lr, wider layer"))
        );
        assert_eq!(Filter::parse("step>=5").unwrap().op, Op::Ge);
        assert_eq!(
            Filter::parse("model.dropout < 0.5").unwrap().name,
            "model.dropout"
        );
        assert!(Filter::parse("foo == bar").is_err());
        assert!(Filter::parse("foo >> bar").is_err());
        assert!(Filter::parse("no operator").is_err());
        assert_eq!(Filter::parse("seed = None").unwrap().value, Value::Null);
    }

    fn row(params: Value, metrics: Value) -> Summary {
        let experiment: crate::model::Experiment = serde_json::from_value(serde_json::json!({
            "id": "a".repeat(64),
            "created": "2026-03-01T12:00:00Z",
            "params": params,
        }))
        .unwrap();
        let latest: crate::model::Checkpoint = serde_json::from_value(serde_json::json!({
            "id": "b".repeat(64),
            "created": "2026-03-01T12:00:00Z",
            "step": 1,
            "metrics": metrics,
        }))
        .unwrap();
        Summary {
            experiment,
            num_checkpoints: 1,
            best: None,
            latest: Some(latest),
            running: false,
        }
    }

    #[test]
    fn names_no_experiment_has_are_errors_with_the_closest() {
        let rows = vec![
            row(
                serde_json::json!({"learning_rate": 0.1, "model": {"dropout": 0.5}, "seed": null}),
                serde_json::json!({"val_loss": 0.3}),
            ),
            row(serde_json::json!({"batch": 8}), serde_json::json!({})),
        ];
        let f = |e: &str| Filter::parse(e).unwrap();
        // Params (nested, null), metrics and built-ins, in any row.
        for ok in [
            "learning_rate > 0",
            "model.dropout < 1",
            "seed = None",
            "val_loss < 1",
            "batch = 8",
            "step > 0",
            "status = running",
        ] {
            check_names(&rows, &[f(ok)], None).unwrap();
        }
        check_names(&rows, &[], Some("-val_loss")).unwrap();
        check_names(&rows, &[], Some("model.dropout-desc")).unwrap();
        let err = |e: Error| match e {
            Error::UnknownName {
                what,
                name,
                suggestions,
            } => (what, name, suggestions),
            other => panic!("{other}"),
        };
        let (what, name, s) = err(check_names(&rows, &[f("learning_rat > 1")], None).unwrap_err());
        assert_eq!((what.as_str(), name.as_str()), ("filter", "learning_rat"));
        assert_eq!(s[0], "learning_rate");
        let (what, name, s) = err(check_names(&rows, &[], Some("-val_los")).unwrap_err());
        assert_eq!(
            (what.as_str(), name.as_str(), s[0].as_str()),
            ("sort key", "val_los", "val_loss")
        );
        let (_, _, s) = err(check_names(&rows, &[f("model.dropuot < 1")], None).unwrap_err());
        assert_eq!(s[0], "model.dropout");
        let (_, _, s) = err(check_names(&rows, &[f("zzzzqqq = 1")], None).unwrap_err());
        assert!(s.is_empty());
        let e = check_names(&rows, &[f("stauts = running")], None).unwrap_err();
        assert_eq!(e.hint().unwrap(), "Did you mean `status` or `started`?");
        assert!(e.to_string().contains("`stauts`"), "{e}");
        // Nothing to tell a typo by.
        check_names(&[], &[f("nosuch > 1")], Some("nosuch")).unwrap();
        // A caller's own names count, and are suggested.
        check_name(&rows, "column", "latest", &["latest"]).unwrap();
        let (_, _, s) = err(check_name(&rows, "column", "latset", &["latest"]).unwrap_err());
        assert_eq!(s, ["latest"]);
    }

    #[test]
    fn select_checks_filters_and_sorts() {
        let rows = vec![
            row(serde_json::json!({"lr": 0.1}), serde_json::json!({})),
            row(serde_json::json!({"lr": 0.5}), serde_json::json!({})),
            row(serde_json::json!({"lr": 0.3}), serde_json::json!({})),
        ];
        let lr = |rows: &[Summary]| {
            rows.iter()
                .map(|s| s.experiment.params["lr"].as_f64().unwrap())
                .collect::<Vec<_>>()
        };
        let got = select(
            rows.clone(),
            &[Filter::parse("lr > 0.2").unwrap()],
            Some("-lr"),
        )
        .unwrap();
        assert_eq!(lr(&got), [0.5, 0.3]);
        assert!(select(rows, &[Filter::parse("lrr > 0.2").unwrap()], None).is_err());
    }
}
