//! `git-keepsake`: version control for machine learning, built into git.

fn main() {
    std::process::exit(git_keepsake::run(std::env::args_os()));
}
