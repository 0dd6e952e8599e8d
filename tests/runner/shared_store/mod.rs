//! The store is shared and durable: two clones on one store (a directory, and the S3 server)
//! keep each other's experiments through `gc`; experiments only the store knows (Keepsake's,
//! not imported) survive it unless pruned explicitly; `rm` never deletes what another
//! experiment names; read-only commands answer from git when the store is down and create
//! nothing; crash-left temp files are collected; local keys never reach outside the store.

mod gc;
mod refusals;
mod unreachable;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;

use crate::support::*;
use keepsake_core::refs::EXPERIMENT_REFS;
use keepsake_core::{storage, Id, StorageUrl};
