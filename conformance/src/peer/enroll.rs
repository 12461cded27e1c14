//! How the runner gets its own identities registered (and one revoked) at the node under test:
//!
//! * against a server: an OPAQUE password login (`POST /pair/start`, `/pair/finish`) for each
//!   fresh key (HS-HTTP-2) and a login bound to the target, finished by `DELETE /devices/{id}`,
//!   to revoke (HS-HTTP-4);
//! * against a bare library node: the runner is given the deployment's anchor secret key, signs
//!   Device / Revoked records itself (HS-REG-1) and pushes them in `_devices` over a session
//!   dialled *as the anchor*, which every paired node admits (HS-GATE-2).

use automerge::Automerge;
use automerge::sync::{self, SyncDoc};
use ed25519_dalek::SigningKey;
use humansync_protocol::digest::heads_digest;
use humansync_protocol::http::{PairResponse, RevokeResponse};
use humansync_protocol::login::{
    Hex, LoginStartResponse, OpaqueAuth, PairFinishRequest, PairStartRequest, RevokeStartRequest,
    SealedAnswer,
};
use humansync_protocol::{
    ChangeHash, DeviceId, DocId, Fingerprint, Message, RegistryRecord, SetSummary, SignedRecord, V1,
};
use humansync_sansio::pairing::pake::{ClientStart, Context, PakeRng};
use humansync_sansio::registry::{Registry, put_record};

use super::wire::{Dialer, Ending, after};
use super::{PeerError, Target};

/// How identities are registered and revoked.
pub enum Enrollment {
    /// A bare library node paired with this anchor key: sign and push records.
    Anchor(Box<AnchorPush>),
    /// A server: pair and revoke over its HTTP API.
    Server(Box<ServerApi>),
}

impl Enrollment {
    /// The registry anchor the runner's own core trusts.
    pub fn anchor(&self) -> Option<DeviceId> {
        match self {
            Enrollment::Anchor(push) => Some(push.id),
            Enrollment::Server(api) => api.anchor,
        }
    }

    /// Registers `devices`; returns every verified record the runner now knows (for its core).
    /// The anchor push needs the complete target; the server's API does not.
    pub async fn register(
        &mut self,
        target: Option<&Target>,
        devices: &[DeviceId],
    ) -> Result<Vec<SignedRecord>, PeerError> {
        match self {
            Enrollment::Anchor(push) => {
                let target = target.ok_or(PeerError::NoTarget)?;
                for device in devices {
                    let record = RegistryRecord::Device {
                        device: *device,
                        name: "conformance".into(),
                        paired_at_ms: super::unix_ms(),
                    };
                    push.add(&record)?;
                }
                push.push(target).await?;
                Ok(push.records())
            }
            Enrollment::Server(api) => {
                let mut records = Vec::new();
                for device in devices {
                    records = api.pair(*device).await?;
                }
                Ok(records)
            }
        }
    }

    /// Revokes `device`.
    pub async fn revoke(&mut self, target: &Target, device: DeviceId) -> Result<(), PeerError> {
        match self {
            Enrollment::Anchor(push) => {
                push.add(&RegistryRecord::Revoked {
                    device,
                    revoked_at_ms: super::unix_ms(),
                })?;
                push.push(target).await.map(|_| ())
            }
            Enrollment::Server(api) => api.revoke(device).await,
        }
    }
}

/// The anchor's side: its key, its copy of `_devices`, and what it observed.
pub struct AnchorPush {
    key: SigningKey,
    id: DeviceId,
    doc: Automerge,
}

impl AnchorPush {
    /// The anchor with this secret key and an empty `_devices`.
    pub fn new(key: SigningKey) -> AnchorPush {
        AnchorPush {
            id: DeviceId::from(&key),
            key,
            doc: Automerge::new(),
        }
    }

    fn add(&mut self, record: &RegistryRecord) -> Result<(), PeerError> {
        let signed = record
            .sign(&self.key)
            .map_err(|e| PeerError::Setup(format!("sign record: {e}")))?;
        put_record(&mut self.doc, &signed);
        Ok(())
    }

    /// Every record in our `_devices` that verifies under the anchor (HS-REG-3).
    fn records(&self) -> Vec<SignedRecord> {
        let mut registry = Registry::new(Some(self.id));
        registry.absorb_doc(&self.doc);
        registry.records().cloned().collect()
    }

    /// Dials the node as the anchor and syncs `_devices` both ways until both sides hold the
    /// same heads (Automerge sync, HS-SYNC-3), then closes with CLOSE_NORMAL.
    async fn push(&mut self, target: &Target) -> Result<(), PeerError> {
        let dialer = Dialer::bind(self.key.to_bytes(), &target.addrs[0]).await?;
        let mut result = Err(PeerError::Duplicate);
        for _ in 0..super::checks::DUPLICATE_RETRIES {
            result = self.push_on(&dialer, target).await;
            if !matches!(result, Err(PeerError::Duplicate)) {
                break;
            }
            tokio::time::sleep(super::checks::DUPLICATE_PAUSE).await;
        }
        dialer.close().await;
        result
    }

    async fn push_on(&mut self, dialer: &Dialer, target: &Target) -> Result<(), PeerError> {
        let mut wire = match dialer.session(target).await {
            Ok(wire) => wire,
            Err(end) => return Err(refused_anchor(&end)),
        };
        let ours = heads_digest(&heads(&self.doc));
        wire.send(&Message::Hello {
            versions: vec![V1],
            set: SetSummary {
                count: 0,
                fingerprint: Fingerprint::EMPTY,
            },
            devices: ours,
        })
        .await?;
        let deadline = after(target.timeout);
        match wire.next_message(deadline).await {
            Ok(Message::Welcome { .. }) => {}
            Ok(other) => {
                return Err(PeerError::Setup(format!(
                    "the node answered the anchor's Hello with {}",
                    other.kind()
                )));
            }
            Err(end) => return Err(refused_anchor(&end)),
        };
        let devices = DocId::devices();
        let mut state = sync::State::new();
        loop {
            while let Some(msg) = self.doc.generate_sync_message(&mut state) {
                wire.send(&Message::DocSync {
                    doc: devices.clone(),
                    message: msg.encode(),
                })
                .await?;
            }
            if converged(&self.doc, &state) {
                wire.close(humansync_protocol::CloseCode::NORMAL);
                return Ok(());
            }
            let msg = wire.next_message(deadline).await.map_err(|end| {
                PeerError::Setup(format!("registry push as the anchor did not converge: {end}"))
            })?;
            if let Message::DocSync { doc, message } = msg
                && doc.is_devices()
            {
                let decoded = sync::Message::decode(&message)
                    .map_err(|e| PeerError::Setup(format!("the node's _devices sync message: {e}")))?;
                self.doc
                    .receive_sync_message(&mut state, decoded)
                    .map_err(|e| PeerError::Setup(format!("apply the node's _devices sync message: {e}")))?;
            }
        }
    }
}

/// Both sides hold the same `_devices` heads.
fn converged(doc: &Automerge, state: &sync::State) -> bool {
    let mut ours = doc.get_heads();
    ours.sort();
    match &state.their_heads {
        Some(theirs) => {
            let mut theirs = theirs.clone();
            theirs.sort();
            theirs == ours
        }
        None => false,
    }
}

fn heads(doc: &Automerge) -> Vec<ChangeHash> {
    doc.get_heads().iter().map(|h| ChangeHash(h.0)).collect()
}

fn refused_anchor(end: &Ending) -> PeerError {
    if *end == Ending::Closed(humansync_protocol::CloseCode::DUPLICATE) {
        return PeerError::Duplicate;
    }
    PeerError::Setup(format!(
        "the node refused a session from the anchor key ({end}); is it paired with this anchor?"
    ))
}

/// An RNG for OPAQUE, seeded from the OS.
fn rng() -> Result<PakeRng, PeerError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| PeerError::Setup(format!("no OS randomness: {e}")))?;
    Ok(PakeRng::from_seed(seed))
}

/// The server's HTTP API (pairing and revocation with OPAQUE logins, HTTP API version 2).
pub struct ServerApi {
    base: reqwest::Url,
    password: String,
    client: reqwest::Client,
    anchor: Option<DeviceId>,
    /// The first pairing response (server id and addresses).
    pub first: Option<PairResponse>,
}

impl ServerApi {
    /// The API at `base` (e.g. `http://127.0.0.1:8080/`).
    pub fn new(base: &str, password: String) -> Result<ServerApi, PeerError> {
        let mut base = reqwest::Url::parse(base).map_err(|e| PeerError::Setup(format!("server URL: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        // reqwest is built without a default TLS provider (workspace feature `rustls-no-provider`).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
        if base.scheme() == "http" {
            // Plain http needs no certificate store: the platform verifier would fail where
            // there is none (the FROM-scratch image). https uses the platform's roots
            // (SSL_CERT_FILE / SSL_CERT_DIR name them where the system has none).
            builder = builder.tls_certs_only(Vec::new());
        }
        let client = builder.build().map_err(|e| {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                why = format!("{why}: {cause}");
                source = cause.source();
            }
            PeerError::Setup(format!("HTTP client: {why}"))
        })?;
        Ok(ServerApi {
            base,
            password,
            client,
            anchor: None,
            first: None,
        })
    }

    /// Sends a JSON request; a non-2xx answer is a set-up error naming `what`.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, PeerError> {
        let response = request
            .send()
            .await
            .map_err(|e| PeerError::Setup(format!("{what}: {e}")))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| PeerError::Setup(e.to_string()))?;
        if !status.is_success() {
            return Err(PeerError::Setup(format!(
                "{what} answered {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        serde_json::from_slice(&body).map_err(|e| PeerError::Setup(format!("{what} body: {e}")))
    }

    /// An OPAQUE login start for `password` (HS-PAIR-11): KE1 and the client state.
    fn login_start(&self) -> Result<(Hex<96>, ClientStart), PeerError> {
        let (ke1, state) = ClientStart::start(self.password.as_bytes(), &mut rng()?)
            .map_err(|e| PeerError::Setup(e.to_string()))?;
        let ke1 = ke1
            .try_into()
            .map_err(|_| PeerError::Setup("KE1 length".into()))?;
        Ok((Hex(ke1), state))
    }

    /// Pairs `device` by password (`POST /pair/start`, `/pair/finish`, HS-HTTP-2): checks the
    /// answer's MAC (HS-PAIR-12) and returns its records that verify under the server's id.
    pub async fn pair(&mut self, device: DeviceId) -> Result<Vec<SignedRecord>, PeerError> {
        let name = "conformance";
        let (ke1, state) = self.login_start()?;
        let start: LoginStartResponse = self
            .call(
                "POST /pair/start",
                self.client.post(self.url("pair/start")?).json(&PairStartRequest {
                    node_id: device,
                    device_name: name.into(),
                    ke1,
                }),
            )
            .await?;
        let context = Context::pair(&start.server_node_id, &device, name);
        let (ke3, session) = state
            .finish(self.password.as_bytes(), &start.ke2.0, &context, &mut rng()?)
            .map_err(|e| PeerError::Setup(format!("pairing login: {e}")))?;
        let ke3 = Hex(ke3
            .try_into()
            .map_err(|_| PeerError::Setup("KE3 length".into()))?);
        let sealed: SealedAnswer = self
            .call(
                "POST /pair/finish",
                self.client
                    .post(self.url("pair/finish")?)
                    .json(&PairFinishRequest {
                        login_id: start.login_id,
                        ke3,
                    }),
            )
            .await?;
        let mac = humansync_protocol::hex_text::decode_fixed::<32>(&sealed.auth)
            .map_err(|e| PeerError::Setup(format!("answer MAC: {e}")))?;
        if !session.verify_answer_mac(sealed.answer.as_bytes(), &mac) {
            return Err(PeerError::Setup(
                "the pairing answer's MAC does not verify (HS-PAIR-12)".into(),
            ));
        }
        let answer: PairResponse = serde_json::from_str(&sealed.answer)
            .map_err(|e| PeerError::Setup(format!("pairing answer: {e}")))?;
        let anchor = answer.server_node_id;
        if anchor != start.server_node_id {
            return Err(PeerError::Setup("the pairing answer names another server".into()));
        }
        self.anchor = Some(anchor);
        let records = answer
            .records
            .iter()
            .filter_map(|hex_text| hex::decode(hex_text).ok())
            .filter_map(|bytes| SignedRecord::decode(&bytes).ok())
            .filter(|r| r.verify(&anchor).is_ok())
            .collect();
        self.first.get_or_insert(answer);
        Ok(records)
    }

    /// Revokes `device` with a login bound to it (HS-HTTP-4): `POST /devices/{id}/revoke/start`,
    /// then `DELETE /devices/{id}` with `Authorization: HumanSync-OPAQUE`.
    pub async fn revoke(&mut self, device: DeviceId) -> Result<(), PeerError> {
        let (ke1, state) = self.login_start()?;
        let start: LoginStartResponse = self
            .call(
                "POST /devices/{id}/revoke/start",
                self.client
                    .post(self.url(&format!("devices/{device}/revoke/start"))?)
                    .json(&RevokeStartRequest { ke1 }),
            )
            .await?;
        let context = Context::revoke(&start.server_node_id, &device);
        let (ke3, _) = state
            .finish(self.password.as_bytes(), &start.ke2.0, &context, &mut rng()?)
            .map_err(|e| PeerError::Setup(format!("revocation login: {e}")))?;
        let auth = OpaqueAuth {
            login_id: start.login_id,
            ke3: Hex(ke3
                .try_into()
                .map_err(|_| PeerError::Setup("KE3 length".into()))?),
        };
        let _: RevokeResponse = self
            .call(
                "DELETE /devices/{id}",
                self.client
                    .delete(self.url(&format!("devices/{device}"))?)
                    .header("authorization", auth.to_header()),
            )
            .await?;
        Ok(())
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, PeerError> {
        self.base
            .join(path)
            .map_err(|e| PeerError::Setup(format!("server URL: {e}")))
    }
}
