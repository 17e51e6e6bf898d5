//! The `--config FILE` settings (TOML). Every key is optional; `tradeloop defaults` prints
//! them all with their default values.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tradeloop_core::EngineConfig;

use crate::plugin::Limits;

/// Host settings and the engine configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Seed of a new state's engine (default 42). Used once, when the state is created.
    pub seed: u64,
    /// Write a checkpoint after this many journalled events (default 100; 1..=1000000): fewer events to replay when a process opens the state, at the cost of more checkpoint writes.
    pub checkpoint_every: u64,
    /// Checkpoint generations kept (default 3; 1..=100).
    pub keep_checkpoints: usize,
    /// Longest a single plugin call may run, in seconds (default 120; 1..=86400).
    pub call_timeout_secs: u64,
    /// Most linear memory the plugin may use, in MiB (default 1024; 16..=4096).
    pub memory_mib: u64,
    /// `tradeloop schedule`: seconds between two looks at the schedule (default 30).
    pub schedule_poll_secs: u64,
    /// How long a command waits for another process using the state directory to finish,
    /// in seconds (default 5; 0 fails at once; at most 3600). `--wait SECS` overrides it.
    pub lock_wait_secs: f64,
    /// The engine's configuration (`[engine]` table, every field of `EngineConfig`). Used
    /// once, when the state is created: afterwards the state's own configuration rules.
    pub engine: EngineConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            seed: 42,
            checkpoint_every: 100,
            keep_checkpoints: 3,
            call_timeout_secs: 120,
            memory_mib: 1024,
            schedule_poll_secs: 30,
            lock_wait_secs: 5.0,
            engine: EngineConfig::default(),
        }
    }
}

impl Settings {
    /// Reads `path` (TOML), or the defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))
    }

    /// Parses and validates settings from TOML text (what [`Settings::load`] reads).
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let s: Settings = toml::from_str(text)?;
        s.validate()?;
        Ok(s)
    }

    /// Checks ranges.
    pub fn validate(&self) -> anyhow::Result<()> {
        let check = |ok: bool, msg: &str| {
            if ok {
                Ok(())
            } else {
                Err(anyhow::anyhow!("{msg}"))
            }
        };
        check(
            (1..=1_000_000).contains(&self.checkpoint_every),
            "checkpoint_every must be in 1..=1000000",
        )?;
        check(
            (1..=100).contains(&self.keep_checkpoints),
            "keep_checkpoints must be in 1..=100",
        )?;
        check(
            (1..=86_400).contains(&self.call_timeout_secs),
            "call_timeout_secs must be in 1..=86400",
        )?;
        check(
            (16..=4096).contains(&self.memory_mib),
            "memory_mib must be in 16..=4096",
        )?;
        check(
            (1..=86_400).contains(&self.schedule_poll_secs),
            "schedule_poll_secs must be in 1..=86400",
        )?;
        check(
            (0.0..=3600.0).contains(&self.lock_wait_secs),
            "lock_wait_secs must be in 0..=3600",
        )?;
        self.engine
            .validate()
            .map_err(|e| anyhow::anyhow!("engine: {e}"))
    }

    /// The limits every plugin call runs under.
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: Duration::from_secs(self.call_timeout_secs),
            memory_bytes: (self.memory_mib as usize) << 20,
        }
    }

    /// How long to wait for the state directory's lock.
    pub fn lock_wait(&self) -> Duration {
        Duration::from_secs_f64(self.lock_wait_secs.clamp(0.0, 3600.0))
    }

    /// All settings as TOML, defaults included.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every table of a TOML value, by its path.
    fn tables(v: &toml::Value, path: String, out: &mut Vec<String>) {
        if let toml::Value::Table(t) = v {
            out.push(path.clone());
            for (k, x) in t {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                tables(x, p, out);
            }
        }
    }

    #[test]
    fn a_typo_at_any_level_is_refused() {
        let defaults = toml::Value::try_from(Settings::default()).unwrap();
        let mut paths = Vec::new();
        tables(&defaults, String::new(), &mut paths);
        assert!(paths.len() > 20, "{paths:?}");
        for path in &paths {
            let mut v = defaults.clone();
            let mut t = &mut v;
            for k in path.split('.').filter(|k| !k.is_empty()) {
                t = t.get_mut(k).unwrap();
            }
            let table = t.as_table_mut().unwrap();
            // An externally tagged enum (`kind = { Adam = {...} }`) is a table of one
            // capitalised key: it refuses a second key with its own message.
            let is_enum =
                table.len() == 1 && table.keys().all(|k| k.starts_with(char::is_uppercase));
            table.insert("typo_field".into(), toml::Value::Integer(1));
            let text = toml::to_string(&v).unwrap();
            let err = toml::from_str::<Settings>(&text)
                .err()
                .unwrap_or_else(|| panic!("a typo in [{path}] was accepted"));
            let named = err.to_string().contains("typo_field");
            assert!(named || is_enum, "[{path}]: {err}");
        }
        // The defaults themselves read back.
        let text = toml::to_string(&defaults).unwrap();
        assert_eq!(
            toml::from_str::<Settings>(&text).unwrap(),
            Settings::default()
        );
    }
}
