//! A NAT test bed made of Linux network namespaces, built by the test that uses it and
//! deleted when dropped (a panicking test included).
//!
//! ```text
//! relay ns                       NAT ns i (nftables masquerade out of "wan")    host ns j
//! bridge "wan" 203.0.113.1/24 -- veth "wan" 203.0.113.(10+i)/24
//!                                bridge "lan" <LAN i>.1/24 -------------------- veth "eth0" <LAN i>.(10+j)/24
//!                                                                                default via <LAN i>.1
//! ```
//!
//! NAT 1's LAN is 198.51.100.0/24 and NAT 2's 192.0.2.0/24. These addresses exist only
//! inside the namespaces, which have no link to the machine's own network: nothing leaves
//! them.
//!
//! Network namespace membership is per thread on Linux, and a socket stays in the namespace
//! it was created in whichever thread uses it later. [`in_netns`] runs a closure on a fresh
//! thread that joined a namespace: that is how the relay and the clients of one test all
//! live in the test process, each bound in its own namespace.
#![allow(dead_code)]

use std::fs::File;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use udp_relay::client::{Client, ClientConfig};
use udp_relay::relay;

use crate::client_support::RelayThread;

/// The relay's address inside the relay namespace (the NATs' "internet").
pub const RELAY_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    Ipv4Addr::new(203, 0, 113, 1),
    6060,
));

/// First three octets of each NAT's LAN, in the order the NATs are made.
const LANS: [[u8; 3]; 2] = [[198, 51, 100], [192, 0, 2]];

/// Prefix of every namespace this module makes; the process id follows.
const PREFIX: &str = "urnat-";

/// Runs `f` on a fresh thread inside network namespace `ns` and returns what it returns.
/// Sockets `f` creates belong to `ns` for good.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                // SAFETY: `file` stays open for the call, so the descriptor is valid; setns
                // moves only this thread, which ends with the closure, into the namespace.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns({path}): {}", io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A NAT: its namespace, its public address and its LAN.
#[derive(Debug)]
pub struct Nat {
    pub ns: String,
    pub wan: Ipv4Addr,
    lan: [u8; 3],
    hosts: u8,
}

/// A host on a NAT's LAN.
#[derive(Debug, Clone)]
pub struct Host {
    pub ns: String,
    pub ip: Ipv4Addr,
}

impl Host {
    /// A client whose socket is bound in this host's namespace.
    pub fn connect(&self, config: ClientConfig) -> Client {
        in_netns(&self.ns, || Client::connect(config)).expect("client connect")
    }

    /// `n` clients bound in this host's namespace, in the order of `configs`.
    pub fn connect_all(&self, configs: Vec<ClientConfig>) -> Vec<Client> {
        in_netns(&self.ns, || {
            configs
                .into_iter()
                .map(|c| Client::connect(c).expect("client connect"))
                .collect()
        })
    }
}

/// The test bed. Every namespace it made is deleted on drop.
pub struct NatLab {
    /// `urnat-<pid>-<case>-`: unique per process and test, so tests run in parallel.
    prefix: String,
    namespaces: Vec<String>,
    ip: PathBuf,
    nft: PathBuf,
    conntrack: PathBuf,
    nats: usize,
}

/// Where this machine cannot build the bed: a loud skip, or a failure when `CI=true` (CI
/// installs everything and runs as root, so a skip there would hide a broken test).
fn skip(missing: &str) -> Option<NatLab> {
    crate::netns::skip(missing);
    None
}

/// `program` on PATH, or in the sbin directories a non-login root shell may lack.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn run(program: &Path, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = || format!("{} {}", program.display(), args.join(" "));
    let mut child = command
        .spawn()
        .map_err(|e| format!("{}: cannot start: {e}", shown()))?;
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes())
            .map_err(|e| format!("{}: stdin: {e}", shown()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", shown()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{} failed ({}): {stdout}{}",
            shown(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn must(result: Result<String, String>) -> String {
    result.unwrap_or_else(|e| panic!("{e}"))
}

impl NatLab {
    /// The relay namespace with its "wan" bridge, or `None` after a SKIPPED warning where
    /// this machine cannot build the bed (see [`skip`]). `case` names the test in the
    /// namespaces' names.
    pub fn new(case: &str) -> Option<NatLab> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return skip("root (CAP_SYS_ADMIN) to create network namespaces");
        }
        let tools: Vec<_> = ["ip", "nft", "conntrack"]
            .iter()
            .map(|name| (*name, find_program(name)))
            .collect();
        let missing: Vec<&str> = tools
            .iter()
            .filter(|(_, path)| path.is_none())
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            return skip(&format!(
                "{} (apt-get install iproute2 nftables conntrack, or run .ci/install-deps.sh)",
                missing.join(", ")
            ));
        }
        let [ip, nft, conntrack] = [0, 1, 2].map(|i| tools[i].1.clone().unwrap());
        let mut lab = NatLab {
            prefix: format!("{PREFIX}{}-{case}-", std::process::id()),
            namespaces: Vec::new(),
            ip,
            nft,
            conntrack,
            nats: 0,
        };
        lab.sweep_stale();
        if let Err(e) = lab.add_namespace("relay") {
            return skip(&format!("network namespaces ({e})"));
        }
        let relay = lab.ns_name("relay");
        // The programs may be there while the kernel lacks nftables NAT or conntrack's
        // netlink interface; try both once where it does no harm.
        let probe = "table ip probe {\n  chain postrouting {\n    \
                     type nat hook postrouting priority srcnat;\n    \
                     oifname \"none\" masquerade random\n  }\n}\ndelete table ip probe\n";
        let nft = lab.nft.to_str().unwrap().to_string();
        let conntrack = lab.conntrack.to_str().unwrap().to_string();
        let probes = [
            ("nftables NAT", vec![nft.as_str(), "-f", "-"], Some(probe)),
            ("conntrack netlink", vec![conntrack.as_str(), "-L"], None),
        ];
        for (what, command, stdin) in probes {
            let mut args = vec!["netns", "exec", &relay];
            args.extend(command);
            if let Err(e) = run(&lab.ip, &args, stdin) {
                return skip(&format!("{what} in the kernel ({e})"));
            }
        }
        lab.ip(&relay, "link add wan type bridge");
        lab.ip(&relay, "addr add 203.0.113.1/24 dev wan");
        lab.ip(&relay, "link set wan up");
        lab.ip(&relay, "link set lo up");
        Some(lab)
    }

    pub fn relay_ns(&self) -> String {
        self.ns_name("relay")
    }

    /// A relay bound to [`RELAY_ADDR`] in the relay namespace (`config.bind` is replaced).
    pub fn start_relay(&self, config: relay::Config) -> RelayThread {
        let config = relay::Config {
            bind: RELAY_ADDR,
            ..config
        };
        in_netns(&self.relay_ns(), || RelayThread::start_with(config))
    }

    /// A NAT on the relay's bridge whose postrouting chain ends in `oifname "wan" <rule>`,
    /// e.g. `masquerade` or `masquerade random`.
    pub fn nat(&mut self, rule: &str) -> Nat {
        assert!(self.nats < LANS.len(), "at most {} NATs", LANS.len());
        self.nats += 1;
        let i = self.nats;
        let role = format!("nat{i}");
        self.add_namespace(&role).unwrap_or_else(|e| panic!("{e}"));
        let ns = self.ns_name(&role);
        let relay = self.relay_ns();
        let wan = Ipv4Addr::new(203, 0, 113, 10 + i as u8);
        let lan = LANS[i - 1];
        let gateway = Ipv4Addr::new(lan[0], lan[1], lan[2], 1);
        // Made inside the namespaces, so the interface names cannot clash between tests.
        self.ip(
            &ns,
            &format!("link add wan type veth peer name n{i} netns {relay}"),
        );
        self.ip(&relay, &format!("link set n{i} master wan up"));
        self.ip(&ns, &format!("addr add {wan}/24 dev wan"));
        self.ip(&ns, "link set wan up");
        self.ip(&ns, "link set lo up");
        self.ip(&ns, "link add lan type bridge");
        self.ip(&ns, &format!("addr add {gateway}/24 dev lan"));
        self.ip(&ns, "link set lan up");
        write_sysctl(&ns, "net/ipv4/ip_forward", "1");
        let ruleset = format!(
            "table ip nat {{\n  chain postrouting {{\n    \
             type nat hook postrouting priority srcnat; policy accept;\n    \
             oifname \"wan\" {rule}\n  }}\n}}\n"
        );
        self.nft(&ns, &ruleset);
        Nat {
            ns,
            wan,
            lan,
            hosts: 0,
        }
    }

    /// A host on `nat`'s LAN, routed through it.
    pub fn host(&mut self, nat: &mut Nat) -> Host {
        nat.hosts += 1;
        let j = nat.hosts;
        let role = format!("{}h{j}", nat.ns.rsplit('-').next().unwrap());
        self.add_namespace(&role).unwrap_or_else(|e| panic!("{e}"));
        let ns = self.ns_name(&role);
        let [a, b, c] = nat.lan;
        let ip = Ipv4Addr::new(a, b, c, 10 + j);
        self.ip(
            &ns,
            &format!("link add eth0 type veth peer name h{j} netns {}", nat.ns),
        );
        self.ip(&nat.ns, &format!("link set h{j} master lan up"));
        self.ip(&ns, &format!("addr add {ip}/24 dev eth0"));
        self.ip(&ns, "link set eth0 up");
        self.ip(&ns, "link set lo up");
        self.ip(&ns, &format!("route add default via {a}.{b}.{c}.1"));
        Host { ns, ip }
    }

    /// Replaces `nat`'s rule with `oifname "wan" <rule>`; mappings made before keep theirs.
    pub fn set_rule(&self, nat: &Nat, rule: &str) {
        self.nft(
            &nat.ns,
            &format!(
                "flush chain ip nat postrouting\nadd rule ip nat postrouting oifname \"wan\" {rule}\n"
            ),
        );
    }

    /// Deletes `nat`'s UDP mappings for `host` (its conntrack entries), as a NAT that
    /// rebooted or ran out of table space does: the host's next datagram gets a new one.
    pub fn forget_mappings(&self, nat: &Nat, host: &Host) {
        let out = must(run(
            &self.ip,
            &[
                "netns",
                "exec",
                &nat.ns,
                self.conntrack.to_str().unwrap(),
                "-D",
                "-p",
                "udp",
                "--orig-src",
                &host.ip.to_string(),
            ],
            None,
        ));
        assert!(
            out.contains("udp"),
            "no mapping of {} to delete: {out}",
            host.ip
        );
    }

    /// The public address `nat` maps `private` (a host's socket) to on the way to the relay,
    /// or `None` if it holds no live mapping for it.
    pub fn mapping(&self, nat: &Nat, private: SocketAddr) -> Option<SocketAddr> {
        let out = must(run(
            &self.ip,
            &[
                "netns",
                "exec",
                &nat.ns,
                self.conntrack.to_str().unwrap(),
                "-L",
                "-p",
                "udp",
                "--orig-src",
                &private.ip().to_string(),
                "--orig-port-src",
                &private.port().to_string(),
                "--orig-dst",
                &RELAY_ADDR.ip().to_string(),
            ],
            None,
        ));
        let line = out.lines().find(|l| l.starts_with("udp"))?;
        // The reply direction (the second src/dst/sport/dport group) is addressed to the
        // public side of the mapping.
        let field = |key: &str| {
            line.split_whitespace()
                .filter_map(|w| w.strip_prefix(key))
                .nth(1)
                .unwrap_or_else(|| panic!("no second {key} in {line}"))
                .to_string()
        };
        Some(SocketAddr::new(
            field("dst=").parse().unwrap(),
            field("dport=").parse().unwrap(),
        ))
    }

    /// Sets both of `nat`'s UDP conntrack timeouts (a mapping that saw traffic one way, and
    /// one that saw it both ways), in seconds.
    pub fn set_udp_timeouts(&self, nat: &Nat, secs: u32) {
        for key in UDP_TIMEOUTS {
            write_sysctl(&nat.ns, key, &secs.to_string());
        }
    }

    /// `nat`'s two UDP conntrack timeouts, in seconds.
    pub fn udp_timeouts(&self, nat: &Nat) -> [u32; 2] {
        UDP_TIMEOUTS.map(|key| {
            let text = in_netns(&nat.ns, || std::fs::read_to_string(sysctl_path(key)));
            text.unwrap_or_else(|e| panic!("read {key} in {}: {e}", nat.ns))
                .trim()
                .parse()
                .unwrap()
        })
    }

    fn ns_name(&self, role: &str) -> String {
        format!("{}{role}", self.prefix)
    }

    fn add_namespace(&mut self, role: &str) -> Result<(), String> {
        let name = self.ns_name(role);
        run(&self.ip, &["netns", "add", &name], None)?;
        self.namespaces.push(name);
        Ok(())
    }

    fn ip(&self, ns: &str, args: &str) {
        let mut all = vec!["-n", ns];
        all.extend(args.split_whitespace());
        must(run(&self.ip, &all, None));
    }

    fn nft(&self, ns: &str, script: &str) {
        let nft = self.nft.to_str().unwrap();
        must(run(
            &self.ip,
            &["netns", "exec", ns, nft, "-f", "-"],
            Some(script),
        ));
    }

    /// Deletes namespaces left by test processes that died before their cleanup ran.
    fn sweep_stale(&self) {
        let Ok(entries) = std::fs::read_dir("/run/netns") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split('-').next())
            else {
                continue;
            };
            if !Path::new("/proc").join(pid).exists() {
                let _ = run(&self.ip, &["netns", "del", &name], None);
            }
        }
    }
}

impl Drop for NatLab {
    fn drop(&mut self) {
        for name in self.namespaces.iter().rev() {
            if let Err(e) = run(&self.ip, &["netns", "del", name], None) {
                eprintln!("NAT test bed cleanup: {e}");
            }
        }
    }
}

/// The UDP conntrack timeouts: unreplied / replied once, and seen both ways for a while.
const UDP_TIMEOUTS: [&str; 2] = [
    "net/netfilter/nf_conntrack_udp_timeout",
    "net/netfilter/nf_conntrack_udp_timeout_stream",
];

fn sysctl_path(key: &str) -> PathBuf {
    Path::new("/proc/sys").join(key)
}

/// Writes a per-namespace sysctl: /proc/sys/net shows the namespace of the thread that
/// opens it.
fn write_sysctl(ns: &str, key: &str, value: &str) {
    in_netns(ns, || std::fs::write(sysctl_path(key), value))
        .unwrap_or_else(|e| panic!("write {key} = {value} in {ns}: {e}"));
}
