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
//! The only import is `tradeloop_host.log(level: i32, ptr: i32, len: i32)`, called with a
//! UTF-8 message when a request fails. All logic is [`tradeloop_core::abi::handle`]; this
//! crate only moves bytes across the boundary.

// The one crate allowed `unsafe`: exporting unmangled functions and reading the host's
// bytes from raw linear-memory addresses is what a raw ABI is. Each use has a SAFETY note.
#![allow(unsafe_code)]

use std::cell::RefCell;

use tradeloop_core::Engine;
use tradeloop_core::abi::{self, ABI_VERSION, MAX_REQUEST, Status};

thread_local! {
    /// The engine (none until `Create` or `Restore`) and the last result.
    static STATE: RefCell<(Option<Engine>, Vec<u8>)> = const { RefCell::new((None, Vec::new())) };
}

#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "tradeloop_host")]
    unsafe extern "C" {
        pub(super) fn log(level: i32, ptr: i32, len: i32);
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
    let (status, out) = STATE.with_borrow_mut(|(engine, _)| abi::handle(engine, request));
    finish(status, out)
}

fn finish(status: Status, out: Vec<u8>) -> i32 {
    if status != Status::Ok {
        log(1, &out);
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
