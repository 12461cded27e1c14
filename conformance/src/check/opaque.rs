//! OPAQUE registrations and logins with every random input fixed (HS-PAIR-1, HS-PAIR-11,
//! HS-PAIR-12): the messages of RFC 9807 with HumanSync's cipher suite (ristretto255, 3DH,
//! SHA-512, argon2id m = 19 MiB, t = 2, p = 1), credential identifier and login contexts.
//!
//! The random values are named as in RFC 9807's test vectors (`blind_registration`,
//! `envelope_nonce`, `blind_login`, `client_keyshare_seed`, `client_nonce`, `masking_nonce`,
//! `server_keyshare_seed`, `server_nonce`). They reach the implementation through a scripted RNG
//! that hands out exactly those values, in the order the protocol draws them, and fails the case
//! if a draw of another length comes: the mapping of names to draws is checked, not assumed.

use std::collections::VecDeque;

use humansync_sansio::pairing::pake::{
    ClientStart, Context, CryptoRng, PakeError, PakeRng, PasswordRecord, RandError, Registration, RngCore,
    ServerKeys, ServerStart,
};
use serde_json::{Value, json};

use super::Observed;
use crate::format::Case;

/// An RNG that returns scripted values, one per draw, and remembers any mismatch.
pub(crate) struct ScriptRng {
    draws: VecDeque<(&'static str, Vec<u8>)>,
    fault: Option<String>,
}

impl ScriptRng {
    /// Draws in order: (name, bytes).
    pub(crate) fn new(draws: Vec<(&'static str, Vec<u8>)>) -> ScriptRng {
        ScriptRng {
            draws: draws.into(),
            fault: None,
        }
    }

    /// Every scripted value was drawn, each with its own length.
    pub(crate) fn finish(self) -> Result<(), String> {
        if let Some(fault) = self.fault {
            return Err(fault);
        }
        match self.draws.front() {
            Some((name, _)) => Err(format!("`{name}` was never drawn")),
            None => Ok(()),
        }
    }
}

impl RngCore for ScriptRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        match self.draws.pop_front() {
            Some((_, bytes)) if bytes.len() == dest.len() => dest.copy_from_slice(&bytes),
            Some((name, bytes)) => {
                self.fault.get_or_insert(format!(
                    "`{name}` has {} bytes where the protocol draws {}",
                    bytes.len(),
                    dest.len()
                ));
            }
            None => {
                self.fault
                    .get_or_insert(format!("an unscripted draw of {} bytes", dest.len()));
            }
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RandError> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for ScriptRng {}

/// A ristretto255 scalar drawn the way the protocol draws one: 64 bytes reduced modulo the group
/// order, so the scalar itself followed by 32 zero bytes yields exactly that scalar.
fn scalar_draw(scalar: Vec<u8>) -> Vec<u8> {
    let mut wide = scalar;
    wide.resize(64, 0);
    wide
}

/// The server's keys from `oprf_seed` (64 bytes) and `server_private_key` (32 bytes).
fn server_keys(case: &Case) -> Result<ServerKeys, String> {
    let mut bytes = case.hex_field("oprf_seed")?;
    bytes.extend_from_slice(&case.hex_field("server_private_key")?);
    // The stored form ends with the public key of the unknown-user path (RFC 9807 §6.3.2.2's
    // fake record); any valid point serves, and it never shows in these exchanges: take the
    // one of keys generated from a fixed seed.
    let fake = ServerKeys::generate(&mut PakeRng::from_seed([0; 32])).to_bytes();
    bytes.extend_from_slice(fake.get(96..).ok_or("server keys of an unexpected length")?);
    ServerKeys::from_bytes(&bytes).map_err(|e| format!("server keys: {e}"))
}

/// `opaque_registration`: `oprf_seed`, `server_private_key`, `password`, `blind_registration`,
/// `envelope_nonce`. Valid: `{"server_public_key", "registration_request",
/// "registration_response", "registration_record"}`.
pub(crate) fn registration(case: &Case) -> Result<Observed, String> {
    let keys = server_keys(case)?;
    let mut rng = ScriptRng::new(vec![
        (
            "blind_registration",
            scalar_draw(case.hex_field("blind_registration")?),
        ),
        ("envelope_nonce", case.hex_field("envelope_nonce")?),
    ]);
    let run = Registration::run(&keys, case.str_field("password")?.as_bytes(), &mut rng)
        .map_err(|e| format!("registration: {e}"))?;
    rng.finish()?;
    Ok(Observed::accept(json!({
        "server_public_key": hex::encode(keys.public_key()),
        "registration_request": hex::encode(&run.request),
        "registration_response": hex::encode(&run.response),
        "registration_record": hex::encode(run.record.to_bytes()),
    })))
}

fn refused(reason: &str) -> Observed {
    Observed::reject(json!({ "refused": reason }))
}

fn pake_refusal(e: &PakeError) -> Observed {
    match e {
        PakeError::LoginFailed => refused("login_failed"),
        PakeError::Malformed(_) => refused("malformed"),
        PakeError::Corrupt(_) | PakeError::Internal(_) => refused("internal"),
        _ => refused("internal"),
    }
}

/// `opaque_login`: the server's `oprf_seed`, `server_private_key` and `registration_record`;
/// the device's `password` and `context` (hex); `server_context` when the server's differs;
/// the random values `blind_login`, `client_keyshare_seed`, `client_nonce`, `masking_nonce`,
/// `server_keyshare_seed`, `server_nonce`; `ke1` to replace the device's KE1 and `ke3_flip`
/// (a byte index) to alter KE3 in transit; `answer` (hex) to MAC. Valid: `{"ke1", "ke2", "ke3",
/// "session_key", "answer_mac"}`; invalid: `{"refused": "malformed" | "login_failed"}`.
pub(crate) fn login(case: &Case) -> Result<Observed, String> {
    let keys = server_keys(case)?;
    let record = PasswordRecord::from_bytes(&case.hex_field("registration_record")?)
        .map_err(|e| format!("registration_record: {e}"))?;
    let password = case.str_field("password")?.as_bytes().to_vec();
    let context = Context::from_bytes(case.hex_field("context")?);
    let server_context = match case.fields.get("server_context") {
        Some(_) => Context::from_bytes(case.hex_field("server_context")?),
        None => context.clone(),
    };
    let mut client_rng = ScriptRng::new(vec![
        ("blind_login", scalar_draw(case.hex_field("blind_login")?)),
        ("client_keyshare_seed", case.hex_field("client_keyshare_seed")?),
        ("client_nonce", case.hex_field("client_nonce")?),
    ]);
    let (mut ke1, client) =
        ClientStart::start(&password, &mut client_rng).map_err(|e| format!("KE1: {e}"))?;
    client_rng.finish()?;
    if case.fields.contains_key("ke1") {
        ke1 = case.hex_field("ke1")?;
    }
    let mut server_rng = ScriptRng::new(vec![
        // The fake record's masking key (RFC 9807 §6.3.2.2), drawn whether or not the
        // credential exists so that both paths cost the same; it never shows here.
        ("fake_masking_key", vec![0x5a; 64]),
        ("masking_nonce", case.hex_field("masking_nonce")?),
        ("server_keyshare_seed", case.hex_field("server_keyshare_seed")?),
        ("server_nonce", case.hex_field("server_nonce")?),
    ]);
    let (ke2, server) = match ServerStart::start(&keys, &record, &ke1, &server_context, &mut server_rng) {
        Ok(done) => done,
        Err(e) => return Ok(pake_refusal(&e)),
    };
    server_rng.finish()?;
    // The device's finish draws nothing.
    let mut no_draws = ScriptRng::new(Vec::new());
    let (mut ke3, client_key) = match client.finish(&password, &ke2, &context, &mut no_draws) {
        Ok(done) => done,
        Err(e) => return Ok(pake_refusal(&e)),
    };
    no_draws.finish()?;
    if let Some(index) = case.fields.get("ke3_flip").and_then(Value::as_u64) {
        let byte = ke3
            .get_mut(usize::try_from(index).map_err(|e| e.to_string())?)
            .ok_or("ke3_flip is past the end of KE3")?;
        *byte ^= 0x01;
    }
    let server_key = match server.finish(&ke3, &server_context) {
        Ok(key) => key,
        Err(e) => return Ok(pake_refusal(&e)),
    };
    if server_key != client_key {
        return Err("the two sides derived different session keys".into());
    }
    let answer = case.hex_field("answer")?;
    Ok(Observed::accept(json!({
        "ke1": hex::encode(&ke1),
        "ke2": hex::encode(&ke2),
        "ke3": hex::encode(&ke3),
        "session_key": hex::encode(client_key.as_bytes()),
        "answer_mac": hex::encode(client_key.answer_mac(&answer)),
    })))
}
