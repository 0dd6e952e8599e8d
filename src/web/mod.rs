//! `git keepsake ui`: a read-only local web dashboard read straight from git.
//!
//! Records can come from someone else's remote, so the server is strict about where requests may
//! come from: it answers only GET, only when the Host header names the address it listens on (a
//! page on another site that rebinds its DNS name to 127.0.0.1 sends its own name, and is refused),
//! sends no CORS headers (other origins cannot read an answer), and every page carries a
//! Content-Security-Policy that runs only the app's own scripts. The app itself builds every
//! record's text with `textContent`, never as HTML.

pub mod api;
pub mod report;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use keepsake_core::OpenOptions;

use crate::error::{CliError, CliResult};

pub const INDEX_HTML: &str = include_str!("assets/index.html");
pub const APP_JS: &str = include_str!("assets/app.js");
pub const STYLE_CSS: &str = include_str!("assets/style.css");

/// Only the app's own files; no inline script or style, no frames, no form posts.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What the handlers share: how to open the project (opened afresh per request, so a `pull` or a
/// new checkpoint shows without a restart).
pub struct App {
    pub open: OpenOptions,
    allowed_hosts: Vec<String>,
    /// Bound to a non-loopback address (`--host`): IP-literal Host headers are accepted too
    /// (a rebinding attack needs a DNS name).
    any_ip_host: bool,
}

/// Binds `host:port` (port 0: a free one). The listener is returned bound, so the caller can
/// print the URL before serving.
pub fn bind(host: IpAddr, port: u16) -> CliResult<std::net::TcpListener> {
    let addr = SocketAddr::new(host, port);
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        CliError::user(
            format!("Cannot listen on {addr}: {e}"),
            Some("`--port 0` (the default) picks a free port"),
        )
    })?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves until Ctrl-C.
pub fn serve(open: OpenOptions, listener: std::net::TcpListener) -> CliResult {
    let addr = listener.local_addr()?;
    let port = addr.port();
    let mut allowed_hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
    match addr.ip() {
        ip if ip.is_unspecified() => {}
        IpAddr::V4(ip) => allowed_hosts.push(format!("{ip}:{port}")),
        IpAddr::V6(ip) => allowed_hosts.push(format!("[{ip}]:{port}")),
    }
    // A browser leaves the default port out of the Host header.
    if port == 80 {
        let bare: Vec<String> = allowed_hosts
            .iter()
            .filter_map(|h| h.strip_suffix(":80").map(str::to_string))
            .collect();
        allowed_hosts.extend(bare);
    }
    let app = Arc::new(App {
        open,
        allowed_hosts,
        any_ip_host: !addr.ip().is_loopback(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, router(app))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })?;
    Ok(())
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .nest("/api", api::routes())
        .fallback(|| async { api::error(StatusCode::NOT_FOUND, "No such page", None) })
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Every request: GET (or HEAD) only, from an allowed Host; every answer: the security headers.
async fn guard(State(app): State<Arc<App>>, req: Request<Body>, next: Next) -> Response {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(h), None) => h.to_str().unwrap_or(""),
        // None, or two (which one a proxy on the way believed is anyone's guess).
        _ => "",
    };
    let mut response = if !host_allowed(&app, host) {
        plain(
            StatusCode::FORBIDDEN,
            "Forbidden: the Host header must name this server (127.0.0.1 or localhost)\n",
        )
    } else if req.uri().path().starts_with("/api/") && from_another_site(&app, req.headers()) {
        // A page elsewhere may make the browser send a GET here (an image, a form); the
        // answer is hidden from it, but `?remote=` would still fetch. Browsers say where a
        // request comes from; tools that send neither header are let through.
        plain(
            StatusCode::FORBIDDEN,
            "Forbidden: requests from other sites are refused\n",
        )
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "The dashboard is read-only: GET only\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        r
    } else {
        next.run(req).await
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Whether a browser says the request comes from a page of another site (`Sec-Fetch-Site`,
/// or an `Origin` that is not this server).
fn from_another_site(app: &App, headers: &axum::http::HeaderMap) -> bool {
    let site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or("cross-site"));
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return true;
    }
    match headers.get(header::ORIGIN) {
        None => false,
        Some(origin) => {
            let origin = origin.to_str().unwrap_or("");
            let host = origin.strip_prefix("http://").unwrap_or("");
            !host_allowed(app, host)
        }
    }
}

fn host_allowed(app: &App, host: &str) -> bool {
    if app
        .allowed_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host))
    {
        return true;
    }
    if !app.any_ip_host {
        return false;
    }
    let Some(allowed_port) = app.allowed_hosts[0].rsplit(':').next() else {
        return false;
    };
    let Some((name, port)) = host.rsplit_once(':') else {
        return false;
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    port == allowed_port && name.parse::<IpAddr>().is_ok()
}
