//! A fixed set of worker threads that run jobs, in the style of the Rust Book's final
//! project: dropping the pool lets every worker finish its job, then joins it.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Worker threads need little stack: a connection's buffers live on the heap.
const WORKER_STACK: usize = 256 * 1024;

/// A pool of `size` threads. [`ThreadPool::execute`] waits for an idle worker, so no more
/// than `size` jobs ever run and none pile up in a queue.
pub struct ThreadPool {
    workers: Vec<JoinHandle<()>>,
    /// A rendezvous channel: a send completes only when a worker takes the job.
    jobs: Option<SyncSender<Job>>,
}

impl ThreadPool {
    /// Starts `size` worker threads (at least one).
    ///
    /// # Errors
    /// When the operating system refuses to start a thread.
    pub fn new(size: usize) -> io::Result<ThreadPool> {
        let (sender, receiver) = mpsc::sync_channel::<Job>(0);
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = (0..size.max(1))
            .map(|id| {
                let receiver = Arc::clone(&receiver);
                thread::Builder::new()
                    .name(format!("worker-{id}"))
                    .stack_size(WORKER_STACK)
                    .spawn(move || work(&receiver))
            })
            .collect::<io::Result<_>>()?;
        Ok(ThreadPool {
            workers,
            jobs: Some(sender),
        })
    }

    /// Runs `job` on the next idle worker, blocking until one is idle.
    pub fn execute(&self, job: impl FnOnce() + Send + 'static) {
        if let Some(jobs) = &self.jobs {
            // Fails only if every worker has exited, which `work` never lets happen.
            let _ = jobs.send(Box::new(job));
        }
    }

    /// The number of worker threads.
    pub fn size(&self) -> usize {
        self.workers.len()
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        // Closing the channel tells each worker to exit once its current job is done.
        drop(self.jobs.take());
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// A worker's life: take jobs until the pool closes the channel. A job that panics ends
/// only itself; the worker goes on to the next one.
fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let next = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match next {
            Ok(job) => {
                let _ = panic::catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    #[test]
    fn every_job_runs_before_drop_returns() {
        let done = Arc::new(AtomicUsize::new(0));
        let pool = ThreadPool::new(3).expect("pool");
        for _ in 0..20 {
            let done = Arc::clone(&done);
            pool.execute(move || {
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        drop(pool);
        assert_eq!(done.load(Ordering::SeqCst), 20);
    }

    #[test]
    fn jobs_run_at_the_same_time_on_different_workers() {
        // Each job waits for all the others: this only finishes if all run at once.
        let pool = ThreadPool::new(4).expect("pool");
        let barrier = Arc::new(Barrier::new(4));
        for _ in 0..4 {
            let barrier = Arc::clone(&barrier);
            pool.execute(move || {
                barrier.wait();
            });
        }
    }

    #[test]
    fn a_panicking_job_does_not_lose_its_worker() {
        let pool = ThreadPool::new(1).expect("pool");
        pool.execute(|| panic!("this job fails"));
        let (tx, rx) = mpsc::channel();
        pool.execute(move || tx.send(()).expect("send"));
        rx.recv().expect("the single worker ran the next job");
        assert_eq!(pool.size(), 1);
    }
}
