//! The guest SDK: write a strategy in Rust.
//!
//! ```ignore
//! use tradeloop_strategy::{Action, Actions, Config, Context, Input, Params, Side, Strategy};
//!
//! struct Hold { bought: bool }
//!
//! impl Strategy for Hold {
//!     fn init(_: &Config, _: &Params, _seed: u64) -> (Self, u32) {
//!         (Hold { bought: false }, 0)
//!     }
//!     fn on_bar(&mut self, input: &Input, _: &mut Context, out: &mut Actions) {
//!         if !self.bought {
//!             self.bought = true;
//!             out.push(Action::market(Side::Buy, input.cash / input.bar.close, 0));
//!         }
//!     }
//! }
//!
//! tradeloop_strategy::export_strategy!(Hold);
//! ```
//!
//! Build with `crate-type = ["cdylib"]` for `wasm32-unknown-unknown`. The macro defines the
//! ABI's exports; [`Context`] wraps its imports. This module and the macro's expansion are the
//! only `unsafe` code of the crate: they turn the pointers the host passes into slices (the
//! host guarantees they lie inside the module's memory, as `docs/STRATEGY_ABI.md` requires).

#![allow(unsafe_code)]

use alloc::vec::Vec;
use core::cell::RefCell;

use crate::abi::{
    self, Action, Bar, CANDLE_FEATURES, Config, Fill, Input, MAX_ACTIONS, Side, Suggestion,
};

/// The parameters the run was given (`--params`).
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    text: &'a str,
}

impl<'a> Params<'a> {
    /// Parameters from their `name=value` text.
    pub fn new(text: &'a str) -> Self {
        Params { text }
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<f64> {
        abi::param_in(self.text, name)
    }

    /// The value of `name`, or `default`.
    pub fn get_or(&self, name: &str, default: f64) -> f64 {
        self.get(name).unwrap_or(default)
    }
}

/// The actions of one bar, at most [`MAX_ACTIONS`].
#[derive(Debug, Default)]
pub struct Actions {
    list: Vec<Action>,
}

impl Actions {
    /// Adds an action; `false` (and nothing added) once the bar's limit is reached.
    pub fn push(&mut self, a: Action) -> bool {
        if self.list.len() >= MAX_ACTIONS {
            return false;
        }
        self.list.push(a);
        true
    }

    /// The actions so far.
    pub fn as_slice(&self) -> &[Action] {
        &self.list
    }
}

/// A strategy. One instance lives in the module for the whole run.
pub trait Strategy: Sized {
    /// Builds the strategy; returns it and its number of warm-up bars (bars that only go to
    /// the history before the first `on_bar`).
    fn init(config: &Config, params: &Params<'_>, seed: u64) -> (Self, u32);

    /// Bar `input.index` has closed: decide.
    fn on_bar(&mut self, input: &Input, ctx: &mut Context, out: &mut Actions);

    /// An order filled, or was refused (`fill.filled == false`).
    fn on_fill(&mut self, _fill: &Fill) {}

    /// The data ended.
    fn on_end(&mut self) {}

    /// Appends the state to `out`; `false` if the strategy cannot save.
    fn save(&self, _out: &mut Vec<u8>) -> bool {
        false
    }

    /// Restores a state written by `save`; `false` if it cannot.
    fn load(&mut self, _state: &[u8]) -> bool {
        false
    }
}

#[cfg(target_arch = "wasm32")]
mod imports {
    #[link(wasm_import_module = "tradeloop_strategy")]
    unsafe extern "C" {
        pub(super) fn history(from: i32, count: i32, out: *mut u8) -> i32;
        pub(super) fn features(out: *mut f32) -> i32;
        pub(super) fn suggest(side: i32, features: *const f32, n: i32, out: *mut u8) -> i32;
        pub(super) fn log(msg: *const u8, len: i32);
    }
}

/// The host's services during `on_bar`.
#[derive(Debug, Default)]
pub struct Context {
    _private: (),
}

impl Context {
    /// Bars `from .. from + count`, clipped to the bars that have closed.
    pub fn history(&mut self, from: u32, count: u32) -> Vec<Bar> {
        let count = count.min(1 << 16) as usize;
        let mut buf = alloc::vec![0u8; count * Bar::SIZE];
        let n = self.history_raw(from, count as u32, &mut buf);
        (0..n)
            .filter_map(|i| Bar::read(&buf[i * Bar::SIZE..]))
            .collect()
    }

    #[cfg(target_arch = "wasm32")]
    fn history_raw(&mut self, from: u32, count: u32, buf: &mut [u8]) -> usize {
        // SAFETY: `buf` holds `count` bars; the host writes at most that many.
        let n = unsafe { imports::history(from as i32, count as i32, buf.as_mut_ptr()) };
        usize::try_from(n).unwrap_or(0).min(count as usize)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn history_raw(&mut self, _: u32, _: u32, _: &mut [u8]) -> usize {
        0
    }

    /// The current bar's 32 candle features, once they are defined.
    pub fn features(&mut self) -> Option<[f32; CANDLE_FEATURES]> {
        let mut f = [0f32; CANDLE_FEATURES];
        #[cfg(target_arch = "wasm32")]
        {
            // SAFETY: `f` has room for the 32 features the host writes.
            let n = unsafe { imports::features(f.as_mut_ptr()) };
            (n == CANDLE_FEATURES as i32).then_some(f)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = &mut f;
            None
        }
    }

    /// The learning engine's view of entering `side` now with `features`; `Err` carries the
    /// ABI's error code.
    pub fn suggest(&mut self, side: Side, features: &[f32]) -> Result<Suggestion, i32> {
        #[cfg_attr(not(target_arch = "wasm32"), allow(unused_mut))]
        let mut out = [0u8; Suggestion::SIZE];
        #[cfg(target_arch = "wasm32")]
        // SAFETY: `features` is a live slice and `out` has room for one suggestion.
        let code = unsafe {
            imports::suggest(
                i32::from(side.code()),
                features.as_ptr(),
                features.len() as i32,
                out.as_mut_ptr(),
            )
        };
        #[cfg(not(target_arch = "wasm32"))]
        let code = {
            let _ = (side, features);
            -4
        };
        match code {
            0 => Suggestion::read(&out).ok_or(-1),
            e => Err(e),
        }
    }

    /// Writes a line to the run's log (the host keeps a bounded number).
    pub fn log(&mut self, msg: &str) {
        #[cfg(target_arch = "wasm32")]
        // SAFETY: `msg` is a live string.
        unsafe {
            imports::log(msg.as_ptr(), msg.len() as i32)
        };
        #[cfg(not(target_arch = "wasm32"))]
        let _ = msg;
    }
}

/// Where the macro keeps the strategy: wasm modules are single-threaded.
#[doc(hidden)]
pub struct Slot<T>(RefCell<Option<T>>);

// SAFETY: a strategy module runs on one thread (wasm32 without threads); the slot is never
// shared between threads.
unsafe impl<T> Sync for Slot<T> {}

impl<T> Slot<T> {
    #[doc(hidden)]
    pub const fn new() -> Self {
        Slot(RefCell::new(None))
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// # Safety
/// `(ptr, len)` must be readable memory of the module (the host checks it).
unsafe fn bytes<'a>(ptr: i32, len: i32) -> &'a [u8] {
    if len <= 0 || ptr == 0 {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { core::slice::from_raw_parts(ptr as usize as *const u8, len as usize) }
}

/// # Safety
/// `(ptr, len)` must be writable memory of the module (the host allocated it).
unsafe fn bytes_mut<'a>(ptr: i32, len: i32) -> &'a mut [u8] {
    if len <= 0 || ptr == 0 {
        return &mut [];
    }
    // SAFETY: the caller's contract.
    unsafe { core::slice::from_raw_parts_mut(ptr as usize as *mut u8, len as usize) }
}

#[doc(hidden)]
pub fn alloc(len: i32) -> i32 {
    let Ok(layout) = core::alloc::Layout::from_size_align(len.max(1) as usize, 8) else {
        return 0;
    };
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { alloc::alloc::alloc_zeroed(layout) };
    p as usize as i32
}

#[doc(hidden)]
/// # Safety
/// The pointers are the host's, as the ABI specifies.
pub unsafe fn init<T: Strategy>(
    slot: &Slot<T>,
    config: i32,
    config_len: i32,
    params: i32,
    params_len: i32,
    seed: i64,
) -> i32 {
    // SAFETY: the caller's contract.
    let (c, p) = unsafe { (bytes(config, config_len), bytes(params, params_len)) };
    let Some(config) = Config::read(c) else {
        return -1;
    };
    let text = core::str::from_utf8(p).unwrap_or("");
    let (s, warmup) = T::init(&config, &Params::new(text), seed as u64);
    *slot.0.borrow_mut() = Some(s);
    warmup.min(i32::MAX as u32) as i32
}

#[doc(hidden)]
/// # Safety
/// The pointers are the host's, as the ABI specifies.
pub unsafe fn on_bar<T: Strategy>(
    slot: &Slot<T>,
    input: i32,
    input_len: i32,
    actions: i32,
    cap: i32,
) -> i32 {
    // SAFETY: the caller's contract.
    let Some(input) = Input::read(unsafe { bytes(input, input_len) }) else {
        return -1;
    };
    let mut s = slot.0.borrow_mut();
    let Some(s) = s.as_mut() else { return -2 };
    let mut out = Actions::default();
    s.on_bar(&input, &mut Context::default(), &mut out);
    let n = out.list.len().min(cap.max(0) as usize);
    // SAFETY: the caller's contract: `cap` actions fit at `actions`.
    let buf = unsafe { bytes_mut(actions, (n * Action::SIZE) as i32) };
    for (i, a) in out.list.iter().take(n).enumerate() {
        a.write(&mut buf[i * Action::SIZE..]);
    }
    n as i32
}

#[doc(hidden)]
/// # Safety
/// The pointers are the host's, as the ABI specifies.
pub unsafe fn on_fill<T: Strategy>(slot: &Slot<T>, fill: i32, len: i32) {
    // SAFETY: the caller's contract.
    if let Some(f) = Fill::read(unsafe { bytes(fill, len) })
        && let Some(s) = slot.0.borrow_mut().as_mut()
    {
        s.on_fill(&f);
    }
}

#[doc(hidden)]
pub fn on_end<T: Strategy>(slot: &Slot<T>) {
    if let Some(s) = slot.0.borrow_mut().as_mut() {
        s.on_end();
    }
}

#[doc(hidden)]
/// # Safety
/// The pointers are the host's, as the ABI specifies.
pub unsafe fn save<T: Strategy>(slot: &Slot<T>, out: i32, cap: i32) -> i32 {
    let s = slot.0.borrow();
    let Some(s) = s.as_ref() else { return -2 };
    let mut state = Vec::new();
    if !s.save(&mut state) {
        return -1;
    }
    if state.len() > cap.max(0) as usize {
        return -3;
    }
    // SAFETY: the caller's contract: `cap` bytes are writable at `out`.
    unsafe { bytes_mut(out, state.len() as i32) }.copy_from_slice(&state);
    state.len() as i32
}

#[doc(hidden)]
/// # Safety
/// The pointers are the host's, as the ABI specifies.
pub unsafe fn load<T: Strategy>(slot: &Slot<T>, state: i32, len: i32) -> i32 {
    let mut s = slot.0.borrow_mut();
    let Some(s) = s.as_mut() else { return -2 };
    // SAFETY: the caller's contract.
    if s.load(unsafe { bytes(state, len) }) {
        0
    } else {
        -1
    }
}

/// Defines the ABI's exports for a [`Strategy`] type.
#[macro_export]
macro_rules! export_strategy {
    ($t:ty) => {
        static TRADELOOP_STRATEGY: $crate::guest::Slot<$t> = $crate::guest::Slot::new();

        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tls_abi_version() -> i32 {
            $crate::abi::VERSION
        }

        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tls_alloc(len: i32) -> i32 {
            $crate::guest::alloc(len)
        }

        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tls_init(c: i32, cl: i32, p: i32, pl: i32, seed: i64) -> i32 {
            // SAFETY: the host passes pointers into this module's memory (the ABI).
            unsafe { $crate::guest::init::<$t>(&TRADELOOP_STRATEGY, c, cl, p, pl, seed) }
        }

        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tls_on_bar(i: i32, il: i32, a: i32, cap: i32) -> i32 {
            // SAFETY: as above.
            unsafe { $crate::guest::on_bar::<$t>(&TRADELOOP_STRATEGY, i, il, a, cap) }
        }

        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tls_on_fill(f: i32, fl: i32) {
            // SAFETY: as above.
            unsafe { $crate::guest::on_fill::<$t>(&TRADELOOP_STRATEGY, f, fl) }
        }

        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tls_on_end() {
            $crate::guest::on_end::<$t>(&TRADELOOP_STRATEGY)
        }

        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tls_save(out: i32, cap: i32) -> i32 {
            // SAFETY: as above.
            unsafe { $crate::guest::save::<$t>(&TRADELOOP_STRATEGY, out, cap) }
        }

        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn tls_load(s: i32, len: i32) -> i32 {
            // SAFETY: as above.
            unsafe { $crate::guest::load::<$t>(&TRADELOOP_STRATEGY, s, len) }
        }
    };
}
