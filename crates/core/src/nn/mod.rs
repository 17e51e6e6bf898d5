//! Hand-written neural networks: dense layers, activations, losses, SGD/Adam, normalisation.
//!
//! Buffers are contiguous and row-major; a [`Workspace`] owns every temporary, so a training
//! step allocates nothing once the workspace has grown to the batch size. Kernels run on the
//! fastest [`Backend`] available and produce the same bits on all of them.

mod fast;
pub(crate) mod kernels;
mod loss;
mod mlp;
mod norm;
mod optim;

pub use loss::{Loss, Target, softmax};
pub use mlp::{Activation, Batch, Init, Mlp, MlpSpec, Workspace};
pub use norm::Normalizer;
pub use optim::{OptimConfig, OptimKind, Optimizer};
pub use tradeloop_kernels::Backend;
