//! One-time invitations (SPEC.md §5.8): the link a device or the server host mints, the
//! redemption request and the exact bytes each side signs.
//!
//! An invitation is an Ed25519 key pair. The link carries the 32-byte secret key; the server
//! keeps only the public key (the invitation id). Redeeming signs the server id, the invitation
//! id, the new device's id and name with the secret key, so the secret never crosses the wire
//! and a captured request pairs no other key; the server signs its answer with its own node key,
//! which the link pins.
//!
//! Link grammar (ABNF, RFC 5234; `unreserved` and `pct-encoded` from RFC 3986):
//!
//! ```text
//! link    = "humansync://pair?" param *( "&" param )
//! param   = "v=1" / "url=" pct-text / "server=" 64HEXDIG / "key=" 64HEXDIG
//!         / "exp=" 1*20DIGIT / "addr=" pct-text / other
//! other   = 1*( ALPHA / DIGIT / "_" ) "=" pct-text   ; ignored
//! pct-text = *( unreserved / pct-encoded )
//! ```
//!
//! `v`, `url`, `server`, `key` and `exp` appear exactly once; `addr` (`ip:port`) at most
//! [`MAX_LINK_ADDRS`] times; the whole link is at most [`MAX_LINK_LEN`] bytes.

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};

use crate::login::Hex;
use crate::{DeviceId, hex_text};

/// The scheme and path of an invitation link.
pub const LINK_PREFIX: &str = "humansync://pair?";
pub use crate::limits::{
    INVITATION_DEFAULT_TTL_MS, INVITATION_MAX_TTL_MS, MAX_LINK_ADDRS, MAX_LINK_LEN, MAX_LINK_URL_LEN,
};
/// Domain of the redemption signature (HS-INV-3).
pub const REDEEM_CONTEXT: &[u8] = b"humansync/invitation/redeem/v1\0";
/// Domain of the server's signature over a redemption answer (HS-INV-4).
pub const ANSWER_CONTEXT: &[u8] = b"humansync/invitation/answer/v1\0";

/// An invitation link's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The server's HTTP API base URL.
    pub url: String,
    /// The server's id: pinned by the redeeming device.
    pub server: DeviceId,
    /// The invitation's secret key (32 bytes).
    pub secret: [u8; 32],
    /// Expiry, unix ms.
    pub expires_at_ms: u64,
    /// The server's iroh addresses, `ip:port` (informative; the answer carries the current ones).
    pub addrs: Vec<String>,
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Longer than [`MAX_LINK_LEN`].
    #[error("invitation link longer than {MAX_LINK_LEN} bytes")]
    TooLong,
    /// Not `humansync://pair?…`.
    #[error("not an invitation link (expected humansync://pair?…)")]
    Scheme,
    /// A parameter is missing, repeated, or invalid.
    #[error("invalid invitation link: {0}")]
    Param(&'static str),
    /// `v` is not 1.
    #[error("invitation link version is not supported (update the app)")]
    Version,
}

impl Invitation {
    /// The invitation id: the public key of [`Invitation::secret`].
    pub fn id(&self) -> Hex<32> {
        Hex(SigningKey::from_bytes(&self.secret).verifying_key().to_bytes())
    }

    /// The link text.
    pub fn to_link(&self) -> String {
        let mut out = format!(
            "{LINK_PREFIX}v=1&url={}&server={}&key={}&exp={}",
            pct_encode(&self.url),
            self.server,
            hex_text::encode(&self.secret),
            self.expires_at_ms
        );
        for addr in &self.addrs {
            out.push_str("&addr=");
            out.push_str(&pct_encode(addr));
        }
        out
    }

    /// Parses a link (surrounding white space is ignored).
    pub fn parse(link: &str) -> Result<Invitation, LinkError> {
        let link = link.trim();
        if link.len() > MAX_LINK_LEN {
            return Err(LinkError::TooLong);
        }
        let query = link.strip_prefix(LINK_PREFIX).ok_or(LinkError::Scheme)?;
        let (mut v, mut url, mut server, mut key, mut exp) = (None, None, None, None, None);
        let mut addrs = Vec::new();
        for param in query.split('&') {
            let (name, value) = param.split_once('=').ok_or(LinkError::Param("parameter"))?;
            let value = pct_decode(value).ok_or(LinkError::Param("percent-encoding"))?;
            let slot = match name {
                "v" => &mut v,
                "url" => &mut url,
                "server" => &mut server,
                "key" => &mut key,
                "exp" => &mut exp,
                "addr" => {
                    if addrs.len() == MAX_LINK_ADDRS {
                        return Err(LinkError::Param("too many addr"));
                    }
                    addrs.push(value);
                    continue;
                }
                other
                    if !other.is_empty() && other.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                {
                    continue;
                }
                _ => return Err(LinkError::Param("parameter name")),
            };
            if slot.replace(value).is_some() {
                return Err(LinkError::Param("repeated parameter"));
            }
        }
        if v.ok_or(LinkError::Param("v missing"))? != "1" {
            return Err(LinkError::Version);
        }
        let url = url.ok_or(LinkError::Param("url missing"))?;
        if url.len() > MAX_LINK_URL_LEN || !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(LinkError::Param("url"));
        }
        let exp = exp.ok_or(LinkError::Param("exp missing"))?;
        if exp.is_empty() || exp.len() > 20 || !exp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LinkError::Param("exp"));
        }
        Ok(Invitation {
            url,
            server: server
                .ok_or(LinkError::Param("server missing"))?
                .parse()
                .map_err(|_| LinkError::Param("server"))?,
            secret: hex_text::decode_fixed::<32>(&key.ok_or(LinkError::Param("key missing"))?)
                .map_err(|_| LinkError::Param("key"))?,
            expires_at_ms: exp.parse().map_err(|_| LinkError::Param("exp"))?,
            addrs,
        })
    }

    /// The redemption request for `device` named `device_name` (HS-INV-3).
    pub fn redeem_request(&self, device: DeviceId, device_name: &str) -> RedeemRequest {
        let key = SigningKey::from_bytes(&self.secret);
        let id = self.id();
        let sig = key.sign(&redeem_input(&self.server, &id, &device, device_name));
        RedeemRequest {
            invitation: id,
            node_id: device,
            device_name: device_name.to_owned(),
            sig: Hex(sig.to_bytes()),
        }
    }
}

/// `POST /invitations` request body (HS-INV-2): signed by a registered device (HS-HTTP-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    /// The invitation id (the public key); the device keeps the secret.
    pub invitation: Hex<32>,
    /// Requested lifetime, ms; absent: [`INVITATION_DEFAULT_TTL_MS`]. At most [`INVITATION_MAX_TTL_MS`].
    #[serde(default)]
    pub ttl_ms: Option<u64>,
}

/// `POST /invitations` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateInvitationResponse {
    /// The invitation id.
    pub invitation: Hex<32>,
    /// Expiry, unix ms.
    pub expires_at_ms: u64,
    /// The server's id.
    pub server_node_id: DeviceId,
    /// The server's iroh addresses.
    pub server_addrs: Vec<String>,
}

/// `POST /invitations/redeem` request body (HS-INV-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    /// The invitation id (its public key).
    pub invitation: Hex<32>,
    /// The new device's id.
    pub node_id: DeviceId,
    /// Its name (sanitised by the server, HS-PAIR-4; signed as sent).
    pub device_name: String,
    /// Ed25519 signature by the invitation key over [`redeem_input`].
    pub sig: Hex<64>,
}

/// The bytes an invitation key signs to redeem it (HS-INV-3).
pub fn redeem_input(
    server: &DeviceId,
    invitation: &Hex<32>,
    device: &DeviceId,
    device_name: &str,
) -> Vec<u8> {
    let mut out = REDEEM_CONTEXT.to_vec();
    out.extend_from_slice(server.as_bytes());
    out.extend_from_slice(&invitation.0);
    out.extend_from_slice(device.as_bytes());
    out.extend_from_slice(device_name.as_bytes());
    out
}

/// The bytes the server signs over a redemption answer (HS-INV-4).
pub fn answer_input(invitation: &Hex<32>, device: &DeviceId, answer: &[u8]) -> Vec<u8> {
    let mut out = ANSWER_CONTEXT.to_vec();
    out.extend_from_slice(&invitation.0);
    out.extend_from_slice(device.as_bytes());
    out.extend_from_slice(answer);
    out
}

impl RedeemRequest {
    /// Whether [`RedeemRequest::sig`] verifies for `server` (strict Ed25519, HS-ID-5).
    pub fn verify(&self, server: &DeviceId) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.invitation.0) else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(&self.sig.0);
        key.verify_strict(
            &redeem_input(server, &self.invitation, &self.node_id, &self.device_name),
            &sig,
        )
        .is_ok()
    }
}

fn pct_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn pct_decode(text: &str) -> Option<String> {
    let raw = text.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'%' => {
                let pair = raw.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(pair).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invitation() -> Invitation {
        Invitation {
            url: "http://192.168.1.10:8080/hs".into(),
            server: DeviceId::from(&SigningKey::from_bytes(&[1; 32])),
            secret: [2; 32],
            expires_at_ms: 1_700_000_600_000,
            addrs: vec!["192.168.1.10:4433".into(), "[fd00::1]:4433".into()],
        }
    }

    #[test]
    fn a_link_round_trips_and_its_redemption_verifies() {
        let inv = invitation();
        let link = inv.to_link();
        assert!(link.starts_with("humansync://pair?v=1&url=http%3A%2F%2F192.168.1.10%3A8080%2Fhs&server="));
        assert_eq!(Invitation::parse(&format!("  {link}\n")), Ok(inv.clone()));
        let device = DeviceId::from(&SigningKey::from_bytes(&[3; 32]));
        let request = inv.redeem_request(device, "phone");
        assert!(request.verify(&inv.server));
        assert!(!request.verify(&device), "bound to the server id");
        let mut other = request.clone();
        other.node_id = DeviceId::from(&SigningKey::from_bytes(&[4; 32]));
        assert!(!other.verify(&inv.server), "bound to the device id");
        let mut renamed = request;
        renamed.device_name = "phone2".into();
        assert!(!renamed.verify(&inv.server), "bound to the name");
    }

    #[test]
    fn bad_links_are_refused() {
        let link = invitation().to_link();
        assert_eq!(Invitation::parse("https://example.org"), Err(LinkError::Scheme));
        assert_eq!(
            Invitation::parse(&link.replace("v=1", "v=2")),
            Err(LinkError::Version)
        );
        assert!(Invitation::parse(&format!("{link}&key=00")).is_err(), "repeated");
        assert!(Invitation::parse(&link.replace("&exp=", "&exp=x")).is_err());
        assert!(Invitation::parse(&link.replace("url=http", "url=ftp")).is_err());
        assert!(
            Invitation::parse(&format!("{link}&future_param=1")).is_ok(),
            "unknown ignored"
        );
        assert_eq!(
            Invitation::parse(&"a".repeat(MAX_LINK_LEN + 1)),
            Err(LinkError::TooLong)
        );
        let many = format!("{link}{}", "&addr=1.2.3.4%3A5".repeat(7));
        assert!(Invitation::parse(&many).is_err(), "9 addrs");
        assert!(Invitation::parse(&link.replace("%3A", "%3")).is_err());
        assert!(
            Invitation::parse(&link.replace("%3A", ":")).is_err(),
            "reserved characters are encoded"
        );
    }
}
