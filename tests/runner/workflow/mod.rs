//! End to end: recording through the core into real git repositories, then `ls`, `show`, `diff`,
//! `checkout`, `rm` and `import` through the binary.

mod checkout;
mod lifecycle;
mod record_and_read;

use crate::support::*;
use keepsake_core::refs::{EXPERIMENT_REFS, NOTES_REF};
use serde_json::{json, Value};
