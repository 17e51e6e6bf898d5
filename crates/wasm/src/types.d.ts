// Generated from the Rust types by crates/wasm/tests/typescript.rs: do not edit. Regenerate with
//   UPDATE_TYPES=1 cargo test -p tradeloop-wasm --test typescript
//
// The serde shapes of the values that cross between JS and tradeloop-wasm: structs as
// objects with snake_case fields, enums externally tagged (`{ Open: {...} }`), unit variants
// as strings, `Option` as null, 64-bit integers as numbers (as bigints where noted: values
// that may exceed 2^53). The classes' methods name these types; crates/wasm/src/types.rs adds
// the few that no Rust type gives (`DeepPartial`, `BacktestResult`), and
// crates/wasm/tests/node.rs checks the field names against real values.

/** A/B routing configuration. */
export interface AbConfig {
  /**
   * Whether a candidate on trial gets a share of the new trades (default false: the
   * trial is scored on every revealed label without routing any trade to the candidate).
   */
  enabled: boolean;
  /** Share of the trades routed to the candidate (default 0.5; finite, in (0, 1)). */
  challenger_share: number;
  /**
   * Significance level of the two-sided PnL and win-rate tests (default 0.05; in
   * (0, 0.5]).
   */
  alpha: number;
  /**
   * Closed trades each arm needs before the trial decides (default 30;
   * 1..=1,000,000).
   */
  min_trades: number;
}

/** The comparison of the arms; every difference is challenger minus champion. */
export interface AbReport {
  /** The champion. */
  champion: ArmReport;
  /** The challenger. */
  challenger: ArmReport;
  /** Two-proportion z-test on the win rate (`None` when undefined, e.g. an empty arm). */
  win_rate_test: ProportionTest | null;
  /** Welch's t-test on the PnL % (`None` when undefined, e.g. fewer than two trades). */
  pnl_test: WelchTest | null;
  /** Both arms have at least `min_trades` trades. */
  enough_trades: boolean;
  /** `enough_trades` and the challenger's mean PnL % is significantly lower. */
  challenger_worse: boolean;
}

/** Trades closed in a window ending at the newest close. */
export interface AccuracyReport {
  /** Window length in days. */
  days: number;
  /** The newest close (ms since the Unix epoch); `None` before the first. */
  until: number | null;
  /** The trades in the window. */
  window: WindowStats;
}

/** What the policy decided. */
export type Action = "Skip" | "Incremental" | "Retrain" | "Eval";

/** Element-wise activation of a layer. */
export type Activation = "Identity" | "Relu" | "Tanh" | "Sigmoid";

/** Which rule triggered an adjustment. */
export type AdjustTrigger = "First" | "Periodic";

/** One side of an A/B split. */
export type Arm = "Champion" | "Challenger";

/** One arm in an `AbReport`. */
export interface ArmReport {
  /** The model version. */
  version: number;
  /** Closed trades attributed to the arm. */
  trades: number;
  /** Share of winners (`None` before the first trade). */
  win_rate: number | null;
  /** Mean PnL % (`None` before the first trade). */
  mean_pnl_pct: number | null;
  /** Mean log-loss of what the trades were served (`None` before the first trade). */
  log_loss: number | null;
}

/** An event and when it happened. */
export interface AuditEntry {
  /** ms since the Unix epoch. */
  at: number;
  /** What happened. */
  event: AuditEvent;
}

/** One event in the registry's history. */
export type AuditEvent =
  | { Created: {
      /** The version. */
      version: number;
      /** How it was made. */
      kind: VersionKind;
      /** Its parent. */
      parent: number | null;
    } }
  | { Promoted: {
      /** The new champion. */
      version: number;
      /** The champion it replaced. */
      replaced: number;
      /** Why. */
      reason: PromotionReason;
    } }
  | { TrialStarted: {
      /** The candidate. */
      version: number;
      /** The champion it is tried against. */
      champion: number;
    } }
  | { Held: {
      /** The version. */
      version: number;
      /** How its trial ended, if it was tested. */
      trial: TrialResult | null;
    } }
  | { Rejected: {
      /** What kind of run. */
      kind: VersionKind;
      /** Why. */
      why: Rejection;
    } }
  | { RolledBack: {
      /** The champion before. */
      from: number;
      /** The champion now. */
      to: number;
    } }
  | { Retired: {
      /** The version. */
      version: number;
    } }
  | { ChallengerEnded: {
      /** The version. */
      version: number;
    } };

/** Costs and limits of a run. */
export interface BacktestCosts {
  /** Starting cash (default 10,000; finite, > 0). */
  cash: number;
  /** Fee per fill, fraction of the traded value (default 0; 0 to 0.5). */
  fee_rate: number;
  /** Slippage of market and stop fills, fraction of the price (default 0; 0 to 0.5). */
  slippage: number;
}

/** What `StrategyRun.finish()` returns, but `equity` (a `Float64Array` set beside it). */
export interface BacktestFinished {
  /**
   * XXH64 of the trades (`trades_hash`) as 16 hex digits, as `tradeloop experiment --json`
   * prints it.
   */
  trade_hash: string;
  /** Round trips, in order of their exit. */
  trades: BacktestTrade[];
  /** The figures over every bar. */
  metrics: BacktestMetrics;
  /** Fills. */
  fills: number;
  /** Rejected actions and refused fills. */
  rejections: BacktestRejections;
  /** Trades the engine fork refused to record. */
  engine_refusals: number;
  /** Set if the strategy was stopped. */
  stopped: BacktestStopped | null;
  /** The module's log lines (at most 64 of at most 256 bytes). */
  logs: string[];
  /** Log lines beyond the 64 kept. */
  logs_dropped: number;
}

/** The summary of one strategy over a window of bars. */
export interface BacktestMetrics {
  /** Bars in the window. */
  bars: number;
  /** Time of the first bar (ms). */
  start: number;
  /** Time of the last bar (ms). */
  end: number;
  /** Equity before the window (the starting cash for a window at the start). */
  start_equity: number;
  /** Equity at the last close. */
  final_equity: number;
  /** `final / start - 1`. */
  total_return: number;
  /** Compound annual growth rate; `None` for a window shorter than a day. */
  annual_return: number | null;
  /**
   * Mean over standard deviation of daily returns, × √365; `None` with fewer than two
   * days or no variation.
   */
  sharpe: number | null;
  /** Mean over downside deviation of daily returns, × √365. */
  sortino: number | null;
  /** Annual return over the maximum drawdown. */
  calmar: number | null;
  /** Largest fall from a peak of equity, as a fraction of the peak. */
  max_drawdown: number;
  /** Time of that peak (ms). */
  drawdown_start: number;
  /** Time of the trough (ms). */
  drawdown_end: number;
  /** Bars from the peak to the trough. */
  drawdown_bars: number;
  /** Trades that entered in the window. */
  trades: number;
  /** Share of those trades with a positive PnL. */
  win_rate: number | null;
  /** Gross profit over gross loss; `None` without a losing trade. */
  profit_factor: number | null;
  /** Mean PnL per trade, in cash. */
  expectancy: number | null;
  /**
   * freqtrade's expectancy ratio: `(1 + mean win / mean loss) × win rate − 1` (mean win 0
   * without a win); `None` without a losing trade.
   */
  expectancy_ratio: number | null;
  /** Share of the window's bars that closed with a position open. */
  exposure: number;
  /** Mean time from entry to exit, ms. */
  avg_holding_ms: number | null;
  /** Best trade's return (fraction of its entry value). */
  best_trade: number | null;
  /** Worst trade's return. */
  worst_trade: number | null;
}

/** Actions refused before they became orders, and fills refused, by reason. */
export interface BacktestRejections {
  /** Unknown kind or side code, or unknown flag bits. */
  malformed: number;
  /** Size NaN, infinite, zero or negative. */
  bad_size: number;
  /** Limit or stop price NaN, infinite, zero or negative. */
  bad_price: number;
  /** Cancel of an order that is not open. */
  unknown_order: number;
  /** A new limit or stop order while `MAX_OPEN_ORDERS` were open. */
  too_many_orders: number;
  /** Actions of bars that returned more than `MAX_ACTIONS`. */
  too_many_actions: number;
  /** Fills refused for want of equity. */
  no_cash: number;
}

/** Why a strategy stopped before the end of the data. */
export interface BacktestStopped {
  /** The bar it was on. */
  bar: number;
  /** What happened ("out of fuel", "memory cap", a trap's message, an ABI breach). */
  reason: string;
}

/** A round trip: from flat to flat. */
export interface BacktestTrade {
  /** Long (buy) or short (sell). */
  long: boolean;
  /** Bar index of the first fill. */
  entry_bar: number;
  /** Bar index of the fill that made the position flat (the last bar for `end_of_data`). */
  exit_bar: number;
  /** Time of the entry bar, ms. */
  entry_time: number;
  /** Time of the exit bar, ms. */
  exit_time: number;
  /** Average price of the fills that built the position. */
  entry_price: number;
  /** Average price of the fills that reduced it. */
  exit_price: number;
  /** Largest size the position reached. */
  size: number;
  /** Profit after every fee of the trade. */
  pnl: number;
  /** `pnl` over the entry value (entry price × size). */
  return_pct: number;
  /** Tag of the entry order. */
  tag: number;
  /** Still open when the data ended: closed at the last close for the statistics. */
  end_of_data: boolean;
}

/** When a job recurs. Times of day are UTC. */
export type Cadence =
  | { Daily: {
      /** Minutes after midnight UTC, 0..1440. */
      minute: number;
    } }
  | { Weekly: {
      /** 0 = Monday .. 6 = Sunday. */
      weekday: number;
      /** Minutes after midnight UTC, 0..1440. */
      minute: number;
    } }
  | { Monthly: {
      /** Day of the month, 1..=28. */
      day: number;
      /** Minutes after midnight UTC, 0..1440. */
      minute: number;
    } };

/** One symbol that may be entered. */
export interface Candidate {
  /** Instrument (1-32 printable ASCII characters); unique within a ranking. */
  symbol: string;
  /** Entry price if picked (finite, > 0). */
  price: number;
  /** Feature vector, `config.features` long, finite. */
  features: number[] | Float32Array;
}

/**
 * One OHLCV bar.
 *
 * `time` is the bar's **open** time in milliseconds since the Unix epoch, UTC. Prices and
 * volume are plain `f64`s; `Candle::validate` says whether they form a possible bar.
 */
export interface Candle {
  /** Bar open time, milliseconds since 1970-01-01T00:00:00Z. */
  time: number;
  /** First traded (or quoted) price of the bar. */
  open: number;
  /** Highest price of the bar. */
  high: number;
  /** Lowest price of the bar. */
  low: number;
  /** Last price of the bar. */
  close: number;
  /** Traded volume; `0` when the source has none (FX / CFD quotes). */
  volume: number;
}

/**
 * A whole engine.
 *
 * As a TypeScript `CheckpointDocument` (what `inspectCheckpoint` returns, the document
 * `tradeloop inspect FILE` prints): one field per part of the engine, the parts beyond the
 * statistics and the ranked trades left opaque. Large arrays are lists of numbers; RNG
 * states above 2^53 are bigints.
 */
export interface CheckpointDocument {
  /** The engine configuration, in the checkpoint's own (flattened) layout. */
  config: { [field: string]: unknown };
  /** The engine's RNG state. */
  rng: number | bigint;
  /** Open and kept closed trades. */
  journal: { [field: string]: unknown };
  /** The replay buffer, column by column. */
  replay: { [field: string]: unknown };
  /**
   * The lifecycle: versions, trial, retrain in progress, online network, experts,
   * mixture, monitor, drift detectors, schedule.
   */
  lifecycle: { [field: string]: unknown };
  /** The level-weight learner. */
  levels: { [field: string]: unknown };
  /** The exit learner. */
  exits: { [field: string]: unknown };
  /** Totals over closed trades. */
  stats: TradeStats;
  /**
   * The ranking state: `(trade id, how it was picked)` for every kept trade a ranker
   * picked, and the ranking monitor.
   */
  ranking: { trades: [number, RankedBy][]; monitor: { [field: string]: unknown } };
}

/** How a closed trade ended. */
export interface CloseRecord {
  /** Exit price. */
  price: number;
  /** Exit time (ms since the Unix epoch). */
  time: number;
  /** Why it closed. */
  reason: ExitReason;
  /** Profit in quote currency: `side * (exit - entry) * size`. */
  pnl: number;
  /** Profit as a fraction of the entry price: `side * (exit - entry) / entry`. */
  pnl_pct: number;
  /** Outcome class. */
  outcome: Outcome;
}

/** Close a trade. */
export interface CloseTrade {
  /** Id returned by `Open`. */
  trade_id: number;
  /** Exit price (finite, > 0). */
  price: number;
  /** Why. */
  reason: ExitReason;
}

/** A trade was closed and learned from. */
export interface Closed {
  /** The trade. */
  trade_id: number;
  /** PnL in quote currency. */
  pnl: number;
  /** PnL as a fraction of the entry price. */
  pnl_pct: number;
  /** Outcome class. */
  outcome: Outcome;
  /** Reward given to the learners (risk multiple). */
  reward: number;
  /** A level-weight adjustment this close triggered. */
  level_adjustment: LevelAdjustment | null;
  /** An exit-learner training this close triggered. */
  exit_training: ExitTrainReport | null;
  /** The drift alarm this close raised (Page-Hinkley on the served forecast's errors). */
  drift: DriftAlarm | null;
  /** A trial this close ended (a promotion changes the champion). */
  trial: TrialEnd | null;
  /** A version this close made, or a retrain it started or finished. */
  learned: LearnReport | null;
}

/** Everything an engine can be asked to do. Apply with `crate::Engine::apply`. */
export type Command =
  | { Open: OpenTrade }
  | { Close: CloseTrade }
  | { Suggest: SuggestRequest }
  | { Observe: Observation }
  | { Learn: LearnRequest }
  | { Promote: number }
  | { Rollback: number | null }
  | "RunDue"
  | { SetExitMode: ExitMode }
  | { Query: Query }
  | { Rank: RankRequest }
  | { Forecast: ForecastRequest };

/** The data a version was trained and measured on. */
export interface DataRange {
  /** Time of the oldest sample used (ms since the Unix epoch). */
  from: number;
  /** Time of the newest sample used. */
  to: number;
  /** Training samples. */
  train: number;
  /** Validation samples. */
  validation: number;
  /** Held-out test samples. */
  test: number;
}

/** The policy's decision. */
export interface Decision {
  /** What to do. */
  action: Action;
  /** Why. */
  reason: Reason;
}

/**
 * The drift alarm a command raised: the detectors that fired while no drift was pending
 * (the `drift` flag of `DriftReport` was down), so one lasting shift is one alarm until a
 * retrain acts on it. Carried by the replies of the commands that feed the detectors
 * (`Opened`, `Closed`, `Observed`, and each trade a `Rank` opens).
 */
export interface DriftAlarm {
  /**
   * The PSI of the window the entry's features made drift from the champion's training
   * data (`drifted` is true).
   */
  psi: PsiSummary | null;
  /**
   * The Page-Hinkley test on the served forecast's errors fired (it restarts when it
   * does).
   */
  page_hinkley: boolean;
}

/** Drift detection settings. */
export interface DriftConfig {
  /** Page-Hinkley test on the served forecast's 0/1 error stream. */
  page_hinkley: PageHinkleyConfig;
  /** Population stability index of recent inputs against the champion's training data. */
  psi: PsiConfig;
  /**
   * Extreme-input guard (z-scores under the champion network's statistics, or the online
   * network's while the champion is a class prior).
   */
  guard: GuardConfig;
}

/** The drift detectors' state. */
export interface DriftReport {
  /** Page-Hinkley statistic (alarm above `lambda`). */
  page_hinkley: number;
  /** Errors seen since the detector was last reset. */
  page_hinkley_samples: number;
  /** The largest PSI over the features, once the window is full. */
  psi: PsiSummary | null;
  /** A detector has fired since the last retrain. */
  drift: boolean;
  /** Learning is paused by the extreme-input guard. */
  paused: boolean;
  /** Extreme inputs in the guard's window. */
  extreme_inputs: number;
}

/**
 * Everything configurable about an engine. `Default` gives the documented defaults; with
 * serde's `default` attribute a config file only needs the fields it changes.
 */
export interface EngineConfig {
  /** Length of every feature vector (default 32, the W6 candle features; 1..=1024). */
  features: number;
  /** A closed trade whose PnL % is within `±flat_band` is "flat" (default 0.001 = 0.1%). */
  flat_band: number;
  /** Journal limits. */
  journal: JournalConfig;
  /** Replay buffer. */
  replay: ReplayConfig;
  /** Signal model network and optimiser. */
  signal: SignalConfig;
  /** Signal model lifecycle: policy, versions, gate, A/B, monitoring, drift, schedule. */
  lifecycle: LifecycleConfig;
  /** Level-weight learner. */
  levels: LevelConfig;
  /** Exit learner. */
  exits: ExitConfig;
}

/**
 * What kind of error the core reported: `ErrorKind::name()` of tradeloop-core's `Error::kind()`.
 */
export type ErrorKind =
  | "NonFinite"
  | "NonPositive"
  | "FeatureLength"
  | "ShapeMismatch"
  | "InvalidLabel"
  | "InvalidSymbol"
  | "InvalidLevel"
  | "InvalidExits"
  | "UnknownTrade"
  | "TradeAlreadyClosed"
  | "TradeNotKept"
  | "CloseBeforeOpen"
  | "InvalidConfig"
  | "InvalidCandle"
  | "Checkpoint"
  | "UnknownVersion"
  | "NoPreviousVersion"
  | "Host"
  | "InvalidRanking"
  | "NoRanker"
  | "Ranker";

/** The champion (and candidate) measured on the newest samples, without training. */
export interface Evaluation {
  /** Champion id. */
  champion: number;
  /** Its metrics on the newest `gate.trial` samples of the replay buffer. */
  champion_metrics: Metrics | null;
  /** The candidate on trial. */
  challenger: number | null;
  /** Its metrics on the same samples. */
  challenger_metrics: Metrics | null;
  /** The version retention keeps as the best (compared on samples none of them learned). */
  best: number | null;
  /** The served mixture, scored on every label so far. */
  mixture: MixtureReport;
}

/** Exit learner configuration. */
export interface ExitConfig {
  /** Hidden layer widths (default `[16]`, tanh). */
  hidden: number[];
  /** Optimiser (default Adam, lr 3e-3). */
  optimizer: OptimConfig;
  /** Stop-loss distance bounds as fractions of price (default `[0.003, 0.03]`). */
  stop_bounds: [number, number];
  /** Take-profit distance bounds (default `[0.005, 0.06]`). */
  target_bounds: [number, number];
  /** Initial exploration probability (default 0.3). */
  epsilon: number;
  /** Exploration floor (default 0.02). */
  epsilon_min: number;
  /** Multiplier applied to epsilon after every entry (default 0.99). */
  epsilon_decay: number;
  /** Weight of the prediction-error bonus (default 0.5; 0 disables curiosity). */
  curiosity: number;
  /** Reward temperature of the example weights (default 1.0). */
  temperature: number;
  /** Train after this many closed trades (default 20). */
  train_every: number;
  /**
   * Newest experiences used per training (default 2,000), so a training costs the same
   * however full the replay buffer is.
   */
  window: number;
  /** Epochs per training (default 5). */
  epochs: number;
  /** Mini-batch size (default 32). */
  batch: number;
  /** Newest share of replay held out for validation (default 0.2). */
  validation_fraction: number;
  /** Mode at start (default training). */
  mode: ExitMode;
}

/** Whether the exit learner explores and learns, or serves its best model. */
export type ExitMode = "Training" | "Deployment";

/** Stop-loss and take-profit of a trade. */
export interface ExitPlan {
  /** Stop-loss distance as a fraction of the entry price. */
  stop_pct: number;
  /** Take-profit distance as a fraction of the entry price. */
  target_pct: number;
  /** Stop-loss price. */
  stop_price: number;
  /** Take-profit price. */
  target_price: number;
  /** `true` if the exit learner explored (random distances) for this trade. */
  explored: boolean;
  /** `true` if the caller fixed the distances instead of the exit learner. */
  from_caller: boolean;
}

/** Why a trade was closed. */
export type ExitReason = "Stop" | "Target" | "Manual" | "Timeout";

/** Exit learner state. */
export interface ExitStats {
  /** Mode. */
  mode: ExitMode;
  /** Exploration probability. */
  epsilon: number;
  /** Trainings so far. */
  trainings: number;
  /** Entries given exits. */
  suggestions: number;
  /** Of which explored. */
  explorations: number;
  /** Best validation loss. */
  best_validation_loss: number | null;
  /** Last training. */
  last_training: ExitTrainReport | null;
}

/** What one training of the exit learner did. */
export interface ExitTrainReport {
  /** Training number (from 1). */
  training: number;
  /** Examples trained on. */
  train_samples: number;
  /** Examples held out. */
  validation_samples: number;
  /** Weighted MSE on the training examples after training. */
  train_loss: number;
  /** Weighted MSE on the held-out examples after training. */
  validation_loss: number;
  /** `true` if this became the best model so far. */
  improved: boolean;
  /**
   * Mean squared error of the model's exits on the training examples before training:
   * the surprise that drives the curiosity bonus.
   */
  mean_error: number;
}

/** One expert of the mixture. */
export type Expert =
  | "Prior"
  | "Recent"
  | "Linear"
  | "LinearPooled"
  | "Online"
  | "OnlinePooled"
  | "Champion"
  | "ChampionPooled";

/** One expert in a `MixtureReport`. */
export interface ExpertScore {
  /** The expert. */
  expert: Expert;
  /** Its mean weight over the copies now. */
  weight: number;
  /** Mean log-loss of its forecasts on the scored rows (`None` before the first). */
  log_loss: number | null;
  /** Accuracy of its forecasts on the scored rows. */
  accuracy: number | null;
}

/** Forecast a row whose label comes later. */
export interface ForecastRequest {
  /** Feature vector, `config.features` long, finite. */
  features: number[] | Float32Array;
}

/** A registered forecast. */
export interface Forecasted {
  /** Its id; the `Observe` that reveals its label reports it. */
  id: number;
  /** The served mixture's forecast. */
  signal: Signal;
  /** The champion's version (one of the mixture's experts). */
  model_version: number;
  /**
   * What each expert forecast, in `Expert::ALL`
   * order (the mixture of these is `signal`).
   */
  experts: [number, number, number][];
}

/** Gate settings. */
export interface GateConfig {
  /** Rows scored before the test, fixed in advance (default 2,000; 10..=1,000,000). */
  trial: number;
  /**
   * Labels skipped at the start of a trial, because their horizons overlap the
   * candidate's training data (default 12, the W6 label horizon; 0..=100,000).
   */
  embargo: number;
  /**
   * Rows per block of the standard error (default 12; 1..=100,000). Use the label
   * horizon: rows closer than that share part of their outcome.
   */
  block: number;
  /** One-sided significance level (default 0.05; in (0, 0.5]). */
  alpha: number;
}

/** Extreme-input guard configuration. */
export interface GuardConfig {
  /**
   * An input is extreme when any feature's |z-score| is above this (default 8: beyond
   * anything a normal distribution produces, p ~ 1e-15, and rare even for heavy-tailed
   * returns; finite, > 0).
   */
  z: number;
  /** Recent inputs considered (default 50; 1..=10,000). */
  window: number;
  /**
   * Learning pauses while at least this share of the window is extreme (default 0.3: a
   * lone outlier never pauses, a broken feed or a crash regime does; in (0, 1]).
   */
  share: number;
}

/** A scheduled job. */
export type Job = "Incremental" | "Retrain" | "Evaluation";

/** Journal configuration. */
export interface JournalConfig {
  /**
   * Closed trades kept in memory (and in checkpoints), oldest dropped first. Default 1,000:
   * the host's event journal keeps the full history.
   */
  max_closed: number;
  /** Most trades open at once. Default 1,000. */
  max_open: number;
}

/** How `learn` was asked to run. */
export type LearnMode = "Auto" | "Incremental" | "Retrain" | "Eval";

/** What `learn` did: the decision, and the run, retrain or evaluation that followed. */
export interface LearnReport {
  /** The policy's decision and reason. */
  decision: Decision;
  /** A version made (online snapshot or finished retrain), or a run thrown away. */
  run: RunReport | null;
  /** A retrain still running after this command. */
  retrain: RetrainStatus | null;
  /** The evaluation, for eval. */
  evaluation: Evaluation | null;
}

/** Train now. */
export interface LearnRequest {
  /** Auto lets the policy decide; the others force a kind of run. */
  mode: LearnMode;
}

/** What `Learn` did. */
export interface Learned {
  /** Signal model: the policy's decision and the run. */
  signal: LearnReport;
  /** Exit learner training, if there was enough data. */
  exits: ExitTrainReport | null;
}

/** One support or resistance level. */
export interface Level {
  /** Price of the level (mean of its pivots' prices). */
  price: number;
  /** Support or resistance, relative to the last close. */
  kind: LevelKind;
  /** The six features, each in `[0, 1]`, in the order of `LEVEL_FEATURE_NAMES`. */
  features: number[];
  /** Pivots (turns of price) in the level's cluster. */
  touches: number;
  /** Time of the level's oldest pivot bar (ms since the epoch). */
  first_time: number;
  /** Time of the level's newest pivot bar (ms since the epoch). */
  last_time: number;
}

/** One change of the level weights, with its evidence. */
export interface LevelAdjustment {
  /** Level trades seen when it happened. */
  at_trade: number;
  /** Time of the close that triggered it (ms since the Unix epoch). */
  time: number;
  /** What triggered it. */
  trigger: AdjustTrigger;
  /** Weights before. */
  old: number[];
  /** Weights after. */
  new: number[];
  /** Trades in the evidence window. */
  window: number;
  /** Mean reward over the window. */
  mean_reward: number;
  /** Correlation of each feature with the reward over the window (0 if a feature did not vary). */
  correlation: number[];
}

/** Level learner configuration. */
export interface LevelConfig {
  /** Trades with a level before the first adjustment (default 30). */
  first_after: number;
  /** Trades between later adjustments (default 10). */
  every: number;
  /** Most recent level trades used as evidence (default 100). */
  window: number;
  /** Exponentiated-gradient step size (default 0.5). */
  rate: number;
  /** Floor of every weight (default 0.02; below `1/6`). */
  min_weight: number;
}

/** Settings of a `LevelDetector`. `LevelDetectorConfig::default` gives the documented defaults. */
export interface LevelDetectorConfig {
  /** Bars looked back over. Default 200; `4 * pivot_radius + 1 ..= 10_000`. */
  window: number;
  /** Bars on each side a pivot must dominate. Default 3; `1..=50`. */
  pivot_radius: number;
  /** Bars in the ATR mean. Default 14; `1..=window`. */
  atr_period: number;
  /** Cluster tolerance in ATRs. Default 0.5; finite, `> 0` and `<= 10`. */
  cluster_atr: number;
  /** Bars per higher-timeframe bar for the multi-timeframe feature. Default 4; `2..=64`. */
  htf_factor: number;
  /** Most levels kept. Default 8; `1..=64`. */
  max_levels: number;
  /**
   * Bars after a pivot / breakout looked at for bounces and failures. Default 10;
   * `1..=window`.
   */
  reaction_bars: number;
}

/** The support/resistance level that justified an entry. */
export interface LevelInput {
  /** Level price. */
  price: number;
  /** Support or resistance. */
  kind: LevelKind;
  /**
   * The six level features, each in `[0, 1]`, in the order of
   * `crate::market::LEVEL_FEATURE_NAMES`: volume density, touches, bounce magnitude,
   * failed breakouts, duration, multi-timeframe confirmation.
   */
  features: number[];
}

/** Which side of the last close a level is on. */
export type LevelKind = "Support" | "Resistance";

/** Level learner state. */
export interface LevelStats {
  /** Current weights. */
  weights: number[];
  /** Level trades seen. */
  seen: number;
  /** Adjustments made. */
  adjustments: number;
  /** Level trades after which the next adjustment happens. */
  next_adjustment_at: number;
}

/** Everything configurable about the lifecycle. Every field has a documented default. */
export interface LifecycleConfig {
  /** When a snapshot or a retrain is made. */
  policy: PolicyConfig;
  /** The online network. */
  online: OnlineConfig;
  /** Full retrains. */
  retrain: RetrainConfig;
  /** The promotion gate (trials). */
  gate: GateConfig;
  /** The served mixture and its experts. */
  mixture: MixtureConfig;
  /** A/B routing of trades during a trial (off by default). */
  ab: AbConfig;
  /** Monitoring. */
  monitor: MonitorConfig;
  /** Drift detection. */
  drift: DriftConfig;
  /** The training schedule hosts follow. */
  schedule: ScheduleConfig;
  /** Versions retained besides champion, candidate and best (default 5; 1..=1000). */
  keep_versions: number;
  /**
   * Learn from every closed trade or observation: the experts, the mixture's experts and
   * the automatic policy (default true). With `false` labels are still scored and fed to
   * monitoring and drift detection, and only `Learn` / `RunDue` make versions.
   */
  learn_on_close: boolean;
}

/** How well a predictor did on some labelled samples. */
export interface Metrics {
  /** Samples measured. */
  samples: number;
  /** Mean cross-entropy of the predicted probabilities (nats). */
  log_loss: number;
  /** Share of samples whose most probable class was right. */
  accuracy: number;
}

/** Mixture and expert settings. */
export interface MixtureConfig {
  /**
   * Starting weight of the running prior (default 0.5; in (0, 1)); the other experts
   * share the rest equally. The regret against the prior grows with `ln(1 /
   * prior_weight)` per copy.
   */
  prior_weight: number;
  /**
   * Fixed share `alpha` (default 1e-4; in [0, 0.5]): the part of each weight handed back
   * to the starting weights after every label. It costs at most `ln(1 / (1 - alpha))`
   * nats per row and lets an expert recover after a regime change.
   */
  share: number;
  /**
   * Weight of the model in a pooled expert, the rest going to the prior (default 0.3; in
   * (0, 1)).
   */
  pool: number;
  /**
   * Labels after which the recency-weighted prior halves an old label's weight
   * (default 2,000; 1..=100,000,000).
   */
  recent_half_life: number;
  /** AdaGrad learning rate of the linear learner (default 0.01; in (0, 10]). */
  linear_lr: number;
  /**
   * Registered forecasts kept waiting for their label (default 64; 1..=100,000); a new
   * one beyond this drops the oldest unscored.
   */
  max_pending: number;
}

/** The served mixture and its experts, scored prequentially. */
export interface MixtureReport {
  /** Every expert, in `Expert::ALL` order. */
  experts: ExpertScore[];
  /** Forecasts scored. */
  rows: number;
  /** Mean log-loss of the mixture's forecasts (`None` before the first). */
  log_loss: number | null;
  /** Their accuracy. */
  accuracy: number | null;
  /** Weight copies in use (one more than the most forecasts ever waiting at once). */
  copies: number;
  /** Forecasts waiting for their label now. */
  pending: number;
  /** Registered forecasts dropped unscored. */
  dropped: number;
  /** Summed log-loss of the mixture minus the running prior's, on the same rows (nats). */
  excess_vs_prior: number;
  /**
   * The proven bound on that excess (nats): `copies * ln(1 / prior_weight) + rows * ln(1 /
   * (1 - share))`.
   */
  bound_vs_prior: number;
}

/** Monitor configuration. */
export interface MonitorConfig {
  /**
   * Closed trades kept (default 10,000: months of trading at a few dozen trades a day;
   * 1..=1,000,000).
   */
  capacity: number;
  /** Trades in the top-K return (default 10; 1..=10,000). */
  top_k: number;
}

/** Performance of the signal model at one time, over all versions or one. */
export interface MonitorReport {
  /** The version reported on (`None`: all versions). */
  version: number | null;
  /**
   * The last 7, 14 and 30 days before `now` (records with `time > now - days`, including
   * any after `now`), then everything kept.
   */
  windows: WindowStats[];
  /** `confusion[actual][predicted]` over everything kept. */
  confusion: [[number, number, number], [number, number, number], [number, number, number]];
  /** Share of predictions per class (all 0 when no trades). */
  predicted_share: [number, number, number];
  /** Share of actual outcomes per class (all 0 when no trades). */
  actual_share: [number, number, number];
  /** `predicted_share - actual_share`: positive where the model over-predicts a class. */
  bias: [number, number, number];
  /**
   * The `config.top_k` trades with the highest score in the 30-day window (`None` when
   * that window is empty).
   */
  top_k: TopK | null;
}

/** A labelled sample that is not a trade. */
export interface Observation {
  /** Feature vector, `config.features` long, finite. */
  features: number[] | Float32Array;
  /**
   * The return that followed, as a fraction; classified with `flat_band` like a long
   * trade's PnL %.
   */
  return_pct: number;
}

/** An observation was predicted and learned from. */
export interface Observed {
  /** Its experience id (bit 63 set: never a trade id). */
  id: number | bigint;
  /** The registered forecast whose label it revealed (`None`: a forecast made now). */
  forecast: number | null;
  /**
   * The forecast that was scored: the registered one as it was served, or the one made
   * now, before anything learned the row.
   */
  signal: Signal;
  /** The champion's version. */
  model_version: number;
  /** The actual class. */
  outcome: Outcome;
  /**
   * The drift alarm it raised (PSI on its features, Page-Hinkley on the served
   * forecast's error).
   */
  drift: DriftAlarm | null;
  /** A trial it ended (a promotion changes the champion). */
  trial: TrialEnd | null;
  /** A version it made, or a retrain it started or finished. */
  learned: LearnReport | null;
}

/** How the online network learns. */
export interface OnlineConfig {
  /**
   * Adam learning rate at the start (default 1e-3; in (0, 1]). Adam's other settings are
   * `signal.optimizer`'s.
   */
  lr: number;
  /**
   * Samples over which the learning rate falls to `1/sqrt(2)` of `lr` (default 1,000; 0
   * keeps it constant; at most 100,000,000).
   */
  lr_decay: number;
  /** Older samples replayed with each new one (default 3; 0..=256). */
  replay: number;
  /** Adam steps per revealed sample (default 1; 1..=16). */
  steps: number;
}

/** Open a trade. */
export interface OpenTrade {
  /** Instrument, 1-32 printable ASCII characters. */
  symbol: string;
  /** Direction. */
  side: Side;
  /** Entry price (finite, > 0). */
  price: number;
  /** Quantity (finite, > 0). */
  size: number;
  /** Feature vector, `config.features` long, finite. */
  features: number[] | Float32Array;
  /** The support/resistance level behind the entry, if any. */
  level?: LevelInput | null;
  /** Fixed `(stop_price, target_price)`; `None` lets the exit learner choose. */
  exits?: [number, number] | null;
}

/** A trade was opened. */
export interface Opened {
  /** Its id, for `Close`. */
  trade_id: number;
  /** The served forecast (the mixture), recorded with the trade. */
  signal: Signal;
  /**
   * The version in the champion's place for this trade (the candidate on trial when A/B
   * routing sent the trade to it).
   */
  model_version: number;
  /** The A/B arm that served it. */
  arm: Arm;
  /** Stop-loss and take-profit. */
  exits: ExitPlan;
  /** Score of the entry's level under the current level weights. */
  level_score: number | null;
  /** The drift alarm the entry's features raised (PSI). */
  drift: DriftAlarm | null;
}

/** Optimiser configuration. */
export interface OptimConfig {
  /** Update rule. */
  kind: OptimKind;
  /** Learning rate. */
  lr: number;
  /** Decoupled weight decay (AdamW-style `p *= 1 - lr * wd`); 0 disables it. */
  weight_decay: number;
  /** Gradients whose global L2 norm exceeds this are rescaled to it; 0 disables clipping. */
  clip_norm: number;
}

/** Which update rule, with its own hyper-parameters. */
export type OptimKind =
  | { Sgd: {
      /** Momentum in `[0, 1)`; 0 is plain SGD. */
      momentum: number;
    } }
  | { Adam: {
      /** First-moment decay, default 0.9. */
      beta1: number;
      /** Second-moment decay, default 0.999. */
      beta2: number;
      /** Denominator epsilon, default 1e-8. */
      eps: number;
    } };

/** Outcome class of a closed trade; also the signal model's classes. */
export type Outcome = "Loss" | "Flat" | "Win";

/** Page-Hinkley test configuration. */
export interface PageHinkleyConfig {
  /**
   * Tolerated increase of the mean before evidence accumulates (default 0.05: five
   * percentage points of a 0/1 error rate; 0..=1e6).
   */
  delta: number;
  /** Alarm threshold on `m_t - min m_t` (default 15; finite, > 0, at most 1e9). */
  lambda: number;
  /** No alarm before this many values since the last reset (default 30; at most 1e6). */
  min_samples: number;
}

/** Paper-trading rule configuration. */
export interface PaperConfig {
  /** Symbol journalled for the trades (default `"PAPER"`). */
  symbol: string;
  /** Quantity per trade (default 1). */
  size: number;
  /** Enter when the close is within this many ATRs of a level (default 0.3). */
  entry_band: number;
  /** Close after this many bars (default 24). */
  max_hold_bars: number;
  /**
   * Skip entries whose signal score (`P(win) - P(loss)`) is below this; -1 takes every
   * rule entry (default -1, so the signal model is measured, not obeyed).
   */
  min_signal_score: number;
  /** Support/resistance detection. */
  levels: LevelDetectorConfig;
}

/** What a bar did. Serialized externally tagged (`{"Opened": {...}}`) for the JS binding. */
export type PaperEvent =
  | { Opened: {
      /** Trade id. */
      trade_id: number;
      /** Direction. */
      side: Side;
      /** Entry price. */
      price: number;
      /** Stop-loss price. */
      stop: number;
      /** Take-profit price. */
      target: number;
      /** The exit learner explored for this trade. */
      explored: boolean;
      /** Signal score at entry. */
      score: number;
    } }
  | { Closed: {
      /** Trade id. */
      trade_id: number;
      /** Exit price. */
      price: number;
      /** Why. */
      reason: ExitReason;
      /** PnL as a fraction of the entry price. */
      pnl_pct: number;
      /** Outcome class. */
      outcome: Outcome;
      /** A level-weight adjustment this close triggered. */
      level_adjustment: LevelAdjustment | null;
      /** An exit-learner training this close triggered. */
      exit_training: ExitTrainReport | null;
      /** A trial this close ended (a promotion changes the champion). */
      trial: TrialEnd | null;
      /** A version this close made, or a retrain it started or finished. */
      learned: LearnReport | null;
    } };

/** Thresholds of the continual-learning policy. */
export interface PolicyConfig {
  /**
   * Labels between snapshots of the online network put on trial (default 2,000;
   * 1..=10,000,000).
   */
  snapshot_every: number;
  /** Labels after which a full retrain starts (default 10,000; 100..=10,000,000). */
  retrain_every: number;
  /**
   * Fewest labels between two retrains started by drift alarms (default 5,000;
   * 1..=10,000,000).
   */
  drift_cooldown: number;
  /**
   * Fewest samples in the replay buffer for an automatic retrain (default 500;
   * 3..=1,000,000).
   */
  min_train_samples: number;
}

/** Why a version became champion. */
export type PromotionReason =
  | { Trial: TrialResult }
  | "Manual"
  | { HeldOut: {
      /** The candidate's log-loss or accuracy. */
      candidate: number;
      /** The champion's on the same samples. */
      champion: number;
      /** Samples. */
      samples: number;
    } }
  | { AbTest: {
      /** The smaller of the two tests' p-values. */
      p_value: number;
    } };

/** Result of `two_proportion_z_test`. */
export interface ProportionTest {
  /** The z statistic `diff / se` under the pooled null (positive when B's rate is higher). */
  z: number;
  /** Two-sided p-value `P(|Z| >= |z|)`. */
  p_value: number;
  /** `p_b - p_a`, the difference of the observed proportions. */
  diff: number;
}

/** Population stability index configuration. */
export interface PsiConfig {
  /** Quantile bins per feature (default 10, deciles, the usual choice for PSI; 2..=100). */
  bins: number;
  /**
   * Recent inputs compared with the reference (default 500: about 50 per bin, so the
   * sampling noise of PSI stays well below the threshold; 10..=20,000).
   */
  window: number;
  /**
   * PSI above which a feature has drifted (default 0.25, the customary "significant
   * shift" level; 0.1..0.25 is "moderate"; finite, > 0).
   */
  threshold: number;
}

/** The largest PSI over the features and whether it crosses the threshold. */
export interface PsiSummary {
  /** The largest PSI. */
  max: number;
  /** The feature it belongs to (the first one on ties). */
  feature: number;
  /** `max > config.threshold`. */
  drifted: boolean;
}

/** Read-only questions. */
export type Query =
  | "Stats"
  | { Trade: number }
  | "OpenTrades"
  | { ClosedTrades: {
      /** Most trades returned. */
      limit: number;
    } }
  | "LevelHistory"
  | "Config"
  | "Versions"
  | { Audit: {
      /** Most entries returned. */
      limit: number;
    } }
  | { Monitor: {
      /** `None`: every version. */
      version?: number | null;
    } }
  | "Trial"
  | "Drift"
  | "Due"
  | "Ranking"
  | "Mixture"
  | { Accuracy: {
      /** Window length in days. */
      days: number;
    } };

/** What a ranker answered for a batch: one score per candidate, in order. */
export interface RankOutput {
  /**
   * The model version that scored (e.g. `ranker@3f2a9c01b2d4`), 1-64 printable ASCII
   * characters.
   */
  model: string;
  /** One score per candidate. */
  scores: RankScore[];
}

/** Answer to `Query::Ranking`: how the ranker's picks did against their universe. */
export interface RankReport {
  /** Model version of the newest ranking (`None`: no ranking yet). */
  model: string | null;
  /** Rankings made. */
  rankings: number;
  /** Ranking-to-ranking periods scored. */
  periods: number;
  /** Mean return of the top K per period (fraction). */
  mean_top_k_return: number;
  /** Mean return of the whole universe per period. */
  mean_universe_return: number;
  /** Mean of top K minus universe per period. */
  mean_excess_return: number;
  /** t statistic of the mean excess return (0 with fewer than 2 periods). */
  excess_t: number;
  /** Share of periods in which the top K beat the universe. */
  hit_rate: number;
  /** Mean Spearman correlation between score and the return that followed. */
  mean_ic: number;
}

/** Rank a universe and enter the top K. */
export interface RankRequest {
  /** The universe, 1 to `MAX_CANDIDATES` distinct symbols. */
  candidates: Candidate[];
  /** How many to pick, `1..=candidates.len()`. */
  k: number;
  /** Quantity of each trade opened (finite, > 0). */
  size: number;
  /** Scores recorded earlier (a replay); `None` asks the engine's ranker. */
  scored?: RankOutput | null;
}

/** The ranker's view of one candidate. */
export interface RankScore {
  /** Higher is better (finite). */
  score: number;
  /** The class the model predicts, if it has a class output. */
  class: Outcome | null;
}

/** Answer to `Command::Rank`. */
export interface Ranked {
  /** Model version that scored. */
  model: string;
  /** One score per candidate, in the request's order. */
  scores: RankScore[];
  /** The top K, as candidate indices, best first. */
  picks: number[];
  /**
   * Trades opened, as `(candidate index, open reply)`; a pick that already has an open
   * trade, or that the journal had no room for (`journal.max_open`), opens none.
   */
  opened: [number, Opened][];
}

/** How a trade was picked by a ranker, recorded in the trade. */
export interface RankedBy {
  /** Model version that scored. */
  model: string;
  /** Its score. */
  score: number;
  /** Its class, if the model has one. */
  class: Outcome | null;
  /** Place in the ranking, from 1. */
  rank: number;
  /** Number of candidates ranked. */
  of: number;
}

/** Why the policy decided what it did, with the numbers that decided it. */
export type Reason =
  | "Forced"
  | "Paused"
  | "Drift"
  | { NewSamples: {
      /** Labels since then. */
      new: number;
    } }
  | { TooFewSamples: {
      /** Samples in the buffer. */
      have: number;
      /** Samples needed (`min_train_samples`). */
      need: number;
    } }
  | { NothingNew: {
      /** Labels since the last snapshot. */
      new: number;
      /** Labels needed (`snapshot_every`). */
      need: number;
    } }
  | { TrialRunning: {
      /** The candidate. */
      version: number;
    } }
  | "RetrainRunning";

/** Why a training run was thrown away. */
export type Rejection = "NonFinite" | "Diverged" | "NoData";

/** Replay buffer configuration. */
export interface ReplayConfig {
  /** Most experiences kept (default 10,000; at most 1,000,000). */
  capacity: number;
  /** Eviction policy (default `ReplayMode::Ring`). */
  mode: ReplayMode;
}

/** What happens when a full buffer receives a new experience. */
export type ReplayMode = "Ring" | "Reservoir";

/** The answer to a command. */
export type Reply =
  | { Opened: Opened }
  | { Closed: Closed }
  | { Suggestion: Suggestion }
  | { Observed: Observed }
  | { Learned: Learned }
  | { Champion: number }
  | { Ran: [Job, LearnReport][] }
  | { ExitMode: ExitMode }
  | { Stats: Stats }
  | { Trade: TradeRecord }
  | { Trades: TradeRecord[] }
  | { LevelHistory: LevelAdjustment[] }
  | { Config: EngineConfig }
  | { Versions: VersionInfo[] }
  | { Audit: AuditEntry[] }
  | { Monitor: MonitorReport }
  | { Trial: TrialStatus | null }
  | { Drift: DriftReport }
  | { Due: Job[] }
  | { Ranked: Ranked }
  | { Ranking: RankReport }
  | { Forecast: Forecasted }
  | { Mixture: MixtureReport }
  | { Accuracy: AccuracyReport };

/** Full retrain settings. */
export interface RetrainConfig {
  /** Most epochs (default 30; 1..=10000). */
  max_epochs: number;
  /** Epochs without a better validation loss before stopping (default 4; 1..=1000). */
  patience: number;
  /** Date-ordered train / validation / test proportions (default 5:3:2; each >= 1). */
  split: [number, number, number];
  /** Train on the newest this many samples of the replay buffer (default 5,000; 0: all). */
  max_samples: number;
  /**
   * Samples left out between the train and validation ranges and between the validation
   * and test ranges, so that overlapping label horizons do not leak (default 12, the W6
   * label horizon; 0..=100,000).
   */
  embargo: number;
  /**
   * A training loss above this multiple of the starting loss rejects the run
   * (default 4; in (1, 1000]).
   */
  divergence: number;
  /**
   * Rows of training work done per command while an automatic retrain runs (default
   * 4,096; 64..=100,000,000): the retrain's cost is spread over the labels that follow.
   */
  rows_per_call: number;
}

/** A retrain spread over many commands, while it runs. */
export interface RetrainStatus {
  /** When it started. */
  started_at: number;
  /** Why. */
  reason: Reason;
  /** Epochs finished. */
  epochs: number;
  /** Training and validation samples. */
  rows: [number, number];
}

/** What a training run did, epoch by epoch. */
export interface RunLog {
  /** Epochs run. */
  epochs: number;
  /** The epoch whose weights were kept (1-based; 0 = the starting weights). */
  best_epoch: number;
  /** Mean training loss per epoch. */
  train_loss: number[];
  /** Validation loss per epoch (empty without validation data). */
  validation_loss: number[];
  /** Stopped early: validation loss did not improve for `patience` epochs. */
  stopped_early: boolean;
}

/** What a training run did. */
export interface RunReport {
  /** Online snapshot or retrain. */
  kind: VersionKind;
  /** The version created (`None` when the run was rejected). */
  version: number | null;
  /** Why the run was thrown away, if it was. */
  rejected: Rejection | null;
  /** Samples used. */
  data: DataRange | null;
  /** Epoch by epoch (retrains). */
  log: RunLog | null;
  /**
   * The network lost to the class prior on validation data, so the prior is the
   * candidate (retrains).
   */
  prior_chosen: boolean;
  /** Candidate metrics on validation data. */
  validation: Metrics | null;
  /** Candidate metrics on the held-out test data (retrains). */
  test: Metrics | null;
  /** What became of the candidate: on trial. */
  verdict: Verdict | null;
}

/** When each job runs; `None` disables a job. */
export interface ScheduleConfig {
  /**
   * Incremental update (default daily at 02:00 UTC: after the US session has closed and
   * the day's trades are in).
   */
  incremental: Cadence | null;
  /**
   * Full retrain (default weekly on Sunday at 03:00 UTC: markets are closed, and it runs
   * after that night's incremental update).
   */
  retrain: Cadence | null;
  /**
   * Evaluation and cleanup (default monthly on day 1 at 04:00 UTC: after the previous
   * month is complete and after the night's other jobs).
   */
  evaluation: Cadence | null;
}

/** Trade direction. */
export type Side = "Long" | "Short";

/** The signal model's view of a feature vector. */
export interface Signal {
  /** Class probabilities `[loss, flat, win]`. */
  probs: [number, number, number];
  /** Most probable class. */
  class: Outcome;
  /** `P(win) - P(loss)`, in `[-1, 1]`. */
  score: number;
}

/** Signal network configuration. */
export interface SignalConfig {
  /** Hidden layer widths (default `[32, 32]`). */
  hidden: number[];
  /** Hidden activation (default ReLU; He init for ReLU, Xavier otherwise). */
  activation: Activation;
  /**
   * Optimiser of a full retrain (default Adam, lr 1e-3, gradient clipping at norm 5);
   * a fine-tune uses it with the learning rate scaled down.
   */
  optimizer: OptimConfig;
  /** Mini-batch size (default 32). */
  batch: number;
}

/** Signal model state. */
export interface SignalStats {
  /** The champion's version. */
  champion: number;
  /** How the champion was made. */
  champion_kind: VersionKind;
  /** The champion is a network (`false`: the class prior). */
  network: boolean;
  /** The candidate on trial. */
  challenger: number | null;
  /** Versions retained. */
  versions: number;
  /** Versions created ever. */
  created: number;
  /** Labels learned so far. */
  labels: number;
  /** Labels since the last version was made. */
  new_samples: number;
  /** When a version was last made. */
  last_update: number | null;
  /** A retrain is running. */
  retrain: RetrainStatus | null;
  /** A drift detector has fired since the last retrain. */
  drift: boolean;
  /** Learning is paused by the extreme-input guard. */
  paused: boolean;
}

/** Totals and learner state. */
export interface Stats {
  /** Trades opened ever. */
  opened: number;
  /** Trades open now. */
  open: number;
  /** Totals over closed trades. */
  trades: TradeStats;
  /** Win rate over closed trades. */
  win_rate: number;
  /** Share of closed trades whose entry signal class was right. */
  accuracy: number;
  /** Per-trade Sharpe ratio. */
  sharpe: number;
  /** Experiences in the replay buffer. */
  replay: number;
  /** Signal model. */
  signal: SignalStats;
  /** Level weights. */
  levels: LevelStats;
  /** Exit learner. */
  exits: ExitStats;
}

/** Ask for the models' view of a possible entry. */
export interface SuggestRequest {
  /** Direction considered. */
  side: Side;
  /** Price considered. */
  price: number;
  /** Feature vector. */
  features: number[] | Float32Array;
  /** Candidate levels to score (may be empty; at most 64). */
  levels: LevelInput[];
}

/** The models' view of a possible entry. */
export interface Suggestion {
  /** The served forecast (the mixture). */
  signal: Signal;
  /** The champion's version (one of the mixture's experts). */
  model_version: number;
  /** Exit learner (no exploration). */
  exits: ExitPlan;
  /** Score of each candidate level, in request order. */
  level_scores: number[];
}

/** The return of the trades the model was most confident about. */
export interface TopK {
  /** K asked for (`config.top_k`, at least 1). */
  k: number;
  /** Trades used: `min(k, trades in the window)`. */
  trades: number;
  /** Their mean `pnl_pct`. */
  mean_pnl_pct: number;
  /** Their share of wins (`actual == 2`). */
  win_rate: number;
  /** Mean `pnl_pct` over all trades of the window, to compare with. */
  baseline_mean_pnl_pct: number;
}

/** One trade, open or closed. */
export interface TradeRecord {
  /** Engine-assigned id, from 1, increasing. */
  id: number;
  /** Instrument. */
  symbol: string;
  /** Direction. */
  side: Side;
  /** Quantity (> 0). */
  size: number;
  /** Entry price. */
  entry_price: number;
  /** Entry time (ms since the Unix epoch). */
  entry_time: number;
  /** Feature vector at entry (emptied when the trade closes: the replay buffer keeps it). */
  features: number[];
  /** The signal model's view at entry. */
  signal: Signal;
  /** Version of the signal model that produced `signal`. */
  model_version: number;
  /** Stop-loss / take-profit at entry. */
  exits: ExitPlan;
  /** The level behind the entry, if any, and its score under the level weights then. */
  level: [LevelInput, number] | null;
  /** Filled in by `close`. */
  close: CloseRecord | null;
  /** How a ranker picked it, if it was opened by `Rank`. */
  ranked: RankedBy | null;
}

/** Totals over all closed trades. */
export interface TradeStats {
  /** Closed trades. */
  closed: number;
  /** Closed trades per outcome `[loss, flat, win]`. */
  outcomes: [number, number, number];
  /** Closed trades whose entry signal class equalled the outcome. */
  correct: number;
  /** Sum of PnL in quote currency. */
  pnl: number;
  /** Mean PnL % per trade (Welford). */
  mean_pnl_pct: number;
  /** Sum of squared deviations of PnL % (Welford). */
  m2_pnl_pct: number;
  /** Cumulative PnL % (sum over trades, an equity curve in percent of one unit). */
  equity_pct: number;
  /** Highest `equity_pct` so far (starts at 0). */
  peak_pct: number;
  /** Largest fall of `equity_pct` from a peak. */
  max_drawdown_pct: number;
}

/** A trial that ended with this command. */
export interface TrialEnd {
  /** The candidate. */
  candidate: number;
  /** Promoted (the champion changed) or held. */
  verdict: Verdict;
  /** The test. */
  result: TrialResult;
}

/** How a trial ended: the candidate against the champion on the same rows. */
export interface TrialResult {
  /** The champion it was tried against. */
  champion: number;
  /** Rows scored. */
  rows: number;
  /** The candidate's mean log-loss on them (nats). */
  candidate_log_loss: number;
  /** The champion's. */
  champion_log_loss: number;
  /** The candidate's accuracy on them. */
  candidate_accuracy: number;
  /** The champion's. */
  champion_accuracy: number;
  /** Mean per-row log-loss difference, candidate minus champion (< 0: candidate better). */
  difference: number;
  /** Its standard error from the block means. */
  std_error: number;
  /** One-sided p-value of "the candidate is better". */
  p_value: number;
  /** With A/B routing: closed trades per arm, `[champion, challenger]`. */
  trades: [number, number] | null;
  /** With A/B routing: mean PnL % difference, challenger minus champion. */
  pnl_difference: number | null;
  /** With A/B routing: two-sided p-value of Welch's test on PnL %. */
  pnl_p_value: number | null;
  /** The candidate went live. */
  passed: boolean;
}

/** The running trial. */
export interface TrialStatus {
  /** The candidate. */
  candidate: number;
  /** The champion it is tried against. */
  champion: number;
  /** When it started. */
  started_at: number;
  /** Labels still skipped (embargo). */
  embargo_left: number;
  /** Rows the test is computed on, fixed in advance (`gate.trial`). */
  target_rows: number;
  /**
   * The test on the rows so far: interim, not a verdict (`passed` is false until the
   * sample is complete).
   */
  interim: TrialResult;
  /** The A/B arms, with routing on. */
  ab: AbReport | null;
}

/** What became of a submitted candidate. */
export type Verdict = "OnTrial" | "Promoted" | "Held";

/** Version metadata, without weights. */
export interface VersionInfo {
  /** Id. */
  id: number;
  /** Parent. */
  parent: number | null;
  /** How it was made. */
  kind: VersionKind;
  /** Created at (ms since the Unix epoch). */
  created_at: number;
  /** Data used. */
  data: DataRange | null;
  /** Validation metrics. */
  validation: Metrics | null;
  /** Held-out metrics. */
  test: Metrics | null;
  /** How its trial ended. */
  trial: TrialResult | null;
  /** A network (`false`: a class prior). */
  network: boolean;
  /** It is the champion. */
  champion: boolean;
  /** It is on trial. */
  challenger: boolean;
  /** Retention keeps it as the best. */
  best: boolean;
}

/** How a version was made. */
export type VersionKind = "Initial" | "Incremental" | "Retrain" | "Imported" | "Online";

/** Result of `welch_t_test`. */
export interface WelchTest {
  /**
   * The t statistic `diff / se` (positive when B's mean is higher; note that
   * `scipy.stats.ttest_ind(a, b)` reports `(mean_a - mean_b) / se`, the opposite sign).
   */
  t: number;
  /** Welch-Satterthwaite degrees of freedom (real, not rounded). */
  df: number;
  /** Two-sided p-value `P(|T| >= |t|)`. */
  p_value: number;
  /** `mean_b - mean_a`. */
  diff: number;
}

/** Statistics over one time window. */
export interface WindowStats {
  /** Window length in days (7, 14, 30), or `None` for everything kept. */
  days: number | null;
  /** Trades in the window. */
  trades: number;
  /** Share of trades whose predicted class was the actual one (`None` when no trades). */
  accuracy: number | null;
  /** Share of trades with `actual == 2` (win) (`None` when no trades). */
  win_rate: number | null;
  /** Mean `pnl_pct` per trade (`None` when no trades). */
  mean_pnl_pct: number | null;
  /**
   * Mean / sample standard deviation of `pnl_pct` per trade; `None` with fewer than 2
   * trades or a zero (or non-finite) standard deviation.
   */
  sharpe: number | null;
  /**
   * Largest fall of the cumulative `pnl_pct` from its running peak (the peak starts at
   * 0), in push order; `>= 0`.
   */
  max_drawdown_pct: number;
  /** Sum of `pnl`. */
  pnl: number;
  /** Mean `log_loss` (`None` when no trades). */
  log_loss: number | null;
}
