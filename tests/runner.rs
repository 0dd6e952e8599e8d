//! The end-to-end tests of the `git keepsake` CLI, in one binary (one link, one place to look):
//! one module per area, the shared helpers in `support`. Run one area with
//! `cargo test --test runner hostile::` (a module path filters like a test name). The crate root
//! is this file, so each module names its file under tests/runner/.

#[path = "runner/support.rs"]
mod support;

#[path = "runner/bad_input.rs"]
mod bad_input;
#[path = "runner/code_snapshot.rs"]
mod code_snapshot;
#[path = "runner/command_line/mod.rs"]
mod command_line;
#[path = "runner/hostile/mod.rs"]
mod hostile;
#[path = "runner/keepsake_command.rs"]
mod keepsake_command;
#[path = "runner/keepsake_compat.rs"]
mod keepsake_compat;
#[path = "runner/output.rs"]
mod output;
#[path = "runner/progress.rs"]
mod progress;
#[path = "runner/s3.rs"]
mod s3;
#[path = "runner/shared_store/mod.rs"]
mod shared_store;
#[path = "runner/sharing/mod.rs"]
mod sharing;
#[path = "runner/storage.rs"]
mod storage;
#[path = "runner/terminal.rs"]
mod terminal;
#[path = "runner/web.rs"]
mod web;
#[path = "runner/workflow/mod.rs"]
mod workflow;
