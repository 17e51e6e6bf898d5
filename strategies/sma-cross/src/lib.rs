//! SMA crossover: long when the `fast`-bar simple moving average of the close crosses above
//! the `slow` one, flat when it crosses below. Orders are market orders, filled at the next
//! open. `size` units per trade if given, else `fraction` (default 0.95) of the equity.
//!
//! A cross is detected as backtrader's `CrossOver` does: the sign of the last non-zero
//! difference between the averages changes (`scripts/crosscheck/` compares the trades).

use tradeloop_strategy::{Action, Actions, Config, Context, Input, Params, Side, Strategy};

/// The strategy.
pub struct SmaCross {
    fast: usize,
    slow: usize,
    size: f64,
    fraction: f64,
    closes: Vec<f64>,
    last_diff: f64,
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

impl Strategy for SmaCross {
    fn init(_: &Config, params: &Params<'_>, _seed: u64) -> (Self, u32) {
        let fast = params.get_or("fast", 10.0).clamp(1.0, 10_000.0) as usize;
        let slow = params
            .get_or("slow", 30.0)
            .clamp(fast as f64 + 1.0, 20_000.0) as usize;
        let s = SmaCross {
            fast,
            slow,
            size: params.get_or("size", 0.0),
            fraction: params.get_or("fraction", 0.95).clamp(0.0, 1.0),
            closes: Vec::with_capacity(slow + 1),
            last_diff: 0.0,
        };
        (s, 0)
    }

    fn on_bar(&mut self, input: &Input, _: &mut Context, out: &mut Actions) {
        if self.closes.len() == self.slow {
            self.closes.remove(0);
        }
        self.closes.push(input.bar.close);
        if self.closes.len() < self.slow {
            return;
        }
        let n = self.closes.len();
        let diff = mean(&self.closes[n - self.fast..]) - mean(&self.closes);
        let before = self.last_diff;
        if diff != 0.0 {
            self.last_diff = diff;
        }
        let up = before < 0.0 && diff > 0.0;
        let down = before > 0.0 && diff < 0.0;
        if input.position == 0.0 && up {
            let size = if self.size > 0.0 {
                self.size
            } else {
                self.fraction * input.equity / input.bar.close
            };
            out.push(Action::market(Side::Buy, size, 1));
        } else if input.position > 0.0 && down {
            out.push(Action::close(2));
        }
    }
}

tradeloop_strategy::export_strategy!(SmaCross);
