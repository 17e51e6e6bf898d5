//! Engine configuration: every default lives here, none in the learning code.

use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::journal::JournalConfig;
use crate::learners::{ExitConfig, LevelConfig, SignalConfig};
use crate::lifecycle::LifecycleConfig;
use crate::replay::ReplayConfig;

/// Everything configurable about an engine. `Default` gives the documented defaults; with
/// serde's `default` attribute a config file only needs the fields it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Length of every feature vector (default 32, the W6 candle features; 1..=1024).
    pub features: u32,
    /// A closed trade whose PnL % is within `±flat_band` is "flat" (default 0.001 = 0.1%).
    pub flat_band: f64,
    /// Journal limits.
    pub journal: JournalConfig,
    /// Replay buffer.
    pub replay: ReplayConfig,
    /// Signal model network and optimiser.
    pub signal: SignalConfig,
    /// Signal model lifecycle: policy, versions, gate, A/B, monitoring, drift, schedule.
    pub lifecycle: LifecycleConfig,
    /// Level-weight learner.
    pub levels: LevelConfig,
    /// Exit learner.
    pub exits: ExitConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            features: 32,
            flat_band: 0.001,
            journal: JournalConfig::default(),
            replay: ReplayConfig::default(),
            signal: SignalConfig::default(),
            lifecycle: LifecycleConfig::default(),
            levels: LevelConfig::default(),
            exits: ExitConfig::default(),
        }
    }
}

impl EngineConfig {
    /// Most features per vector.
    pub const MAX_FEATURES: u32 = crate::vocab::MAX_FEATURES;

    /// Checks every field.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (1..=Self::MAX_FEATURES).contains(&self.features),
            "features must be in 1..=1024",
        )?;
        check(
            self.flat_band.is_finite() && (0.0..0.5).contains(&self.flat_band),
            "flat_band must be in [0, 0.5)",
        )?;
        self.journal.validate()?;
        self.replay.validate()?;
        self.signal.validate(self.features)?;
        self.lifecycle.validate()?;
        self.levels.validate()?;
        self.exits.validate(self.features)
    }
}
