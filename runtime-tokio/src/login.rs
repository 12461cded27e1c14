//! The device's side of password logins (SPEC.md §5.2, HS-PAIR-11/12): pairing and revocation
//! with OPAQUE. The password never leaves this process; argon2id runs here, off the async
//! threads. Nothing is stored unless the server's answer carries a valid MAC under the
//! session key, which only the server that holds the password record can produce.

use ed25519_dalek::SigningKey;
use humansync_protocol::DeviceId;
use humansync_protocol::http::{PairResponse, RevokeResponse};
use humansync_protocol::login::{
    Hex, LoginStartResponse, OpaqueAuth, PairFinishRequest, PairStartRequest, RevokeStartRequest,
    SealedAnswer,
};
use humansync_sansio::pairing::pake::{ClientStart, Context, PakeError, PakeRng, SessionKey};

use crate::Error;
use crate::http_client::{self, Http, HttpError};

/// A fresh RNG seeded from the OS.
pub(crate) fn os_rng() -> Result<PakeRng, Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Pairing(format!("no OS randomness: {e}")))?;
    Ok(PakeRng::from_seed(seed))
}

fn http_err(e: HttpError) -> Error {
    Error::Pairing(e.to_string())
}

/// Step 2 of a login on the device: argon2id and the envelope, off the async threads.
async fn finish_login(
    client: ClientStart,
    password: &str,
    start: &LoginStartResponse,
    context: Context,
) -> Result<(Vec<u8>, SessionKey), Error> {
    let password = password.as_bytes().to_vec();
    let ke2 = start.ke2.0.to_vec();
    let mut rng = os_rng()?;
    tokio::task::spawn_blocking(move || client.finish(&password, &ke2, &context, &mut rng))
        .await
        .map_err(|e| Error::Pairing(format!("login worker: {e}")))?
        .map_err(|e| match e {
            PakeError::LoginFailed => Error::WrongPassword,
            other => Error::Pairing(format!("the server's login answer is invalid: {other}")),
        })
}

/// The server id a login answer names, checked against the pinned one (HS-PAIR-8).
fn check_pin(start: &LoginStartResponse, expected: Option<DeviceId>) -> Result<DeviceId, Error> {
    match expected {
        Some(pin) if pin != start.server_node_id => Err(Error::Pairing(format!(
            "the server identifies as {} but {pin} was expected: not pairing with it",
            start.server_node_id
        ))),
        _ => Ok(start.server_node_id),
    }
}

/// Pairs `me` named `name` with the server at `url` by password (HS-HTTP-2): start, finish,
/// then the answer, accepted only with a valid MAC.
pub(crate) async fn pair(
    http: &Http,
    url: &str,
    me: DeviceId,
    name: &str,
    password: &str,
    expected_server: Option<DeviceId>,
) -> Result<PairResponse, Error> {
    let client = http.client().map_err(http_err)?;
    let (ke1, state) =
        ClientStart::start(password.as_bytes(), &mut os_rng()?).map_err(|e| Error::Pairing(e.to_string()))?;
    let request = PairStartRequest {
        node_id: me,
        device_name: name.to_owned(),
        ke1: Hex(ke1.try_into().map_err(|_| Error::Pairing("KE1 length".into()))?),
    };
    let start_url = http_client::endpoint(url, "/pair/start").map_err(http_err)?;
    let start: LoginStartResponse = http_client::exchange(client.post(start_url).json(&request))
        .await
        .map_err(http_err)?;
    let server = check_pin(&start, expected_server)?;
    let context = Context::pair(&server, &me, name);
    let (ke3, session) = finish_login(state, password, &start, context).await?;
    let finish = PairFinishRequest {
        login_id: start.login_id,
        ke3: Hex(ke3.try_into().map_err(|_| Error::Pairing("KE3 length".into()))?),
    };
    let finish_url = http_client::endpoint(url, "/pair/finish").map_err(http_err)?;
    let sealed: SealedAnswer = http_client::exchange(client.post(finish_url).json(&finish))
        .await
        .map_err(http_err)?;
    open_answer(&sealed, &session, server)
}

/// The pairing answer inside `sealed`, if its MAC verifies under `session` (HS-PAIR-12) and it
/// names `server`.
fn open_answer(sealed: &SealedAnswer, session: &SessionKey, server: DeviceId) -> Result<PairResponse, Error> {
    let altered = || {
        Error::Pairing(
            "the pairing answer was altered in transit (its MAC does not verify): nothing stored".into(),
        )
    };
    let mac: [u8; 32] = humansync_protocol::hex_text::decode_fixed(&sealed.auth).map_err(|_| altered())?;
    if !session.verify_answer_mac(sealed.answer.as_bytes(), &mac) {
        return Err(altered());
    }
    let answer: PairResponse = serde_json::from_str(&sealed.answer)
        .map_err(|e| Error::Pairing(format!("bad pairing answer: {e}")))?;
    if answer.server_node_id != server {
        return Err(Error::Pairing("the pairing answer names another server".into()));
    }
    Ok(answer)
}

/// Revokes `target` with the password (HS-HTTP-4): a login bound to the target, signed by this
/// device's key when it is paired (so it is counted in its own budget), finished by DELETE.
pub(crate) async fn revoke(
    http: &Http,
    url: &str,
    key: Option<&SigningKey>,
    target: DeviceId,
    password: &str,
    expected_server: Option<DeviceId>,
) -> Result<RevokeResponse, Error> {
    let client = http.client().map_err(http_err)?;
    let (ke1, state) =
        ClientStart::start(password.as_bytes(), &mut os_rng()?).map_err(|e| Error::Pairing(e.to_string()))?;
    let path = format!("/devices/{target}/revoke/start");
    let body = RevokeStartRequest {
        ke1: Hex(ke1.try_into().map_err(|_| Error::Pairing("KE1 length".into()))?),
    };
    let mut request = client
        .post(http_client::endpoint(url, &path).map_err(http_err)?)
        .json(&body);
    if let Some(key) = key {
        let auth = http_client::sign_request(key, "POST", &path).map_err(http_err)?;
        request = request.header(reqwest::header::AUTHORIZATION, auth);
    }
    let start: LoginStartResponse = http_client::exchange(request).await.map_err(http_err)?;
    let server = check_pin(&start, expected_server)?;
    let (ke3, _) = finish_login(state, password, &start, Context::revoke(&server, &target)).await?;
    let auth = OpaqueAuth {
        login_id: start.login_id,
        ke3: Hex(ke3.try_into().map_err(|_| Error::Pairing("KE3 length".into()))?),
    };
    let delete_url = http_client::endpoint(url, &format!("/devices/{target}")).map_err(http_err)?;
    http_client::exchange(
        client
            .delete(delete_url)
            .header(reqwest::header::AUTHORIZATION, auth.to_header()),
    )
    .await
    .map_err(http_err)
}
