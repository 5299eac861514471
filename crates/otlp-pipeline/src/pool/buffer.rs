//! A bounded, thread-safe pool of reusable `Vec<u8>` buffers.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Limits of a [`BufferPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferPoolConfig {
    /// How many idle buffers the pool keeps; more are dropped on return.
    pub max_pooled: usize,
    /// Largest capacity, in bytes, a returned buffer may have and still be
    /// kept; bigger ones are dropped on return.
    pub max_capacity: usize,
    /// Capacity of a buffer created on a miss (capped at `max_capacity`).
    pub initial_capacity: usize,
}

impl Default for BufferPoolConfig {
    /// Sized for the standard trace batch: 512 spans encode to about 230 KiB,
    /// so 256 KiB holds one without regrowing.
    fn default() -> Self {
        Self {
            // Enough for a batcher, a few in-flight exports and the retries
            // behind them on two cores. Idle memory is then about
            // 16 × 256 KiB in steady state, 16 × 4 MiB at worst.
            max_pooled: 16,
            // 16 standard batches: anything bigger is a rare outlier whose
            // memory is not worth keeping.
            max_capacity: 4 << 20,
            initial_capacity: 256 << 10,
        }
    }
}

/// A bounded pool of reusable byte buffers, shared by cloning.
///
/// [`BufferPool::get`] hands out an empty [`PooledBuf`] that returns itself
/// when dropped. One mutex guards the idle list (held for a push or a pop,
/// never while allocating or freeing); counters are atomics.
#[derive(Clone)]
pub struct BufferPool {
    shared: Arc<Shared>,
}

struct Shared {
    /// Idle buffers, at the length their last user left; its capacity is reserved up front so that
    /// returning a buffer never reallocates the list.
    idle: Mutex<Vec<Vec<u8>>>,
    config: BufferPoolConfig,
    hits: AtomicU64,
    misses: AtomicU64,
    returned: AtomicU64,
    discarded_oversize: AtomicU64,
    discarded_full: AtomicU64,
    detached: AtomicU64,
    /// Updated under the `idle` lock, read without it.
    pooled: AtomicUsize,
    bytes_held: AtomicUsize,
}

/// A snapshot of a [`BufferPool`]'s counters.
///
/// Read field by field without a lock, so under concurrent use the fields
/// may be from slightly different instants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// `get` calls served by an idle buffer.
    pub hits: u64,
    /// `get` calls that had to allocate a new buffer.
    pub misses: u64,
    /// Buffers taken back into the pool on drop.
    pub returned: u64,
    /// Buffers dropped on return because their capacity exceeded
    /// [`BufferPoolConfig::max_capacity`].
    pub discarded_oversize: u64,
    /// Buffers dropped on return because the pool already held
    /// [`BufferPoolConfig::max_pooled`] idle buffers.
    pub discarded_full: u64,
    /// Buffers taken out of the pool for good with [`PooledBuf::into_inner`].
    pub detached: u64,
    /// Idle buffers in the pool now.
    pub pooled: usize,
    /// Total capacity, in bytes, of the idle buffers now.
    pub bytes_held: usize,
}

impl BufferPool {
    /// A pool keeping at most `max_pooled` idle buffers of at most
    /// `max_capacity` bytes each; new buffers start empty.
    pub fn new(max_pooled: usize, max_capacity: usize) -> Self {
        Self::with_config(BufferPoolConfig { max_pooled, max_capacity, initial_capacity: 0 })
    }

    /// A pool with the given limits.
    pub fn with_config(config: BufferPoolConfig) -> Self {
        let config = BufferPoolConfig { initial_capacity: config.initial_capacity.min(config.max_capacity), ..config };
        Self {
            shared: Arc::new(Shared {
                idle: Mutex::new(Vec::with_capacity(config.max_pooled)),
                config,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                returned: AtomicU64::new(0),
                discarded_oversize: AtomicU64::new(0),
                discarded_full: AtomicU64::new(0),
                detached: AtomicU64::new(0),
                pooled: AtomicUsize::new(0),
                bytes_held: AtomicUsize::new(0),
            }),
        }
    }

    /// The limits this pool was built with.
    pub fn config(&self) -> BufferPoolConfig {
        self.shared.config
    }

    /// A buffer still holding what its last user left in it (a new one is
    /// empty): for a writer that overwrites it in place, such as
    /// [`crate::encode::direct::encode_traces_tail`], which would otherwise
    /// pay to zero the bytes it then writes. An idle buffer if there is one
    /// (keeping its capacity), else a new one with
    /// [`BufferPoolConfig::initial_capacity`].
    pub fn get_initialized(&self) -> PooledBuf {
        let shared = &self.shared;
        let idle = {
            let mut list = shared.lock_idle();
            let buf = list.pop();
            if let Some(buf) = &buf {
                shared.pooled.store(list.len(), Ordering::Relaxed);
                shared.bytes_held.fetch_sub(buf.capacity(), Ordering::Relaxed);
            }
            buf
        };
        let buf = match idle {
            Some(buf) => {
                shared.hits.fetch_add(1, Ordering::Relaxed);
                buf
            }
            None => {
                shared.misses.fetch_add(1, Ordering::Relaxed);
                Vec::with_capacity(shared.config.initial_capacity)
            }
        };
        PooledBuf { buf, pool: Arc::clone(shared) }
    }

    /// An empty buffer: an idle one if there is one (keeping its capacity),
    /// else a new one with [`BufferPoolConfig::initial_capacity`].
    pub fn get(&self) -> PooledBuf {
        let mut buf = self.get_initialized();
        buf.clear();
        buf
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> PoolStats {
        let shared = &self.shared;
        PoolStats {
            hits: shared.hits.load(Ordering::Relaxed),
            misses: shared.misses.load(Ordering::Relaxed),
            returned: shared.returned.load(Ordering::Relaxed),
            discarded_oversize: shared.discarded_oversize.load(Ordering::Relaxed),
            discarded_full: shared.discarded_full.load(Ordering::Relaxed),
            detached: shared.detached.load(Ordering::Relaxed),
            pooled: shared.pooled.load(Ordering::Relaxed),
            bytes_held: shared.bytes_held.load(Ordering::Relaxed),
        }
    }
}

impl Default for BufferPool {
    fn default() -> Self {
        Self::with_config(BufferPoolConfig::default())
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool").field("config", &self.shared.config).field("stats", &self.stats()).finish()
    }
}

impl Shared {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // The list is valid between any two statements (a push or a pop), so
        // a panic elsewhere while the lock was held leaves nothing broken,
        // and a buffer's drop must not panic.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn put(&self, buf: Vec<u8>) {
        let capacity = buf.capacity();
        if capacity == 0 {
            // Emptied by its user (`mem::take`): nothing worth keeping.
            return;
        }
        if capacity > self.config.max_capacity {
            // Dropped rather than shrunk: shrinking reallocates anyway, and
            // the next miss allocates the usual size.
            self.discarded_oversize.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Kept at its length: the bytes stay initialized for
        // `get_initialized`, and `get` clears on the way out.
        let rejected = {
            let mut list = self.lock_idle();
            if list.len() < self.config.max_pooled {
                list.push(buf);
                self.pooled.store(list.len(), Ordering::Relaxed);
                self.bytes_held.fetch_add(capacity, Ordering::Relaxed);
                None
            } else {
                Some(buf)
            }
        };
        match rejected {
            // Freed here, after the lock is released.
            Some(buf) => {
                self.discarded_full.fetch_add(1, Ordering::Relaxed);
                drop(buf);
            }
            None => {
                self.returned.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A buffer on loan from a [`BufferPool`]; it returns to the pool when
/// dropped (from any thread).
pub struct PooledBuf {
    buf: Vec<u8>,
    pool: Arc<Shared>,
}

impl PooledBuf {
    /// Takes the buffer out of the pool for good, for a consumer that needs
    /// an owned `Vec<u8>` (e.g. a `Bytes` handed to the HTTP stack).
    pub fn into_inner(mut self) -> Vec<u8> {
        self.pool.detached.fetch_add(1, Ordering::Relaxed);
        // Leaves an empty `Vec` behind, which `put` ignores on drop.
        std::mem::take(&mut self.buf)
    }
}

/// A pooled buffer's bytes from `start` on, as the owner behind a `Bytes`.
struct Tail {
    buf: PooledBuf,
    start: usize,
}

impl AsRef<[u8]> for Tail {
    fn as_ref(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

impl PooledBuf {
    /// Hands the bytes from `start` on to a `Bytes` without copying them
    /// (one small allocation for the owner): the HTTP and gRPC stacks take
    /// `Bytes`, and the buffer returns to the pool when the last clone of
    /// it is dropped, retries included.
    ///
    /// # Panics
    /// If `start` is past the end.
    pub fn into_bytes_from(self, start: usize) -> bytes::Bytes {
        assert!(start <= self.buf.len(), "start {start} past the end {}", self.buf.len());
        bytes::Bytes::from_owner(Tail { buf: self, start })
    }

    /// [`PooledBuf::into_bytes_from`] the start.
    pub fn into_bytes(self) -> bytes::Bytes {
        self.into_bytes_from(0)
    }
}

impl Deref for PooledBuf {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        self.pool.put(std::mem::take(&mut self.buf));
    }
}

impl fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBuf").field("len", &self.buf.len()).field("capacity", &self.buf.capacity()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_hits_misses_and_returns() {
        let pool = BufferPool::new(4, 1 << 20);
        assert_eq!(pool.stats(), PoolStats::default());

        let mut first = pool.get();
        first.extend_from_slice(b"hello");
        let capacity = first.capacity();
        drop(first);
        let stats = pool.stats();
        assert_eq!((stats.hits, stats.misses, stats.returned), (0, 1, 1));
        assert_eq!((stats.pooled, stats.bytes_held), (1, capacity));

        let again = pool.get();
        assert!(again.is_empty(), "returned buffers are cleared");
        assert_eq!(again.capacity(), capacity, "and keep their capacity");
        let stats = pool.stats();
        assert_eq!((stats.hits, stats.misses, stats.pooled, stats.bytes_held), (1, 1, 0, 0));
    }

    #[test]
    fn initialized_buffers_keep_their_bytes_and_bytes_return_them() {
        let pool = BufferPool::new(4, 1 << 20);
        let mut first = pool.get();
        first.extend_from_slice(b"hello world");
        drop(first);
        let again = pool.get_initialized();
        assert_eq!(&again[..], b"hello world", "get_initialized keeps the bytes");
        let bytes = again.into_bytes_from(6);
        let clone = bytes.clone();
        assert_eq!(&clone[..], b"world");
        assert_eq!(pool.stats().pooled, 0, "on loan while a Bytes holds it");
        drop(bytes);
        assert_eq!(pool.stats().pooled, 0, "a clone still holds it");
        drop(clone);
        let stats = pool.stats();
        assert_eq!((stats.pooled, stats.returned, stats.hits), (1, 2, 1));
        assert!(pool.get().is_empty(), "get clears");
    }

    #[test]
    fn oversize_buffers_are_not_kept() {
        let pool = BufferPool::new(4, 1024);
        let mut big = pool.get();
        big.reserve(4096);
        drop(big);
        let stats = pool.stats();
        assert_eq!((stats.discarded_oversize, stats.returned, stats.pooled, stats.bytes_held), (1, 0, 0, 0));

        let mut fits = pool.get();
        fits.reserve_exact(1024);
        assert!(fits.capacity() <= 1024);
        drop(fits);
        assert_eq!(pool.stats().pooled, 1);
    }

    #[test]
    fn a_full_pool_drops_extra_buffers() {
        let pool =
            BufferPool::with_config(BufferPoolConfig { max_pooled: 2, max_capacity: 1024, initial_capacity: 64 });
        let bufs: Vec<_> = (0..3).map(|_| pool.get()).collect();
        drop(bufs);
        let stats = pool.stats();
        assert_eq!((stats.misses, stats.returned, stats.discarded_full), (3, 2, 1));
        assert_eq!((stats.pooled, stats.bytes_held), (2, 128));
    }

    #[test]
    fn initial_capacity_is_capped() {
        let pool =
            BufferPool::with_config(BufferPoolConfig { max_pooled: 1, max_capacity: 100, initial_capacity: 1000 });
        assert_eq!(pool.config().initial_capacity, 100);
        assert!(pool.get().capacity() >= 100);
        assert_eq!(BufferPool::default().config(), BufferPoolConfig::default());
    }

    #[test]
    fn detached_and_emptied_buffers_do_not_return() {
        let pool = BufferPool::new(4, 1 << 20);
        let mut buf = pool.get();
        buf.extend_from_slice(b"payload");
        let owned = buf.into_inner();
        assert_eq!(owned, b"payload");
        let mut emptied = pool.get();
        emptied.push(1);
        let _taken = std::mem::take(&mut *emptied);
        drop(emptied);
        let stats = pool.stats();
        assert_eq!((stats.detached, stats.returned, stats.pooled), (1, 0, 0));
    }

    #[test]
    fn shared_across_threads() {
        fn is_send_sync<T: Send + Sync>() {}
        is_send_sync::<BufferPool>();
        is_send_sync::<PooledBuf>();

        let pool = BufferPool::new(8, 1 << 16);
        std::thread::scope(|scope| {
            for worker in 0..4_u8 {
                let pool = pool.clone();
                scope.spawn(move || {
                    for _ in 0..1000 {
                        let mut buf = pool.get();
                        buf.extend_from_slice(&[worker; 100]);
                        assert!(buf.iter().all(|&byte| byte == worker));
                    }
                });
            }
        });
        let stats = pool.stats();
        assert_eq!(stats.hits + stats.misses, 4000);
        assert_eq!(stats.returned + stats.discarded_full, 4000);
        assert!(stats.misses <= 8, "at most one buffer per concurrent user: {stats:?}");
        assert_eq!(stats.bytes_held, stats.pooled * 100);
    }

    #[test]
    fn a_buffer_sent_to_another_thread_comes_back() {
        let pool = BufferPool::new(2, 1 << 16);
        let mut buf = pool.get();
        buf.extend_from_slice(b"batch");
        std::thread::spawn(move || assert_eq!(&buf[..], b"batch")).join().expect("thread");
        assert_eq!(pool.stats().pooled, 1);
    }
}
