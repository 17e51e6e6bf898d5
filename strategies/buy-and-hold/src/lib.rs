//! Buy and hold: on the first bar, buy with `fraction` (default 1) of the equity at the next
//! open and never sell. Every experiment runs it as the baseline. The order is sized at the
//! close with 1 % to spare; if the next bar gaps up more than that the broker refuses the
//! fill (not enough cash), and the order is placed again on the next bar.

use tradeloop_strategy::{Action, Actions, Config, Context, Fill, Input, Params, Side, Strategy};

/// The strategy.
pub struct BuyAndHold {
    fraction: f64,
    /// The position was bought (a filled entry).
    holding: bool,
}

impl Strategy for BuyAndHold {
    fn init(_: &Config, params: &Params<'_>, _seed: u64) -> (Self, u32) {
        let fraction = params.get_or("fraction", 1.0).clamp(0.0, 1.0);
        (
            BuyAndHold {
                fraction,
                holding: false,
            },
            0,
        )
    }

    fn on_bar(&mut self, input: &Input, _: &mut Context, out: &mut Actions) {
        if self.holding || input.position != 0.0 || input.bar.close <= 0.0 {
            return;
        }
        // Sized at this close, filled at the next open: leave a little room for a gap up.
        let size = self.fraction * 0.99 * input.equity / input.bar.close;
        if size > 0.0 {
            out.push(Action::market(Side::Buy, size, 0));
        }
    }

    fn on_fill(&mut self, fill: &Fill) {
        self.holding |= fill.filled;
    }

    fn save(&self, out: &mut Vec<u8>) -> bool {
        out.push(u8::from(self.holding));
        true
    }

    fn load(&mut self, state: &[u8]) -> bool {
        match state {
            [b @ (0 | 1)] => {
                self.holding = *b == 1;
                true
            }
            _ => false,
        }
    }
}

tradeloop_strategy::export_strategy!(BuyAndHold);
