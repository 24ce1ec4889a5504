//! The installation's Ed25519 key, which signs the seal chain's checkpoints.
//!
//! Taken from the environment (`IGNY8_SEAL_KEY`, the 32-byte seed in hex) or, when none is set,
//! from a local key file, generated on first use with a warning: `serve` runs with no
//! configuration, and a key that lives only beside the database protects less than one kept
//! elsewhere. The seed is never logged, shown or stored in the database; only the public key is.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::fmt;
use std::path::Path;

#[derive(Clone)]
pub struct SealKey(SigningKey);

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey(public {})", hex::encode(self.public_key()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealKeyError {
    #[error("the seal key must be 64 hexadecimal characters (a 32-byte Ed25519 seed)")]
    Malformed,
    #[error("cannot read or create the seal key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

impl SealKey {
    /// From a hex-encoded 32-byte seed.
    pub fn from_hex(seed: &str) -> Result<Self, SealKeyError> {
        let bytes: [u8; 32] = hex::decode(seed.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SealKeyError::Malformed)?;
        Ok(Self(SigningKey::from_bytes(&bytes)))
    }

    /// Reads the key file at `path`, or creates it with a fresh key (readable by its owner
    /// only). Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), SealKeyError> {
        let fresh = || hex::encode(SigningKey::generate(&mut rand::rngs::OsRng).to_bytes());
        let (text, created) =
            crate::store::key_file::load_or_create(path, fresh).map_err(|source| {
                SealKeyError::File {
                    path: path.display().to_string(),
                    source,
                }
            })?;
        Ok((Self::from_hex(&text)?, created))
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

/// Whether `signature` is `public_key`'s signature of `message`.
pub fn verify_signature(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(key), Ok(signature)) = (
        <[u8; 32]>::try_from(public_key),
        <[u8; 64]>::try_from(signature),
    ) else {
        return false;
    };
    VerifyingKey::from_bytes(&key)
        .map(|key| {
            key.verify(message, &Signature::from_bytes(&signature))
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_once_and_read_back() {
        let dir = std::env::temp_dir().join(format!("igny8-seal-key-{}", uuid::Uuid::new_v4()));
        let path = dir.join("seal.key");
        let (first, created) = SealKey::load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = SealKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.public_key(), again.public_key());
        let signature = first.sign(b"checkpoint");
        assert!(verify_signature(
            &again.public_key(),
            b"checkpoint",
            &signature
        ));
        assert!(!verify_signature(
            &again.public_key(),
            b"checkpoinT",
            &signature
        ));
        assert!(!format!("{first:?}").contains(&std::fs::read_to_string(&path).unwrap()));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_malformed_seed_is_refused() {
        assert!(SealKey::from_hex("abc").is_err());
        assert!(SealKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(SealKey::from_hex(&"01".repeat(32)).is_ok());
    }
}
