//! Experiment and checkpoint IDs: exactly 64 lowercase hex characters, shown as their first 7.
//! An ID is validated wherever it enters (parsing, deserializing a record), so every storage key
//! and ref name built from one is a plain name: code past the boundary can rely on it.

use std::fmt;

use crate::error::{Error, Result};

/// The length of every ID.
pub const LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Id(String);

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Id {
    /// A fresh random ID from the operating system's generator.
    pub fn generate() -> Id {
        let mut bytes = [0u8; 32];
        // getrandom only fails when the OS has no entropy source at all; fall back to the clock
        // and pid so recording never stops over it.
        if getrandom::fill(&mut bytes).is_err() {
            use sha2::Digest;
            let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
            bytes.copy_from_slice(&sha2::Sha256::digest(seed.as_bytes()));
        }
        Id(crate::digest::hex(&bytes))
    }

    /// Accepts exactly 64 lowercase hex characters, what Keepsake generates.
    pub fn parse(s: &str) -> Result<Id> {
        if s.len() == LEN && is_hex(s) {
            Ok(Id(s.to_string()))
        } else {
            Err(Error::BadName {
                what: "ID".into(),
                value: crate::text::quoted(s).to_string(),
                message: "an ID is 64 lowercase hexadecimal characters".to_string(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn short(&self) -> &str {
        &self.0[..7]
    }

    /// Whether this ID starts with `prefix`.
    pub fn has_prefix(&self, prefix: &Prefix) -> bool {
        self.0.starts_with(prefix.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Id, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() == LEN && is_hex(&s) {
            Ok(Id(s))
        } else {
            Err(serde::de::Error::custom(format!(
                "{} is not an ID (64 lowercase hexadecimal characters)",
                crate::text::quoted(&s)
            )))
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a user types to name an ID: 1 to 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    pub fn parse(s: &str) -> Result<Prefix> {
        if !s.is_empty() && s.len() <= LEN && is_hex(s) {
            Ok(Prefix(s.to_string()))
        } else {
            Err(Error::BadName {
                what: "ID prefix".into(),
                value: crate::text::quoted(s).to_string(),
                message: "IDs are lowercase hexadecimal (up to 64 characters)".to_string(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_64_hex_and_distinct() {
        let a = Id::generate();
        let b = Id::generate();
        assert_eq!(a.as_str().len(), 64);
        assert!(Id::parse(a.as_str()).is_ok());
        assert_ne!(a, b);
        assert_eq!(a.short().len(), 7);
    }

    #[test]
    fn parse_rejects_anything_but_64_lowercase_hex() {
        let good = "a".repeat(64);
        assert!(Id::parse(&good).is_ok());
        for bad in [
            "xyz".to_string(),
            String::new(),
            "ABC".to_string(),
            "a".repeat(63),
            "a".repeat(65),
            format!("../{}", "a".repeat(61)),
            "é".repeat(32),
        ] {
            assert!(Id::parse(&bad).is_err(), "{bad}");
            let json = serde_json::to_string(&bad).unwrap();
            assert!(serde_json::from_str::<Id>(&json).is_err(), "{bad}");
        }
        assert!(Prefix::parse("abc").is_ok());
        assert!(Prefix::parse("").is_err());
        assert!(Prefix::parse(&"a".repeat(65)).is_err());
    }
}
