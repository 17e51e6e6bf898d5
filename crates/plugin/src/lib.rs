//! tradeloop's engine as a raw-ABI WebAssembly module, for any wasm host: build with
//! `cargo build -p tradeloop-plugin --target wasm32-unknown-unknown --release`.
//!
//! The calling convention is specified in `docs/ABI.md` (readable without Rust). In short:
//!
//! | export | signature | does |
//! |---|---|---|
//! | `tl_abi_version` | `() -> i32` | [`ABI_VERSION`] |
//! | `tl_alloc` | `(len: i32) -> i32` | a buffer of `len` bytes in linear memory (0: failed) |
//! | `tl_free` | `(ptr: i32, len: i32)` | frees a buffer from `tl_alloc` |
//! | `tl_call` | `(ptr: i32, len: i32) -> i32` | handles the postcard `Request` in that buffer; returns a `Status` |
//! | `tl_result_ptr`, `tl_result_len` | `() -> i32` | the last call's result bytes (valid until the next call) |
//!
//! Imports, all from module `tradeloop_host`:
//!
//! | import | signature | does |
//! |---|---|---|
//! | `log` | `(level: i32, ptr: i32, len: i32)` | a UTF-8 message, sent when a request fails (for a rejection, the error's message) |
//! | `rank` | `(ptr: i32, len: i32, dim: i32) -> i32` | scores the f32 LE rows in that buffer; the length of the answer the host now holds (`RANK_NO_RANKER` = -2: no ranker attached; other < 0: none) |
//! | `rank_result` | `(ptr: i32, len: i32) -> i32` | copies that answer (a postcard `RankAnswer`) into our buffer; 0 on success |
//!
//! All logic is [`tradeloop_core::abi::handle_with`]; this crate only moves bytes across the
//! boundary.

// The one crate allowed `unsafe`: exporting unmangled functions and reading the host's
// bytes from raw linear-memory addresses is what a raw ABI is. Each use has a SAFETY note.
#![allow(unsafe_code)]

use std::cell::RefCell;

use tradeloop_core::abi::{self, ABI_VERSION, MAX_REQUEST, Status};
use tradeloop_core::ranking::{RankOutput, Ranker};
use tradeloop_core::{Engine, Error};

thread_local! {
    /// The engine (none until `Create` or `Restore`) and the last result.
    static STATE: RefCell<(Option<Engine>, Vec<u8>)> = const { RefCell::new((None, Vec::new())) };
}

#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "tradeloop_host")]
    unsafe extern "C" {
        pub(super) fn log(level: i32, ptr: i32, len: i32);
        pub(super) fn rank(ptr: i32, len: i32, dim: i32) -> i32;
        pub(super) fn rank_result(ptr: i32, len: i32) -> i32;
    }
}

/// Calls the host's `rank` import on encoded rows and fetches its answer bytes.
#[cfg(target_arch = "wasm32")]
fn host_rank(bytes: &[u8], len: i32, dim: i32) -> Result<Vec<u8>, Error> {
    // SAFETY: the host reads `len` bytes at a live buffer of ours, and only reads.
    let n = unsafe { host::rank(bytes.as_ptr() as i32, len, dim) };
    if n == abi::RANK_NO_RANKER {
        return Err(Error::NoRanker);
    }
    let Ok(n) = usize::try_from(n) else {
        return Err(Error::Ranker("the host has no rank answer".into()));
    };
    let mut answer = vec![0u8; n];
    // SAFETY: the host writes at most `n` bytes into this live buffer of `n` bytes.
    if unsafe { host::rank_result(answer.as_mut_ptr() as i32, n as i32) } != 0 {
        return Err(Error::Ranker(
            "the host could not copy its rank answer".into(),
        ));
    }
    Ok(answer)
}

/// Natively (tests of this crate) there is no host to rank with.
#[cfg(not(target_arch = "wasm32"))]
fn host_rank(_bytes: &[u8], _len: i32, _dim: i32) -> Result<Vec<u8>, Error> {
    Err(Error::NoRanker)
}

/// The engine's ranker: the host's `rank` import (ONNX inference in the host). The host
/// answers with the length of a postcard `RankAnswer` it holds, which `rank_result` copies
/// into a buffer of ours.
struct HostRanker;

impl Ranker for HostRanker {
    fn rank(&mut self, rows: &[f32], dim: usize) -> Result<RankOutput, Error> {
        let bytes = abi::encode_rows(rows);
        let (Ok(len), Ok(dim)) = (i32::try_from(bytes.len()), i32::try_from(dim)) else {
            return Err(Error::Ranker("too many rows to rank".into()));
        };
        abi::decode_rank_answer(&host_rank(&bytes, len, dim)?)
    }
}

/// Sends a message to the host's log (level 1: a request failed).
fn log(level: i32, message: &[u8]) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host reads `len` bytes at `ptr` of this module's memory during the call;
    // `message` is a live slice for that whole time.
    unsafe {
        host::log(level, message.as_ptr() as i32, message.len() as i32)
    };
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (level, message);
}

/// The ABI version.
#[unsafe(no_mangle)]
pub extern "C" fn tl_abi_version() -> i32 {
    ABI_VERSION as i32
}

/// Allocates `len` bytes (at least 1) for the host to write a request into; 0 when `len`
/// is negative or above the request limit.
#[unsafe(no_mangle)]
pub extern "C" fn tl_alloc(len: i32) -> i32 {
    if len < 0 || len as u32 > MAX_REQUEST {
        return 0;
    }
    let mut buf = vec![0u8; (len as usize).max(1)].into_boxed_slice();
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr as usize as i32
}

/// Frees a buffer returned by `tl_alloc(len)`; `ptr` 0 is ignored.
///
/// # Safety
/// `ptr` and `len` must come from one `tl_alloc` call, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tl_free(ptr: i32, len: i32) {
    if ptr == 0 || len < 0 {
        return;
    }
    let len = (len as usize).max(1);
    // SAFETY: by the contract above, this is the boxed slice `tl_alloc` leaked.
    drop(unsafe {
        Box::from_raw(std::ptr::slice_from_raw_parts_mut(
            ptr as usize as *mut u8,
            len,
        ))
    });
}

/// Handles the request in `len` bytes at `ptr`; returns a status code (see `docs/ABI.md`).
///
/// # Safety
/// `ptr..ptr + len` must be readable memory of this module (a `tl_alloc` buffer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tl_call(ptr: i32, len: i32) -> i32 {
    if len < 0 || (ptr == 0 && len > 0) {
        return finish(Status::BadRequest, b"bad request buffer".to_vec());
    }
    let request: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: by the contract above the host wrote `len` bytes at `ptr`.
        unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) }
    };
    let (status, out) =
        STATE.with_borrow_mut(|(engine, _)| abi::handle_with(engine, request, &mut HostRanker));
    finish(status, out)
}

fn finish(status: Status, out: Vec<u8>) -> i32 {
    match status {
        Status::Ok => {}
        // The log gets the error's message, as text.
        Status::Rejected => log(1, abi::Rejection::decode(&out).to_string().as_bytes()),
        Status::BadRequest | Status::NoEngine => log(1, &out),
    }
    STATE.with_borrow_mut(|(_, result)| *result = out);
    status as i32
}

/// Address of the last call's result bytes.
#[unsafe(no_mangle)]
pub extern "C" fn tl_result_ptr() -> i32 {
    STATE.with_borrow(|(_, r)| r.as_ptr() as usize as i32)
}

/// Length of the last call's result bytes.
#[unsafe(no_mangle)]
pub extern "C" fn tl_result_len() -> i32 {
    STATE.with_borrow(|(_, r)| r.len() as i32)
}
