//! The device's side of one-time invitations (SPEC.md §5.8): minting one from a paired device,
//! redeeming one on a new device, and rendering a link as a terminal QR code.

use ed25519_dalek::{SigningKey, Verifier};
use humansync_protocol::DeviceId;
use humansync_protocol::http::PairResponse;
use humansync_protocol::invitation::{
    CreateInvitationRequest, CreateInvitationResponse, Invitation, answer_input,
};
use humansync_protocol::login::SealedAnswer;

use crate::Error;
use crate::http_client::{self, Http, HttpError};

fn http_err(e: HttpError) -> Error {
    Error::Pairing(e.to_string())
}

/// Mints an invitation on the server at `url` as the paired device `key` (HS-INV-2). The
/// secret key is drawn here and never sent; the server stores its public key.
pub(crate) async fn create(
    http: &Http,
    url: &str,
    key: &SigningKey,
    ttl_ms: Option<u64>,
) -> Result<Invitation, Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| Error::Pairing(format!("no OS randomness: {e}")))?;
    let mut invitation = Invitation {
        url: url.trim_end_matches('/').to_owned(),
        server: DeviceId::from(key), // replaced below by the server's answer
        secret,
        expires_at_ms: 0,
        addrs: Vec::new(),
    };
    let body = CreateInvitationRequest {
        invitation: invitation.id(),
        ttl_ms,
    };
    let auth = http_client::sign_request(key, "POST", "/invitations").map_err(http_err)?;
    let client = http.client().map_err(http_err)?;
    let request = client
        .post(http_client::endpoint(url, "/invitations").map_err(http_err)?)
        .header(reqwest::header::AUTHORIZATION, auth)
        .json(&body);
    let answer: CreateInvitationResponse = http_client::exchange(request).await.map_err(http_err)?;
    if answer.invitation != body.invitation {
        return Err(Error::Pairing(
            "the server answered for another invitation".into(),
        ));
    }
    invitation.server = answer.server_node_id;
    invitation.expires_at_ms = answer.expires_at_ms;
    invitation.addrs = answer
        .server_addrs
        .into_iter()
        .filter(|a| a.parse::<std::net::SocketAddr>().is_ok())
        .take(humansync_protocol::invitation::MAX_LINK_ADDRS)
        .collect();
    Ok(invitation)
}

/// Redeems `invitation` for `me` named `name` (HS-INV-3, HS-INV-4): proves the secret with a
/// signature bound to this device, and accepts the answer only if the invitation's server
/// signed it.
pub(crate) async fn redeem(
    http: &Http,
    invitation: &Invitation,
    me: DeviceId,
    name: &str,
    now_ms: u64,
) -> Result<PairResponse, Error> {
    if now_ms >= invitation.expires_at_ms {
        return Err(Error::Pairing(
            "the invitation has expired: ask for a new one".into(),
        ));
    }
    let request = invitation.redeem_request(me, name);
    let client = http.client().map_err(http_err)?;
    let url = http_client::endpoint(&invitation.url, "/invitations/redeem").map_err(http_err)?;
    let sealed: SealedAnswer = http_client::exchange(client.post(url).json(&request))
        .await
        .map_err(http_err)?;
    let altered = || {
        Error::Pairing(
            "the pairing answer is not signed by the invited server (altered in transit, or another server): nothing stored"
                .into(),
        )
    };
    let sig: [u8; 64] = humansync_protocol::hex_text::decode_fixed(&sealed.auth).map_err(|_| altered())?;
    let input = answer_input(&request.invitation, &me, sealed.answer.as_bytes());
    invitation
        .server
        .verifying_key()
        .verify(&input, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| altered())?;
    let answer: PairResponse = serde_json::from_str(&sealed.answer)
        .map_err(|e| Error::Pairing(format!("bad pairing answer: {e}")))?;
    if answer.server_node_id != invitation.server {
        return Err(altered());
    }
    Ok(answer)
}

/// `text` (an invitation link) as a QR code for a terminal: two rows of modules per line, in
/// Unicode half blocks, dark on light, with the quiet zone.
pub fn render_qr(text: &str) -> Result<String, Error> {
    Ok(qr_code(text)?
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .build())
}

/// Renders `text` (an invitation link) as a QR code in an SVG document, black on white with a
/// quiet zone, for a web page or a file.
pub fn render_qr_svg(text: &str) -> Result<String, Error> {
    Ok(qr_code(text)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

fn qr_code(text: &str) -> Result<qrcode::QrCode, Error> {
    qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::L)
        .map_err(|e| Error::Pairing(format!("cannot encode a QR code: {e}")))
}
