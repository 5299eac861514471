//! Reusable memory for the data path: byte buffers and per-batch arenas.
//!
//! What is pooled and why:
//! - [`BufferPool`] keeps `Vec<u8>`s that encoders write into, compressors
//!   append to and the transport sends from. Encoding a batch writes a few
//!   hundred KiB; allocating (and page-faulting) that per batch would cost
//!   more than the direct encoder itself, and a reused buffer with the right
//!   capacity makes the encode and compress path allocation-free in steady
//!   state. The pool is bounded twice: in how many buffers it keeps, and in
//!   the capacity a kept buffer may have, so one huge batch does not pin its
//!   memory for the life of the process.
//! - [`BatchArena`] wraps a [`bumpalo::Bump`] for scratch that lives exactly
//!   one batch (cached lengths, small temporary vectors): allocation is a
//!   pointer bump, and freeing is one `reset` after the batch. It is bounded
//!   the same way: an arena that grew past its cap is replaced, not kept.
//!
//! Both count what they do ([`PoolStats`], [`ArenaStats`]) so the lab can
//! show hit rates and retained bytes next to heap profiles.
//!
//! Does not own: what goes into the buffers (encode, compress), when batches
//! start and end (the pipeline), cross-thread hand-off (a [`PooledBuf`] is
//! `Send` and returns to its pool from whichever thread drops it), or the
//! recycled attribute and event lists of spans and log records: the model
//! owns those ([`crate::model::lists`]), since its builders take them.
//!
//! Everything here is safe code.

mod arena;
mod buffer;

pub use arena::{ArenaStats, BatchArena};
pub use buffer::{BufferPool, BufferPoolConfig, PoolStats, PooledBuf};
