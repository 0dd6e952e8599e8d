//! The examples at the end of each command's help (`-h`, `--help`, `git keepsake help <cmd>`) and
//! of its man page (`man::render` turns the lines after "Examples:" into an EXAMPLES section).
//! Each is a command line, then what it does after a `#`, so a reader can copy the line.

pub const TOP: &str = "\
Examples:
  git keepsake init                           # set up this repository (hooks, store)
  python train.py                             # a script that calls keepsake.init()
  git keepsake ls                             # the experiments and their best checkpoints
  git keepsake show 3d61b2c                   # one experiment or checkpoint
  git keepsake checkout 3d61b2c -o restored/  # its code and weights
  git keepsake push origin --all              # share them through a git remote

`git keepsake help <command>` shows a command's help; `man git-keepsake-<command>` its manual.";

pub const LS: &str = "\
Examples:
  git keepsake ls
  git keepsake ls --filter \"learning_rate > 0.01\" --filter \"status = stopped\"
  git keepsake ls -f \"model.dropout < 0.5\" --sort -val_loss   # nested param; descending
  git keepsake ls --remote origin                # a teammate's experiments, after `pull`
  git keepsake ls -q --sort -created | head -n 1    # the newest experiment's ID";

pub const PS: &str = "\
Examples:
  git keepsake ps
  git keepsake ps --filter \"step > 100\" --json";

pub const SHOW: &str = "\
Examples:
  git keepsake show 3d61b2c        # an experiment: fields, commit, checkpoints
  git keepsake show 4399026        # a checkpoint: metrics, its tarball's key, size, hash
  git keepsake show 3d61b2c --json";

pub const DIFF: &str = "\
Examples:
  git keepsake diff 3d61b2c 4063615    # params, metrics, environment, then the code diff
  git keepsake diff 3d61b2c 4063615 --format markdown";

pub const CHECKOUT: &str = "\
Examples:
  git keepsake checkout 3d61b2c -o restored/     # code and best checkpoint's files
  git keepsake checkout 4399026 --path model.pth # one file of a checkpoint, here
  git keepsake checkout                          # on a promoted branch: its weights";

pub const RM: &str = "\
Examples:
  git keepsake rm 3d61b2c
  git keepsake rm 4399026 3d61b2c --yes   # a checkpoint and an experiment, without asking";

pub const IMPORT: &str = "\
Examples:
  git keepsake import                           # the project's own store (Keepsake wrote it)
  git keepsake import s3://team-bucket/project  # copies the data into the project's store";

pub const CONFIG: &str = "\
Examples:
  git keepsake config
  git keepsake -R s3://team-bucket/project config";

pub const INIT: &str = "\
Examples:
  git keepsake init                          # store inside .git, never committed
  git keepsake init --store file://.keepsake # a store in the work tree, added to .gitignore
  git keepsake init --store s3://team-bucket/project";

pub const PUSH: &str = "\
Examples:
  git keepsake push origin 3d61b2c
  git keepsake push origin --all
  git keepsake push origin 3d61b2c --include-commits   # also the commit it ran on";

pub const PULL: &str = "\
Examples:
  git keepsake pull origin
  git keepsake pull origin 3d61b2c";

pub const INSTALL: &str = "\
Examples:
  git keepsake install     # pre-push hook (yours still runs) and notes.rewriteRef";

pub const UNINSTALL: &str = "\
Examples:
  git keepsake uninstall   # puts your own pre-push hook back";

pub const BRANCH: &str = "\
Examples:
  git keepsake branch 4399026 model-v2   # then merge model-v2 into prod
  git switch prod && git keepsake checkout";

pub const APPLY: &str = "\
Examples:
  git keepsake apply 3d61b2c && git diff   # the experiment's code and keepsake-params.json";

pub const GC: &str = "\
Examples:
  git keepsake gc --dry-run
  git keepsake gc --prune-store-only --yes";

pub const UI: &str = "\
Examples:
  git keepsake ui --open
  git keepsake ui --port 8080";

pub const REPORT: &str = "\
Examples:
  git keepsake report 3d61b2c 4063615 -o report.html
  git keepsake report --filter \"learning_rate > 0.01\" --sort -val_loss -o report.html";

pub const COMPLETIONS: &str = "\
Examples:
  source <(git keepsake completions bash)                # bash: in ~/.bashrc
  source <(git keepsake completions zsh)                 # zsh: in ~/.zshrc
  git keepsake completions fish | source                 # fish: in config.fish

Completes `git keepsake <TAB>` and `git-keepsake <TAB>`: commands, options and experiment IDs.";
