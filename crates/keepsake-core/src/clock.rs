//! Time: the one clock of the core, and Keepsake's timestamp format (RFC 3339, UTC, nanoseconds
//! with trailing zeros trimmed, as Go writes `time.Time`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;

use chrono::{DateTime, SecondsFormat, Utc};

static FIXED: OnceLock<Option<DateTime<Utc>>> = OnceLock::new();
static TICKS: AtomicI64 = AtomicI64::new(0);

/// Fixes the clock of this process at `t` (tests that record in-process use it; the environment
/// variable does the same for a whole process).
pub fn fix(t: DateTime<Utc>) {
    let _ = FIXED.set(Some(t));
}

/// The current time. A fixed clock still advances by a millisecond per reading, so that records
/// made one after another keep their order.
pub fn now() -> DateTime<Utc> {
    let fixed = FIXED.get_or_init(|| {
        std::env::var(crate::env::EnvVars::GIT_KEEPSAKE_NOW)
            .ok()
            .and_then(|s| parse(&s))
    });
    match fixed {
        Some(t) => *t + chrono::Duration::milliseconds(TICKS.fetch_add(1, Ordering::Relaxed)),
        None => Utc::now(),
    }
}

pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn format(t: &DateTime<Utc>) -> String {
    let s = t.to_rfc3339_opts(SecondsFormat::Nanos, true);
    // `2026-11-22T11:04:01.845228910Z` -> `2026-11-22T11:04:01.84522891Z`, `.000000000Z` -> `Z`
    let body = &s[..s.len() - 1];
    let trimmed = body.trim_end_matches('0').trim_end_matches('.');
    format!("{trimmed}Z")
}

pub(crate) mod serde_go {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        super::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp `{s}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        for s in [
            "2026-11-22T11:03:46.036756992Z",
            "2026-11-22T11:04:01.84522891Z",
            "2026-11-22T11:04:01Z",
            "2020-10-07T22:44:06.243914Z",
        ] {
            assert_eq!(format(&parse(s).unwrap()), s);
        }
    }
}
