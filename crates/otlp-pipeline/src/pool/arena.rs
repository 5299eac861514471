//! A per-batch bump arena, reset after each batch.

use bumpalo::Bump;

/// A [`Bump`] arena for scratch that lives one batch, with counters.
///
/// Allocate through [`BatchArena::bump`] and call [`BatchArena::reset`] when
/// the batch is done (the borrow checker ensures nothing allocated survives
/// it), or run the batch inside [`BatchArena::with`], which resets after.
/// One arena per worker: `Bump` is `Send` but not `Sync`.
pub struct BatchArena {
    bump: Bump,
    /// Largest chunk capacity, in bytes, kept across a reset.
    max_retained: usize,
    /// Capacity of a replacement arena, the one this arena started with.
    initial_capacity: usize,
    stats: ArenaStats,
}

/// Counters of a [`BatchArena`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArenaStats {
    /// Batches completed (resets).
    pub resets: u64,
    /// Bytes still allocated at the end of each batch, summed over all
    /// completed batches (alignment padding included). Bumpalo takes back
    /// the most recent allocation when it is freed (a dropped last
    /// `bumpalo::collections::Vec`, the old buffer of a growing one), so
    /// such bytes are not counted.
    pub bytes_allocated: u64,
    /// Most bytes allocated at the end of one batch.
    pub peak_batch_bytes: usize,
    /// Times the arena had grown past its cap and was replaced on reset.
    pub discarded_oversize: u64,
    /// Chunk capacity, in bytes, the arena holds now.
    pub retained_bytes: usize,
}

impl BatchArena {
    /// An empty arena that keeps at most `max_retained` bytes of chunks
    /// across a reset.
    pub fn new(max_retained: usize) -> Self {
        Self::with_capacity(0, max_retained)
    }

    /// An arena with `capacity` bytes preallocated, keeping at most
    /// `max_retained` bytes across a reset.
    pub fn with_capacity(capacity: usize, max_retained: usize) -> Self {
        let bump = Bump::with_capacity(capacity);
        let stats = ArenaStats { retained_bytes: bump.allocated_bytes(), ..ArenaStats::default() };
        Self { bump, max_retained, initial_capacity: capacity, stats }
    }

    /// The arena to allocate this batch's scratch from.
    pub fn bump(&self) -> &Bump {
        &self.bump
    }

    /// Ends the batch: frees everything allocated in it at once.
    ///
    /// Bumpalo keeps only its largest chunk; if that is above the cap (one
    /// huge batch), the arena is replaced by a fresh one so the memory is not
    /// pinned.
    pub fn reset(&mut self) {
        let used: usize = self.bump.iter_allocated_chunks().map(<[_]>::len).sum();
        self.stats.resets += 1;
        self.stats.bytes_allocated += used as u64;
        self.stats.peak_batch_bytes = self.stats.peak_batch_bytes.max(used);
        self.bump.reset();
        if self.bump.allocated_bytes() > self.max_retained {
            self.bump = Bump::with_capacity(self.initial_capacity.min(self.max_retained));
            self.stats.discarded_oversize += 1;
        }
        self.stats.retained_bytes = self.bump.allocated_bytes();
    }

    /// Runs one batch with the arena and resets it afterwards; nothing
    /// allocated in the arena can escape through `R`.
    pub fn with<R>(&mut self, batch: impl FnOnce(&Bump) -> R) -> R {
        let result = batch(&self.bump);
        self.reset();
        result
    }

    /// The counters, as of the last reset (plus the current retained size).
    pub fn stats(&self) -> ArenaStats {
        ArenaStats { retained_bytes: self.bump.allocated_bytes(), ..self.stats }
    }
}

impl std::fmt::Debug for BatchArena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchArena").field("max_retained", &self.max_retained).field("stats", &self.stats()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_batches_and_bytes() {
        let mut arena = BatchArena::new(1 << 20);
        let sum = arena.with(|bump| {
            let numbers = bump.alloc_slice_fill_iter(0..100_u32);
            numbers.iter().sum::<u32>()
        });
        assert_eq!(sum, 4950);
        let stats = arena.stats();
        assert_eq!(stats.resets, 1);
        assert!(stats.bytes_allocated >= 400, "{stats:?}");
        assert_eq!(stats.peak_batch_bytes as u64, stats.bytes_allocated);

        arena.bump().alloc_slice_fill_copy(10, 0_u8);
        arena.reset();
        let stats = arena.stats();
        assert_eq!(stats.resets, 2);
        assert!(stats.bytes_allocated >= 410);
        assert!(stats.peak_batch_bytes >= 400);
    }

    #[test]
    fn reset_reuses_the_chunk() {
        let mut arena = BatchArena::with_capacity(64 << 10, 1 << 20);
        for _ in 0..10 {
            arena.with(|bump| {
                bump.alloc_slice_fill_copy(32 << 10, 1_u8);
            });
        }
        let stats = arena.stats();
        assert_eq!((stats.resets, stats.discarded_oversize), (10, 0));
        assert!(stats.retained_bytes >= 64 << 10 && stats.retained_bytes <= 1 << 20, "{stats:?}");
    }

    #[test]
    fn an_oversize_arena_is_replaced() {
        let mut arena = BatchArena::with_capacity(4 << 10, 64 << 10);
        arena.with(|bump| {
            bump.alloc_slice_fill_copy(1 << 20, 0_u8);
        });
        let stats = arena.stats();
        assert_eq!(stats.discarded_oversize, 1);
        assert!(stats.retained_bytes <= 64 << 10, "{stats:?}");
        assert!(stats.peak_batch_bytes >= 1 << 20);
    }
}
