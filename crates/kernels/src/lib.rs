//! # tradeloop-kernels
//!
//! The arithmetic under tradeloop's hand-written networks: dense-layer forward and backward
//! passes, ReLU, dot products and the SGD/Adam updates, on contiguous row-major `f32`
//! buffers. Each kernel is written once over sixteen canonical lanes ([`simd`]) and runs on
//! the fastest [`Backend`] available (scalar, AVX, AVX-512, wasm SIMD128) with the same bits
//! on every one of them.
//!
//! The kernels are a crate of their own so that a build can optimise them differently from
//! the rest of the engine: the browser package compiles this crate for speed and everything
//! else for size (`[profile.wasm-release]` in the workspace `Cargo.toml`). Their tests, which
//! draw inputs from the core's RNG, are in `tradeloop-core` (`nn::kernels`).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod kernels;
pub mod simd;

pub use kernels::{
    AdamStep, SgdStep, TINY_MOMENT, adam, affine, backprop_input, dot, grad_bias, grad_weights,
    relu, relu_backward, scale, sgd,
};
pub use simd::Backend;
