//! The poller core shared by the providers without a long-poll (v1, SMSCode,
//! smsVerificationService): one poller per backend serves every wait_for_sms, so the requests
//! stay within the provider's pacing however many waits there are.
//!
//! A wait subscribes to a key (an order id, or what the provider needs to tell how to read it).
//! While any key is watched, one task polls: a first round after [`FIRST_ROUND_DELAY`] (waits that
//! start together share it), then one every interval (or what the provider's [`Reader::pause`]
//! says). A round hands the watched keys to the provider's [`Reader`], which reads them its own
//! way and publishes a snapshot per key as it goes; every wait on that key receives it and
//! decides for itself whether it is news. A key is unwatched when its last subscription is
//! dropped (a wait that ends or is cancelled), and the task stops when nothing is watched.
//!
//! Providers whose round is one read per waited order implement [`EachOrder`] instead, and their
//! waits run in [`Poller::wait_round`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::Result;
use crate::domain::{status, SmsPoll};

/// Waits that start together (a burst of tool calls) share the first round.
pub const FIRST_ROUND_DELAY: Duration = Duration::from_millis(50);

/// What a provider reads in a round; the core does the rest.
pub trait Reader: Send + Sync + Sized + 'static {
    /// What a wait watches: rounds see the keys in their order, each once.
    type Key: Ord + Clone + Send + Sync + 'static;
    /// What a round learnt about one key, handed to every wait on it.
    type Snapshot: Clone + Send + Sync + 'static;

    /// Reads the round's keys and publishes what it learnt ([`Round::publish`]); a key left
    /// unpublished wakes nobody this round.
    fn read_round(&self, round: &Round<'_, Self>) -> impl Future<Output = ()> + Send;

    /// How long after this round the next one starts, with `watched` keys: the interval unless
    /// the provider spaces busy rounds further.
    fn pause(&self, interval: Duration, _watched: usize) -> Duration {
        interval
    }
}

/// A provider whose round reads each waited order once, one after the other (through its paced
/// transport, so more orders make the rounds slower, never the rate higher).
pub trait EachOrder: Send + Sync + 'static {
    /// What one read learnt about an order, handed to every wait on it.
    type Snapshot: Clone + Send + Sync + 'static;

    /// One order's read; `None` publishes nothing this round (a failure that may pass).
    fn read(&self, order_id: &str) -> impl Future<Output = Option<Self::Snapshot>> + Send;

    /// As [`Reader::pause`].
    fn pause(&self, interval: Duration, _watched: usize) -> Duration {
        interval
    }
}

impl<T: EachOrder> Reader for T {
    type Key = String;
    type Snapshot = T::Snapshot;

    async fn read_round(&self, round: &Round<'_, Self>) {
        for order_id in round.keys() {
            if let Some(snapshot) = self.read(order_id).await {
                round.publish(order_id, snapshot);
            }
        }
    }

    fn pause(&self, interval: Duration, watched: usize) -> Duration {
        EachOrder::pause(self, interval, watched)
    }
}

/// One round of wait_for_sms, as the tools ask for it.
#[derive(Debug, Clone, Copy)]
pub struct Wait<'a> {
    pub order_id: &'a str,
    /// The id of the last message the caller has seen.
    pub since: Option<&'a str>,
    /// How long the round may wait.
    pub window: Duration,
}

impl<'a> Wait<'a> {
    pub fn new(order_id: &'a str, since: Option<&'a str>, window: Duration) -> Self {
        Self {
            order_id,
            since,
            window,
        }
    }
}

/// One key's waiters and where its snapshots go.
struct Watched<S> {
    waiters: usize,
    latest: watch::Sender<Option<S>>,
}

struct Watches<R: Reader> {
    by_key: BTreeMap<R::Key, Watched<R::Snapshot>>,
    running: bool,
}

/// One poller of a backend: its reader, the round interval and what is watched.
pub struct Poller<R: Reader> {
    reader: R,
    interval: Duration,
    watches: Mutex<Watches<R>>,
}

/// A registered wait on one key; dropping it unregisters.
pub struct Subscription<R: Reader> {
    poller: Arc<Poller<R>>,
    key: R::Key,
    latest: watch::Receiver<Option<R::Snapshot>>,
}

/// A round in progress: the keys to read, and where their snapshots go.
pub struct Round<'a, R: Reader> {
    poller: &'a Poller<R>,
    keys: Vec<R::Key>,
}

impl<R: Reader> Poller<R> {
    pub fn new(reader: R, interval: Duration) -> Self {
        Self {
            reader,
            interval,
            watches: Mutex::new(Watches {
                by_key: BTreeMap::new(),
                running: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Watches<R>> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watches `key` until the subscription is dropped; only rounds after this call count as
    /// news for it. Starts the polling task when it is not running.
    pub fn subscribe(self: &Arc<Self>, key: R::Key) -> Subscription<R> {
        let mut watches = self.lock();
        let watched = watches
            .by_key
            .entry(key.clone())
            .or_insert_with(|| Watched {
                waiters: 0,
                latest: watch::channel(None).0,
            });
        watched.waiters += 1;
        let mut latest = watched.latest.subscribe();
        latest.mark_unchanged();
        if !watches.running {
            watches.running = true;
            tokio::spawn(self.clone().run());
        }
        Subscription {
            poller: self.clone(),
            key,
            latest,
        }
    }

    /// Polls while anything is watched: a first round right away, then one every pause.
    async fn run(self: Arc<Self>) {
        let mut pause = FIRST_ROUND_DELAY.min(self.interval);
        loop {
            tokio::time::sleep(pause).await;
            let keys: Vec<R::Key> = {
                let mut watches = self.lock();
                if watches.by_key.is_empty() {
                    watches.running = false;
                    return;
                }
                watches.by_key.keys().cloned().collect()
            };
            pause = self.reader.pause(self.interval, keys.len());
            let round = Round {
                poller: &self,
                keys,
            };
            self.reader.read_round(&round).await;
        }
    }
}

impl<R: Reader<Key = String>> Poller<R> {
    /// One round of wait_for_sms on a poller whose waits watch order ids: each snapshot of the
    /// order becomes a poll through `to_poll` (`None`: it tells nothing; an error ends the wait
    /// with it), returned when it is `news` or the order ended. When the window passes: the
    /// last poll, or "still waiting" when there was none.
    pub async fn wait_round<Fut>(
        self: &Arc<Self>,
        wait: Wait<'_>,
        mut to_poll: impl FnMut(R::Snapshot) -> Fut,
        news: impl Fn(&SmsPoll) -> bool,
    ) -> Result<SmsPoll>
    where
        Fut: Future<Output = Result<Option<SmsPoll>>>,
    {
        let deadline = Instant::now() + wait.window;
        let mut subscription = self.subscribe(wait.order_id.to_owned());
        let mut last: Option<SmsPoll> = None;
        while let Some(snapshot) = subscription.next(deadline).await {
            let Some(poll) = to_poll(snapshot).await? else {
                continue;
            };
            if news(&poll) || status::is_terminal(&poll.status) {
                return Ok(poll);
            }
            last = Some(poll);
        }
        Ok(last.unwrap_or_else(|| still_waiting(wait.order_id)))
    }
}

impl<R: Reader> Round<'_, R> {
    /// The keys watched when the round started, in order.
    pub fn keys(&self) -> &[R::Key] {
        &self.keys
    }

    /// The poller's round interval (a provider's budget may depend on it).
    pub fn interval(&self) -> Duration {
        self.poller.interval
    }

    /// Hands `snapshot` to every wait on `key` (none, if its waits ended meanwhile).
    pub fn publish(&self, key: &R::Key, snapshot: R::Snapshot) {
        if let Some(w) = self.poller.lock().by_key.get(key) {
            w.latest.send_replace(Some(snapshot));
        }
    }
}

impl<R: Reader> Subscription<R> {
    /// The key this subscription watches.
    pub fn key(&self) -> &R::Key {
        &self.key
    }

    /// The next snapshot published for the key since the last one taken, or `None` when
    /// `deadline` passes first.
    pub async fn next(&mut self, deadline: Instant) -> Option<R::Snapshot> {
        loop {
            tokio::select! {
                changed = self.latest.changed() => changed.ok()?,
                _ = tokio::time::sleep_until(deadline) => return None,
            }
            if let Some(snapshot) = self.latest.borrow_and_update().clone() {
                return Some(snapshot);
            }
        }
    }
}

impl<R: Reader> Drop for Subscription<R> {
    fn drop(&mut self) {
        let mut watches = self.poller.lock();
        if let Some(w) = watches.by_key.get_mut(&self.key) {
            w.waiters -= 1;
            if w.waiters == 0 {
                watches.by_key.remove(&self.key);
            }
        }
    }
}

/// The answer of a wait round that saw nothing yet.
pub fn still_waiting(order_id: &str) -> SmsPoll {
    SmsPoll {
        order_id: order_id.to_owned(),
        status: status::WAITING.to_owned(),
        messages: Vec::new(),
        code: None,
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const INTERVAL: Duration = Duration::from_secs(5);

    /// Publishes the round's number for every key, records the keys of each round, and spaces
    /// the rounds by one interval per key watched (to see that the core asks).
    #[derive(Default)]
    struct Counter {
        rounds: AtomicUsize,
        keys: Mutex<Vec<Vec<u32>>>,
    }

    impl Reader for Counter {
        type Key = u32;
        type Snapshot = usize;

        async fn read_round(&self, round: &Round<'_, Self>) {
            let n = self.rounds.fetch_add(1, Ordering::SeqCst) + 1;
            self.keys.lock().unwrap().push(round.keys().to_vec());
            for key in round.keys() {
                round.publish(key, n);
            }
        }

        fn pause(&self, interval: Duration, watched: usize) -> Duration {
            interval * watched as u32
        }
    }

    fn poller() -> Arc<Poller<Counter>> {
        Arc::new(Poller::new(Counter::default(), INTERVAL))
    }

    #[tokio::test(start_paused = true)]
    async fn waits_on_a_key_share_each_round_and_the_first_comes_early() {
        let p = poller();
        let start = Instant::now();
        let far = start + Duration::from_secs(600);
        let (mut a, mut b, mut c) = (p.subscribe(9), p.subscribe(7), p.subscribe(9));
        assert_eq!(a.next(far).await, Some(1));
        assert_eq!(start.elapsed(), FIRST_ROUND_DELAY);
        assert_eq!((b.next(far).await, c.next(far).await), (Some(1), Some(1)));
        assert_eq!(a.next(far).await, Some(2));
        // Two keys watched: the reader asked for two intervals.
        assert_eq!(start.elapsed(), FIRST_ROUND_DELAY + 2 * INTERVAL);
        assert_eq!(*p.reader.keys.lock().unwrap(), [[7, 9], [7, 9]]);
        drop(b);
        assert_eq!(c.next(far).await, Some(2));
        assert_eq!(c.next(far).await, Some(3));
        assert_eq!(p.reader.keys.lock().unwrap()[2], [9]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_wait_sees_only_later_rounds_and_the_task_stops_when_nobody_waits() {
        let p = poller();
        let far = Instant::now() + Duration::from_secs(600);
        let mut first = p.subscribe(1);
        assert_eq!(first.next(far).await, Some(1));
        let mut late = p.subscribe(1);
        assert_eq!(late.next(far).await, Some(2), "round 1 is not news for it");
        drop((first, late));
        tokio::time::sleep(INTERVAL * 3).await;
        assert!(!p.lock().running && p.lock().by_key.is_empty());
        assert_eq!(p.reader.rounds.load(Ordering::SeqCst), 2);
        let mut again = p.subscribe(2);
        let restarted = Instant::now();
        assert_eq!(again.next(far).await, Some(3));
        assert_eq!(restarted.elapsed(), FIRST_ROUND_DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_ends_the_wait_without_a_snapshot() {
        let p = poller();
        let mut wait = p.subscribe(1);
        let deadline = Instant::now() + FIRST_ROUND_DELAY / 2;
        assert_eq!(wait.next(deadline).await, None);
        assert_eq!(p.reader.rounds.load(Ordering::SeqCst), 0);
        assert_eq!(wait.key(), &1);
    }
}
