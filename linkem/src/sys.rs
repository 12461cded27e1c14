//! The kernel side: named network namespaces (`ip netns`), addresses and routes, `tbf`, and
//! TUN devices created inside a namespace.

use std::os::fd::OwnedFd;
use std::process::Command;

use crate::LinkError;

/// Runs a command to completion; its stderr becomes the error.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<(), LinkError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| LinkError::Command(format!("{program}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LinkError::Command(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// `ip -n NS ARGS…`.
pub(crate) fn ip_in(ns: &str, args: &[&str]) -> Result<(), LinkError> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Creates the named namespace with loopback up and IPv4 forwarding as asked.
pub(crate) fn add_namespace(ns: &str, forwarding: bool) -> Result<(), LinkError> {
    run("ip", &["netns", "add", ns])?;
    ip_in(ns, &["link", "set", "lo", "up"])?;
    let forward = if forwarding { "1" } else { "0" };
    for (key, value) in [
        ("net.ipv4.ip_forward", forward),
        // Packets leave by the TUN they did not arrive on; strict reverse-path checks would drop them.
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.default.rp_filter", "0"),
    ] {
        run(
            "ip",
            &["netns", "exec", ns, "sysctl", "-qw", &format!("{key}={value}")],
        )?;
    }
    Ok(())
}

/// Deletes the named namespace; absent is fine.
pub(crate) fn delete_namespace(ns: &str) {
    let _ = run("ip", &["netns", "del", ns]);
}

/// Names of the namespaces that start with `prefix`.
pub(crate) fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Opens a TUN device named `name` inside namespace `ns` (from a short-lived thread that enters
/// the namespace; the device stays in it). The device disappears when the returned fd closes.
pub(crate) fn tun_in(ns: &str, name: &str) -> Result<tun_rs::SyncDevice, LinkError> {
    let name = name.to_owned();
    spawn_in_namespace(ns, move || {
        tun_rs::DeviceBuilder::new()
            .name(name.clone())
            .mtu(1500)
            .build_sync()
            .map_err(|e| LinkError::Command(format!("TUN {name}: {e}")))
    })
    .join()
    .map_err(|_| LinkError::Command("TUN thread panicked".into()))??
}

/// Runs `f` on a new thread inside namespace `ns`; sockets it creates stay in that namespace.
/// The thread's result is `Err` when it could not enter the namespace (then `f` never ran).
pub fn spawn_in_namespace<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<Result<T, LinkError>> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        enter(&path)?;
        Ok(f())
    })
}

fn enter(path: &str) -> Result<(), LinkError> {
    let ns_fd: OwnedFd = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| LinkError::Command(format!("open {path}: {e}")))?;
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&ns_fd),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(|e| LinkError::Command(format!("setns {path}: {e}")))
}

/// Sets the device's egress rate (`tbf`) to the profile's, or removes shaping.
pub(crate) fn shape(ns: &str, dev: &str, tbf: Option<(u64, u64, u64)>) -> Result<(), LinkError> {
    match tbf {
        Some((rate, burst, limit)) => {
            let (rate, burst, limit) = (format!("{rate}bit"), burst.to_string(), limit.to_string());
            run(
                "tc",
                &[
                    "-n", ns, "qdisc", "replace", "dev", dev, "root", "tbf", "rate", &rate, "burst", &burst,
                    "limit", &limit,
                ],
            )
        }
        None => {
            // Absent already is fine.
            let _ = run("tc", &["-n", ns, "qdisc", "del", "dev", dev, "root"]);
            Ok(())
        }
    }
}
