//! Envelope encryption for the secrets the log must carry (providers' API keys), and their
//! destruction.
//!
//! Each secret is encrypted (AES-256-GCM) under a data key of its own. The data key is stored,
//! wrapped (encrypted) under the master key, in `secrets.data_keys`: outside the append-only
//! log, so it can be destroyed. The event holds only the ciphertext and the data key's id. When
//! the secret is replaced or removed, its data key row is deleted (see `ai_settings`): the
//! ciphertext still in the log can then never be decrypted again (crypto-shredding), while the
//! log, and its seal chain, stay exactly as written.
//!
//! The master key comes from the environment (`IGNY8_MASTER_KEY`, 32 bytes in hex) or, when
//! none is set, from a local key file generated on first use with a warning. It is never
//! logged, shown or stored in the database; data keys name it by a fingerprint only.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::fmt;
use std::path::Path;
use uuid::Uuid;

const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.fingerprint())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("the master key must be 64 hexadecimal characters (32 bytes)")]
    Malformed,
    #[error("cannot read or create the master key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    /// The data key was destroyed: the secret is gone for good.
    #[error("this secret was destroyed (its data key no longer exists)")]
    Destroyed,
    #[error("this secret was sealed under another master key ({0})")]
    OtherMasterKey(String),
    #[error("this secret cannot be decrypted: it was altered or is not one")]
    Corrupt,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl MasterKey {
    pub fn from_hex(key: &str) -> Result<Self, KeyringError> {
        hex::decode(key.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .map(Self)
            .ok_or(KeyringError::Malformed)
    }

    /// Reads the key file at `path`, or creates it with a fresh key. Returns whether it was
    /// created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), KeyringError> {
        let fresh = || {
            let mut key = [0u8; 32];
            OsRng.fill_bytes(&mut key);
            hex::encode(key)
        };
        let (text, created) =
            crate::store::key_file::load_or_create(path, fresh).map_err(|source| {
                KeyringError::File {
                    path: path.display().to_string(),
                    source,
                }
            })?;
        Ok((Self::from_hex(&text)?, created))
    }

    /// Names the key without revealing it: the first 8 bytes of its SHA-256, hex.
    pub fn fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..8])
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }
}

/// A secret in the clear, as long as it is needed; never printed.
pub struct Revealed(String);

impl Revealed {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Revealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Revealed([redacted])")
    }
}

/// A secret as the log may carry it.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub data_key_id: Uuid,
    /// Nonce and ciphertext, hex.
    pub encrypted: String,
}

#[derive(Clone)]
pub struct Keyring {
    pool: PgPool,
    master: MasterKey,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keyring({:?})", self.master)
    }
}

impl Keyring {
    pub fn new(pool: PgPool, master: MasterKey) -> Self {
        Self { pool, master }
    }

    /// Encrypts `secret` under a fresh data key, stored wrapped. `purpose` is bound to the
    /// ciphertext (as associated data): a ciphertext moved to another purpose fails to open.
    pub async fn seal(&self, purpose: &str, secret: &str) -> Result<Sealed, KeyringError> {
        let data_key_id = Uuid::now_v7();
        let data_key = Aes256Gcm::generate_key(&mut OsRng);
        let wrapped = encrypt(&self.master.cipher(), data_key_id.as_bytes(), &data_key);
        sqlx::query("INSERT INTO secrets.data_keys (id, wrapped, master_key) VALUES ($1, $2, $3)")
            .bind(data_key_id)
            .bind(&wrapped)
            .bind(self.master.fingerprint())
            .execute(&self.pool)
            .await?;
        let sealed = encrypt(
            &Aes256Gcm::new(&data_key),
            purpose.as_bytes(),
            secret.as_bytes(),
        );
        Ok(Sealed {
            data_key_id,
            encrypted: hex::encode(sealed),
        })
    }

    /// Decrypts a sealed secret, while its data key exists.
    pub async fn open(&self, purpose: &str, sealed: &Sealed) -> Result<Revealed, KeyringError> {
        let row: Option<(Vec<u8>, String)> =
            sqlx::query_as("SELECT wrapped, master_key FROM secrets.data_keys WHERE id = $1")
                .bind(sealed.data_key_id)
                .fetch_optional(&self.pool)
                .await?;
        let (wrapped, master) = row.ok_or(KeyringError::Destroyed)?;
        if master != self.master.fingerprint() {
            return Err(KeyringError::OtherMasterKey(master));
        }
        let data_key = decrypt(
            &self.master.cipher(),
            sealed.data_key_id.as_bytes(),
            &wrapped,
        )?;
        let cipher = Aes256Gcm::new_from_slice(&data_key).map_err(|_| KeyringError::Corrupt)?;
        let ciphertext = hex::decode(&sealed.encrypted).map_err(|_| KeyringError::Corrupt)?;
        let plain = decrypt(&cipher, purpose.as_bytes(), &ciphertext)?;
        String::from_utf8(plain)
            .map(Revealed)
            .map_err(|_| KeyringError::Corrupt)
    }

    /// Destroys a data key: what it sealed can never be opened again. Safe to repeat.
    pub async fn destroy(&self, data_key_id: Uuid) -> Result<(), KeyringError> {
        destroy(&mut *self.pool.acquire().await?, data_key_id).await?;
        Ok(())
    }
}

/// Destroys a data key within the caller's transaction.
pub async fn destroy(conn: &mut sqlx::PgConnection, data_key_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM secrets.data_keys WHERE id = $1")
        .bind(data_key_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Nonce followed by ciphertext.
fn encrypt(cipher: &Aes256Gcm, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(&nonce, Payload { msg: plain, aad })
        .expect("AES-GCM encrypts any message of this size");
    [nonce.as_slice(), &ciphertext].concat()
}

fn decrypt(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KeyringError> {
    if sealed.len() < NONCE_LEN {
        return Err(KeyringError::Corrupt);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| KeyringError::Corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_master_key_file_is_created_once_and_never_printed() {
        let dir = std::env::temp_dir().join(format!("igny8-master-key-{}", Uuid::new_v4()));
        let path = dir.join("master.key");
        let (first, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.fingerprint(), again.fingerprint());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!format!("{first:?}").contains(&text));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_sealed_message_opens_only_with_its_key_and_purpose() {
        let cipher = MasterKey::from_hex(&"11".repeat(32)).unwrap().cipher();
        let sealed = encrypt(&cipher, b"openai", b"sk-secret");
        assert_eq!(decrypt(&cipher, b"openai", &sealed).unwrap(), b"sk-secret");
        assert!(decrypt(&cipher, b"dalle", &sealed).is_err());
        let other = MasterKey::from_hex(&"22".repeat(32)).unwrap().cipher();
        assert!(decrypt(&other, b"openai", &sealed).is_err());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(decrypt(&cipher, b"openai", &altered).is_err());
        assert!(MasterKey::from_hex("abc").is_err());
    }
}
