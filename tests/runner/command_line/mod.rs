//! The command line as a person meets it: help and man pages, shell completion, `init`.

mod completion;
mod help;
mod init;
