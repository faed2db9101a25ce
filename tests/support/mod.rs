//! Shared by the tests that drive udp-relay from other languages (C examples, C# bindings):
//! where cargo put the native library, a v0.8 handshake writer that plays a game peer, UDP
//! peers on 127.0.0.1, and a child process whose output lines can be awaited.
//!
//! Each test crate uses a different part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Magic of a v0.8 handshake.
pub const HANDSHAKE_MAGIC: u32 = 0x04B2_8000;
/// A v0.8 handshake without extensions.
pub const HANDSHAKE_LEN: usize = 56;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`: the test binary runs from `target/<profile>/deps/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    let deps = exe.parent().expect("deps directory");
    deps.parent().expect("profile directory").to_path_buf()
}

/// File name of the shared library on this platform (`libudp_relay.so` on Linux).
pub fn shared_library_name() -> String {
    format!(
        "{}udp_relay{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The shared library's soname on Linux (`libudp_relay.so.<ABI version>`, set by build.rs):
/// the file name a program linked against it looks for at run time.
pub fn shared_library_soname() -> String {
    format!("libudp_relay.so.{}", udp_relay::ffi::RELAY_ABI_VERSION)
}

/// The directory holding the shared library cargo just built for this test run. `cargo
/// test` rebuilds it in `target/<profile>/deps/` and only `cargo build` copies it up to
/// `target/<profile>/`, so the copy there may be stale: take the newer of the two.
///
/// On Linux the directory also gets the link `libudp_relay.so.<ABI>` -> `libudp_relay.so`
/// that an installation has (`scripts/install.sh`), so programs linked with `-ludp_relay`
/// find the library by its soname through their rpath or `LD_LIBRARY_PATH`.
pub fn native_library_dir() -> PathBuf {
    let dir = newest_library_dir();
    #[cfg(target_os = "linux")]
    link_soname(&dir);
    dir
}

/// Points `dir/<soname>` at `dir/libudp_relay.so`, atomically: test threads and processes
/// may do it at once.
#[cfg(target_os = "linux")]
fn link_soname(dir: &Path) {
    let link = dir.join(shared_library_soname());
    if std::fs::read_link(&link).is_ok_and(|target| target == Path::new(&shared_library_name())) {
        return;
    }
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let temporary = dir.join(format!(
        ".{}.{}.{unique}",
        shared_library_soname(),
        std::process::id()
    ));
    std::os::unix::fs::symlink(shared_library_name(), &temporary)
        .and_then(|()| std::fs::rename(&temporary, &link))
        .unwrap_or_else(|e| panic!("linking {} to the library: {e}", link.display()));
}

fn newest_library_dir() -> PathBuf {
    let profile = profile_dir();
    let name = shared_library_name();
    let modified = |dir: &PathBuf| {
        std::fs::metadata(dir.join(&name))
            .and_then(|m| m.modified())
            .ok()
    };
    [profile.join("deps"), profile.clone()]
        .into_iter()
        .filter_map(|dir| modified(&dir).map(|time| (time, dir)))
        .reduce(|newest, next| if next.0 > newest.0 { next } else { newest })
        .map(|(_, dir)| dir)
        .unwrap_or_else(|| {
            panic!(
                "{name} not found in {} or its deps/: is `cdylib` still a crate-type?",
                profile.display()
            )
        })
}

/// Whether `program` can be started (looked up on PATH).
pub fn have_program(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// A v0.8 handshake for `guid` with no extensions and a zero mac (relay without a key).
pub fn handshake(guid: u128) -> [u8; HANDSHAKE_LEN] {
    let mut datagram = [0u8; HANDSHAKE_LEN];
    datagram[0..4].copy_from_slice(&HANDSHAKE_MAGIC.to_be_bytes());
    // length (2 bytes) and flags (2 bytes) stay zero.
    datagram[8..24].copy_from_slice(&guid.to_be_bytes());
    datagram
}

/// The GUID's text form, `8-4-4-4-12` lowercase hex.
pub fn guid_text(guid: u128) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (guid >> 96) as u32,
        (guid >> 80) as u16,
        (guid >> 64) as u16,
        (guid >> 48) as u16,
        guid & 0xffff_ffff_ffff
    )
}

/// A game peer: one UDP socket on 127.0.0.1 talking to the relay.
pub struct Peer {
    pub socket: UdpSocket,
    pub relay: SocketAddr,
}

impl Peer {
    pub fn new(relay_port: u16) -> Peer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind peer socket");
        socket
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        Peer {
            socket,
            relay: SocketAddr::from(([127, 0, 0, 1], relay_port)),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    pub fn send(&self, payload: &[u8]) {
        self.socket.send_to(payload, self.relay).expect("send");
    }

    /// The next datagram, which must come from the relay.
    pub fn recv(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 65_536];
        let (n, from) = self
            .socket
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("peer {} got nothing from the relay: {e}", self.addr()));
        assert_eq!(
            from, self.relay,
            "datagram from somewhere else than the relay"
        );
        buf.truncate(n);
        buf
    }
}

/// A child process whose stdout lines arrive on a channel and whose stderr is collected.
/// Killed on drop if still running, so a failed assertion never leaves it behind.
pub struct Process {
    pub child: Child,
    lines: Receiver<String>,
    pub stdout_seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Process {
    /// Starts `command` with piped stdout and stderr.
    pub fn spawn(mut command: Command) -> Process {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Process {
            child,
            lines,
            stdout_seen: Vec::new(),
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Waits for the next stdout line matching `wanted`, keeping every line seen.
    pub fn expect_line(
        &mut self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout_seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {timeout:?}\n{}", self.transcript())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("output ended before {what}\n{}", self.transcript())
                }
            }
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal would.
    pub fn interrupt(&self) {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -INT {}", self.child.id()))
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT failed");
    }

    /// Waits for the process to exit, then collects the rest of its output.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "process did not exit within {timeout:?}\n{}",
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.stdout_seen.push(line);
        }
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        status
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything printed so far, for failure messages.
    pub fn transcript(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout_seen.join("\n"),
            self.stderr()
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A command running a program linked against the shared library. `cargo test` puts
/// `target/<profile>` (which may hold a stale copy of the library) on LD_LIBRARY_PATH, which
/// would win over the program's rpath: point it at the library this run built instead.
pub fn native_program(exe: &Path) -> Command {
    let mut command = Command::new(exe);
    command.env("LD_LIBRARY_PATH", native_library_dir());
    command
}

/// Runs `command` to completion, panicking with its output if it fails.
pub fn run_ok(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{text}",
        output.status
    );
    text
}

/// Compiler flags of an AddressSanitizer + UndefinedBehaviorSanitizer build (C and C++).
pub const SANITIZER_FLAGS: &[&str] = &[
    "-O1",
    "-g",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
];

/// Environment a sanitized program runs with: leaks are checked and any report fails it.
pub const SANITIZER_ENV: &[(&str, &str)] = &[
    (
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:exitcode=23",
    ),
    ("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1"),
];

/// Whether `output` holds a sanitizer report.
pub fn has_sanitizer_report(output: &str) -> bool {
    output.contains("Sanitizer") || output.contains("runtime error")
}

/// Compiler arguments linking the shared library cargo built for this test run, found at
/// run time through the rpath.
pub fn shared_library_link_args() -> Vec<String> {
    let lib_dir = native_library_dir();
    vec![
        format!("-L{}", lib_dir.display()),
        "-ludp_relay".to_string(),
        format!("-Wl,-rpath,{}", lib_dir.display()),
    ]
}

/// Builds `tests/c/<name>.c` with the system C compiler (`CC`, default `cc`) as strict C99
/// against the header and the shared library, with `flags` added (e.g. [`SANITIZER_FLAGS`]),
/// into a scratch directory `scratch`; panics with the compiler's output if it fails.
pub fn build_c_test_program(name: &str, scratch: &str, flags: &[&str]) -> PathBuf {
    let root = repo_root();
    let exe = scratch_dir(scratch).join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let source = format!("tests/c/{name}.c");
    let out = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(flags)
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join(&source))
        .arg("-o")
        .arg(&exe)
        .args(shared_library_link_args())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        out.status.success(),
        "compiling {source} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// A scratch directory under `target/<profile>/`, emptied first.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = profile_dir().join("lang-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `key=value` pairs of a line such as `stats datagrams_in=3 datagrams_out=2`.
pub fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

/// System libraries a static libudp_relay.a needs on Linux (glibc), as printed by
/// `cargo rustc --crate-type staticlib -- --print native-static-libs`.
pub const STATIC_SYSTEM_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];
