//! What crosses to Python as JSON: params as Keepsake keeps them, and an experiment as the
//! Python layer reads it (Keepsake's JSON plus what git-keepsake adds).

use keepsake_core::{Experiment, Params};
use serde_json::{json, Value};

pub(crate) fn params_of(v: &Value) -> Params {
    match v {
        Value::Object(m) => m.clone(),
        _ => Params::new(),
    }
}

/// An experiment as the Python layer reads it: Keepsake's JSON plus what git-keepsake adds.
pub(crate) fn experiment_json(e: &Experiment, running: bool) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("running".into(), Value::Bool(running));
        m.insert("git_commit".into(), json!(e.git_commit));
        m.insert("git_dirty".into(), json!(e.git_dirty));
    }
    v
}
