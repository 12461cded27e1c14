//! A lab: one hub namespace routing between node namespaces, each joined to the hub by its own
//! emulated link.
//!
//! ```text
//!  ns {lab}-{node}                    ns {lab}-hub (IPv4 forwarding)
//!  wan0 10.77.i.2/24 ── TUN ⇄ linkem pumps ⇄ TUN ── n{i} 10.77.i.1/24 ── routes to every other node
//!       tbf (uplink rate)      loss, delay, jitter, up/down        tbf (downlink rate)
//! ```
//!
//! The TUN devices belong to this process: they vanish when it exits, however it exits. The
//! namespaces are removed by [`Lab::drop`] and, after a crash, by [`cleanup`].

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Arc;

use serde::Serialize;
use tun_rs::AsyncDevice;

use crate::forwarder::{Direction, DirectionStats, LinkState, pump};
use crate::{LinkError, LinkProfile, sys};

/// Name of a node's link device inside its namespace.
pub const NODE_DEV: &str = "wan0";

/// One node of a lab.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// Short name (letters, digits, `-`), unique in the lab; the namespace is `{lab}-{name}`.
    pub name: String,
    /// Its link's profile.
    pub profile: LinkProfile,
}

/// One node's link, as the lab runs it.
struct NodeLink {
    name: String,
    ns: String,
    addr: Ipv4Addr,
    hub_dev: String,
    profile: LinkProfile,
    state: Arc<LinkState>,
}

/// A node's link counters in both directions.
#[derive(Debug, Clone, Serialize)]
pub struct LinkStats {
    /// The node.
    pub node: String,
    /// Its address.
    pub addr: Ipv4Addr,
    /// Whether the link is up.
    pub up: bool,
    /// The link's profile now.
    pub profile: LinkProfile,
    /// Node → hub.
    pub uplink: DirectionStats,
    /// Hub → node.
    pub downlink: DirectionStats,
}

/// A running lab; dropping it tears everything down.
pub struct Lab {
    name: String,
    seed: u64,
    hub: String,
    nodes: Vec<NodeLink>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// Removes what a lab named `name` left behind (after a crash of the process that ran it): kills
/// the processes still inside its namespaces, then deletes the namespaces.
pub fn cleanup(name: &str) -> usize {
    let namespaces = sys::namespaces_with_prefix(&format!("{name}-"));
    for ns in &namespaces {
        kill_processes_in(ns);
        sys::delete_namespace(ns);
    }
    namespaces.len()
}

/// SIGKILLs every process inside namespace `ns` (only processes a lab started live there).
pub fn kill_processes_in(ns: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() else {
        return;
    };
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if let Ok(pid) = pid.parse::<i32>()
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Lab {
    /// Creates the lab `name` (≤ 8 characters: interface and namespace names stay short) with
    /// its nodes; `seed` seeds every link's loss and jitter. Needs root.
    pub fn start(name: &str, seed: u64, nodes: &[NodeSpec]) -> Result<Lab, LinkError> {
        if name.is_empty() || name.len() > 8 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(LinkError::BadName(name.to_owned()));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("linkem-{name}"))
            .enable_all()
            .build()
            .map_err(|e| LinkError::Command(format!("runtime: {e}")))?;
        // Anything a crashed earlier run of the same lab left behind.
        cleanup(name);
        let hub = format!("{name}-hub");
        let mut lab = Lab {
            name: name.to_owned(),
            seed,
            hub: hub.clone(),
            nodes: Vec::new(),
            runtime: Some(runtime),
        };
        sys::add_namespace(&hub, true)?;
        for node in nodes {
            lab.add_node(node)?;
        }
        Ok(lab)
    }

    /// A lab with nothing in it, whose drop does nothing: what is left in a struct after its
    /// real lab was taken out to be dropped.
    pub fn detached() -> Lab {
        Lab {
            name: String::new(),
            seed: 0,
            hub: String::new(),
            nodes: Vec::new(),
            runtime: None,
        }
    }

    /// Adds a node to a running lab.
    pub fn add_node(&mut self, spec: &NodeSpec) -> Result<(), LinkError> {
        if spec.name.is_empty()
            || spec.name.len() > 12
            || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            || self.nodes.iter().any(|n| n.name == spec.name)
        {
            return Err(LinkError::BadName(spec.name.clone()));
        }
        let index = self.nodes.len() + 1;
        if index > 250 {
            return Err(LinkError::BadName("more than 250 nodes".into()));
        }
        let ns = format!("{}-{}", self.name, spec.name);
        let addr = Ipv4Addr::new(10, 77, index as u8, 2);
        let hub_addr = Ipv4Addr::new(10, 77, index as u8, 1);
        let hub_dev = format!("n{index}");
        sys::add_namespace(&ns, false)?;
        let node_tun = sys::tun_in(&ns, NODE_DEV)?;
        let hub_tun = sys::tun_in(&self.hub, &hub_dev)?;
        sys::ip_in(&ns, &["addr", "add", &format!("{addr}/24"), "dev", NODE_DEV])?;
        sys::ip_in(&ns, &["link", "set", NODE_DEV, "up"])?;
        sys::ip_in(&ns, &["route", "add", "default", "dev", NODE_DEV])?;
        sys::ip_in(
            &self.hub,
            &["addr", "add", &format!("{hub_addr}/24"), "dev", &hub_dev],
        )?;
        sys::ip_in(&self.hub, &["link", "set", &hub_dev, "up"])?;
        sys::shape(&ns, NODE_DEV, spec.profile.tbf())?;
        sys::shape(&self.hub, &hub_dev, spec.profile.tbf())?;
        let state = Arc::new(LinkState::new(spec.profile));
        let runtime = self.runtime.as_ref().ok_or(LinkError::Stopped)?;
        let (node_dev, hub_dev_async) = {
            let _guard = runtime.enter();
            let node = AsyncDevice::new(node_tun).map_err(|e| LinkError::Command(format!("TUN: {e}")))?;
            let hub = AsyncDevice::new(hub_tun).map_err(|e| LinkError::Command(format!("TUN: {e}")))?;
            (Arc::new(node), Arc::new(hub))
        };
        let seed = self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        runtime.spawn(pump(
            node_dev.clone(),
            hub_dev_async.clone(),
            state.clone(),
            Direction::Up,
            seed,
        ));
        runtime.spawn(pump(
            hub_dev_async,
            node_dev,
            state.clone(),
            Direction::Down,
            seed ^ 1,
        ));
        self.nodes.push(NodeLink {
            name: spec.name.clone(),
            ns,
            addr,
            hub_dev,
            profile: spec.profile,
            state,
        });
        Ok(())
    }

    fn node(&self, name: &str) -> Result<&NodeLink, LinkError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| LinkError::NoSuchNode(name.to_owned()))
    }

    /// The lab's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace of node `name`.
    pub fn namespace(&self, name: &str) -> Result<&str, LinkError> {
        Ok(&self.node(name)?.ns)
    }

    /// The address of node `name` (reachable from every other node).
    pub fn addr(&self, name: &str) -> Result<Ipv4Addr, LinkError> {
        Ok(self.node(name)?.addr)
    }

    /// Nodes in the order they were added.
    pub fn nodes(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// A command that runs `program` inside node `name`'s namespace (`ip netns exec`, which
    /// execs: the child's pid is the program's).
    pub fn command(&self, name: &str, program: impl AsRef<std::ffi::OsStr>) -> Result<Command, LinkError> {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.namespace(name)?]).arg(program);
        Ok(cmd)
    }

    /// Changes node `name`'s link to `profile`, now: delay, jitter and loss at the next packet,
    /// the rate by replacing both `tbf`s.
    pub fn set_profile(&mut self, name: &str, profile: LinkProfile) -> Result<(), LinkError> {
        let hub = self.hub.clone();
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.name == name)
            .ok_or_else(|| LinkError::NoSuchNode(name.to_owned()))?;
        if node.profile.tbf() != profile.tbf() {
            sys::shape(&node.ns, NODE_DEV, profile.tbf())?;
            sys::shape(&hub, &node.hub_dev, profile.tbf())?;
        }
        node.profile = profile;
        node.state.set_profile(profile);
        Ok(())
    }

    /// Takes node `name`'s link down (every packet either way silently dropped) or up again.
    pub fn set_up(&self, name: &str, up: bool) -> Result<(), LinkError> {
        self.node(name)?.state.set_up(up);
        Ok(())
    }

    /// Counters of every link.
    pub fn stats(&self) -> Vec<LinkStats> {
        self.nodes
            .iter()
            .map(|n| LinkStats {
                node: n.name.clone(),
                addr: n.addr,
                up: n.state.is_up(),
                profile: n.state.profile(),
                uplink: n.state.stats(Direction::Up),
                downlink: n.state.stats(Direction::Down),
            })
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.hub.is_empty() {
            return;
        }
        // Stop the pumps (closing the TUN devices), then remove the namespaces and anything
        // still running in them.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        for node in &self.nodes {
            kill_processes_in(&node.ns);
            sys::delete_namespace(&node.ns);
        }
        kill_processes_in(&self.hub);
        sys::delete_namespace(&self.hub);
    }
}
