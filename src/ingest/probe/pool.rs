//! A bounded pool of worker threads that maps items in parallel and hands the results back on
//! the calling thread in input order, whatever order they finish in (contract INGEST-018).

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::time::Duration;

/// The default number of probe workers: twice the available parallelism (probes mostly wait on
/// the disk or on an ffprobe child).
pub fn default_jobs() -> NonZeroUsize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    NonZeroUsize::new(cores * 2).expect("at least 1")
}

/// Maps `items` with `work` on `jobs` threads. `deliver(Some((index, result)))` runs on the
/// calling thread for each item in input order; `deliver(None)` runs there whenever `tick`
/// passes with nothing delivered (a chance to flush what was delivered so far). A `deliver`
/// error stops the pool (the workers finish their current item and take no more) and is
/// returned.
pub fn map_ordered<T, R, E>(
    items: Vec<T>,
    jobs: NonZeroUsize,
    tick: Duration,
    work: impl Fn(T) -> R + Sync,
    mut deliver: impl FnMut(Option<(usize, R)>) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    R: Send,
{
    let total = items.len();
    if total == 0 {
        return Ok(());
    }
    let workers = jobs.get().min(total);
    let (job_tx, job_rx) = crossbeam_channel::bounded::<(usize, T)>(total);
    for job in items.into_iter().enumerate() {
        job_tx.send(job).expect("the receiver is alive");
    }
    drop(job_tx);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<(usize, R)>(workers * 2);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (job_rx, done_tx, work) = (job_rx.clone(), done_tx.clone(), &work);
            scope.spawn(move || {
                for (index, item) in job_rx.iter() {
                    if done_tx.send((index, work(item))).is_err() {
                        // The caller stopped: take no more items.
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut waiting: BTreeMap<usize, R> = BTreeMap::new();
        let mut next = 0;
        let result = (|| {
            while next < total {
                match done_rx.recv_timeout(tick) {
                    Ok((index, result)) => {
                        waiting.insert(index, result);
                        while let Some(result) = waiting.remove(&next) {
                            deliver(Some((next, result)))?;
                            next += 1;
                        }
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => deliver(None)?,
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                }
            }
            Ok(())
        })();
        if result.is_err() {
            // Stop the workers: drain the queue so each finishes its current item and exits.
            while job_rx.try_recv().is_ok() {}
            drop(done_rx);
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // contract: INGEST-018
    #[test]
    fn results_come_back_in_input_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..40).collect();
        let mut seen = Vec::new();
        let jobs = NonZeroUsize::new(4).unwrap();
        map_ordered(
            items,
            jobs,
            Duration::from_millis(5),
            // Early items take longest, so they finish last.
            |n| {
                std::thread::sleep(Duration::from_millis(40 - n));
                n * 10
            },
            |delivered| {
                seen.extend(delivered);
                Ok::<(), ()>(())
            },
        )
        .unwrap();
        let expected: Vec<(usize, u64)> = (0..40).map(|n| (n as usize, n as u64 * 10)).collect();
        assert_eq!(seen, expected);
    }

    // contract: INGEST-018
    #[test]
    fn a_delivery_error_stops_the_pool() {
        let started = std::sync::atomic::AtomicUsize::new(0);
        let error = map_ordered(
            (0..1000).collect::<Vec<u32>>(),
            NonZeroUsize::new(2).unwrap(),
            Duration::from_millis(5),
            |n| {
                started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                n
            },
            |delivered| match delivered {
                Some((3, _)) => Err("stop"),
                _ => Ok(()),
            },
        );
        assert_eq!(error, Err("stop"));
        assert!(started.into_inner() < 1000, "the pool kept working");
    }
}
