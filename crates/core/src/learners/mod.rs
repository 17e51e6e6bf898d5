//! The learners: signal model, level weights, exit learner.

pub mod exits;
pub mod levels;
pub mod linear;
pub mod online;
pub mod signal;
pub mod training;

pub use exits::{ExitConfig, ExitLearner, ExitMode, ExitSuggestion, ExitTrainReport};
pub use levels::{
    AdjustTrigger, LEVEL_FEATURE_NAMES, LEVEL_FEATURES, LevelAdjustment, LevelConfig, LevelLearner,
};
pub use linear::LinearLearner;
pub use online::{OnlineConfig, OnlineLearner};
pub use signal::{Data, Metrics, Predictor, Rejection, RunLog, SignalConfig, SignalNet};
