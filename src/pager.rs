//! The pager for long output, chosen and run the way git does: only when stdout is a terminal;
//! `GIT_PAGER`, then `pager.keepsake` (a boolean turns it on or off, anything else is the
//! command), `core.pager`, `PAGER`, then `less`, with `LESS=FRX` and `LV=-c` unless set; `cat`
//! or nothing means none. Our stdout becomes the pager's stdin; stderr stays on the terminal.

use std::io::{IsTerminal, Write};
use std::os::fd::IntoRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};
use std::sync::Mutex;

use keepsake_core::env::EnvVars;

use crate::term::GitSettings;

struct Running {
    child: Child,
    /// The terminal stdout was, put back when the pager is done.
    saved_stdout: libc::c_int,
}

static PAGER: Mutex<Option<Running>> = Mutex::new(None);
// The same, for the signal handler (which may take no lock): the pager's pid, the saved fd.
static PAGER_PID: AtomicI32 = AtomicI32::new(0);
static SAVED_STDOUT: AtomicI32 = AtomicI32::new(-1);

/// Ctrl-C (or a kill) while the pager shows our output: as git does, end the output and wait
/// for the person to quit the pager, then die of the signal, so the shell never takes the
/// terminal back from a pager still running. Only async-signal-safe calls here.
extern "C" fn on_signal(sig: libc::c_int) {
    let (pid, saved) = (PAGER_PID.load(Relaxed), SAVED_STDOUT.load(Relaxed));
    // SAFETY: dup2, waitpid, signal and raise are async-signal-safe.
    unsafe {
        if saved >= 0 {
            libc::dup2(saved, libc::STDOUT_FILENO);
        }
        if pid > 0 {
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
        }
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];
// The handlers before ours (Python's, when the package's entry point runs us), put back after.
static PREVIOUS: Mutex<Vec<libc::sighandler_t>> = Mutex::new(Vec::new());

/// The pager command to run, or None for no pager.
pub fn command(settings: &GitSettings) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok();
    let keepsake = settings.pager_keepsake.as_deref();
    let as_bool = keepsake.and_then(|v| match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    });
    if as_bool == Some(false) {
        return None;
    }
    let from_config = keepsake.filter(|_| as_bool.is_none()).map(str::to_string);
    let pager = env(EnvVars::GIT_PAGER)
        .or(from_config)
        .or_else(|| settings.core_pager.clone())
        .or_else(|| env(EnvVars::PAGER))
        .unwrap_or_else(|| "less".into());
    let pager = pager.trim();
    (!pager.is_empty() && pager != "cat").then(|| pager.to_string())
}

/// Starts the pager when stdout is a terminal and one is configured; stdout goes to it from
/// here on. Nothing happens when it cannot start: the output goes to the terminal.
pub fn start(settings: &GitSettings) {
    if !std::io::stdout().is_terminal() {
        return;
    }
    let Some(pager) = command(settings) else {
        return;
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(&pager).stdin(Stdio::piped());
    if std::env::var_os(EnvVars::LESS).is_none() {
        cmd.env(EnvVars::LESS, "FRX");
    }
    if std::env::var_os(EnvVars::LV).is_none() {
        cmd.env(EnvVars::LV, "-c");
    }
    let Ok(mut child) = cmd.spawn() else {
        return;
    };
    let Some(stdin) = child.stdin.take() else {
        return;
    };
    let _ = std::io::stdout().flush();
    // SAFETY: plain descriptor calls; fd 1 is ours, `pipe` is owned until closed here.
    unsafe {
        // Not inherited by the git processes the command runs.
        let saved = libc::fcntl(libc::STDOUT_FILENO, libc::F_DUPFD_CLOEXEC, 0);
        if saved < 0 {
            return;
        }
        let pipe = stdin.into_raw_fd();
        let ok = libc::dup2(pipe, libc::STDOUT_FILENO) >= 0;
        libc::close(pipe);
        if !ok {
            libc::close(saved);
            return;
        }
        PAGER_PID.store(child.id() as i32, Relaxed);
        SAVED_STDOUT.store(saved, Relaxed);
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        let previous: Vec<_> = SIGNALS
            .iter()
            .map(|&sig| libc::signal(sig, handler))
            .collect();
        *PREVIOUS.lock().unwrap_or_else(|e| e.into_inner()) = previous;
        *PAGER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Running {
            child,
            saved_stdout: saved,
        });
    }
}

/// Whether our stdout goes to a pager.
pub fn active() -> bool {
    PAGER.lock().map(|p| p.is_some()).unwrap_or(false)
}

/// Ends the output and waits for the pager to exit (the person reads until they quit it);
/// stdout is the terminal again afterwards.
pub fn finish() {
    let Some(mut running) = PAGER.lock().ok().and_then(|mut p| p.take()) else {
        return;
    };
    let _ = std::io::stdout().flush();
    // SAFETY: puts the saved terminal back on fd 1, which closes our end of the pipe, so the
    // pager sees the end of its input.
    unsafe {
        libc::dup2(running.saved_stdout, libc::STDOUT_FILENO);
    }
    let _ = running.child.wait();
    // SAFETY: the handler is taken away before the descriptor it uses is closed.
    unsafe {
        let previous = std::mem::take(&mut *PREVIOUS.lock().unwrap_or_else(|e| e.into_inner()));
        for (sig, old) in SIGNALS.iter().zip(previous) {
            libc::signal(*sig, old);
        }
        PAGER_PID.store(0, Relaxed);
        SAVED_STDOUT.store(-1, Relaxed);
        libc::close(running.saved_stdout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(keepsake: Option<&str>, core: Option<&str>) -> GitSettings {
        GitSettings {
            color: None,
            pager_keepsake: keepsake.map(str::to_string),
            core_pager: core.map(str::to_string),
        }
    }

    #[test]
    fn chosen_as_git_does() {
        // Only when the environment does not say (the test process's may).
        if std::env::var_os(EnvVars::GIT_PAGER).is_some()
            || std::env::var_os(EnvVars::PAGER).is_some()
        {
            return;
        }
        assert_eq!(command(&settings(None, None)).as_deref(), Some("less"));
        assert_eq!(command(&settings(Some("false"), Some("more"))), None);
        assert_eq!(command(&settings(Some("0"), None)), None);
        assert_eq!(
            command(&settings(Some("true"), Some("more"))).as_deref(),
            Some("more")
        );
        assert_eq!(
            command(&settings(Some("less -S"), Some("more"))).as_deref(),
            Some("less -S")
        );
        assert_eq!(command(&settings(None, Some("cat"))), None);
        assert_eq!(command(&settings(None, Some(" "))), None);
    }
}
