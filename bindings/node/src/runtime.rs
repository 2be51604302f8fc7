//! Where operations run, off the JavaScript thread.
//!
//! Not on libuv's thread pool: it has four threads by default, and an operation waiting there
//! for the host's delivery function would hold one of them while that function may itself need
//! the pool (`fs.promises`, `dns.lookup` inside an SMTP client, `crypto.pbkdf2`). Four such
//! operations at once would deadlock the process. Instead each operation gets a thread of an
//! elastic pool: idle threads are reused, a new one is started whenever none is idle (so a job
//! never queues behind a job that is waiting for JavaScript), and threads idle for
//! [`IDLE_EXIT`] end. Past [`MAX_THREADS`] busy threads (tokio's cap for blocking work), jobs
//! queue for the next thread that frees up. A thread waiting for the JavaScript thread (a
//! delivery or clock call, see [`waiting_for_js`]) does not count as busy: the delivery may call
//! the pool, and its call must not queue behind the very waits it would end. Password hashing
//! stays bounded by core's own limit on concurrent hashes.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

/// A unit of work for a worker thread, told whether it may run.
pub(crate) type Job = Box<dyn FnOnce(Turn) + Send + 'static>;

/// How a [`Job`] is called.
pub(crate) enum Turn {
    /// On a worker thread: do the work.
    Run,
    /// No worker thread could be started, and none is there to take the job later. It is
    /// called on the JavaScript thread, where the work must not run (a delivery or clock call
    /// from there would wait for itself): it settles without running.
    Refused,
}

/// How long a worker waits for a job before it ends.
const IDLE_EXIT: Duration = Duration::from_secs(30);
/// The most worker threads at once.
const MAX_THREADS: usize = 512;

struct Workers {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    queue: VecDeque<Job>,
    /// Threads in [`Workers::serve`] that are not running a job.
    idle: usize,
    /// Threads in [`Workers::serve`].
    threads: usize,
    /// Threads inside [`waiting_for_js`].
    waiting: usize,
}

impl State {
    /// Whether another thread may start: fewer than [`MAX_THREADS`] are busy, not counting
    /// those waiting for JavaScript.
    fn may_start(&self) -> bool {
        self.threads.saturating_sub(self.waiting) < MAX_THREADS
    }
}

fn workers() -> &'static Arc<Workers> {
    static WORKERS: OnceLock<Arc<Workers>> = OnceLock::new();
    WORKERS.get_or_init(|| {
        Arc::new(Workers {
            state: Mutex::new(State { queue: VecDeque::new(), idle: 0, threads: 0, waiting: 0 }),
            wake: Condvar::new(),
        })
    })
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Jobs never run under the lock, so a poisoned lock still guards a consistent state.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `job` on a worker thread: an idle one if there is one, a new one otherwise.
pub(crate) fn spawn(job: Job) {
    let workers = workers();
    let mut state = lock(&workers.state);
    state.queue.push_back(job);
    if state.idle >= state.queue.len() {
        drop(state);
        workers.wake.notify_one();
        return;
    }
    if !state.may_start() {
        // The job stays queued for the next worker that frees up.
        return;
    }
    if !start_thread(workers, state) {
        let mut state = lock(&workers.state);
        if state.threads == 0
            && let Some(job) = state.queue.pop_back()
        {
            // Settled now, refused, rather than never.
            drop(state);
            job(Turn::Refused);
        }
    }
}

/// Starts a worker thread (counted as idle until it takes a job), releasing `state`; `false`
/// if the system would not start one.
fn start_thread(workers: &Arc<Workers>, mut state: MutexGuard<'_, State>) -> bool {
    state.idle += 1;
    state.threads += 1;
    drop(state);
    let serving = Arc::clone(workers);
    if thread::Builder::new().name("userpool-worker".into()).spawn(move || serving.serve()).is_ok() {
        return true;
    }
    let mut state = lock(&workers.state);
    state.idle -= 1;
    state.threads -= 1;
    false
}

/// Runs `wait`, in which this worker waits for the JavaScript thread (a delivery or clock
/// call), outside the cap on busy threads. Jobs queued at the cap get a thread: one of them
/// may be the very call the JavaScript side makes before it answers.
pub(crate) fn waiting_for_js<R>(wait: impl FnOnce() -> R) -> R {
    struct Waiting;
    impl Drop for Waiting {
        fn drop(&mut self) {
            let mut state = lock(&workers().state);
            state.waiting = state.waiting.saturating_sub(1);
        }
    }
    let workers = workers();
    let mut state = lock(&workers.state);
    state.waiting += 1;
    let _waiting = Waiting;
    if state.idle < state.queue.len() && state.may_start() {
        // If none starts, a job still runs when a thread frees up, as before.
        let _ = start_thread(workers, state);
    } else {
        drop(state);
    }
    wait()
}

impl Workers {
    fn serve(&self) {
        let mut state = lock(&self.state);
        loop {
            if let Some(job) = state.queue.pop_front() {
                state.idle -= 1;
                drop(state);
                job(Turn::Run);
                state = lock(&self.state);
                state.idle += 1;
                continue;
            }
            let (guard, waited) = self.wake.wait_timeout(state, IDLE_EXIT).unwrap_or_else(PoisonError::into_inner);
            state = guard;
            if waited.timed_out() && state.queue.is_empty() {
                state.idle -= 1;
                state.threads -= 1;
                return;
            }
        }
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Blocks this (worker) thread until `future` is ready. Used to wait for a Promise returned by
/// a host callback; never called on the JavaScript thread, which settles that Promise.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}
