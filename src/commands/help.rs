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
  git keepsake ls -f \"model.dropout < 0.5\" --sort -val_loss  # a nested param; descending
  git keepsake ls --remote origin                   # a teammate's, after `pull origin`
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

// What `--help` (and the man page's DESCRIPTION) says beyond the one line of `-h`.

pub const LS_LONG: &str = "\
List experiments

Keepsake's table: experiment, started, status, user and host when they differ, the params that
differ, and the best and latest checkpoint with the primary metric. Read from git alone; the
running status needs the store's heartbeats and is given up after 3 seconds when it does not
answer.

A filter is `<name> <op> <value>` with op one of = != < <= > >=; names are params, metrics of
the best checkpoint, `status`, `step`, `user`, `host`, `command` and `created`, nested names
with dots (`model.dropout`). Several filters must all hold. `--sort KEY` sorts by such a name,
`--sort -KEY` descending.";

pub const PS_LONG: &str = "\
List running experiments

`ls` of the experiments whose heartbeat is younger than 30 seconds; a `status` filter given is
replaced.";

pub const SHOW_LONG: &str = "\
Show an experiment or a checkpoint

An experiment: all its fields, the git commit it ran on, its checkpoints. A checkpoint: its
metrics, and its tarball's storage key, size and BLAKE3 hash. IDs are any unique prefix, across
experiments and checkpoints.";

pub const DIFF_LONG: &str = "\
Compare two experiments or checkpoints

Params, environment, checkpoint and metrics side by side, then the code diff between the two
snapshots. An experiment stands for its best (else latest) checkpoint.";

pub const CHECKOUT_LONG: &str = "\
Restore an experiment's code, or a checkpoint's code and files

An experiment restores its code and its best (else latest) checkpoint's files, as Keepsake
does; a checkpoint its code and files. Every byte is checked against the recorded size and hash
first. Files that differ are not overwritten (they are listed) unless `-f`. `--path` takes a file
or a whole directory. With no ID, on a branch made by `branch`, fetches the weights its pointer
file names.";

pub const RM_LONG: &str = "\
Delete experiments or checkpoints

Deletes them with their refs, notes lines and stored data; all IDs are resolved before anything
is deleted. Asks on a terminal; `--yes` otherwise. A tarball another experiment or a promoted
branch still names is kept.";

pub const IMPORT_LONG: &str = "\
Turn experiments of a Keepsake store into git refs

Experiments in a Keepsake-layout store (written by Keepsake 0.4.2, or by git-keepsake outside
git) become refs of this repository; from another store the data is copied into the project's
store first. Running it again changes nothing.";

pub const CONFIG_LONG: &str = "\
Show where experiments are stored

The project directory, the store's URL and where it came from (keepsake.yaml, `-R`, or the
default inside the git directory), the compression, and the git directory.";

pub const INIT_LONG: &str = "\
Set up git-keepsake in this repository (store and hooks)

Makes the store ready, installs the pre-push hook (yours still runs first) and sets
`notes.rewriteRef` so notes follow amend and rebase, as `install` does. With `--store`, writes
keepsake.yaml. A local store inside the work tree is added to .gitignore (unless git already
ignores it), so `git add -A` never commits the weights; a store that is the work tree itself is
refused. Running it again changes nothing.";

pub const PUSH_LONG: &str = "\
Share experiments through a git remote (data first, then refs)

Uploads what the remote's store lacks (checked against the recorded size and hash; objects
already there are skipped, so a failed push resumes), then pushes the experiment refs and notes
in one atomic `git push` of fast-forwards only. A commit of yours the remote does not have (an
experiment that ran on an unpushed commit) is refused, listed, unless `--include-commits`.
The remote's store is `remotes:` in keepsake.yaml or `git config remote.<name>.keepsakeStore`.";

pub const PULL_LONG: &str = "\
Fetch experiments from a git remote

Fetches the remote's experiment refs under refs/keepsake/remotes/<remote>/, then moves each
local ref only to a history that reads, descends from the local one and keeps every checkpoint
it has; any other is refused, one line each, and the rest still land (exit 1 if any was
refused). Notes are merged line by line. Weights come from the remote's store on `checkout`.";

pub const INSTALL_LONG: &str = "\
Install the git hooks

Installs the pre-push hook, which blocks a plain `git push` of experiments whose data the
remote's store lacks (your own pre-push hook is kept and still runs first), and sets
`notes.rewriteRef` so notes follow amend and rebase.";

pub const BRANCH_LONG: &str = "\
Promote a checkpoint to a branch with its code and a pointer to its weights

Creates a branch whose commit has the experiment's code and keepsake-checkpoint.json
(experiment, checkpoint, storage key, size, BLAKE3 hash), with the commit the experiment ran on
as its parent. Merge it into `prod` to move the model; `checkout` with no ID there fetches the
weights.";

pub const APPLY_LONG: &str = "\
Bring an experiment's code and params into the working tree, without committing

Writes the experiment's code and its params (keepsake-params.json) into the working tree;
refuses to overwrite files with uncommitted changes.";

pub const GC_LONG: &str = "\
Delete stored data that no experiment ref or promoted branch references

Deletes from the store only what nothing references: no experiment ref here (local or a
remote's), no promoted branch, and no experiment metadata in the store (a teammate's unpushed
experiment, or one Keepsake wrote and nobody imported, is kept). `--prune-store-only` also
deletes the experiments only the store knows, with their data, after listing them. Objects
younger than the grace period are never touched; temp files crashed writers left are removed.";

pub const UI_LONG: &str = "\
Serve a local, read-only web dashboard of the experiments

On 127.0.0.1 by default: the experiments (sort, `ls` filters, columns, a remote's), one
experiment (fields, checkpoints, charts, code diff) and a compare page.";

pub const REPORT_LONG: &str = "\
Write a self-contained HTML report of experiments

One HTML file that opens from disk with no network: the table, the compare charts and the
params diff of the experiments named, or of those the filters keep.";

pub const COMPLETIONS_LONG: &str = "\
Print a shell's completion script (bash, zsh, fish)

The script completes commands, options, experiment and checkpoint IDs and remote names by
calling git-keepsake back with the words of the line; IDs come from the repository the shell is
in (git's refs only, never the store). It also defines what git's own bash and zsh completion
call for `git keepsake`.";

pub const TOP_LONG: &str = "\
Version control for machine learning, built into git

A training script records params, metrics and checkpoints through the `keepsake` Python package
(a drop-in for Keepsake 0.4.2). The metadata lives in this git repository (a ref per experiment
under refs/keepsake/experiments/, notes on the commits they ran on); the weights in a store with
Keepsake's layout (keepsake.yaml's `repository:`, by default inside .git). An ID is any unique
prefix of an experiment's or a checkpoint's.";
