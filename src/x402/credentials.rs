//! The credentials file: where an API key bought with an x402 top-up is kept.
//!
//! The key was paid for, so it is written before it is used or reported, atomically (a temp
//! file in the same directory, mode 0600, fsync, rename, fsync of the directory): a crash leaves
//! either the old file or the new one, never half of one. A different key already in the file
//! is kept under `previous_api_keys` rather than overwritten. At start-up, a process with no
//! `VIRTUALSMS_API_KEY` uses the saved key ([`adopt_saved_key`]).

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::{ApiKey, Config};

/// What the file holds. `Debug` masks every key.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Saved {
    pub api_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The wallet that paid (an address, public).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    /// The x402 endpoint that issued the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_by: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub saved_at: u64,
    /// Keys this file held before, newest last: a paid-for key is never thrown away.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_api_keys: Vec<String>,
}

impl fmt::Debug for Saved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Saved")
            .field("api_key", &mask(&self.api_key))
            .field("user_id", &self.user_id)
            .field("wallet", &self.wallet)
            .field("tx_hash", &self.tx_hash)
            .field("saved_at", &self.saved_at)
            .field("previous_api_keys", &self.previous_api_keys.len())
            .finish()
    }
}

/// A key as it may be shown: its prefix up to the first `_`, an ellipsis and the last four
/// characters (`vsms_…9b8c`). Short keys show nothing at all.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "…".to_owned();
    }
    let prefix: String = match key.find('_') {
        Some(i) if i <= 8 => key[..=i].to_owned(),
        _ => String::new(),
    };
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

/// `$VIRTUALSMS_CREDENTIALS_FILE`, else `$XDG_CONFIG_HOME/virtualsms-mcp/credentials.json`, else
/// `$HOME/.config/virtualsms-mcp/credentials.json` (`%APPDATA%\virtualsms-mcp\...` on Windows).
pub fn default_path(get: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let dir = get("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| get("HOME").map(|h| Path::new(&h).join(".config")))
        .or_else(|| get("APPDATA").map(PathBuf::from))?;
    Some(dir.join("virtualsms-mcp").join("credentials.json"))
}

/// The saved credentials; `Ok(None)` when there is no file.
pub fn load(path: &Path) -> io::Result<Option<Saved>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let saved: Saved = serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a credentials file ({e})"),
        )
    })?;
    Ok(Some(saved).filter(|s| !s.api_key.trim().is_empty()))
}

/// Writes `saved` to `path` atomically with mode 0600, keeping a different key that was there
/// before in `previous_api_keys`.
pub fn save(path: &Path, mut saved: Saved) -> io::Result<()> {
    if let Ok(Some(old)) = load(path) {
        let mut previous = old.previous_api_keys;
        if old.api_key != saved.api_key {
            previous.push(old.api_key);
        }
        previous.retain(|k| *k != saved.api_key);
        previous.dedup();
        saved.previous_api_keys = previous;
    }
    if saved.saved_at == 0 {
        saved.saved_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
    }
    let mut json = serde_json::to_vec_pretty(&saved).map_err(io::Error::other)?;
    json.push(b'\n');
    write_atomically(path, &json)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("credentials.json");
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut file = private_file(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable (best effort: not every platform can open a directory).
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn private_file(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// At start-up: with no `VIRTUALSMS_API_KEY`, use the key saved by an earlier top-up.
pub fn adopt_saved_key(config: &mut Config) {
    if config.api_key.is_some() {
        return;
    }
    let Some(path) = config.x402.credentials_file.as_deref() else {
        return;
    };
    match load(path) {
        Ok(Some(saved)) => {
            tracing::info!(
                api_key = %mask(&saved.api_key),
                credentials = %path.display(),
                "no VIRTUALSMS_API_KEY set: using the API key saved by an earlier x402 top-up"
            );
            config.api_key = Some(ApiKey::new(saved.api_key.trim()));
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(
            credentials = %path.display(),
            error = %e,
            "cannot read the credentials file; starting without its key"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "vsms-cred-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn masks_keep_prefix_and_last_four() {
        assert_eq!(
            mask("vsms_live_4f3a9b1c8e2d7f6a5b4c3d2e1f0a9b8c"),
            "vsms_…9b8c"
        );
        assert_eq!(mask("abcdefghijklmnop"), "…mnop");
        assert_eq!(mask("short"), "…");
    }

    #[test]
    fn saves_atomically_privately_and_keeps_previous_keys() {
        let dir = temp_dir("save");
        let path = dir.join("sub").join("credentials.json");
        save(
            &path,
            Saved {
                api_key: "vsms_first_key_000000001".into(),
                ..Saved::default()
            },
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        save(
            &path,
            Saved {
                api_key: "vsms_second_key_00000002".into(),
                ..Saved::default()
            },
        )
        .unwrap();
        let saved = load(&path).unwrap().unwrap();
        assert_eq!(saved.api_key, "vsms_second_key_00000002");
        assert_eq!(saved.previous_api_keys, ["vsms_first_key_000000001"]);
        assert!(saved.saved_at > 0);
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temp files left: {leftovers:?}");
        assert!(!format!("{saved:?}").contains("second_key"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_file_is_none_and_default_path_follows_xdg() {
        assert!(load(Path::new("/nonexistent/vsms/credentials.json"))
            .unwrap()
            .is_none());
        let env = |name: &str| match name {
            "XDG_CONFIG_HOME" => Some("/xdg".to_owned()),
            "HOME" => Some("/home/a".to_owned()),
            _ => None,
        };
        assert_eq!(
            default_path(&env),
            Some(PathBuf::from("/xdg/virtualsms-mcp/credentials.json"))
        );
        let home = |name: &str| (name == "HOME").then(|| "/home/a".to_owned());
        assert_eq!(
            default_path(&home),
            Some(PathBuf::from(
                "/home/a/.config/virtualsms-mcp/credentials.json"
            ))
        );
        assert_eq!(default_path(&|_: &str| None), None);
    }
}
