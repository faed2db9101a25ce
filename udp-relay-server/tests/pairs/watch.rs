//! The matchmaker's view of the fleet, learnt the way a matchmaker without Agones learns it:
//! a thread probes every relay ten times a second from a socket of its own
//! (`udp_relay::probe`) and keeps the state each last reported, or none once a relay has
//! left [`SILENCE`] worth of probes unanswered.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use udp_relay::probe::{RelayState, read_reply, write_probe};

/// Between two rounds of probes. Probes are charged to the source's handshake budget, like
/// the clients' handshakes (all from 127.0.0.1 here): 10 a second per relay leave nearly all
/// of its 200 a second to the clients.
const PERIOD: Duration = Duration::from_millis(100);
/// A relay that answered none of the probes sent over this long is taken for gone: ten
/// rounds, so a relay slow for a moment is not dropped, and inside the clients' peer
/// timeout, so the view has dropped a killed relay by the time its clients are Lost.
const SILENCE: Duration = Duration::from_secs(1);
/// The watch stops by itself after this long.
const LIFETIME: Duration = Duration::from_secs(180);

#[derive(Debug, Default)]
struct Heard {
    /// When the latest round of probes went out.
    round: Option<Instant>,
    /// Each relay's latest answer and when it came.
    answers: Vec<Option<(RelayState, Instant)>>,
}

pub struct Watch {
    heard: Arc<Mutex<Heard>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    pub fn start(relays: Vec<SocketAddr>) -> Watch {
        let heard = Arc::new(Mutex::new(Heard {
            round: None,
            answers: vec![None; relays.len()],
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, halt) = (Arc::clone(&heard), Arc::clone(&stop));
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + LIFETIME;
            let mut buf = [0u8; 64];
            let mut round = 0u64;
            while !halt.load(Ordering::Relaxed) && Instant::now() < end {
                round += 1;
                for relay in &relays {
                    // A relay that is gone may make this fail: that is silence too.
                    let _ = socket.send_to(&write_probe(round), relay);
                }
                sink.lock().unwrap().round = Some(Instant::now());
                let next = Instant::now() + PERIOD;
                while Instant::now() < next {
                    let Ok((len, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let (Some((state, _)), Some(i)) = (
                        read_reply(&buf[..len]),
                        relays.iter().position(|r| *r == from),
                    ) else {
                        continue;
                    };
                    sink.lock().unwrap().answers[i] = Some((state, Instant::now()));
                }
            }
        });
        Watch {
            heard,
            stop,
            thread: Some(thread),
        }
    }

    /// Each relay's state as last reported, in the order given; `None` for a relay that has
    /// not answered yet, or none of whose probes over the last [`SILENCE`] were answered.
    /// Judged by the probes sent, so a watch thread that got no CPU for a while drops no
    /// relay.
    pub fn states(&self) -> Vec<Option<RelayState>> {
        let heard = self.heard.lock().unwrap();
        heard
            .answers
            .iter()
            .map(|answer| {
                let (state, at) = (*answer)?;
                let silent = heard
                    .round
                    .and_then(|round| round.checked_duration_since(at))
                    .is_some_and(|unanswered| unanswered >= SILENCE);
                (!silent).then_some(state)
            })
            .collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
