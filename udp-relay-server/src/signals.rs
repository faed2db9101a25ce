//! SIGTERM and SIGINT, read on a thread of their own and counted in [`Shared`] the moment
//! they arrive: `/ready` turns 503 at once, and the relay loop acts on them at its next tick
//! (within 100 ms).

use crate::state::Shared;
use std::io;
use std::sync::Arc;

#[cfg(unix)]
pub fn listen(shared: Arc<Shared>) -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use std::sync::atomic::Ordering;
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGTERM => {
                        shared.sigterms.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => shared.sigint.store(true, Ordering::SeqCst),
                }
            }
        })
        .map(drop)
}

/// Elsewhere the default handlers stay: the process ends at once.
#[cfg(not(unix))]
pub fn listen(_shared: Arc<Shared>) -> io::Result<()> {
    Ok(())
}
