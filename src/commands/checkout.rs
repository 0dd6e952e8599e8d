//! `checkout`: an experiment restores its code; a checkpoint its code and files.

use std::path::PathBuf;

use clap::Args;
use keepsake_core::{experiments, sharing};
use keepsake_core::{CheckoutOptions, Target};

use super::{keepsake_continue, open_project, Dialect, Global};
use crate::error::{CliError, CliResult};
use crate::ui;

#[derive(Args)]
pub struct CheckoutArgs {
    /// Experiment or checkpoint ID (any unique prefix); none on a promoted branch fetches the
    /// weights its pointer file names
    pub(crate) id: Option<String>,
    /// Directory to write to (default: the project directory)
    #[arg(short, long = "output-directory", value_name = "DIR")]
    pub(crate) output: Option<PathBuf>,
    /// Overwrite files that differ
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Only this file or directory
    #[arg(long, value_name = "PATH")]
    pub(crate) path: Option<String>,
    /// No progress bar or progress lines (warnings and errors still print)
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

pub fn cmd_checkout(g: &Global, args: CheckoutArgs) -> CliResult {
    ui::set_quiet(args.quiet);
    let project = open_project(g)?;
    let Some(id) = &args.id else {
        let dest = args
            .output
            .clone()
            .unwrap_or_else(|| project.dir().to_path_buf());
        let (pointer, report) = sharing::promote::checkout_pointer(&project, &dest, args.force)?;
        ui::progress(&format!(
            "Fetched checkpoint {} of experiment {}: {} file(s), size and hash verified",
            pointer.checkpoint.short(),
            pointer.experiment.short(),
            report.files.len()
        ));
        return Ok(());
    };
    let target = experiments::resolve::resolve(&project, id)?;
    let dest = args
        .output
        .clone()
        .unwrap_or_else(|| project.dir().to_path_buf());
    if g.dialect == Dialect::Keepsake {
        return keepsake_checkout(&project, &target, &dest, &args);
    }
    let exp = target.experiment();
    match (&target, exp.best(), exp.latest()) {
        (Target::Checkpoint(_, c), _, _) => ui::progress(&format!(
            "Checking out files from checkpoint {} and its experiment {}",
            c.short(),
            exp.id.short()
        )),
        (_, Some(best), _) => ui::progress(&format!(
            "Checking out files from experiment {} and its best checkpoint {}",
            exp.id.short(),
            best.id.short()
        )),
        (_, None, Some(latest)) => ui::progress(&format!(
            "Checking out files from experiment {} and its latest checkpoint {}",
            exp.id.short(),
            latest.id.short()
        )),
        _ => ui::progress(&format!(
            "Checking out files from experiment {}",
            exp.id.short()
        )),
    }
    let opts = CheckoutOptions {
        force: args.force,
        path: args.path.clone(),
        progress: ui::bars(),
    };
    let report = experiments::checkout::checkout(&project, &target, &dest, &opts, &mut |m| {
        ui::progress(&m)
    })?;
    ui::progress(&format!(
        "Wrote {} file(s) to {}",
        report.files.len(),
        report.dest.display()
    ));
    if !exp.command.is_empty() {
        ui::progress(&format!("It was run as: {}", exp.command));
    }
    Ok(())
}

/// `keepsake checkout`: Keepsake 0.4.2's messages and its overwrite prompt, over the same
/// checkout. Keepsake asks when the experiment's (else the checkpoint's) path exists in the
/// destination; here the core's own check asks too, for any other file that would change, so a
/// `y` is the only way anything is overwritten without `-f`.
fn keepsake_checkout(
    project: &keepsake_core::Project,
    target: &Target,
    dest: &std::path::Path,
    args: &CheckoutArgs,
) -> CliResult {
    let exp = target.experiment();
    let checkpoint = match target {
        Target::Checkpoint(..) => target.checkpoint(),
        Target::Experiment(e) => e.best().or_else(|| e.latest()),
    };
    ui::progress(&match (target, checkpoint) {
        (Target::Checkpoint(..), Some(c)) => format!(
            "Checking out files from checkpoint {} and its experiment {}",
            c.id.short(),
            exp.id.short()
        ),
        (_, Some(c)) => format!(
            "Checking out files from experiment {} and its {} checkpoint {}",
            exp.id.short(),
            if exp.best().is_some() {
                "best"
            } else {
                "latest"
            },
            c.id.short()
        ),
        _ => format!("Checking out files from experiment {}", exp.id.short()),
    });
    if dest.exists() && !dest.is_dir() {
        return Err(CliError::user(
            format!("Checkout path \"{}\" is not a directory", dest.display()),
            None,
        ));
    }
    match checkpoint {
        _ if !exp.path.is_empty() => {}
        Some(c) if !c.path.is_empty() => {}
        Some(c) => return Err(CliError::user(format!(
            "Neither the checkpoint {} nor its experiment {} have any files associated with them. You need to pass the 'path' argument to 'init()' or 'checkpoint()' to check out files.",
            c.id.short(), exp.id.short()
        ), None)),
        None => return Err(CliError::user(format!(
            "The experiment {} does not have any files associated with it. You need to pass the 'path' argument to 'init()' to check out files.",
            exp.id.short()
        ), None)),
    }
    // Keepsake's "display path": where the experiment's path (else the checkpoint's) lands.
    let shown = |p: &str| -> std::path::PathBuf { dest.join(p).components().collect() };
    let display_rel = if exp.path.is_empty() {
        checkpoint.map(|c| c.path.as_str()).unwrap_or("")
    } else {
        exp.path.as_str()
    };
    let display = shown(display_rel);
    let mut force = args.force;
    if !force {
        let non_empty_dir = std::fs::read_dir(&display).is_ok_and(|mut d| d.next().is_some());
        if non_empty_dir {
            ui::progress(&format!(
                "The directory \"{}\" is not empty.",
                display.display()
            ));
            ui::progress("This checkout may overwrite existing files. Make sure they're saved in Git or Keepsake so they're safe!");
            keepsake_continue()?;
            force = true;
        } else if display.is_file() {
            ui::progress(&format!("The file \"{}\" exists.", display.display()));
            ui::progress("This checkout may overwrite existing files. Make sure it's saved in Git or Keepsake so it's safe!");
            keepsake_continue()?;
            force = true;
        }
    }
    ui::blank_line();
    let announce = || {
        if args.path.is_some() {
            return;
        }
        if !exp.path.is_empty() {
            ui::progress(&format!(
                "Copying files from experiment {} to \"{}\"...",
                exp.id.short(),
                shown(&exp.path).display()
            ));
        }
        if let Some(c) = checkpoint.filter(|c| !c.path.is_empty()) {
            ui::progress(&format!(
                "Copying files from checkpoint {} to \"{}\"...",
                c.id.short(),
                shown(&c.path).display()
            ));
        }
    };
    let run = |force: bool| {
        let opts = CheckoutOptions {
            force,
            path: args.path.clone(),
            progress: ui::bars(),
        };
        experiments::checkout::checkout(project, target, dest, &opts, &mut |_| {})
    };
    announce();
    match run(force) {
        Ok(_) => {}
        Err(keepsake_core::Error::WouldOverwrite { paths }) => {
            for p in &paths {
                ui::progress(&format!("The file \"{}\" exists.", shown(p).display()));
            }
            ui::progress("This checkout may overwrite existing files. Make sure they're saved in Git or Keepsake so they're safe!");
            keepsake_continue()?;
            ui::blank_line();
            run(true)?;
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(p) = &args.path {
        let from = if exp.path.is_empty() {
            checkpoint.map(|c| format!("checkpoint {}", c.id.short()))
        } else {
            None
        };
        ui::progress(&format!(
            "Copied the path {p} from {} to \"{}\"",
            from.unwrap_or_else(|| format!("experiment {}", exp.id.short())),
            dest.display()
        ));
    }
    ui::progress_block(&[
        "If you want to run this experiment again, this is how it was run:",
        "",
        &format!("  {}", exp.command),
        "",
    ]);
    Ok(())
}
