//! Recycled attribute and event lists.
//!
//! Every span carries a few small `Vec`s (its attributes, its events, each
//! event's attributes) and a batch frees them all at once after encoding,
//! a few per span. That is far past glibc's per-thread cache (7 blocks per
//! size), so each of those frees, and each malloc of the next batch, takes
//! the allocator's slow path. (What recycling saves per span is in the
//! README's benchmark section.)
//!
//! So the pipeline hands the emptied lists of an encoded batch back here,
//! and the builders ([`crate::model::SpanBuilder`], [`crate::model::Event`],
//! [`crate::model::LogRecordBuilder`]) take their first list from here
//! instead of the allocator. Lists move between threads in chunks of
//! [`CHUNK`] through one shared, bounded stock, so the lock is taken once per
//! chunk, and a producer thread that never exports still gets the lists its
//! batcher freed.
//!
//! Bounded three ways: a list longer than [`MAX_CAPACITY`] is freed, not
//! kept; the stock holds at most [`MAX_CHUNKS`] chunks, plus room for the
//! lists of what the running pipelines can hold in flight ([`room_for`]);
//! and each thread keeps at most two chunks of its own. Without that room,
//! a pipeline whose queue holds more spans than the stock holds lists freed
//! lists after every export and allocated them again for the next spans
//! (in the lab's whole-exporter run, about 1,000 more list allocations
//! between its 2,000th and 10,000th span). [`release`] empties the stock
//! and this thread's chunks (a leak audit calls it; other threads free
//! theirs at exit).

use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::LocalKey;

use crate::model::{Event, KeyValue, LogsData, Span, TracesData};

/// Lists moved between a thread and the shared stock at once.
pub const CHUNK: usize = 64;
/// Chunks' worth of lists the shared stock keeps at most with no pipeline
/// running (2,048 lists); each running pipeline adds room ([`room_for`]).
pub const MAX_CHUNKS: usize = 32;
/// Lists of one kind a telemetry item in flight holds, for the stock's
/// room: a span's attributes and its event's attributes (event lists need
/// one per span, and get the same room).
pub const LISTS_PER_ITEM: usize = 2;
/// Lists with room for more items than this are freed rather than kept, so
/// that one huge span does not pin its memory.
pub const MAX_CAPACITY: usize = 32;

/// A thread's own lists: `take` serves the builders, `give` collects what
/// its batcher returns; a full `give` goes to the shared stock.
struct Local<T> {
    take: Vec<Vec<T>>,
    give: Vec<Vec<T>>,
}

impl<T> Local<T> {
    const fn new() -> Self {
        Local { take: Vec::new(), give: Vec::new() }
    }
}

/// Lists the shared stock keeps at most with no pipeline running: one block
/// of this many is reserved at the first hand-over, so that moving lists
/// between threads (a chunk at a time, by value) allocates nothing after it
/// while no more room is asked for.
const MAX_LISTS: usize = MAX_CHUNKS * CHUNK;

/// One kind of list: a thread-local cache in front of a shared stock.
struct Recycler<T: 'static> {
    local: &'static LocalKey<RefCell<Local<T>>>,
    stock: &'static Mutex<Vec<Vec<T>>>,
    /// Items in flight in the running pipelines ([`room_for`]).
    room: &'static AtomicUsize,
}

impl<T> Recycler<T> {
    /// An empty list with room, or a new empty one (which allocates on its
    /// first push, as usual).
    #[inline]
    fn take(&self) -> Vec<T> {
        // A builder used inside the recycler's own drop (a `Display` impl
        // dropping a span?) finds the cell borrowed: it just allocates.
        self.local
            .try_with(|l| l.try_borrow_mut().ok().and_then(|mut l| self.take_from(&mut l)))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn take_from(&self, l: &mut Local<T>) -> Option<Vec<T>> {
        if let Some(v) = l.take.pop() {
            return Some(v);
        }
        if !l.give.is_empty() {
            // Producer and batcher on one thread: no need for the stock.
            std::mem::swap(&mut l.take, &mut l.give);
            return l.take.pop();
        }
        let mut stock = self.stock.lock().ok()?;
        let from = stock.len().saturating_sub(CHUNK);
        if from == stock.len() {
            return None;
        }
        if l.take.capacity() == 0 {
            l.take.reserve_exact(CHUNK);
        }
        l.take.extend(stock.drain(from..));
        drop(stock);
        l.take.pop()
    }

    /// Runs `f` with this thread's cache, or with none during thread
    /// teardown or a re-entrant call (the lists are then just freed).
    #[inline]
    fn with_local(&self, f: impl FnOnce(Option<&mut Local<T>>)) {
        let mut f = Some(f);
        let _ = self.local.try_with(|l| {
            if let Ok(mut l) = l.try_borrow_mut() {
                (f.take().expect("called once"))(Some(&mut l));
            }
        });
        if let Some(f) = f {
            f(None);
        }
    }

    /// Empties `list` (dropping its items) and keeps its block if there is room.
    #[inline]
    fn give(&self, l: &mut Local<T>, mut list: Vec<T>) {
        list.clear();
        let cap = list.capacity();
        if cap == 0 || cap > MAX_CAPACITY {
            return;
        }
        if l.give.capacity() == 0 {
            l.give.reserve_exact(CHUNK);
        }
        l.give.push(list);
        if l.give.len() >= CHUNK {
            if let Ok(mut stock) = self.stock.lock() {
                let max = self.max_lists();
                if stock.capacity() < max {
                    let len = stock.len();
                    stock.reserve_exact(max - len);
                }
                let n = max.saturating_sub(stock.len()).min(l.give.len());
                stock.extend(l.give.drain(..n));
            }
            // What the stock had no room for (nobody takes: producers that
            // clone spans, or build them by hand) is freed.
            l.give.clear();
        }
    }

    /// What the stock keeps at most now.
    fn max_lists(&self) -> usize {
        MAX_LISTS.saturating_add(self.room.load(Ordering::Relaxed).saturating_mul(LISTS_PER_ITEM))
    }

    /// Frees what the stock holds beyond what it may keep now (after a
    /// pipeline stopped).
    fn trim(&self) {
        if let Ok(mut stock) = self.stock.lock() {
            let max = self.max_lists();
            if stock.len() > max {
                stock.truncate(max);
                stock.shrink_to(max);
            }
        }
    }

    fn release(&self) {
        if let Ok(mut stock) = self.stock.lock() {
            *stock = Vec::new();
        }
        self.with_local(|l| {
            if let Some(l) = l {
                *l = Local::new();
            }
        });
    }
}

thread_local! {
    static LOCAL_KEY_VALUES: RefCell<Local<KeyValue>> = const { RefCell::new(Local::new()) };
    static LOCAL_EVENTS: RefCell<Local<Event>> = const { RefCell::new(Local::new()) };
}
static STOCK_KEY_VALUES: Mutex<Vec<Vec<KeyValue>>> = Mutex::new(Vec::new());
static STOCK_EVENTS: Mutex<Vec<Vec<Event>>> = Mutex::new(Vec::new());

/// Items the running pipelines can hold in flight, summed.
static PIPELINE_ROOM: AtomicUsize = AtomicUsize::new(0);

static KEY_VALUES: Recycler<KeyValue> =
    Recycler { local: &LOCAL_KEY_VALUES, stock: &STOCK_KEY_VALUES, room: &PIPELINE_ROOM };
static EVENTS: Recycler<Event> = Recycler { local: &LOCAL_EVENTS, stock: &STOCK_EVENTS, room: &PIPELINE_ROOM };

/// Room in the stocks for the lists of `items` telemetry items, kept while
/// the returned value lives. A pipeline asks for its queue plus a batch:
/// what it can hold in flight, whose lists come back after each export and
/// are needed again by the next spans. The memory so kept is what the
/// pipeline held at its fullest anyway.
pub(crate) fn room_for(items: usize) -> StockRoom {
    PIPELINE_ROOM.fetch_add(items, Ordering::Relaxed);
    StockRoom { items }
}

/// Room asked for with [`room_for`]; dropping it gives the room back and
/// frees the lists the stocks then hold beyond it.
#[derive(Debug)]
pub(crate) struct StockRoom {
    items: usize,
}

impl Drop for StockRoom {
    fn drop(&mut self) {
        PIPELINE_ROOM.fetch_sub(self.items, Ordering::Relaxed);
        KEY_VALUES.trim();
        EVENTS.trim();
    }
}

/// An empty attribute list, recycled when one is at hand.
#[inline]
pub(crate) fn key_values() -> Vec<KeyValue> {
    KEY_VALUES.take()
}

/// An empty event list, recycled when one is at hand.
#[inline]
pub(crate) fn events() -> Vec<Event> {
    EVENTS.take()
}

/// Takes the attribute and event lists out of every span of `data` for
/// reuse; what is left of `data` is then dropped as usual.
pub fn recycle_traces(data: &mut TracesData) {
    KEY_VALUES.with_local(|kvs| {
        let Some(kvs) = kvs else { return };
        EVENTS.with_local(|evs| {
            let Some(evs) = evs else { return };
            for rs in &mut data.resource_spans {
                for ss in &mut rs.scope_spans {
                    for s in &mut ss.spans {
                        give_span(kvs, evs, s);
                    }
                }
            }
        });
    });
}

/// Takes the attribute and event lists out of one span that will not be
/// exported (sampled out, or refused by a full queue), for reuse.
pub fn recycle_span(span: &mut Span) {
    KEY_VALUES.with_local(|kvs| {
        let Some(kvs) = kvs else { return };
        EVENTS.with_local(|evs| {
            let Some(evs) = evs else { return };
            give_span(kvs, evs, span);
        });
    });
}

fn give_span(kvs: &mut Local<KeyValue>, evs: &mut Local<Event>, s: &mut Span) {
    KEY_VALUES.give(kvs, std::mem::take(&mut s.attributes));
    for e in &mut s.events {
        KEY_VALUES.give(kvs, std::mem::take(&mut e.attributes));
    }
    EVENTS.give(evs, std::mem::take(&mut s.events));
}

/// Takes the attribute list out of every record of `data` for reuse.
pub fn recycle_logs(data: &mut LogsData) {
    KEY_VALUES.with_local(|kvs| {
        let Some(kvs) = kvs else { return };
        for rl in &mut data.resource_logs {
            for sl in &mut rl.scope_logs {
                for r in &mut sl.log_records {
                    KEY_VALUES.give(kvs, std::mem::take(&mut r.attributes));
                }
            }
        }
    });
}

/// Frees every kept list: the shared stock's and this thread's. A leak audit
/// calls it after a job, so that this bounded cache is not counted as memory
/// the job left behind.
pub fn release() {
    KEY_VALUES.release();
    EVENTS.release();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    // The global recycler is shared with every other test of this binary
    // (pipelines recycle): only this thread's cache is asserted on. The
    // stock's rules are tested on a recycler of the test's own.
    thread_local! {
        static OWN_LOCAL: RefCell<Local<u32>> = const { RefCell::new(Local::new()) };
    }
    static OWN_STOCK: Mutex<Vec<Vec<u32>>> = Mutex::new(Vec::new());
    static OWN_ROOM: AtomicUsize = AtomicUsize::new(0);
    static OWN: Recycler<u32> = Recycler { local: &OWN_LOCAL, stock: &OWN_STOCK, room: &OWN_ROOM };

    fn give_own(lists: impl IntoIterator<Item = Vec<u32>>) {
        OWN.with_local(|l| {
            let l = l.expect("cache available");
            for list in lists {
                OWN.give(l, list);
            }
        });
    }

    fn local_is_empty() -> bool {
        LOCAL_KEY_VALUES.with(|l| {
            let l = l.borrow();
            l.take.is_empty() && l.give.is_empty()
        })
    }

    #[test]
    fn lists_of_an_encoded_batch_come_back_empty_with_their_room() {
        release();
        assert!(local_is_empty());
        // One more than two chunks: some lists stay in this thread's cache.
        let mut data = fixtures::traces(CHUNK * 2 + 1);
        recycle_traces(&mut data);
        assert!(data.spans().all(|s| s.attributes.capacity() == 0 && s.events.capacity() == 0));
        assert!(!local_is_empty());
        let kv = key_values();
        assert!(kv.is_empty() && kv.capacity() >= 1, "{}", kv.capacity());
        let ev = events();
        assert!(ev.is_empty() && ev.capacity() >= 1);
        release();
        assert!(local_is_empty(), "released: nothing kept here");
    }

    #[test]
    fn a_long_list_is_freed_the_stock_is_bounded_and_another_thread_takes_what_one_gave() {
        give_own([Vec::with_capacity(MAX_CAPACITY + 1), Vec::new()]);
        assert_eq!(OWN.take().capacity(), 0, "neither the long nor the empty list was kept");
        give_own((0..CHUNK * (MAX_CHUNKS + 4)).map(|i| vec![i as u32]));
        assert_eq!(OWN_STOCK.lock().expect("not poisoned").len(), MAX_LISTS);
        let list = OWN.take();
        assert!(list.is_empty() && list.capacity() == 1, "cleared, room kept");
        OWN.release();
        assert!(OWN_STOCK.lock().expect("not poisoned").is_empty());
        assert_eq!(OWN.take().capacity(), 0);

        // One recycler, one test: the steps above and below share its stock.
        // Exactly one chunk: it goes to the stock, none stays here.
        std::thread::spawn(|| give_own((0..CHUNK).map(|i| Vec::with_capacity(i % 8 + 1)))).join().expect("giver");
        let got = std::thread::spawn(|| (0..CHUNK).map(|_| OWN.take().capacity()).filter(|&c| c > 0).count())
            .join()
            .expect("taker");
        assert_eq!(got, CHUNK);

        // Room asked for by running pipelines raises the bound; giving it
        // back frees what the stock holds beyond the bound.
        OWN.release();
        OWN_ROOM.store(CHUNK, Ordering::Relaxed);
        give_own((0..CHUNK * (MAX_CHUNKS + 4)).map(|i| vec![i as u32]));
        assert_eq!(OWN_STOCK.lock().expect("not poisoned").len(), MAX_LISTS + CHUNK * LISTS_PER_ITEM);
        OWN_ROOM.store(0, Ordering::Relaxed);
        OWN.trim();
        assert_eq!(OWN_STOCK.lock().expect("not poisoned").len(), MAX_LISTS);
        OWN.release();
    }
}
