//! Load generator for udp-relay: throughput, latency, handshake storm, idle-channel expiry and
//! game-rate load, each measured against the relay under test and, with `--compare-baseline`,
//! against comparison forwarders (a naive one, the batched floor) in the same run, so every
//! figure has a ratio measured on the same machine.
//!
//! The relay (or baseline) runs on its own thread pinned to `--relay-cpu`; the load runs on
//! the calling thread pinned to `--load-cpu`. Peers are loopback addresses 127.16.0.0 and up,
//! all spoken for by two generator sockets (IP_PKTINFO picks each datagram's source), so ten
//! thousand or a million peers cost the generator two sockets. Linux only.
//!
//! ```text
//! cargo run --release --example relay_bench -- throughput --pairs 100 --size 64 --compare-baseline --repeat 5
//! cargo run --release --example relay_bench -- latency --rate 10000 --compare-baseline
//! cargo run --release --example relay_bench -- storm --key-hex 00112233 --compare-baseline
//! cargo run --release --example relay_bench -- idle --channels 100000 --timeout-ms 3000 --compare-baseline
//! cargo run --release --example relay_bench -- gamerate --pairs 1000 --rate-hz 30 --compare-baseline --repeat 3
//! ```

#[cfg(target_os = "linux")]
#[path = "relay_bench/baseline.rs"]
mod baseline;
#[cfg(target_os = "linux")]
#[path = "relay_bench/floor.rs"]
mod floor;
#[cfg(target_os = "linux")]
#[path = "relay_bench/gamerate.rs"]
mod gamerate;
#[cfg(target_os = "linux")]
#[path = "relay_bench/modes.rs"]
mod modes;
#[cfg(target_os = "linux")]
#[path = "relay_bench/report.rs"]
mod report;
#[cfg(target_os = "linux")]
#[path = "relay_bench/schedule.rs"]
mod schedule;
#[cfg(target_os = "linux")]
#[path = "relay_bench/sys.rs"]
mod sys;
#[cfg(target_os = "linux")]
#[path = "relay_bench/target.rs"]
mod target;

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!(
        "relay_bench uses Linux socket APIs (recvmmsg, IP_PKTINFO, /proc) and runs on Linux only"
    );
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
fn main() {
    report::main();
}
