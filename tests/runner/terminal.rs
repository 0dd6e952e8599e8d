//! The command line on a terminal, as a person sees it: real pseudo-terminals (`ks_pty`) against
//! pipes for colour (each switch: terminal, NO_COLOR, --color, color.ui, color.keepsake), the
//! pager (GIT_PAGER as a script that records it ran, pager.keepsake), the table fitted to 60 and
//! 200 columns with CJK and emoji values aligned by display width, `ls --limit` and `--columns`,
//! and the names `--filter`, `--sort` and `--columns` take, checked with suggestions.

use crate::support::*;
use keepsake_core::Experiment;
use serde_json::json;
use unicode_width::UnicodeWidthChar;

const ESC: char = '\x1b';

/// Three experiments whose `note` param is Japanese, emoji and ASCII, two checkpoints each.
fn scene() -> (TestProject, Vec<Experiment>) {
    let t = TestProject::new(true);
    let project = t.project();
    let mut exps = Vec::new();
    for (lr, note, loss) in [
        (0.01, "日本語のテキストです", 0.5),
        (0.1, "🚀 emoji 🎉 party", 0.25),
        (1.0, "plain ascii note", 0.75),
    ] {
        let mut e = create(&project, None, json!({"lr": lr, "note": note, "seed": 1}));
        checkpoint(&project, &mut e, None, 0, loss + 0.1);
        checkpoint(&project, &mut e, None, 1, loss);
        exps.push(e);
    }
    (t, exps)
}

/// `text` without its styles.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == ESC {
            // CSI: up to the final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The display width of a line.
fn width(line: &str) -> usize {
    line.chars()
        .map(|c| UnicodeWidthChar::width(c).unwrap_or(0))
        .sum()
}

/// The display columns where a cell starts: after two spaces or more (or at 0).
fn starts(line: &str) -> Vec<usize> {
    let (mut out, mut col, mut spaces) = (Vec::new(), 0, 2);
    for c in line.chars() {
        if c == ' ' {
            spaces += 1;
        } else {
            if spaces >= 2 {
                out.push(col);
            }
            spaces = 0;
        }
        col += UnicodeWidthChar::width(c).unwrap_or(0);
    }
    out
}

/// Every cell of the table starts at a column of the header (the first line of a row at every
/// one): the columns line up on screen.
fn assert_aligned(table: &str) {
    let lines: Vec<&str> = table.lines().collect();
    let header = starts(lines[0]);
    let mut first_of_row = true;
    for line in &lines[1..] {
        if line.is_empty() {
            first_of_row = true;
            continue;
        }
        let s = starts(line);
        if first_of_row {
            assert_eq!(s, header, "misaligned row {line:?} in\n{table}");
        } else {
            assert!(
                s.iter().all(|c| header.contains(c)),
                "misaligned line {line:?} in\n{table}"
            );
        }
        first_of_row = false;
    }
}

fn has_color(text: &str) -> bool {
    text.contains(ESC)
}

#[test]
fn colour_on_a_terminal_only_and_off_by_each_switch() {
    let (t, _) = scene();
    let dir = &t.dir;
    let tty = |args: &[&str], env: &[(&str, &str)]| ks_pty(dir, args, env, 200);
    // A terminal: bold headers, a red `error:` on stderr's terminal.
    let run = tty(&["ls"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let header = run.stdout.lines().next().unwrap();
    assert!(header.contains("\x1b[1mEXPERIMENT"), "{header:?}");
    let run = tty(&["ls", "-f", "nosuch > 3"], &[]);
    assert_eq!(run.code, 1);
    assert!(has_color(&run.stderr) && plain(&run.stderr).starts_with("error: "));
    // A pipe: none, on either stream.
    let run = t.ks(&["ls"]).ok();
    assert!(!has_color(&run.stdout));
    let run = t.ks(&["ls", "-f", "nosuch > 3"]).fails();
    assert!(!has_color(&run.stderr));
    // Colour never changes what is shown: the terminal's table is the pipe's, styles aside.
    let piped = t.ks(&["ls"]).ok().stdout;
    assert_eq!(plain(&tty(&["ls"], &[]).stdout), piped);
    // Each switch off on a terminal.
    for (args, env) in [
        (&["ls"][..], &[("NO_COLOR", "1")][..]),
        (&["--color=never", "ls"], &[]),
        (&["ls", "--color=never"], &[]),
        (&["ls"], &[("GIT_CONFIG_PARAMETERS", "'color.ui'='false'")]),
    ] {
        let run = tty(args, env);
        assert!(
            !has_color(&run.stdout),
            "{args:?} {env:?}: {:?}",
            run.stdout
        );
    }
    // An empty NO_COLOR is no setting.
    assert!(has_color(&tty(&["ls"], &[("NO_COLOR", "")]).stdout));
    // Always, on a pipe too, and over NO_COLOR (as in git).
    let run = ks_env(dir, &["--color=always", "ls"], &[("NO_COLOR", "1")]).ok();
    assert!(has_color(&run.stdout));
    let run = ks_env(dir, &["--color", "ls", "-f", "nosuch > 3"], &[]).fails();
    assert!(has_color(&run.stderr));
    assert!(has_color(
        &tty(&["--color=always", "ls"], &[("NO_COLOR", "1")]).stdout
    ));
    // Never colour in data: --json and -q on a terminal, even when asked for.
    for args in [
        &["ls", "--json"][..],
        &["ls", "-q"],
        &["--color=always", "ls", "-q"],
    ] {
        let run = tty(args, &[]);
        assert_eq!(run.code, 0);
        assert!(!has_color(&run.stdout), "{args:?}");
    }
    // A bad value is named.
    let run = t.ks(&["--color=sometimes", "ls"]).fails();
    assert!(run.stderr.contains("sometimes"), "{}", run.stderr);
}

#[test]
fn git_config_color_ui_and_color_keepsake() {
    let (t, _) = scene();
    let dir = &t.dir;
    t.git(&["config", "color.ui", "false"]);
    assert!(!has_color(&ks_pty(dir, &["ls"], &[], 200).stdout));
    // color.keepsake wins over color.ui, and `always` colours a pipe.
    t.git(&["config", "color.keepsake", "always"]);
    assert!(has_color(&t.ks(&["ls"]).ok().stdout));
    // The flag wins over both.
    assert!(!has_color(&t.ks(&["--color=never", "ls"]).ok().stdout));
    t.git(&["config", "color.keepsake", "auto"]);
    t.git(&["config", "color.ui", "always"]);
    assert!(!has_color(&t.ks(&["ls"]).ok().stdout));
    assert!(has_color(&ks_pty(dir, &["ls"], &[], 200).stdout));
    t.git(&["config", "color.keepsake", "never"]);
    assert!(!has_color(&ks_pty(dir, &["ls"], &[], 200).stdout));
    // A value git would refuse is named in a warning, and changes nothing.
    t.git(&["config", "color.keepsake", "sometimes"]);
    let run = t.ks(&["ls"]).ok();
    assert!(run.stderr.contains("`sometimes`"), "{}", run.stderr);
    // git's `-c` reaches us as git passes it to its commands.
    let run = ks_env(
        dir,
        &["ls"],
        &[("GIT_CONFIG_PARAMETERS", "'color.keepsake'='always'")],
    );
    assert!(has_color(&run.ok().stdout));
}

#[test]
fn show_and_diff_style_ids_and_headings_on_a_terminal_only() {
    let (t, exps) = scene();
    let id = exps[0].id.as_str();
    let run = ks_pty(&t.dir, &["show", id], &[], 200);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("\x1b[33m{id}")),
        "{}",
        run.stdout
    );
    assert_eq!(plain(&run.stdout), t.ks(&["show", id]).ok().stdout);
    // The code diff as git colours one.
    let t = TestProject::new(true);
    let a = record_run(&t, 0.01, &[0.9]);
    t.write("src/model.py", "def build(hidden):\n    return 2\n");
    let b = record_run(&t, 0.1, &[0.8]);
    let (a, b) = (a.id.as_str(), b.id.as_str());
    let run = ks_pty(&t.dir, &["diff", a, b], &[], 200);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("\x1b[32m+    return 2\x1b[0m\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\x1b[31m-"), "{}", run.stdout);
    assert!(
        run.stdout.contains("\x1b[1m+++ b/src/model.py"),
        "{}",
        run.stdout
    );
    assert_eq!(plain(&run.stdout), t.ks(&["diff", a, b]).ok().stdout);
    assert!(!has_color(&t.ks(&["diff", a, b]).ok().stdout));
}

/// A pager that notes it ran in `marker`, then shows its input.
fn recording_pager(t: &TestProject) -> (String, std::path::PathBuf) {
    let marker = t.tmp.path().join("pager-ran");
    let script = t.tmp.path().join("pager.sh");
    std::fs::write(
        &script,
        format!(
            "echo \"LESS=$LESS LV=$LV\" >> '{}'\ncat\n",
            marker.display()
        ),
    )
    .unwrap();
    (format!("sh '{}'", script.display()), marker)
}

#[test]
fn the_pager_runs_for_long_output_on_a_terminal_only() {
    let (t, exps) = scene();
    let (pager, marker) = recording_pager(&t);
    let dir = &t.dir;
    let ran = || {
        let r = std::fs::read_to_string(&marker).unwrap_or_default();
        let _ = std::fs::remove_file(&marker);
        r
    };
    let env = [("GIT_PAGER", pager.as_str())];
    let id = exps[0].id.as_str();
    for args in [
        &["ls"][..],
        &["ps"],
        &["show", id],
        &["diff", id, exps[1].id.as_str()],
    ] {
        let run = ks_pty(dir, args, &env, 200);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        // Through the pager's stdin to the terminal, whole; LESS and LV as git sets them.
        assert_eq!(ran(), "LESS=FRX LV=-c\n", "{args:?}");
        assert_eq!(plain(&run.stdout), t.ks(args).ok().stdout, "{args:?}");
    }
    // The person's LESS is theirs.
    ks_pty(dir, &["ls"], &[env[0], ("LESS", "-S")], 200);
    assert_eq!(ran(), "LESS=-S LV=-c\n");
    // Not on a pipe, not for a short command, not with --no-pager, `cat` or pager.keepsake=false.
    ks_env(dir, &["ls"], &env).ok();
    assert_eq!(ran(), "");
    ks_pty(dir, &["config"], &env, 200);
    ks_pty(dir, &["--no-pager", "ls"], &env, 200);
    ks_pty(dir, &["ls"], &[("GIT_PAGER", "cat")], 200);
    assert_eq!(ran(), "");
    t.git(&["config", "pager.keepsake", "false"]);
    let run = ks_pty(dir, &["ls"], &env, 200);
    assert_eq!(ran(), "");
    assert_eq!(plain(&run.stdout), t.ks(&["ls"]).ok().stdout);
    // pager.keepsake as a command, then core.pager, then PAGER, when GIT_PAGER is not set.
    t.git(&["config", "pager.keepsake", &pager]);
    ks_pty(dir, &["ls"], &[("GIT_PAGER", "")], 200);
    // An empty GIT_PAGER is no pager, as in git.
    assert_eq!(ran(), "");
    let mut cmd_env: Vec<(&str, &str)> = vec![];
    let unset = ks_pty_unset_git_pager(dir, &["ls"], &cmd_env);
    assert_eq!(unset.code, 0);
    assert_eq!(ran(), "LESS=FRX LV=-c\n");
    t.git(&["config", "--unset", "pager.keepsake"]);
    t.git(&["config", "core.pager", &pager]);
    ks_pty_unset_git_pager(dir, &["ls"], &cmd_env);
    assert_eq!(ran(), "LESS=FRX LV=-c\n");
    t.git(&["config", "--unset", "core.pager"]);
    cmd_env.push(("PAGER", &pager));
    ks_pty_unset_git_pager(dir, &["ls"], &cmd_env);
    assert_eq!(ran(), "LESS=FRX LV=-c\n");
    // A pager that quits before reading it all (q in less) is no error.
    let run = ks_pty(dir, &["ls"], &[("GIT_PAGER", "exit 0")], 200);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("error"), "{}", run.stderr);
    // An error comes after the paged output, on stderr's terminal.
    let run = ks_pty(dir, &["ls", "-f", "nosuch > 1"], &env, 200);
    assert_eq!(run.code, 1);
    assert!(plain(&run.stderr).starts_with("error: "));
}

/// `ks_pty` 200 columns wide with GIT_PAGER unset, so git config and PAGER choose.
fn ks_pty_unset_git_pager(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> PtyRun {
    ks_pty_unset(dir, args, env, 200, &["GIT_PAGER"])
}

#[test]
fn the_table_fits_60_and_200_columns_with_cjk_and_emoji_aligned() {
    let (t, exps) = scene();
    let dir = &t.dir;
    let piped = t.ks(&["ls"]).ok().stdout;
    // Piped: whole values, no fitting (scripts read it), yet aligned by display width.
    assert!(piped.contains("日本語のテキストです") && piped.contains("🚀 emoji 🎉 party"));
    assert!(!piped.contains('…'));
    assert_aligned(&piped);
    // 200 columns: room for all of it, as piped.
    let wide = ks_pty(dir, &["--color=never", "ls"], &[], 200);
    assert_eq!(wide.stdout, piped);
    // COLUMNS wins over the terminal's size, as in git.
    let run = ks_pty(dir, &["--color=never", "ls"], &[("COLUMNS", "60")], 200);
    let narrow = ks_pty(dir, &["--color=never", "ls"], &[], 60);
    assert_eq!(run.stdout, narrow.stdout);
    let narrow = narrow.stdout;
    // 60 columns: the params shortened with `…` first, every ID whole, still aligned.
    assert!(narrow.contains('…'), "{narrow}");
    assert_aligned(&narrow);
    for e in &exps {
        assert!(narrow.contains(e.id.short()), "{narrow}");
    }
    let widest = narrow.lines().map(width).max().unwrap();
    assert!(widest < piped.lines().map(width).max().unwrap());
    // With fewer columns chosen, the table fits in 60 columns exactly.
    let args = [
        "--color=never",
        "ls",
        "--columns",
        "experiment,status,note,lr,latest",
    ];
    let fitted = ks_pty(dir, &args, &[], 60).stdout;
    assert_aligned(&fitted);
    assert!(fitted.lines().all(|l| width(l) <= 60), "{fitted}");
    assert!(fitted.contains('…'), "{fitted}");
    // A wide character is never cut in half: what is shown stays aligned.
    for cols in [59, 61, 62, 63] {
        assert_aligned(&ks_pty(dir, &args, &[], cols).stdout);
    }
    // Styles never change widths.
    let colored = ks_pty(dir, &args[1..], &[], 60).stdout;
    assert!(has_color(&colored));
    assert_eq!(plain(&colored), fitted);
}

#[test]
fn limit_and_columns() {
    let (t, exps) = scene();
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["ls", "-q"];
        all.extend_from_slice(args);
        t.ks(&all).ok().stdout.lines().map(str::to_string).collect()
    };
    // After sorting.
    assert_eq!(
        ids(&["--sort", "-lr", "--limit", "2"]),
        [exps[2].id.to_string(), exps[1].id.to_string()]
    );
    assert_eq!(ids(&["--limit", "1"]), [exps[0].id.to_string()]);
    assert_eq!(ids(&["--limit", "10"]).len(), 3);
    let json = t
        .ks(&["ls", "--json", "--limit", "1", "--sort", "loss"])
        .ok()
        .json();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["id"], exps[1].id.as_str());
    for bad in ["0", "-1"] {
        let run = t.ks(&["ls", "--limit", bad]).fails();
        assert_eq!(run.code, 1);
        assert!(
            run.error_line().contains(&format!("`{bad}`")),
            "{}",
            run.stderr
        );
    }
    // Chosen columns, in order: fixed ones, a param and a metric of their own.
    let out = t
        .ks(&[
            "ls",
            "--columns",
            "experiment,lr,loss,status",
            "--sort",
            "lr",
        ])
        .ok()
        .stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(starts(lines[0]).len(), 4);
    assert!(
        lines[0].starts_with("EXPERIMENT  LR    LOSS  STATUS"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("{:<10}  0.01  0.5   stopped", exps[0].id.short())),
        "{out}"
    );
    assert!(!out.contains("PARAMS") && !out.contains("note="));
    assert_aligned(&out);
    // Unknown names are errors with the closest suggested; --columns is for the table.
    let run = t.ks(&["ls", "--columns", "experimnt,lr"]).fails();
    assert!(
        run.error_line().contains("column `experimnt`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: Did you mean `experiment`?"),
        "{}",
        run.stderr
    );
    let run = t.ks(&["ls", "--columns", "los"]).fails();
    assert!(run.stderr.contains("`loss`"), "{}", run.stderr);
    let run = t.ks(&["ls", "--columns", "lr,,loss"]).fails();
    assert!(run.error_line().contains("empty"), "{}", run.stderr);
    let run = t.ks(&["ls", "--json", "--columns", "lr"]).fails();
    assert!(run.error_line().contains("--columns"), "{}", run.stderr);
}

#[test]
fn a_filter_or_sort_on_a_name_no_experiment_has_is_an_error_with_suggestions() {
    let (t, _) = scene();
    // Keepsake listed nothing and exited 0.
    let run = t.ks(&["ls", "-f", "nosuch > 3"]).fails();
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    assert!(!run.stderr.contains("No experiments found"));
    assert!(
        run.error_line().contains("filter `nosuch`"),
        "{}",
        run.stderr
    );
    let run = t.ks(&["ls", "-f", "lrr < 1"]).fails();
    assert!(
        run.stderr.contains("hint: Did you mean `lr`?"),
        "{}",
        run.stderr
    );
    let run = t.ks(&["ls", "-f", "los < 1"]).fails();
    assert!(run.stderr.contains("`loss`"), "{}", run.stderr);
    let run = t.ks(&["ls", "--sort", "-sed"]).fails();
    assert!(
        run.error_line().contains("sort key `sed`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("`seed`"), "{}", run.stderr);
    let run = t.ks(&["ps", "-f", "stauts = running"]).fails();
    assert!(run.stderr.contains("`status`"), "{}", run.stderr);
    // Names some experiment has, built-in fields, nested ones and Keepsake's sort suffixes pass.
    t.ks(&["ls", "-f", "note = x", "--sort", "loss-desc"]).ok();
    t.ks(&[
        "ls",
        "-f",
        "step > 0",
        "-f",
        "command = x",
        "--sort",
        "started",
    ])
    .ok();
    // With no experiment at all there is nothing to tell a typo by.
    let empty = TestProject::new(true);
    let run = empty.ks(&["ls", "-f", "nosuch > 3"]).ok();
    assert!(run.stderr.contains("No experiments found"));
}

/// Ctrl-C while the pager shows the output: as git does, the command waits for the person to
/// quit the pager before it dies, so the shell never takes the terminal back from a pager.
#[test]
fn an_interrupt_waits_for_the_pager_to_exit() {
    use std::os::unix::process::ExitStatusExt;
    let (t, _) = scene();
    let marker = t.tmp.path().join("pager-log");
    let script = t.tmp.path().join("slow-pager.sh");
    // Started once our output reaches it (our handler is in place by then); slow to quit.
    std::fs::write(
        &script,
        format!(
            "IFS= read -r first\necho started >> '{m}'\nsleep 1\necho done >> '{m}'\ncat > /dev/null\n",
            m = marker.display()
        ),
    )
    .unwrap();
    let (master, slave) = pty(200);
    let out = drain(master);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_git-keepsake"));
    cmd.arg("ls")
        .current_dir(&t.dir)
        .stdin(std::process::Stdio::null())
        .stdout(slave)
        .stderr(std::process::Stdio::null());
    hermetic(&mut cmd, &t.dir);
    cmd.env("GIT_PAGER", format!("sh '{}'", script.display()));
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let started = (0..400).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(25));
        std::fs::read_to_string(&marker).is_ok_and(|m| m.contains("started"))
    });
    assert!(started, "the pager never started");
    // SAFETY: a signal to the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "started\ndone\n");
    assert_eq!(status.signal(), Some(libc::SIGINT));
    drop(out);
}
