//! Password pairing with OPAQUE (RFC 9807, SPEC.md §5.2): the cipher suite, the server's
//! password record, both sides of a login, and the contexts that bind a login to what it
//! authorises.
//!
//! ```text
//! device (password)                                server (record)
//!   ClientLogin::start ── KE1 (96 B) ─────────────▶ ServerLogin::start(record, context)
//!                      ◀──────────── KE2 (320 B) ── (+ login id, server id)
//!   ClientLogin::finish(context): runs argon2id;
//!   wrong password or altered context → error here
//!                      ── KE3 (64 B) ────────────▶ ServerLogin::finish(context) → session key
//!                      ◀── answer + MAC(session key)
//! ```
//!
//! The password never leaves the device; the server stores only the registration record (an
//! OPRF-hardened envelope), so neither a network observer nor a thief of the database learns
//! anything to test guesses against without the server's OPRF key, and an impostor server that
//! does not hold the record cannot complete a login. Randomness comes from the caller
//! ([`PakeRng::from_seed`]); nothing here reads a clock or the OS.

use argon2::Argon2;
use opaque_ke::errors::ProtocolError;
/// The RNG traits every OPAQUE step takes (opaque-ke's `rand` generation).
pub use opaque_ke::rand::{CryptoRng, Error as RandError, RngCore};
use opaque_ke::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration, ClientRegistrationFinishParameters,
    CredentialFinalization, CredentialRequest, CredentialResponse, RegistrationRequest, RegistrationResponse,
    RegistrationUpload, ServerLogin, ServerLoginParameters, ServerRegistration, ServerSetup,
};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore as _, SeedableRng};

mod context;

use context::session_key;
pub use context::{ANSWER_MAC_DOMAIN, Context, SessionKey};

/// HumanSync's OPAQUE cipher suite: OPRF and key exchange over ristretto255, TripleDH with
/// SHA-512, argon2id (m = 19 MiB, t = 2, p = 1: the `argon2` crate's defaults) as the KSF.
#[derive(Debug, Clone, Copy)]
pub struct Suite;

impl opaque_ke::CipherSuite for Suite {
    type OprfCs = opaque_ke::Ristretto255;
    type KeyExchange = opaque_ke::TripleDh<opaque_ke::Ristretto255, sha2_010::Sha512>;
    type Ksf = Argon2<'static>;
}

/// The OPAQUE credential identifier of the server's one password.
pub const CREDENTIAL_ID: &[u8] = b"humansync-server-password";
/// Bytes of KE1 (`CredentialRequest`).
pub const KE1_LEN: usize = 96;
/// Bytes of KE2 (`CredentialResponse`).
pub const KE2_LEN: usize = 320;
/// Bytes of KE3 (`CredentialFinalization`).
pub const KE3_LEN: usize = 64;
/// Bytes of the session key both sides derive.
pub const SESSION_KEY_LEN: usize = 64;
/// Domain separation of every login context.
const CONTEXT_PREFIX: &[u8] = b"humansync/opaque/v1\0";

/// Why an OPAQUE step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PakeError {
    /// A message has the wrong length or is not a valid encoding (peer fault: 400).
    #[error("malformed OPAQUE message: {0}")]
    Malformed(&'static str),
    /// The login did not verify: the password is wrong, or the context (server id, device id,
    /// device name, action) differs between the two sides — someone altered the exchange.
    #[error("the password is wrong, or the exchange was altered in transit")]
    LoginFailed,
    /// A stored record or key does not decode (local fault).
    #[error("stored OPAQUE state is corrupt: {0}")]
    Corrupt(&'static str),
    /// The library failed internally (local fault).
    #[error("OPAQUE internal error: {0}")]
    Internal(String),
}

/// [`internal`] for a step that takes the peer's message: an OPRF failure there can only come
/// from the peer's group element (one that does not decode, or the identity), a peer fault.
fn from_peer<T: std::fmt::Debug>(e: ProtocolError<T>) -> PakeError {
    match e {
        ProtocolError::LibraryError(opaque_ke::errors::InternalError::OprfError(_)) => {
            PakeError::Malformed("not a ristretto255 element")
        }
        other => internal(other),
    }
}

fn internal<T: std::fmt::Debug>(e: ProtocolError<T>) -> PakeError {
    match e {
        ProtocolError::InvalidLoginError => PakeError::LoginFailed,
        ProtocolError::SerializationError | ProtocolError::SizeError { .. } => {
            PakeError::Malformed("encoding")
        }
        // A server that sent the device's own blinded element back (RFC 9807 §6.3.2.1).
        ProtocolError::ReflectedValueError => PakeError::Malformed("reflected OPRF element"),
        other => PakeError::Internal(format!("{other:?}")),
    }
}

/// A cryptographic RNG seeded by the caller (ChaCha20), in the trait generation opaque-ke uses.
pub struct PakeRng(ChaCha20Rng);

impl PakeRng {
    /// An RNG from 32 seed bytes (the runtime draws them from the OS).
    pub fn from_seed(seed: [u8; 32]) -> PakeRng {
        PakeRng(ChaCha20Rng::from_seed(seed))
    }
}

impl std::fmt::Debug for PakeRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PakeRng")
    }
}

impl RngCore for PakeRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), opaque_ke::rand::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for PakeRng {}

/// The server's long-term OPAQUE keys (OPRF seed and key-exchange key pair). Stored in the
/// server's database; losing it invalidates the password record.
pub struct ServerKeys(ServerSetup<Suite>);

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKeys(..)")
    }
}

impl ServerKeys {
    /// Fresh keys.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> ServerKeys {
        ServerKeys(ServerSetup::new(rng))
    }

    /// The server's static public key (ristretto255, 32 bytes), as KE2 and the envelope carry it.
    pub fn public_key(&self) -> Vec<u8> {
        self.0.keypair().public().serialize().to_vec()
    }

    /// The stored form.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.serialize().to_vec()
    }

    /// Reads the stored form.
    pub fn from_bytes(bytes: &[u8]) -> Result<ServerKeys, PakeError> {
        ServerSetup::deserialize(bytes)
            .map(ServerKeys)
            .map_err(|_| PakeError::Corrupt("server keys"))
    }
}

/// The server's password record (OPAQUE registration upload): all it keeps of the password.
#[derive(Clone)]
pub struct PasswordRecord(ServerRegistration<Suite>);

impl std::fmt::Debug for PasswordRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordRecord(..)")
    }
}

impl PasswordRecord {
    /// Registers `password` under `keys`, running both sides of the OPAQUE registration
    /// locally (the server is its own client; argon2id runs once).
    pub fn register(
        keys: &ServerKeys,
        password: &[u8],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<PasswordRecord, PakeError> {
        Registration::run(keys, password, rng).map(|r| r.record)
    }

    /// Whether `password` is the registered one: a complete local login (argon2id runs once).
    pub fn matches(&self, keys: &ServerKeys, password: &[u8], rng: &mut (impl RngCore + CryptoRng)) -> bool {
        let context = Context::local_check();
        let Ok((ke1, client)) = ClientStart::start(password, rng) else {
            return false;
        };
        let Ok((ke2, server)) = ServerStart::start(keys, self, &ke1, &context, rng) else {
            return false;
        };
        let Ok((ke3, client_key)) = client.finish(password, &ke2, &context, rng) else {
            return false;
        };
        matches!(server.finish(&ke3, &context), Ok(server_key) if server_key == client_key)
    }

    /// The stored form.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.serialize().to_vec()
    }

    /// Reads the stored form.
    pub fn from_bytes(bytes: &[u8]) -> Result<PasswordRecord, PakeError> {
        ServerRegistration::deserialize(bytes)
            .map(PasswordRecord)
            .map_err(|_| PakeError::Corrupt("password record"))
    }
}

/// The three messages of an OPAQUE registration run locally (the server is its own client),
/// kept for the conformance vectors (`opaque.json`).
#[derive(Debug, Clone)]
pub struct Registration {
    /// RegistrationRequest (the blinded password, 32 bytes).
    pub request: Vec<u8>,
    /// RegistrationResponse (evaluated element and server public key, 64 bytes).
    pub response: Vec<u8>,
    /// The record the server stores (RegistrationRecord: client public key, masking key,
    /// envelope; 192 bytes).
    pub record: PasswordRecord,
}

impl Registration {
    /// Registers `password` under `keys`: both sides of the registration, argon2id once.
    pub fn run(
        keys: &ServerKeys,
        password: &[u8],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Registration, PakeError> {
        let start = ClientRegistration::<Suite>::start(rng, password).map_err(internal)?;
        let request_bytes = start.message.serialize().to_vec();
        let request = RegistrationRequest::deserialize(&request_bytes).map_err(internal)?;
        let response = opaque_ke::ServerRegistration::<Suite>::start(&keys.0, request, CREDENTIAL_ID)
            .map_err(internal)?;
        let response_bytes = response.message.serialize().to_vec();
        let response = RegistrationResponse::deserialize(&response_bytes).map_err(internal)?;
        let finish = start
            .state
            .finish(
                rng,
                password,
                response,
                ClientRegistrationFinishParameters::default(),
            )
            .map_err(internal)?;
        let upload =
            RegistrationUpload::<Suite>::deserialize(&finish.message.serialize()).map_err(internal)?;
        Ok(Registration {
            request: request_bytes,
            response: response_bytes,
            record: PasswordRecord(ServerRegistration::finish(upload)),
        })
    }
}

/// The device's side of a login between KE1 and KE2.
pub struct ClientStart(ClientLogin<Suite>);

impl std::fmt::Debug for ClientStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientStart(..)")
    }
}

impl ClientStart {
    /// Starts a login with `password`: returns KE1 to send.
    pub fn start(
        password: &[u8],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(Vec<u8>, ClientStart), PakeError> {
        let start = ClientLogin::<Suite>::start(rng, password).map_err(internal)?;
        Ok((start.message.serialize().to_vec(), ClientStart(start.state)))
    }

    /// Finishes with the server's KE2 under `context`: runs argon2id, opens the envelope and
    /// checks the server's MAC. Returns KE3 to send and the session key.
    pub fn finish(
        self,
        password: &[u8],
        ke2: &[u8],
        context: &Context,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(Vec<u8>, SessionKey), PakeError> {
        if ke2.len() != KE2_LEN {
            return Err(PakeError::Malformed("KE2 length"));
        }
        let response = CredentialResponse::<Suite>::deserialize(ke2).map_err(from_peer)?;
        let params = ClientLoginFinishParameters::new(Some(context.as_bytes()), Default::default(), None);
        let done = self
            .0
            .finish(rng, password, response, params)
            .map_err(from_peer)?;
        Ok((done.message.serialize().to_vec(), session_key(&done.session_key)?))
    }
}

/// The server's side of a login between KE2 and KE3: keep it until the device's KE3 (or expiry).
pub struct ServerStart(ServerLogin<Suite>);

impl std::fmt::Debug for ServerStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerStart(..)")
    }
}

impl ServerStart {
    /// Answers the device's KE1 under `context`: returns KE2 to send.
    pub fn start(
        keys: &ServerKeys,
        record: &PasswordRecord,
        ke1: &[u8],
        context: &Context,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(Vec<u8>, ServerStart), PakeError> {
        if ke1.len() != KE1_LEN {
            return Err(PakeError::Malformed("KE1 length"));
        }
        let request = CredentialRequest::<Suite>::deserialize(ke1).map_err(from_peer)?;
        let params = ServerLoginParameters {
            context: Some(context.as_bytes()),
            identifiers: Default::default(),
        };
        let start = ServerLogin::start(
            rng,
            &keys.0,
            Some(record.0.clone()),
            request,
            CREDENTIAL_ID,
            params,
        )
        .map_err(internal)?;
        Ok((start.message.serialize().to_vec(), ServerStart(start.state)))
    }

    /// Checks the device's KE3: `Ok` only if the device knew the password and agreed on `context`.
    pub fn finish(self, ke3: &[u8], context: &Context) -> Result<SessionKey, PakeError> {
        if ke3.len() != KE3_LEN {
            return Err(PakeError::Malformed("KE3 length"));
        }
        let message = CredentialFinalization::<Suite>::deserialize(ke3).map_err(from_peer)?;
        let params = ServerLoginParameters {
            context: Some(context.as_bytes()),
            identifiers: Default::default(),
        };
        let done = self.0.finish(message, params).map_err(internal)?;
        session_key(&done.session_key)
    }
}

#[cfg(test)]
mod tests;
