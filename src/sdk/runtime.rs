//! The tokio runtime the SDK's transports live on: current-thread, driven
//! by a thread of its own, because the SDK's processors poll exports on
//! plain threads (see `crate::sdk`).

use std::future::Future;

/// A current-thread tokio runtime driven by a thread of its own.
#[derive(Debug)]
pub(crate) struct IoRuntime {
    pub(crate) handle: tokio::runtime::Handle,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl IoRuntime {
    /// Starts the runtime and its thread.
    pub(crate) fn start() -> std::io::Result<IoRuntime> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("sdk-exporter-io".into()).spawn(move || {
            rt.block_on(async {
                let _stopped_or_gone = stopped.await;
            });
        })?;
        Ok(IoRuntime { handle, stop, thread })
    }

    /// Stops the thread (after the providers have shut down); false when it panicked.
    pub(crate) fn stop(self) -> bool {
        let _receiver_gone = self.stop.send(());
        self.thread.join().is_ok()
    }
}

/// Polls `fut` inside the runtime's context (the guard is held per poll,
/// never across an await, so the future stays `Send`).
pub(crate) async fn in_runtime<F: Future>(io: &tokio::runtime::Handle, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let _entered = io.enter();
        fut.as_mut().poll(cx)
    })
    .await
}
