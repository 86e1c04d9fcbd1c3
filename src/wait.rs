//! One waiter for every state change the tool waits out: a table being created, updated or
//! deleted, point-in-time recovery becoming available, IAM changes propagating.
//!
//! Modelled on terraform-provider-aws's `StateChangeConf`: a refresh function reports the
//! resource's current state, the waiter polls it with backoff until it is ready, and gives up
//! with a sentence naming the state it was left in when the timeout (`--wait-timeout`) runs out.
//! Polling starts at 200 ms and backs off to at most one second, so a wait ends within about a
//! second of the resource being ready.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

/// What one refresh found.
#[derive(Debug)]
pub enum Poll<T> {
    /// The target state was reached; the wait ends with this value.
    Ready(T),
    /// Still pending, in this state (shown on the progress line, e.g. `CREATING`).
    Pending(String),
}

/// The first pause between two refreshes.
pub const FIRST_DELAY: Duration = Duration::from_millis(200);
/// The longest pause between two refreshes.
pub const MAX_DELAY: Duration = Duration::from_secs(1);

/// The pause before refresh number `attempt` (0-based): 200 ms, 400 ms, 800 ms, then 1 s.
pub fn delay(attempt: u32) -> Duration {
    FIRST_DELAY.saturating_mul(1 << attempt.min(8)).min(MAX_DELAY)
}

/// Told before each pause: the pending state and the time waited so far.
pub type OnPending<'a> = Box<dyn Fn(&str, Duration) + Send + Sync + 'a>;

/// A wait: what it means when it runs out (for messages), how long at most, and who hears
/// about progress.
pub struct Waiter<'a> {
    /// What has not happened when the timeout runs out, e.g. `table profiles did not become
    /// ACTIVE`.
    pub failure: String,
    pub timeout: Duration,
    /// Called before each pause with the pending state and the time waited so far.
    pub on_pending: OnPending<'a>,
    /// What to tell the user when the timeout runs out (after "… within --wait-timeout X: it
    /// is still STATE. ").
    pub advice: String,
    /// Ends the wait early, as an error, once cancelled (what was waited for goes on in AWS).
    pub cancel: Option<crate::cancel::Cancel>,
}

impl<'a> Waiter<'a> {
    pub fn new(failure: impl Into<String>, timeout: Duration) -> Self {
        Waiter {
            failure: failure.into(),
            timeout,
            on_pending: Box::new(|_, _| {}),
            advice: "AWS keeps working on it; run the command again later, or pass a longer --wait-timeout (e.g. 30m)".into(),
            cancel: None,
        }
    }

    /// Stops waiting once `cancel` is cancelled.
    pub fn cancel(mut self, cancel: &crate::cancel::Cancel) -> Self {
        self.cancel = Some(cancel.clone());
        self
    }

    pub fn on_pending(mut self, f: impl Fn(&str, Duration) + Send + Sync + 'a) -> Self {
        self.on_pending = Box::new(f);
        self
    }

    pub fn advice(mut self, advice: impl Into<String>) -> Self {
        self.advice = advice.into();
        self
    }

    /// Refreshes until `Ready` or the timeout; an error from `refresh` ends the wait at once
    /// (refresh functions turn the errors that mean "not yet" into `Pending`).
    pub async fn until<T, F, Fut>(self, refresh: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Poll<T>>>,
    {
        let (failure, timeout, advice) = (self.failure.clone(), self.timeout, self.advice.clone());
        match self.poll(refresh).await? {
            Ok(v) => Ok(v),
            Err(state) => Err(anyhow!(
                "{failure} within --wait-timeout {}: it is still {state}. {advice}",
                humantime::format_duration(timeout),
            )),
        }
    }

    /// Like [`Waiter::until`], for a wait that may end without the target state: running out of
    /// time is `None`, not an error.
    pub async fn within<T, F, Fut>(self, refresh: F) -> Result<Option<T>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Poll<T>>>,
    {
        Ok(self.poll(refresh).await?.ok())
    }

    /// Polls with backoff: `Ok(value)` when ready, `Err(last state)` when the time ran out.
    async fn poll<T, F, Fut>(self, mut refresh: F) -> Result<std::result::Result<T, String>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Poll<T>>>,
    {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let state = match refresh().await? {
                Poll::Ready(v) => return Ok(Ok(v)),
                Poll::Pending(state) => state,
            };
            let waited = started.elapsed();
            if waited >= self.timeout {
                return Ok(Err(state));
            }
            (self.on_pending)(&state, waited);
            let pause = delay(attempt).min(self.timeout.saturating_sub(waited));
            let sleep = tokio::time::sleep(pause);
            let Some(cancel) = &self.cancel else {
                sleep.await;
                attempt += 1;
                continue;
            };
            if cancel.unless_cancelled(sleep).await.is_none() {
                let signal = cancel.signal().map(|s| s.name()).unwrap_or("a signal");
                return Err(anyhow!(
                    "{} before {signal} interrupted the wait after {}: it is still {state}; AWS keeps working on it, and the next run waits for it",
                    self.failure,
                    humantime::format_duration(Duration::from_secs(waited.as_secs()))
                ));
            }
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    #[test]
    fn delays_back_off_to_one_second() {
        let d: Vec<u128> = (0..6).map(|a| delay(a).as_millis()).collect();
        assert_eq!(d, vec![200, 400, 800, 1000, 1000, 1000]);
    }

    #[tokio::test]
    async fn ready_after_pending_states_reports_each() {
        let calls = AtomicU32::new(0);
        let seen = Mutex::new(Vec::new());
        let out = Waiter::new("table t did not become ACTIVE", Duration::from_secs(5))
            .on_pending(|s, _| seen.lock().unwrap().push(s.to_string()))
            .until(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Ok(Poll::Pending("not visible yet".into())),
                    1 => Ok(Poll::Pending("CREATING".into())),
                    _ => Ok(Poll::Ready(7)),
                }
            })
            .await
            .unwrap();
        assert_eq!(out, 7);
        assert_eq!(*seen.lock().unwrap(), vec!["not visible yet", "CREATING"]);
    }

    #[tokio::test]
    async fn timeout_names_the_state_left_in() {
        let err = Waiter::new("table t was not deleted", Duration::from_millis(300))
            .advice("run teardown again later")
            .until(|| async { Ok::<_, anyhow::Error>(Poll::<()>::Pending("DELETING".into())) })
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "table t was not deleted within --wait-timeout 300ms: it is still DELETING. run teardown again later"
        );
    }

    #[tokio::test]
    async fn within_ends_without_error_when_time_runs_out() {
        // Ready on the third look, or never: within 1 s it is found, within 300 ms it is not.
        for (timeout, found) in [(1000, Some(3)), (300, None)] {
            let calls = AtomicU32::new(0);
            let out = Waiter::new("tags did not appear", Duration::from_millis(timeout))
                .within(|| async {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    let tags = found.filter(|_| n == 2);
                    Ok::<_, anyhow::Error>(
                        tags.map_or(Poll::Pending("no tags".into()), Poll::Ready),
                    )
                })
                .await
                .unwrap();
            assert_eq!(out, found, "within {timeout} ms");
        }
    }

    #[tokio::test]
    async fn refresh_errors_end_the_wait() {
        let calls = AtomicU32::new(0);
        let err = Waiter::new("x", Duration::from_secs(5))
            .until(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<Poll<()>, _>(anyhow!("access denied"))
            })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "access denied");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
