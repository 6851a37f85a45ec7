//! Wake-ups for the event streams of one instance, per user. A wake-up
//! carries no change: a woken stream reads what is new from the database,
//! so a wake-up that comes twice, late or for a write that rolled back
//! costs one read and shows nothing wrong, and a slow stream never holds up
//! a writer or another stream (it reads the database at its own pace).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::watch;

/// The instance's streams, by owner; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    topics: Mutex<HashMap<String, Topic>>,
    /// How many streams are open, for the feeder (which listens or polls
    /// only while some are).
    open: watch::Sender<usize>,
}

struct Topic {
    wake: watch::Sender<()>,
    streams: usize,
}

/// One open stream's place in the hub; dropping it closes the place.
pub struct Subscription {
    hub: Hub,
    owner: String,
    /// Marked changed by every wake-up for the owner.
    pub wake: watch::Receiver<()>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                topics: Mutex::default(),
                open: watch::Sender::new(0),
            }),
        }
    }
}

impl Hub {
    fn topics(&self) -> MutexGuard<'_, HashMap<String, Topic>> {
        // A panic while holding the lock leaves the map consistent: every
        // change to it is a single insert, update or removal.
        self.inner
            .topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for one more stream of `owner`'s, unless it already has `max`.
    pub fn subscribe(&self, owner: &str, max: usize) -> Option<Subscription> {
        let wake = {
            let mut topics = self.topics();
            let topic = topics.entry(owner.to_owned()).or_insert_with(|| Topic {
                wake: watch::Sender::new(()),
                streams: 0,
            });
            if topic.streams >= max {
                return None;
            }
            topic.streams += 1;
            topic.wake.subscribe()
        };
        self.inner.open.send_modify(|open| *open += 1);
        Some(Subscription {
            hub: self.clone(),
            owner: owner.to_owned(),
            wake,
        })
    }

    /// Wakes `owner`'s streams, if any are open here.
    pub fn wake(&self, owner: &str) {
        if let Some(topic) = self.topics().get(owner) {
            topic.wake.send_replace(());
        }
    }

    /// Wakes every stream: after a gap in what the feeder heard.
    pub fn wake_all(&self) {
        for topic in self.topics().values() {
            topic.wake.send_replace(());
        }
    }

    /// The owners with a stream open here.
    pub fn watched(&self) -> Vec<String> {
        self.topics().keys().cloned().collect()
    }

    /// How many streams are open here, as it changes.
    pub fn open_streams(&self) -> watch::Receiver<usize> {
        self.inner.open.subscribe()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        {
            let mut topics = self.hub.topics();
            if let Some(topic) = topics.get_mut(&self.owner) {
                topic.streams -= 1;
                if topic.streams == 0 {
                    topics.remove(&self.owner);
                }
            }
        }
        self.hub.inner.open.send_modify(|open| *open -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_at_most_max_streams_and_a_closed_one_frees_its_place() {
        let hub = Hub::default();
        let first = hub.subscribe("u", 2).unwrap();
        let _second = hub.subscribe("u", 2).unwrap();
        assert!(hub.subscribe("u", 2).is_none());
        let _other = hub.subscribe("v", 2).expect("the limit is per user");
        drop(first);
        let _third = hub
            .subscribe("u", 2)
            .expect("a closed stream frees its place");
        assert_eq!(*hub.open_streams().borrow(), 3);
    }

    #[test]
    fn a_wake_up_reaches_the_owners_streams_only() {
        let hub = Hub::default();
        let mut mine = hub.subscribe("u", 5).unwrap();
        let theirs = hub.subscribe("v", 5).unwrap();
        hub.wake("u");
        assert!(mine.wake.has_changed().unwrap());
        assert!(!theirs.wake.has_changed().unwrap());
        mine.wake.mark_unchanged();
        hub.wake_all();
        assert!(mine.wake.has_changed().unwrap() && theirs.wake.has_changed().unwrap());
        hub.wake("nobody");
    }

    #[test]
    fn the_last_stream_of_a_user_removes_the_user() {
        let hub = Hub::default();
        let one = hub.subscribe("u", 5).unwrap();
        let two = hub.subscribe("u", 5).unwrap();
        assert_eq!(hub.watched(), vec!["u".to_owned()]);
        drop(one);
        assert_eq!(hub.watched(), vec!["u".to_owned()]);
        drop(two);
        assert!(hub.watched().is_empty());
        assert_eq!(*hub.open_streams().borrow(), 0);
    }
}
