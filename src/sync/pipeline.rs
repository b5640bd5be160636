//! An ordered pipeline: jobs are fetched by a bounded pool of worker threads, and their results
//! are handled one at a time, strictly in job order, on the calling thread, which may queue more
//! jobs as it goes.
//!
//! This is how a sync keeps several requests in flight while its output stays in a fixed order:
//! the order jobs are queued in, which only handlers decide, so it does not depend on timing or
//! on the number of workers. At most `workers` jobs are fetched at once, and at most `window`
//! are handed to the workers and not yet handled, so memory stays bounded whatever the volume;
//! a window wider than the workers lets a slow answer be waited for while the others go on.

use crate::error::Error;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{mpsc, Mutex};

/// Runs `initial` and every job `handle` queues; returns the first error.
pub fn run<J, R, F, H>(
    workers: usize,
    window: usize,
    initial: Vec<J>,
    fetch: F,
    mut handle: H,
) -> Result<(), Error>
where
    J: Clone + Send,
    R: Send,
    F: Fn(&J) -> R + Sync,
    H: FnMut(J, R, &mut VecDeque<J>) -> Result<(), Error>,
{
    let workers = workers.max(1);
    let window = window.max(workers);
    let (job_tx, job_rx) = mpsc::channel::<(u64, J)>();
    let job_rx = Mutex::new(job_rx);
    let (result_tx, result_rx) = mpsc::channel::<(u64, R)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (job_rx, result_tx, fetch) = (&job_rx, result_tx.clone(), &fetch);
            scope.spawn(move || loop {
                let next = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((seq, job)) = next else { return };
                if result_tx.send((seq, fetch(&job))).is_err() {
                    return;
                }
            });
        }
        drop(result_tx);

        let mut queue: VecDeque<J> = initial.into();
        let mut in_flight: VecDeque<(u64, J)> = VecDeque::new();
        let mut arrived: BTreeMap<u64, R> = BTreeMap::new();
        let mut next_seq = 0u64;
        let outcome = loop {
            while in_flight.len() < window {
                let Some(job) = queue.pop_front() else { break };
                if job_tx.send((next_seq, job.clone())).is_err() {
                    return Err(Error::Internal("pipeline workers are gone".into()));
                }
                in_flight.push_back((next_seq, job));
                next_seq += 1;
            }
            let Some((seq, job)) = in_flight.pop_front() else {
                break Ok(());
            };
            let result = loop {
                if let Some(r) = arrived.remove(&seq) {
                    break r;
                }
                match result_rx.recv() {
                    Ok((s, r)) => {
                        arrived.insert(s, r);
                    }
                    Err(_) => return Err(Error::Internal("pipeline workers are gone".into())),
                }
            };
            if let Err(e) = handle(job, result, &mut queue) {
                break Err(e);
            }
        };
        // Workers finish the request they are in and stop.
        drop(job_tx);
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_handled_in_job_order_and_jobs_can_be_added() {
        let mut seen = Vec::new();
        run(
            3,
            3,
            vec![1u64, 2, 3],
            |j| {
                // Later jobs finish first.
                std::thread::sleep(std::time::Duration::from_millis(20 / j));
                j * 10
            },
            |j, r, queue| {
                seen.push((j, r));
                if j < 3 {
                    queue.push_back(j + 10);
                }
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, vec![(1, 10), (2, 20), (3, 30), (11, 110), (12, 120)]);
    }

    #[test]
    fn an_error_stops_the_pipeline() {
        let mut handled = 0;
        let err = run(
            2,
            2,
            (0..100u64).collect(),
            |j| *j,
            |_, r, _| {
                handled += 1;
                if r == 5 {
                    Err(Error::Api("stop".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert!(err.is_err());
        assert_eq!(handled, 6);
    }
}
