//! The pipeline's bounded queue: many producers, one consumer (the batcher).
//!
//! A ring allocated once at start (crossbeam's `ArrayQueue`) with tokio
//! `Notify`s for waking. tokio's mpsc allocated a 32-slot block every 32 items
//! and did not reliably reuse them (the lab's heap runs showed new blocks in
//! every batch); this queue allocates nothing after `channel`, so the
//! pipeline's steady state allocates per batch, never per item.
//!
//! Closing is exact: `close` waits out producers caught between their
//! "closed?" check and their push, so after `close` no item can arrive
//! unseen, and every item offered is either taken by the batcher or refused
//! (and counted) by the producer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use crossbeam_queue::ArrayQueue;
use tokio::sync::Notify;

use super::Item;

struct Shared {
    ring: ArrayQueue<Item>,
    closed: AtomicBool,
    /// Live `Sender`s; the queue ends when the last one is dropped.
    senders: AtomicUsize,
    /// Producers between their closed check and the end of their push.
    pushing: AtomicUsize,
    /// Wakes the consumer: an item arrived, or the queue may have ended.
    items: Notify,
    /// Wakes producers waiting for room in `send`, or for the close.
    room: Notify,
}

/// Why `try_send` did not take the item (handed back).
#[derive(Debug)]
pub(super) enum TrySendError {
    /// The ring is full.
    Full(Item),
    /// The queue is closed.
    Closed(Item),
}

/// The producers' end; clone freely.
pub(super) struct Sender {
    shared: Arc<Shared>,
}

/// The consumer's end (the batcher's).
pub(super) struct Receiver {
    shared: Arc<Shared>,
}

/// A queue holding up to `capacity` items (at least one).
pub(super) fn channel(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        ring: ArrayQueue::new(capacity.max(1)),
        closed: AtomicBool::new(false),
        senders: AtomicUsize::new(1),
        pushing: AtomicUsize::new(0),
        items: Notify::new(),
        room: Notify::new(),
    });
    (Sender { shared: shared.clone() }, Receiver { shared })
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.shared.ring.len())
            .field("capacity", &self.shared.ring.capacity())
            .finish()
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, SeqCst);
        Sender { shared: self.shared.clone() }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, SeqCst) == 1 {
            self.shared.items.notify_one();
        }
    }
}

// Refusals hand the item back by value, as `Handle::try_item` does: boxing
// would allocate on the overload path.
#[allow(clippy::result_large_err)]
impl Sender {
    /// Pushes unless the queue is full or closed. The `pushing` count brackets
    /// the closed check and the push (both SeqCst, against `close`'s store and
    /// load): either `close` sees this producer and waits for it, or the
    /// producer sees the close.
    fn push(&self, item: Item) -> Result<(), TrySendError> {
        let s = &*self.shared;
        s.pushing.fetch_add(1, SeqCst);
        let result = if s.closed.load(SeqCst) {
            Err(TrySendError::Closed(item))
        } else {
            s.ring.push(item).map_err(TrySendError::Full)
        };
        s.pushing.fetch_sub(1, SeqCst);
        // On success: an item to take. On a refusal after close: the consumer
        // may be waiting for `pushing` to reach zero.
        if !matches!(result, Err(TrySendError::Full(_))) {
            s.items.notify_one();
        }
        result
    }

    /// Offers an item without waiting.
    pub(super) fn try_send(&self, item: Item) -> Result<(), TrySendError> {
        self.push(item)
    }

    /// Waits for room for an item that found the queue full (the fast path,
    /// [`Sender::try_send`], takes no lock: registering a waiter does); fails,
    /// handing the item back, only once closed.
    pub(super) async fn wait_for_room(&self, mut item: Item) -> Result<(), Item> {
        loop {
            // Registered before the retry, so a pop between a failed push
            // and the wait still wakes this producer.
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.push(item) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(back)) => return Err(back),
                Err(TrySendError::Full(back)) => item = back,
            }
            room.await;
        }
    }
}

impl Receiver {
    /// True once nothing more can arrive and the ring is empty.
    fn ended(&self) -> bool {
        let s = &*self.shared;
        (s.closed.load(SeqCst) || s.senders.load(SeqCst) == 0) && s.pushing.load(SeqCst) == 0 && s.ring.is_empty()
    }

    /// Takes an item if one is queued.
    pub(super) fn try_recv(&self) -> Option<Item> {
        let item = self.shared.ring.pop()?;
        self.shared.room.notify_one();
        Some(item)
    }

    /// The next item; `None` once the queue is closed (or every sender is
    /// gone) and drained.
    pub(super) async fn recv(&self) -> Option<Item> {
        if let Some(item) = self.try_recv() {
            return Some(item);
        }
        loop {
            let arrived = self.shared.items.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(item) = self.try_recv() {
                return Some(item);
            }
            if self.ended() {
                return None;
            }
            arrived.await;
        }
    }

    /// Refuses every later offer, and wakes producers waiting for room so
    /// that they see it. Items already queued stay for `recv`.
    pub(super) fn close(&self) {
        self.shared.closed.store(true, SeqCst);
        self.shared.room.notify_waiters();
    }

    /// Closes the queue and takes out everything left in it, without
    /// awaiting: the batcher's last act when it dies (a panic unwinds
    /// through its `Drop`, where nothing can be awaited). Returns how many
    /// items (`Item::count`) it took.
    ///
    /// A producer caught between its closed check and its push (a few
    /// instructions, see `Sender::push`) is waited out, yielding the thread,
    /// so that its item is taken too; every later offer sees the close and is
    /// refused (and counted) by the producer.
    pub(super) fn close_and_drain(&self) -> u64 {
        self.close();
        let mut items = 0;
        loop {
            // Read before the drain: when no push was in progress after the
            // close, every item that will ever be in the ring is there now.
            let settled = self.shared.pushing.load(SeqCst) == 0;
            while let Some(item) = self.try_recv() {
                items += item.count();
            }
            if settled {
                return items;
            }
            std::thread::yield_now();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn span() -> Item {
        Item::Span(fixtures::spans(1).remove(0))
    }

    #[test]
    fn full_and_closed_refusals_hand_the_item_back() {
        let (tx, rx) = channel(2);
        assert!(tx.try_send(span()).is_ok());
        assert!(tx.try_send(span()).is_ok());
        assert!(matches!(tx.try_send(span()), Err(TrySendError::Full(Item::Span(_)))));
        assert!(rx.try_recv().is_some());
        assert!(tx.try_send(span()).is_ok());
        rx.close();
        assert!(matches!(tx.try_send(span()), Err(TrySendError::Closed(Item::Span(_)))));
        // What was queued before the close is still delivered, then the end.
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            assert!(rx.recv().await.is_some());
            assert!(rx.recv().await.is_some());
            assert!(rx.recv().await.is_none());
        });
    }

    /// What `Handle::send` does: the fast path, then the wait.
    async fn send(tx: &Sender, item: Item) -> Result<(), Item> {
        match tx.try_send(item) {
            Ok(()) => Ok(()),
            Err(TrySendError::Closed(item)) => Err(item),
            Err(TrySendError::Full(item)) => tx.wait_for_room(item).await,
        }
    }

    #[test]
    fn ends_when_the_last_sender_leaves_and_wakes_blocked_senders_on_close() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            let (tx, rx) = channel(1);
            let tx2 = tx.clone();
            send(&tx, span()).await.unwrap();
            // The ring is full: this send waits until the close refuses it.
            let blocked = tokio::spawn(async move { send(&tx2, span()).await.is_err() });
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            rx.close();
            assert!(blocked.await.unwrap(), "a blocked send must fail after close");
            assert!(rx.recv().await.is_some());
            assert!(rx.recv().await.is_none());

            let (tx, rx) = channel(4);
            let producer = tokio::spawn(async move {
                for _ in 0..100 {
                    send(&tx, span()).await.unwrap();
                }
            });
            let mut got = 0;
            while rx.recv().await.is_some() {
                got += 1;
            }
            producer.await.unwrap();
            assert_eq!(got, 100, "every item sent arrives before the end");
        });
    }

    #[test]
    fn concurrent_producers_and_a_close_lose_nothing() {
        // Producers on OS threads, so pushes really race the close.
        let (tx, rx) = channel(64);
        let producers: Vec<_> = (0..4)
            .map(|_| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let (mut taken, mut refused) = (0u64, 0u64);
                    for _ in 0..5_000 {
                        match tx.try_send(span()) {
                            Ok(()) => taken += 1,
                            Err(_) => refused += 1,
                        }
                    }
                    (taken, refused)
                })
            })
            .collect();
        drop(tx);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got = rt.block_on(async {
            let mut got = 0u64;
            while let Some(_item) = rx.recv().await {
                got += 1;
                if got == 2_000 {
                    rx.close();
                }
            }
            got
        });
        let (mut taken, mut refused) = (0, 0);
        for p in producers {
            let (t, r) = p.join().unwrap();
            taken += t;
            refused += r;
        }
        assert_eq!(taken + refused, 20_000);
        assert_eq!(got, taken, "every item the queue took was received");
    }

    #[test]
    fn close_and_drain_loses_nothing_to_concurrent_producers() {
        // What a panicking batcher does, without awaiting, while producers on
        // OS threads keep pushing: each item is taken before the close,
        // drained by it, or refused (and counted) by its producer.
        let (tx, rx) = channel(256);
        let producers: Vec<_> = (0..4)
            .map(|_| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let (mut taken, mut refused) = (0u64, 0u64);
                    for _ in 0..20_000 {
                        match tx.try_send(span()) {
                            Ok(()) => taken += 1,
                            Err(TrySendError::Full(_)) => {
                                refused += 1;
                                std::thread::yield_now();
                            }
                            Err(TrySendError::Closed(_)) => refused += 1,
                        }
                    }
                    (taken, refused)
                })
            })
            .collect();
        let mut received = 0u64;
        // Until some items went through (or the producers are done, on a
        // machine too busy to interleave them).
        while received < 1_000 && !producers.iter().all(std::thread::JoinHandle::is_finished) {
            if rx.try_recv().is_some() {
                received += 1;
            } else {
                std::thread::yield_now();
            }
        }
        let drained = rx.close_and_drain();
        let (mut taken, mut refused) = (0, 0);
        for p in producers {
            let (t, r) = p.join().unwrap();
            taken += t;
            refused += r;
        }
        assert_eq!(taken + refused, 80_000);
        assert_eq!(received + drained, taken, "every item the queue took was received or drained");
        assert!(rx.try_recv().is_none() && matches!(tx.try_send(span()), Err(TrySendError::Closed(_))));
    }
}
