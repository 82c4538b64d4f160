//! Running many gradings at once: up to a number of jobs at a time, never two at once that
//! use the same port (without namespaces, submissions share this machine's ports, and
//! many hard-code the same one). A job that panics fails its own item; its ports are
//! released all the same, and the others go on.

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

/// The scheduler's state, behind one lock.
struct Queue<R> {
    /// Items not started yet, by index, in order.
    waiting: Vec<usize>,
    /// Ports claimed by the items running now.
    busy: HashSet<u16>,
    /// Each item's result, once done.
    results: Vec<Option<R>>,
}

/// A lock and its condition: `changed` is signalled whenever ports are released.
struct Scheduler<R> {
    queue: Mutex<Queue<R>>,
    changed: Condvar,
}

impl<R> Scheduler<R> {
    fn lock(&self) -> MutexGuard<'_, Queue<R>> {
        // A panic is caught before it can poison the lock, but a poisoned queue is still
        // consistent: every change to it is a single step.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the first waiting item whose ports are free, waiting for ports to be
    /// released if need be. `None` once nothing is waiting.
    fn claim(&self, ports: &[Vec<u16>]) -> Option<Claim<'_, R>> {
        let mut queue = self.lock();
        loop {
            if queue.waiting.is_empty() {
                return None;
            }
            let free = |&i: &usize| ports[i].iter().all(|p| !queue.busy.contains(p));
            if let Some(at) = queue.waiting.iter().position(free) {
                let index = queue.waiting.remove(at);
                queue.busy.extend(&ports[index]);
                return Some(Claim {
                    scheduler: self,
                    index,
                    ports: ports[index].clone(),
                });
            }
            queue = self
                .changed
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// An item being worked on. Dropping it releases its ports, whatever happened.
struct Claim<'a, R> {
    scheduler: &'a Scheduler<R>,
    index: usize,
    ports: Vec<u16>,
}

impl<R> Claim<'_, R> {
    fn done(self, result: R) {
        self.scheduler.lock().results[self.index] = Some(result);
    }
}

impl<R> Drop for Claim<'_, R> {
    fn drop(&mut self) {
        let mut queue = self.scheduler.lock();
        for port in &self.ports {
            queue.busy.remove(port);
        }
        self.scheduler.changed.notify_all();
    }
}

/// What to do with each item.
pub struct Work<'a, T, R> {
    /// The ports an item uses; items that share one never run at the same time.
    pub ports: &'a (dyn Fn(&T) -> Vec<u16> + Sync),
    /// The work itself.
    pub run: &'a (dyn Fn(&T) -> R + Sync),
    /// The result for an item whose work panicked, given the panic's message.
    pub panicked: &'a (dyn Fn(&T, String) -> R + Sync),
    /// Called with each result as soon as it is ready (for progress).
    pub done: &'a (dyn Fn(&R) + Sync),
}

/// Runs `work` on every item, up to `jobs` at a time. Results come back in the order of
/// `items`.
pub fn run_all<T: Sync, R: Send>(items: &[T], jobs: usize, work: &Work<'_, T, R>) -> Vec<R> {
    let ports: Vec<Vec<u16>> = items.iter().map(|item| (work.ports)(item)).collect();
    let scheduler = Scheduler {
        queue: Mutex::new(Queue {
            waiting: (0..items.len()).collect(),
            busy: HashSet::new(),
            results: items.iter().map(|_| None).collect(),
        }),
        changed: Condvar::new(),
    };
    thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                while let Some(claim) = scheduler.claim(&ports) {
                    let item = &items[claim.index];
                    let result = panic::catch_unwind(AssertUnwindSafe(|| (work.run)(item)))
                        .unwrap_or_else(|payload| (work.panicked)(item, panic_message(&*payload)));
                    (work.done)(&result);
                    claim.done(result);
                }
            });
        }
    });
    let queue = scheduler
        .queue
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    queue.results.into_iter().flatten().collect()
}

/// The text a panic was raised with.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex as StdMutex;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u32> = (0..50).collect();
        let work = Work {
            ports: &|_: &u32| Vec::new(),
            run: &|n: &u32| n * 2,
            panicked: &|_: &u32, _| 0,
            done: &|_: &u32| {},
        };
        let doubled = run_all(&items, 4, &work);
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn items_that_share_a_port_never_run_together() {
        let items: Vec<u16> = (0..20).collect();
        let running: StdMutex<HashSet<u16>> = StdMutex::new(HashSet::new());
        let clash = AtomicUsize::new(0);
        let run = |n: &u16| {
            let port = n % 3;
            if !running.lock().expect("lock").insert(port) {
                clash.fetch_add(1, Ordering::SeqCst);
            }
            thread::yield_now();
            running.lock().expect("lock").remove(&port);
        };
        let work = Work {
            ports: &|n: &u16| vec![n % 3],
            run: &run,
            panicked: &|_: &u16, _| (),
            done: &|_: &()| {},
        };
        run_all(&items, 8, &work);
        assert_eq!(clash.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_panic_fails_its_own_item_and_releases_its_ports() {
        let items = ["fine", "boom", "also fine", "after boom"];
        let run = |item: &&str| {
            assert!(!item.starts_with("boom"), "exploded on {item}");
            format!("graded {item}")
        };
        let work = Work {
            ports: &|_: &&str| vec![27000],
            run: &run,
            panicked: &|item: &&str, why| format!("{item} failed: {why}"),
            done: &|_: &String| {},
        };
        let results = run_all(&items, 2, &work);
        assert_eq!(results[1], "boom failed: exploded on boom");
        assert_eq!(results[3], "graded after boom");
    }
}
