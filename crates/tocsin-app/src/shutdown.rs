//! The one signal that stops every background service: [`Shutdown`] is what each
//! service's loop waits on, [`ShutdownTrigger`] what the server (or a test) fires once it
//! stops accepting work. Dropping the trigger counts as firing it.

use tokio::sync::watch;

/// Fires the shutdown of every service that holds a [`Shutdown`] from it.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    /// Tells every service to stop.
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

/// Waits for shutdown. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A new trigger and the signal it fires.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    /// Completes once shutdown is fired (at once if it already was, or if its trigger is
    /// gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    /// Whether shutdown was fired.
    pub fn fired(&self) -> bool {
        *self.0.borrow()
    }
}
