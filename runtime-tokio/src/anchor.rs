//! The registry-anchor role: a node that is its own registry anchor (HS-ID-3) and signs the
//! registry records itself — what `humansync-server` runs as its always-on peer.
//!
//! The anchor admits every device its records register and not revoke (HS-GATE-2), keeps every
//! document and blob its devices sync, and is the only node whose [`Node::add_signed_record`]
//! accepts records (HS-REG-5). Where the records are kept durably (the server's SQLite registry)
//! is the caller's business: the node also keeps them in its `_devices` document, but re-inserting
//! them after a restart is cheap and idempotent.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use humansync_protocol::{DeviceId, RegistryRecord, SignedRecord};
use humansync_sansio::registry::Registry;

use crate::driver::{AnchorCommand, Command};
use crate::pairing::PairingState;
use crate::{Error, HumanSyncConfig, Node};

/// The direct addresses each peer was last seen at, `ip:port` (DeviceInfo.addrs, HS-HTTP-2).
pub type PeerAddrs = BTreeMap<DeviceId, Vec<SocketAddr>>;

/// The anchor of a node started with [`Node::init_anchor`]: itself. A storage directory that
/// was paired with a server as a device cannot become an anchor (its view trusts that server).
pub(crate) fn own_anchor(me: DeviceId, pairing: &PairingState) -> Result<Option<DeviceId>, Error> {
    match pairing.anchor() {
        Some(other) if other != me => Err(Error::Config(crate::ConfigError::Parse(format!(
            "this storage is paired as a device with server {other}; it cannot be a registry anchor"
        )))),
        _ => Ok(Some(me)),
    }
}

impl Node {
    /// Starts a node that is its own registry anchor (the server role): like [`crate::init`],
    /// but it trusts records signed by its own key and admits the devices they register.
    pub async fn init_anchor(config: HumanSyncConfig) -> Result<Node, Error> {
        crate::node::start(config, true).await
    }

    /// True if this node is its own registry anchor.
    pub async fn is_anchor(&self) -> Result<bool, Error> {
        Ok(self.registry().await?.anchor() == Some(self.id()))
    }

    /// Signs `record` with this node's key (HS-REG-1). Only an anchor's signatures are trusted;
    /// the record changes nothing until [`Node::add_signed_record`] inserts it.
    pub fn sign_record(&self, record: &RegistryRecord) -> Result<SignedRecord, Error> {
        record
            .sign(self.signing_key())
            .map_err(|e| Error::Registry(e.to_string()))
    }

    /// Inserts a record this anchor signed into its registry view and `_devices` (HS-REG-2,
    /// HS-REG-4), pushes it to every open session at once (HS-REG-6) and, for a revocation,
    /// closes every connection of the revoked device before returning (HS-GATE-4).
    /// Inserting a record already held changes nothing. Fails with [`Error::NotAnchor`] on a
    /// node started with [`crate::init`].
    pub async fn add_signed_record(&self, record: SignedRecord) -> Result<(), Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Anchor(AnchorCommand::AddRecord {
            record: Box::new(record),
            reply,
        }))
        .await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// A copy of the node's registry view: every verified record and each device's status (HS-REG-4).
    pub async fn registry(&self) -> Result<Registry, Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Anchor(AnchorCommand::Registry { reply }))
            .await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }

    /// The direct addresses each admitted peer was last seen at (since this node started).
    pub async fn peer_addrs(&self) -> Result<PeerAddrs, Error> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Anchor(AnchorCommand::PeerAddrs { reply }))
            .await?;
        rx.await.map_err(|_| Error::Shutdown)?
    }
}
