//! One owner for cancellation. The session holds a [`Cancel`]; SIGINT (Ctrl-C), SIGTERM (what CI
//! sends when a job is cancelled) and SIGHUP (a closed terminal) cancel it. The first signal
//! asks the command to stop starting work and to finish what it must undo (verify deletes its
//! test user and item; apply and teardown let the calls in flight end); a second one abandons
//! everything at once. The process then exits 128 + the signal's number.

use std::sync::Arc;

use tokio::sync::watch;

/// A signal that cancels the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    Hangup,
}

impl Signal {
    /// The shell's convention: 128 + the signal's number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Hangup => 129,
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }
}

/// The session's cancellation: the signals received so far, in order. Clones share it.
#[derive(Clone)]
pub struct Cancel {
    received: Arc<watch::Sender<Vec<Signal>>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel { received: Arc::new(watch::channel(Vec::new()).0) }
    }
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cancel({:?})", *self.received.borrow())
    }
}

impl Cancel {
    /// A cancellation that signals reach: listens for SIGINT, SIGTERM and SIGHUP (on Windows,
    /// Ctrl-C) for the rest of the process. Must run inside the tokio runtime.
    pub fn on_signals() -> Self {
        let cancel = Cancel::default();
        cancel.listen();
        cancel
    }

    #[cfg(unix)]
    fn listen(&self) {
        use tokio::signal::unix::{signal, SignalKind};
        for (kind, which) in [
            (SignalKind::interrupt(), Signal::Interrupt),
            (SignalKind::terminate(), Signal::Terminate),
            (SignalKind::hangup(), Signal::Hangup),
        ] {
            let Ok(mut stream) = signal(kind) else {
                tracing::warn!(signal = which.name(), "cannot listen for the signal");
                continue;
            };
            let me = self.clone();
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    me.cancel(which);
                }
            });
        }
    }

    #[cfg(not(unix))]
    fn listen(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                me.cancel(Signal::Interrupt);
            }
        });
    }

    /// Records `signal`, as if the process had received it.
    pub fn cancel(&self, signal: Signal) {
        self.received.send_modify(|r| r.push(signal));
    }

    /// The first signal, once there is one.
    pub fn signal(&self) -> Option<Signal> {
        self.received.borrow().first().copied()
    }

    /// Waits for the first signal.
    pub async fn cancelled(&self) -> Signal {
        self.nth(1).await
    }

    /// Waits for a second signal: stop at once, whatever is left undone.
    pub async fn abandoned(&self) -> Signal {
        self.nth(2).await
    }

    async fn nth(&self, n: usize) -> Signal {
        let mut rx = self.received.subscribe();
        let received = rx.wait_for(|r| r.len() >= n).await;
        // The sender lives as long as `self`, so the wait only ends with a signal.
        received.map(|r| r[0]).unwrap_or(Signal::Interrupt)
    }

    /// Runs `work` unless the session is cancelled first: `None` when it was (then `work` is
    /// dropped, and whatever it had not done stays undone).
    pub async fn unless_cancelled<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        tokio::select! {
            out = work => Some(out),
            _ = self.cancelled() => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_first_signal_cancels_and_the_second_abandons() {
        let c = Cancel::default();
        assert_eq!(c.signal(), None);
        let copy = c.clone();
        let first = tokio::spawn(async move { copy.cancelled().await });
        let copy = c.clone();
        let second = tokio::spawn(async move { copy.abandoned().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!first.is_finished());
        c.cancel(Signal::Terminate);
        assert_eq!(first.await.unwrap(), Signal::Terminate);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!second.is_finished(), "one signal does not abandon");
        c.cancel(Signal::Interrupt);
        // Both report the first signal: its exit code is the process's.
        assert_eq!(second.await.unwrap(), Signal::Terminate);
        assert_eq!(c.signal().map(Signal::exit_code), Some(143));
    }

    #[tokio::test]
    async fn unless_cancelled_drops_the_work_only_when_cancelled() {
        let c = Cancel::default();
        assert_eq!(c.unless_cancelled(async { 1 }).await, Some(1));
        let copy = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            copy.cancel(Signal::Hangup);
        });
        let never = std::future::pending::<()>();
        assert_eq!(c.unless_cancelled(never).await, None);
        assert_eq!(Signal::Hangup.exit_code(), 129);
    }
}
