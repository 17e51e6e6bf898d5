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
    /// Write a checkpoint after this many journalled events (default 500; 1..=1000000).
    pub checkpoint_every: u64,
    /// Checkpoint generations kept (default 3; 1..=100).
    pub keep_checkpoints: usize,
    /// Longest a single plugin call may run, in seconds (default 120; 1..=86400).
    pub call_timeout_secs: u64,
    /// Most linear memory the plugin may use, in MiB (default 1024; 16..=4096).
    pub memory_mib: u64,
    /// `tradeloop schedule`: seconds between two looks at the schedule (default 30).
    pub schedule_poll_secs: u64,
    /// The engine's configuration (`[engine]` table, every field of `EngineConfig`). Used
    /// once, when the state is created: afterwards the state's own configuration rules.
    pub engine: EngineConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            seed: 42,
            checkpoint_every: 500,
            keep_checkpoints: 3,
            call_timeout_secs: 120,
            memory_mib: 1024,
            schedule_poll_secs: 30,
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
        let s: Settings =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
        s.validate()
            .map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
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

    /// All settings as TOML, defaults included.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}
