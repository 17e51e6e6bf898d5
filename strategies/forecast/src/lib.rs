//! Trades on the learning engine's forecast: when flat and the engine's `P(win) - P(loss)`
//! for a long entry on this bar's candle features is at least `enter` (default 0: a fresh
//! engine has no opinion yet and must trade to learn), buy with `fraction` (default 0.95) of
//! the equity; close when the score falls below `exit` (default -0.05) or after `max_hold`
//! bars (default 24).
//!
//! The engine is the strategy's own fork: it learns from this strategy's trades (opened with
//! the features of the bar they were ordered on), so the forecasts change as it trades.

use tradeloop_strategy::{Action, Actions, Config, Context, Input, Params, Side, Strategy};

/// The strategy.
pub struct Forecast {
    enter: f64,
    exit: f64,
    max_hold: u32,
    fraction: f64,
    held: u32,
}

impl Strategy for Forecast {
    fn init(_: &Config, params: &Params<'_>, _seed: u64) -> (Self, u32) {
        let s = Forecast {
            enter: params.get_or("enter", 0.0),
            exit: params.get_or("exit", -0.05),
            max_hold: params.get_or("max_hold", 24.0).clamp(1.0, 1e6) as u32,
            fraction: params.get_or("fraction", 0.95).clamp(0.0, 1.0),
            held: 0,
        };
        (s, 0)
    }

    fn on_bar(&mut self, input: &Input, ctx: &mut Context, out: &mut Actions) {
        // No opinion (features not defined yet, or the engine refused): hold what we have.
        let score = match ctx.features().map(|f| ctx.suggest(Side::Buy, &f)) {
            Some(Ok(s)) => s.score(),
            Some(Err(code)) => {
                ctx.log(&format!("bar {}: suggest failed ({code})", input.index));
                0.0
            }
            None => 0.0,
        };
        if input.position == 0.0 {
            self.held = 0;
            if score >= self.enter && input.orders.is_empty() {
                let size = self.fraction * input.equity / input.bar.close;
                out.push(Action::market(Side::Buy, size, 1));
            }
        } else {
            self.held += 1;
            if score < self.exit || self.held >= self.max_hold {
                out.push(Action::close(2));
            }
        }
    }
}

tradeloop_strategy::export_strategy!(Forecast);
