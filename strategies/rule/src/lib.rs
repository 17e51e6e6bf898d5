//! The built-in rule (`tradeloop paper`, `tradeloop_core::paper`) as a strategy module: when
//! flat and the close is within `entry_band` (default 0.3) ATRs of the nearest support
//! level, buy; of the nearest resistance, sell short (support first when both qualify). The
//! exit is a stop and a target at the distances the learning engine suggests for this entry
//! (its exit learner), placed once the entry filled; the position is closed after
//! `max_hold` bars (default 24). Levels come from the core's `LevelDetector`, the same code
//! the built-in rule uses.

use tradeloop_core::LevelKind;
use tradeloop_core::market::{Candle, LevelDetector, LevelDetectorConfig};
use tradeloop_strategy::{Action, Actions, Config, Context, Fill, Input, Params, Side, Strategy};

const ENTRY: u32 = 1;
const STOP: u32 = 2;
const TARGET: u32 = 3;
const TIMEOUT: u32 = 4;

/// The strategy.
pub struct Rule {
    levels: LevelDetector,
    band: f64,
    max_hold: u32,
    fraction: f64,
    /// Stop and target distances for the entry in flight.
    exits: (f64, f64),
    /// Stop and target placed for the open position.
    placed: bool,
    held: u32,
}

impl Strategy for Rule {
    fn init(_: &Config, params: &Params<'_>, _seed: u64) -> (Self, u32) {
        let levels = LevelDetector::new(LevelDetectorConfig::default())
            .unwrap_or_else(|_| unreachable!("the default level configuration is valid"));
        let s = Rule {
            levels,
            band: params.get_or("entry_band", 0.3).clamp(1e-6, 10.0),
            max_hold: params.get_or("max_hold", 24.0).clamp(1.0, 1e6) as u32,
            fraction: params.get_or("fraction", 0.95).clamp(0.0, 1.0),
            exits: (0.01, 0.02),
            placed: false,
            held: 0,
        };
        (s, 0)
    }

    fn on_bar(&mut self, input: &Input, ctx: &mut Context, out: &mut Actions) {
        let b = input.bar;
        let candle = Candle {
            time: b.time,
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            volume: b.volume,
        };
        if self.levels.push(&candle).is_err() {
            return;
        }
        if input.position != 0.0 {
            self.held += 1;
            if !self.placed {
                // The entry filled at this bar's open: protect it.
                self.placed = true;
                let (side, sign) = if input.position > 0.0 {
                    (Side::Sell, 1.0)
                } else {
                    (Side::Buy, -1.0)
                };
                let size = input.position.abs();
                let entry = input.entry_price;
                out.push(
                    Action::stop(side, size, entry * (1.0 - sign * self.exits.0), STOP)
                        .reduce_only(),
                );
                out.push(
                    Action::limit(side, size, entry * (1.0 + sign * self.exits.1), TARGET)
                        .reduce_only(),
                );
            } else if self.held >= self.max_hold {
                for o in &input.orders {
                    out.push(Action::cancel(o.id));
                }
                out.push(Action::close(TIMEOUT));
            }
            return;
        }
        // Flat: cancel what is left of the last trade's exits, then look for an entry.
        for o in &input.orders {
            out.push(Action::cancel(o.id));
        }
        self.placed = false;
        self.held = 0;
        let Some(atr) = self.levels.atr().filter(|a| *a > 0.0) else {
            return;
        };
        let near = |kind| {
            self.levels
                .nearest(kind)
                .filter(|l| (b.close - l.price).abs() <= self.band * atr)
                .is_some()
        };
        let side = if near(LevelKind::Support) {
            Side::Buy
        } else if near(LevelKind::Resistance) {
            Side::Sell
        } else {
            return;
        };
        self.exits = match ctx.features().map(|f| ctx.suggest(side, &f)) {
            Some(Ok(s)) if s.stop_pct > 0.0 && s.target_pct > 0.0 => (s.stop_pct, s.target_pct),
            _ => (0.01, 0.02),
        };
        let size = self.fraction * input.equity / b.close;
        out.push(Action::market(side, size, ENTRY));
    }

    fn on_fill(&mut self, fill: &Fill) {
        if fill.filled && (fill.tag == STOP || fill.tag == TARGET) {
            // One exit filled; the other is cancelled on the next bar (the position is flat).
            self.held = 0;
        }
    }
}

tradeloop_strategy::export_strategy!(Rule);
