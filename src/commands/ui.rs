//! `ui`: the local web dashboard (src/web/), read-only, until Ctrl-C.

use std::net::IpAddr;

use clap::Args;
use keepsake_core::OpenOptions;

use super::{open_project, Global};
use crate::error::CliResult;
use crate::ui;

#[derive(Args)]
pub struct UiArgs {
    /// Port to listen on (0: a free one)
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Open the dashboard in a browser
    #[arg(long)]
    open: bool,
    /// Address to listen on instead of 127.0.0.1 (anyone who can reach it can read every experiment)
    #[arg(long, value_name = "ADDRESS")]
    host: Option<IpAddr>,
}

pub fn cmd_ui(g: &Global, args: UiArgs) -> CliResult {
    // Opened once here so that a bad project fails now, with its own error, not per request.
    let project = open_project(g)?;
    let open = OpenOptions {
        cwd: std::env::current_dir()?,
        repository: g.repository.clone(),
        directory: g.project_directory.clone(),
    };
    drop(project);
    let host = args.host.unwrap_or(IpAddr::from([127, 0, 0, 1]));
    if args.host.is_some() && !host.is_loopback() {
        ui::warn(&format!(
            "listening on {host}, not 127.0.0.1: anyone who can reach it can read every experiment"
        ));
    }
    let listener = crate::web::bind(host, args.port)?;
    let addr = listener.local_addr()?;
    // The address actually bound (`::1` is not reached at 127.0.0.1); for 0.0.0.0, this machine.
    let shown_host = if host.is_unspecified() {
        "127.0.0.1".to_string()
    } else if host.is_ipv6() {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let url = format!("http://{shown_host}:{}/", addr.port());
    ui::out(&format!("{url}\n"))?;
    ui::progress("Serving the dashboard (read-only); press Ctrl-C to stop");
    if args.open {
        open_browser(&url);
    }
    crate::web::serve(open, listener)
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        ui::warn(&format!(
            "could not open a browser ({opener}: {e}): open {url}"
        ));
    }
}
