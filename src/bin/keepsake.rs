//! `keepsake`: the command Keepsake 0.4.2 users type, over git-keepsake.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(git_keepsake::run_keepsake(std::env::args_os()));
}
