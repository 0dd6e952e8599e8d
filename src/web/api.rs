//! The JSON API the dashboard reads (documented in README.md), built on the core's read
//! functions. `/api/experiments` is `ls --json`, byte for byte, with the same filters and sort.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use keepsake_core::model::filter::Filter;
use keepsake_core::{Error, Experiment, Project, Target};
use serde_json::{json, Value};

use super::App;
use crate::commands::{ls, show};
use crate::error::CliError;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/experiments", get(experiments))
        .route("/experiments/{id}", get(experiment))
        .route("/experiments/{id}/diff", get(diff))
        .route("/remotes", get(remotes))
}

/// The query's pairs, in order (a key may repeat: `filter=...&filter=...`).
fn pairs(query: &Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn first(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// Runs `f` on a freshly opened project off the async threads (git and the store block).
async fn with_project<F>(app: Arc<App>, f: F) -> Response
where
    F: FnOnce(&Project) -> Result<Response, CliError> + Send + 'static,
{
    let open = app.open.clone();
    let done = tokio::task::spawn_blocking(move || {
        let project = Project::open(&open)?;
        f(&project)
    })
    .await;
    match done {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => cli_error(e),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", None),
    }
}

fn json_text(text: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        keepsake_core::text::escape_json(&text).into_owned(),
    )
        .into_response()
}

/// `{"error": ..., "hint": ...}` with a status that says whose fault it is.
pub fn error(status: StatusCode, message: &str, hint: Option<String>) -> Response {
    let body = json!({"error": message, "hint": hint});
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn cli_error(e: CliError) -> Response {
    // `if let` rather than a match: the CLI's error type may grow variants.
    if let CliError::Core(e) = &e {
        let status = match e {
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::InvalidInput { .. }
            | Error::UnknownRemote { .. }
            | Error::Ambiguous { .. }
            | Error::BadExpression { .. }
            | Error::UnknownName { .. }
            | Error::BadName { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        return error(status, &e.to_string(), e.hint());
    }
    if let CliError::User { message, hint } = e {
        return error(StatusCode::BAD_REQUEST, &message, hint);
    }
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", None)
}

/// `GET /api/experiments?filter=EXPR&filter=...&sort=KEY&remote=NAME`: `ls --json`.
async fn experiments(State(app): State<Arc<App>>, RawQuery(q): RawQuery) -> Response {
    let pairs = pairs(&q);
    with_project(app, move |project| {
        let filters: Vec<Filter> = pairs
            .iter()
            .filter(|(k, _)| k == "filter")
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(_, v)| Filter::parse(v))
            .collect::<Result<_, _>>()?;
        let sort = first(&pairs, "sort").unwrap_or_else(|| "created".into());
        let remote = first(&pairs, "remote").filter(|r| !r.is_empty());
        let selected = ls::select(project, remote.as_deref(), &filters, &sort)?;
        let mut r = json_text(ls::listing_json(&selected.rows));
        if let Ok(v) = warnings_header(selected.warnings).parse() {
            r.headers_mut().insert("x-keepsake-warnings", v);
        }
        Ok(r)
    })
    .await
}

/// What `ls` warns about on stderr, for the page to show: JSON in ASCII (a header is read as
/// Latin-1), and at most `SHOWN` of them, since a remote with thousands of bad refs must not
/// make the answer's headers too big for a browser to take.
fn warnings_header(warnings: Vec<String>) -> String {
    const SHOWN: usize = 20;
    let more = warnings.len().saturating_sub(SHOWN);
    let mut shown: Vec<String> = warnings.into_iter().take(SHOWN).collect();
    if more > 0 {
        shown.push(format!(
            "and {more} more (`git keepsake ls` prints them all)"
        ));
    }
    let mut ascii = String::new();
    for c in Value::from(shown).to_string().chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                ascii.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    ascii
}

/// The experiment or checkpoint `prefix` names: this clone's first, then among the remotes'
/// experiments it tracks (the remote toggle's rows, before they are pulled).
fn find(project: &Project, prefix: &str) -> keepsake_core::Result<Target> {
    match keepsake_core::experiments::resolve::resolve(project, prefix) {
        Err(Error::NotFound { .. }) if project.has_git() => Ok(Target::Experiment(
            keepsake_core::sharing::get_tracked(project, prefix)?,
        )),
        other => other,
    }
}

/// `GET /api/experiments/<id>`: `show --json` of the experiment (an ID prefix; a checkpoint's
/// ID names its experiment), plus its status, git baseline, files and the commands to use it.
async fn experiment(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    with_project(app, move |project| {
        let target = find(project, &id)?;
        let e = target.experiment();
        let status = keepsake_core::experiments::running::running_status(project);
        Ok(json_text(
            keepsake_core::model::value::to_go_json(
                &detail_json(e, status.ids.contains(&e.id), status.unknown.is_none()),
                Some("  "),
            ) + "\n",
        ))
    })
    .await
}

/// The experiment page's data; the report embeds the same.
pub fn detail_json(e: &Experiment, running: bool, status_known: bool) -> Value {
    let mut v = show::experiment_json(e);
    let files = |f: &Option<keepsake_core::FileRecord>| {
        f.as_ref()
            .map(|f| json!({"key": f.key, "size": f.size, "files_size": f.files_size}))
    };
    if let Some(list) = v.get_mut("checkpoints").and_then(Value::as_array_mut) {
        for (item, c) in list.iter_mut().zip(&e.checkpoints) {
            item["files"] = json!(files(&c.files));
        }
    }
    let best = e.best();
    let short = e.id.short();
    let mut commands = vec![
        json!({"what": "restore its code and best checkpoint", "command": format!("git keepsake checkout {short} -o {short}")}),
        json!({"what": "bring its code and params into the working tree", "command": format!("git keepsake apply {short}")}),
    ];
    if let Some(b) = best {
        commands.push(json!({"what": "promote its best checkpoint to a branch", "command": format!("git keepsake branch {} model-{short}", b.id.short())}));
    }
    v["keepsake"] = json!({
        "status": if !status_known { "unknown" } else if running { "running" } else { "stopped" },
        "running": running,
        "git_commit": e.git_commit,
        "git_dirty": e.git_dirty,
        "files": files(&e.files),
        "best_checkpoint": best.map(|c| c.id.as_str()),
        "latest_checkpoint": e.latest().map(|c| c.id.as_str()),
        "commands": commands,
    });
    v
}

/// `GET /api/experiments/<id>/diff[?against=<id>]`: the code diff against its baseline commit,
/// or against another experiment's snapshot.
async fn diff(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let against = first(&pairs(&q), "against").filter(|a| !a.is_empty());
    with_project(app, move |project| {
        let target = find(project, &id)?;
        let e = target.experiment();
        let v = match against {
            Some(other) => {
                let o = find(project, &other)?;
                let diff = keepsake_core::experiments::read::code_diff(project, o.experiment(), e)?;
                json!({"against": o.experiment().id.as_str(), "baseline": null, "diff": diff})
            }
            None => {
                let diff = keepsake_core::experiments::read::baseline_diff(project, e)?;
                json!({"against": null, "baseline": e.git_commit, "diff": diff})
            }
        };
        Ok(json_text(v.to_string()))
    })
    .await
}

/// `GET /api/remotes`: the git remotes, for the page's remote toggle.
async fn remotes(State(app): State<Arc<App>>) -> Response {
    with_project(app, |project| {
        Ok(json_text(
            json!(keepsake_core::sharing::remote_names(project)).to_string(),
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warnings_header_is_ascii_and_bounded() {
        let many: Vec<String> = (0..1500)
            .map(|i| format!("ref {i} é is unreadable"))
            .collect();
        let header = warnings_header(many);
        assert!(header.is_ascii(), "{header}");
        let back: Vec<String> = serde_json::from_str(&header).unwrap();
        assert_eq!(back.len(), 21);
        assert_eq!(back[0], "ref 0 é is unreadable");
        assert!(back[20].starts_with("and 1480 more"), "{}", back[20]);
    }
}
