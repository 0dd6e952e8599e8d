//! `git-keepsake`: version control for machine learning, built into git.

// Listing thousands of experiments is allocation-heavy; mimalloc cuts its cost noticeably.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(git_keepsake::run(std::env::args_os()));
}
