//! Pinning each worker's thread to a CPU of its own (Linux `sched_setaffinity`), so workers
//! do not share a core's caches or queue behind each other, and the CPUs this process may
//! use (its affinity mask: a container's cpuset), which is what `--workers auto` counts.

/// The CPUs this process may run on, in ascending order; `None` where the system does not
/// tell.
#[cfg(target_os = "linux")]
pub fn allowed_cpus() -> Option<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data for which all-zero bytes are the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 is this thread,
    // which has the process's mask when called before any pinning.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return None;
    }
    let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the number of CPUs a cpu_set_t holds.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect();
    (!cpus.is_empty()).then_some(cpus)
}

#[cfg(not(target_os = "linux"))]
pub fn allowed_cpus() -> Option<Vec<usize>> {
    None
}

/// Pins the calling thread to `cpu`.
#[cfg(target_os = "linux")]
pub fn pin_current_thread(cpu: usize) -> std::io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(std::io::Error::other(format!("CPU {cpu} is out of range")));
    }
    // SAFETY: cpu_set_t is plain data for which all-zero bytes are the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` was checked to be below CPU_SETSIZE just above.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub fn pin_current_thread(_cpu: usize) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "CPU pinning is Linux-only here",
    ))
}

/// The CPU each of `workers` workers is pinned to (`None`: left to the scheduler), with the
/// reason logged once. One worker is never pinned: in a container whose cpuset is every CPU
/// of the node (no exclusive CPUs), pinning it to the first would put every such relay of
/// the node on one core.
pub fn plan(workers: usize, enabled: bool) -> Vec<Option<usize>> {
    let none = vec![None; workers];
    if !enabled {
        log::info!("workers not pinned to CPUs (--no-cpu-pinning)");
        return none;
    }
    if workers == 1 {
        return none;
    }
    let Some(cpus) = allowed_cpus() else {
        log::info!("workers not pinned to CPUs: this system does not say which it may use");
        return none;
    };
    if cpus.len() < workers {
        log::info!(
            "workers not pinned to CPUs: {workers} workers and only {} CPUs available ({})",
            cpus.len(),
            list(&cpus)
        );
        return none;
    }
    let chosen = &cpus[..workers];
    log::info!(
        "workers pinned to CPUs {} (worker i on the i-th)",
        list(chosen)
    );
    chosen.iter().copied().map(Some).collect()
}

fn list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// How many workers `--workers auto` runs: the CPUs the process may use (its affinity mask
/// and, where the standard library reads them, cgroup CPU quotas).
pub fn cpus_available() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_pins_to_an_allowed_cpu() {
        let cpus = allowed_cpus().expect("sched_getaffinity");
        let last = *cpus.last().unwrap();
        std::thread::spawn(move || {
            pin_current_thread(last).unwrap();
            assert_eq!(allowed_cpus().unwrap(), vec![last]);
        })
        .join()
        .unwrap();
        assert!(pin_current_thread(usize::MAX).is_err());
        assert_eq!(plan(1, true), vec![None]);
        assert_eq!(plan(2, false), vec![None, None]);
        let too_many = cpus.len() + 1;
        assert_eq!(plan(too_many, true), vec![None; too_many]);
        if cpus.len() >= 2 {
            assert_eq!(plan(2, true), vec![Some(cpus[0]), Some(cpus[1])]);
        }
    }
}
