//! A worker's connection deadlines, kept in one list per kind of wait.
//!
//! Every kind of wait has one fixed duration (header, keep-alive, write,
//! linger), so a deadline set "now + duration" is never earlier than the ones
//! already in its list: appending keeps each list sorted. Arming, re-arming
//! and cancelling are O(1) (an intrusive doubly-linked list indexed by the
//! connection's slab key, as nginx and lighttpd keep theirs), the next
//! deadline is the earliest of a handful of list heads, and expiry pops from
//! the heads: no connection is looked at before its time.

use std::time::Instant;

/// What a connection is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The rest of a request's header section (`--header-timeout`).
    Header,
    /// The next request on a keep-alive connection (`--keepalive-timeout`).
    Idle,
    /// The client to take more of a response (`--write-timeout`).
    Write,
    /// The client to finish sending after we shut down our side.
    Linger,
}

pub const KINDS: usize = 4;
const NIL: usize = usize::MAX;

impl Wait {
    /// Every kind, in [`index`](Wait::index) order.
    pub const ALL: [Wait; KINDS] = [Wait::Header, Wait::Idle, Wait::Write, Wait::Linger];

    pub fn index(self) -> usize {
        match self {
            Wait::Header => 0,
            Wait::Idle => 1,
            Wait::Write => 2,
            Wait::Linger => 3,
        }
    }
}

#[derive(Clone, Copy)]
struct Link {
    wait: Option<Wait>,
    at: Instant,
    prev: usize,
    next: usize,
}

/// The deadlines of one worker's connections, by slab key.
pub struct Deadlines {
    links: Vec<Link>,
    head: [usize; KINDS],
    tail: [usize; KINDS],
    /// Connections in each list.
    len: [usize; KINDS],
}

impl Deadlines {
    pub fn new() -> Deadlines {
        Deadlines {
            links: Vec::new(),
            head: [NIL; KINDS],
            tail: [NIL; KINDS],
            len: [0; KINDS],
        }
    }

    /// The deadline armed for `key`, if any.
    pub fn get(&self, key: usize) -> Option<(Wait, Instant)> {
        let link = self.links.get(key)?;
        link.wait.map(|wait| (wait, link.at))
    }

    /// Arms (or re-arms) `key` to expire at `at` while waiting for `wait`.
    pub fn set(&mut self, key: usize, wait: Wait, at: Instant) {
        if self.get(key) == Some((wait, at)) {
            return;
        }
        self.remove(key);
        if key >= self.links.len() {
            let blank = Link {
                wait: None,
                at,
                prev: NIL,
                next: NIL,
            };
            self.links.resize(key + 1, blank);
        }
        let k = wait.index();
        // Walk back from the tail past any later deadline: with one duration
        // per kind this loop ends at once, but order holds whatever callers do.
        let mut prev = self.tail[k];
        while prev != NIL && self.links[prev].at > at {
            prev = self.links[prev].prev;
        }
        let next = if prev == NIL {
            self.head[k]
        } else {
            self.links[prev].next
        };
        self.links[key] = Link {
            wait: Some(wait),
            at,
            prev,
            next,
        };
        match prev {
            NIL => self.head[k] = key,
            p => self.links[p].next = key,
        }
        match next {
            NIL => self.tail[k] = key,
            n => self.links[n].prev = key,
        }
        self.len[k] += 1;
    }

    /// Disarms `key` (no-op if it has no deadline).
    pub fn remove(&mut self, key: usize) {
        let Some(link) = self.links.get_mut(key) else {
            return;
        };
        let Some(wait) = link.wait.take() else {
            return;
        };
        let (prev, next) = (link.prev, link.next);
        let k = wait.index();
        match prev {
            NIL => self.head[k] = next,
            p => self.links[p].next = next,
        }
        match next {
            NIL => self.tail[k] = prev,
            n => self.links[n].prev = prev,
        }
        self.len[k] -= 1;
    }

    /// How many connections wait for each kind, in [`Wait::ALL`] order.
    pub fn counts(&self) -> [usize; KINDS] {
        self.len
    }

    /// The connection with the earliest deadline of one kind: for
    /// [`Wait::Idle`], the one idle for longest.
    pub fn first(&self, wait: Wait) -> Option<(usize, Instant)> {
        let key = self.head[wait.index()];
        (key != NIL).then(|| (key, self.links[key].at))
    }

    /// The earliest deadline armed.
    pub fn next(&self) -> Option<Instant> {
        self.head
            .iter()
            .filter(|&&key| key != NIL)
            .map(|&key| self.links[key].at)
            .min()
    }

    /// Disarms and returns one connection whose deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(usize, Wait)> {
        let key = self
            .head
            .iter()
            .copied()
            .filter(|&key| key != NIL && self.links[key].at <= now)
            .min_by_key(|&key| self.links[key].at)?;
        let wait = self.links[key].wait?;
        self.remove(key);
        Some((key, wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn secs(base: Instant, s: u64) -> Instant {
        base + Duration::from_secs(s)
    }

    #[test]
    fn expires_in_deadline_order_across_kinds() {
        let t = Instant::now();
        let mut d = Deadlines::new();
        d.set(0, Wait::Idle, secs(t, 60));
        d.set(1, Wait::Header, secs(t, 10));
        d.set(2, Wait::Write, secs(t, 30));
        d.set(3, Wait::Header, secs(t, 11));
        assert_eq!(d.next(), Some(secs(t, 10)));
        assert_eq!(d.pop_expired(secs(t, 5)), None);
        let now = secs(t, 100);
        let order: Vec<_> = std::iter::from_fn(|| d.pop_expired(now)).collect();
        assert_eq!(
            order,
            [
                (1, Wait::Header),
                (3, Wait::Header),
                (2, Wait::Write),
                (0, Wait::Idle)
            ]
        );
        assert_eq!(d.next(), None);
    }

    #[test]
    fn rearm_moves_and_remove_unlinks() {
        let t = Instant::now();
        let mut d = Deadlines::new();
        for key in 0..4 {
            d.set(key, Wait::Write, secs(t, key as u64));
        }
        d.set(0, Wait::Write, secs(t, 10)); // progress: to the back
        d.remove(2);
        d.remove(2); // twice is harmless
        d.set(1, Wait::Idle, secs(t, 5)); // to another list
        assert_eq!(d.counts(), [0, 1, 2, 0]);
        assert_eq!(d.first(Wait::Idle), Some((1, secs(t, 5))));
        assert_eq!(d.first(Wait::Write), Some((3, secs(t, 3))));
        assert_eq!(d.first(Wait::Header), None);
        let now = secs(t, 100);
        let order: Vec<_> = std::iter::from_fn(|| d.pop_expired(now)).collect();
        assert_eq!(order, [(3, Wait::Write), (1, Wait::Idle), (0, Wait::Write)]);
        assert_eq!(d.counts(), [0; KINDS]);
    }

    #[test]
    fn out_of_order_set_still_sorted() {
        let t = Instant::now();
        let mut d = Deadlines::new();
        d.set(0, Wait::Linger, secs(t, 5));
        d.set(1, Wait::Linger, secs(t, 3));
        d.set(2, Wait::Linger, secs(t, 4));
        let now = secs(t, 100);
        let order: Vec<_> = std::iter::from_fn(|| d.pop_expired(now))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(order, [1, 2, 0]);
    }
}
