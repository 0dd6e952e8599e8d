//! `ls --filter` and `--sort`: Keepsake's grammar (`<name> <op> <value>`), with nested names by
//! dots, metrics from the best checkpoint (else the latest), and clean errors where Keepsake
//! panicked.

use std::cmp::Ordering;

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

/// `KEY` ascending, `-KEY` (or Keepsake's `KEY-desc`) descending.
pub fn sort(rows: &mut Vec<Summary>, key: &str) -> Result<()> {
    let (name, descending) = if let Some(k) = key.strip_prefix('-') {
        (k, true)
    } else if let Some(k) = key.strip_suffix("-desc") {
        (k, true)
    } else {
        (key.strip_suffix("-asc").unwrap_or(key), false)
    };
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

/// The names `lookup` answers for built-in fields, whatever the experiment.
const BUILT_IN: [&str; 8] = [
    "created", "started", "step", "user", "host", "command", "status", "id",
];

fn names_of(map: &serde_json::Map<String, Value>, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in map {
        let name = format!("{prefix}{k}");
        if let Value::Object(m) = v {
            names_of(m, &format!("{name}."), out);
        }
        out.push(name);
    }
}

impl Filter {
    /// An error when no row has the filter's name (a built-in field, a param, or a metric of a
    /// checkpoint), with the closest names as a hint; none when there are no rows at all.
    pub fn check_known(&self, rows: &[Summary]) -> Result<()> {
        if rows.is_empty() || BUILT_IN.contains(&self.name.as_str()) {
            return Ok(());
        }
        let mut names = Vec::new();
        for s in rows {
            names_of(&s.experiment.params, "", &mut names);
            for c in s.best.iter().chain(s.latest.iter()) {
                names_of(&c.metrics, "", &mut names);
            }
        }
        if names.contains(&self.name) {
            return Ok(());
        }
        names.sort();
        names.dedup();
        let near = crate::text::closest(&self.name, names.iter().map(String::as_str));
        let message = if near.is_empty() {
            "no experiment has a param or metric of that name".to_string()
        } else {
            let near: Vec<String> = near.iter().map(|n| format!("`{n}`")).collect();
            format!(
                "no experiment has a param or metric of that name; did you mean {}?",
                near.join(" or ")
            )
        };
        Err(Error::BadExpression {
            what: "filter name".into(),
            value: self.name.clone(),
            message,
        })
    }
}

/// Of `exps` (each with whether it is running), those every filter keeps, as `ls --filter`
/// keeps rows; a filter naming what none of them has is an error (`Filter::check_known`).
pub fn keep_experiments(
    exps: Vec<(Experiment, bool)>,
    filters: &[Filter],
) -> Result<Vec<Experiment>> {
    let rows: Vec<Summary> = exps
        .iter()
        .map(|(e, running)| Summary::of(e.clone(), *running))
        .collect();
    for f in filters {
        f.check_known(&rows)?;
    }
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
}
