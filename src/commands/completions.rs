//! `completions <shell>`: the shell code that completes `git-keepsake` and `git keepsake`.
//!
//! The completion is dynamic (clap_complete's environment protocol): the shell calls
//! `git-keepsake` again with `_GIT_KEEPSAKE_COMPLETE=<shell>` and the words of the line, and the
//! clap definitions answer (commands, options, values), with experiment and checkpoint IDs and
//! remote names read from the repository the shell is in. Nothing else runs on that path.

use std::ffi::{OsStr, OsString};

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use clap_complete::env::{Bash, EnvCompleter, Fish, Shells, Zsh};
use clap_complete::CompleteEnv;
use keepsake_core::{OpenOptions, Project};

use super::Cli;
use crate::error::CliResult;
use crate::ui;

/// The variable that turns a run into a completion request; ours alone, so that no other
/// program's `COMPLETE` changes what `git keepsake` does.
pub const VAR: &str = "_GIT_KEEPSAKE_COMPLETE";
/// The command the shell code completes and calls back: the one on PATH, whether it is the Rust
/// binary or the Python package's entry point.
const BIN: &str = "git-keepsake";

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for
    #[arg(value_enum)]
    shell: Shell,
}

pub fn cmd_completions(args: CompletionsArgs) -> CliResult {
    Ok(ui::out(&script(args.shell))?)
}

/// The completion script for `shell`: clap's registration for `git-keepsake`, then what git's
/// own completion calls for `git keepsake`.
pub fn script(shell: Shell) -> String {
    let mut buf = Vec::new();
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
    };
    completer
        .write_registration(VAR, BIN, BIN, BIN, &mut buf)
        .expect("writing to memory");
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    text.push_str(match shell {
        Shell::Bash => GIT_BASH,
        Shell::Zsh => GIT_ZSH,
        // fish's git completion runs `git-<command>`'s completions for `git <command>` itself.
        Shell::Fish => "",
    });
    text
}

// git's bash completion (contrib/completion/git-completion.bash) calls `_git_<command>` with
// `words`, `cword` and `cur` set for the whole line, and `__git_cmd_idx` the index of the
// command's name; clap's function reads COMP_WORDS/COMP_CWORD, so it gets the line from there on.
const GIT_BASH: &str = r#"
_git_keepsake() {
    local i=${__git_cmd_idx:-1}
    local COMP_WORDS=(git-keepsake "${words[@]:i+1}")
    local COMP_CWORD=$((cword - i))
    _clap_complete_git_keepsake git-keepsake "$cur" "${words[cword-1]}"
}
"#;

// zsh's `_git` calls `_git-<command>` with `words` starting at the command's name.
const GIT_ZSH: &str = r#"
_git-keepsake() {
    words=(git-keepsake "${(@)words[2,-1]}")
    _clap_dynamic_completer_git_keepsake "$@"
}
"#;

/// Answers a completion request when `VAR` is set: Some(exit code) then, None for a normal run.
pub fn complete(args: &[OsString]) -> Option<i32> {
    std::env::var_os(VAR)?;
    let cwd = std::env::current_dir().ok();
    let result = CompleteEnv::with_factory(command)
        .var(VAR)
        .bin(BIN)
        .completer(BIN)
        .shells(Shells(&[&Bash, &Zsh, &Fish]))
        .try_complete(args.iter().cloned(), cwd.as_deref());
    // clap_complete writes without a final newline, and the Python entry point exits through
    // Python, past Rust's own flush at exit.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    match result {
        Ok(true) => Some(0),
        Ok(false) => None,
        Err(e) => {
            let _ = e.print();
            Some(e.exit_code())
        }
    }
}

/// The command line with completers on the arguments that take IDs or remotes.
fn command() -> clap::Command {
    Cli::command().mut_subcommands(|sub| {
        // clap offers one name per command, the first in order: `list` before `ls`. Hidden,
        // an alias still completes when typed, and the command's own name is what is offered.
        // (Leaked: clap takes static names, and this process ends with the completion.)
        let aliases: Vec<&'static str> = sub
            .get_all_aliases()
            .map(|a| &*Box::leak(a.to_string().into_boxed_str()))
            .collect();
        let sub = sub.visible_alias(None).aliases(aliases);
        let (ids, remotes): (&[&str], &[&str]) = match sub.get_name() {
            "show" | "checkout" | "apply" => (&["id"], &[]),
            "diff" => (&["a", "b"], &[]),
            "rm" | "report" => (&["ids"], &[]),
            "branch" => (&["checkpoint"], &[]),
            "push" => (&["experiments"], &["remote"]),
            "pull" | "ls" | "ps" => (&[], &["remote"]),
            _ => (&[], &[]),
        };
        sub.mut_args(|arg| {
            let name = arg.get_id().as_str();
            if ids.contains(&name) {
                arg.add(ArgValueCompleter::new(complete_ids))
            } else if remotes.contains(&name) {
                arg.add(ArgValueCompleter::new(complete_remotes))
            } else {
                arg
            }
        })
    })
}

/// The project of the directory the shell is in, or None: a completion never reports errors.
fn project() -> Option<Project> {
    let cwd = std::env::current_dir().ok()?;
    Project::open(&OpenOptions {
        cwd,
        ..Default::default()
    })
    .ok()
}

fn complete_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let (Some(partial), Some(project)) = (current.to_str(), project()) else {
        return Vec::new();
    };
    let found =
        keepsake_core::experiments::resolve::completions(&project, partial).unwrap_or_default();
    found
        .into_iter()
        .map(|c| {
            let help = match &c.experiment {
                None => "experiment".to_string(),
                Some(e) => format!("checkpoint of {}", e.short()),
            };
            CompletionCandidate::new(c.id.as_str()).help(Some(help.into()))
        })
        .collect()
}

fn complete_remotes(current: &OsStr) -> Vec<CompletionCandidate> {
    let (Some(partial), Some(project)) = (current.to_str(), project()) else {
        return Vec::new();
    };
    keepsake_core::sharing::remote_names(&project)
        .into_iter()
        .filter(|r| r.starts_with(partial))
        .map(CompletionCandidate::new)
        .collect()
}
