//! Experiment and checkpoint IDs: 64 lowercase hex characters, shown as their first 7.

use std::fmt;

use crate::error::{Error, Result};

#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Id(String);

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
        Id(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Accepts any non-empty run of lowercase hex: Keepsake wrote 64, but never checked.
    pub fn parse(s: &str) -> Result<Id> {
        if !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Id(s.to_string()))
        } else {
            Err(Error::invalid("ID", s, "an ID is lowercase hexadecimal"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(7)]
    }
}

impl fmt::Display for Id {
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
    fn parse_rejects_non_hex() {
        assert!(Id::parse("xyz").is_err());
        assert!(Id::parse("").is_err());
        assert!(Id::parse("ABC").is_err());
    }
}
