//! Sealed records: every store record encrypted and bound to its place (HS-REST-3).
//!
//! With a data key, a record keeps its framing (`[len][crc][kind][payload]`, record.rs) but its
//! payload becomes `nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16)`. The associated data binds
//! the record to where it sits: the file's label (a document file's keyed name, or `wal`,
//! `index`, …), the file's salt (12 random bytes in its header, new for every whole-file write, so
//! records of an older version of the same file do not fit), the record's byte offset in the
//! file and its kind. A record moved, swapped, replayed from an older file or altered fails
//! authentication, which the readers treat like a checksum failure: corruption.
//!
//! A sealed file's magic is the plain magic with byte 6 set to `E`, followed by the salt.
//! Nonces are a random 4-byte prefix and a random 64-bit start counting up, drawn per open:
//! unique per key for any realistic number of opens and records (rotate the key to be sure).

use std::borrow::Cow;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use zeroize::Zeroizing;

use super::record::{self, Bad};
use crate::keys::{DataKey, KeyId, Purpose};

use crate::keys::nonces::{NONCE_LEN, Nonces};
/// Bytes of a tag.
const TAG_LEN: usize = 16;
/// Bytes a sealed payload adds to the plaintext.
pub(crate) const OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Bytes of a sealed file's salt.
pub(crate) const SALT_LEN: usize = 12;

/// A file's salt (all zero in plain files, where it is unused).
pub(crate) type Salt = [u8; SALT_LEN];

/// The keys of one open store: records and file names.
pub(crate) struct Sealer {
    aead: Aes256Gcm,
    names: Zeroizing<[u8; 32]>,
    id: KeyId,
    nonces: Nonces,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({})", self.id)
    }
}

impl Sealer {
    /// The sealer of `key`; fails only when the OS has no randomness for the nonces.
    pub(crate) fn new(key: &DataKey) -> Result<Sealer, String> {
        let records = key.subkey(Purpose::DocRecords);
        let aead = Aes256Gcm::new_from_slice(&records[..]).map_err(|e| e.to_string())?;
        let nonces = Nonces::new().map_err(|e| format!("no OS randomness for nonces: {e}"))?;
        Ok(Sealer {
            aead,
            names: key.subkey(Purpose::FileNames),
            id: key.id(),
            nonces,
        })
    }

    /// The id of the key.
    pub(crate) fn key_id(&self) -> KeyId {
        self.id
    }

    /// The key naming document files.
    pub(crate) fn names_key(&self) -> [u8; 32] {
        *self.names
    }

    fn next_nonce(&self) -> [u8; NONCE_LEN] {
        self.nonces.next()
    }

    /// A fresh salt for a new file (unique like a nonce).
    pub(crate) fn salt(&self) -> Salt {
        self.next_nonce()
    }

    /// `nonce ‖ ciphertext ‖ tag` of the concatenated `parts`.
    fn seal(&self, aad: &[u8], parts: &[&[u8]]) -> Option<Vec<u8>> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut out = Vec::with_capacity(len + OVERHEAD);
        let nonce = self.next_nonce();
        out.extend_from_slice(&nonce);
        for part in parts {
            out.extend_from_slice(part);
        }
        let tag = self
            .aead
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce), aad, &mut out[NONCE_LEN..])
            .ok()?;
        out.extend_from_slice(&tag);
        Some(out)
    }

    /// The plaintext of a sealed payload, `None` when it fails authentication.
    fn open(&self, aad: &[u8], payload: &[u8]) -> Option<Vec<u8>> {
        let body_end = payload.len().checked_sub(TAG_LEN)?;
        let nonce = payload.get(..NONCE_LEN)?;
        let mut body = payload.get(NONCE_LEN..body_end)?.to_vec();
        let tag = GenericArray::from_slice(&payload[body_end..]);
        self.aead
            .decrypt_in_place_detached(GenericArray::from_slice(nonce), aad, &mut body, tag)
            .ok()?;
        Some(body)
    }
}

/// The magic of the sealed variant of a file whose plain magic is `magic`.
pub(crate) fn sealed_magic(magic: &[u8; 8]) -> [u8; 8] {
    let mut out = *magic;
    out[6] = b'E';
    out
}

/// A new file's header: the magic, and with a sealer the sealed magic and a fresh salt.
pub(crate) fn header(sealer: Option<&Sealer>, magic: &[u8; 8]) -> (Vec<u8>, Salt) {
    match sealer {
        None => (magic.to_vec(), [0; SALT_LEN]),
        Some(s) => {
            let salt = s.salt();
            let mut out = sealed_magic(magic).to_vec();
            out.extend_from_slice(&salt);
            (out, salt)
        }
    }
}

/// The salt and the offset of the first record of a file with `magic`; an error explains a
/// foreign file, or a sealed file read without a key (and the other way round).
pub(crate) fn read_header(
    sealer: Option<&Sealer>,
    magic: &[u8; 8],
    bytes: &[u8],
) -> Result<(Salt, usize), String> {
    let head = bytes.get(..8);
    match sealer {
        None if head == Some(&magic[..]) => Ok(([0; SALT_LEN], 8)),
        None if head == Some(&sealed_magic(magic)[..]) => {
            Err("file is encrypted (no data key given)".to_owned())
        }
        Some(_) if head == Some(&sealed_magic(magic)[..]) => {
            let salt = bytes
                .get(8..8 + SALT_LEN)
                .and_then(|s| Salt::try_from(s).ok())
                .ok_or("truncated header")?;
            Ok((salt, 8 + SALT_LEN))
        }
        Some(_) if head == Some(&magic[..]) => Err("file is not encrypted".to_owned()),
        _ => Err("bad magic".to_owned()),
    }
}

/// Where records are written or read: a file (label and salt) and the offset its buffer starts
/// at. Without a sealer records are plain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    sealer: Option<&'a Sealer>,
    label: &'a [u8],
    salt: Salt,
    base: u64,
}

impl<'a> Frame<'a> {
    /// Records of the file `label` with `salt`, in a buffer starting at byte `base` of the file.
    pub(crate) fn new(sealer: Option<&'a Sealer>, label: &'a [u8], salt: Salt, base: u64) -> Self {
        Frame {
            sealer,
            label,
            salt,
            base,
        }
    }

    /// The same file, a buffer starting at `base`.
    pub(crate) fn at(self, base: u64) -> Self {
        Frame { base, ..self }
    }

    /// The file's salt.
    pub(crate) fn salt(&self) -> Salt {
        self.salt
    }

    /// True when records are sealed.
    pub(crate) fn sealed(&self) -> bool {
        self.sealer.is_some()
    }

    fn aad(&self, pos: u64, kind: u8) -> Vec<u8> {
        let mut aad = Vec::with_capacity(self.label.len() + 30);
        // Labels are at most 32 bytes (a hex file key); the length keeps them unambiguous.
        aad.push(self.label.len().min(255) as u8);
        aad.extend_from_slice(self.label);
        aad.extend_from_slice(&self.salt);
        aad.extend_from_slice(&pos.to_le_bytes());
        aad.push(kind);
        aad
    }

    /// Seals `parts` as the payload of a `kind` record starting at byte `pos` of the buffer
    /// (plain: the concatenation). `None` when a sealed payload would fail.
    pub(crate) fn seal_at(&self, pos: usize, kind: u8, parts: &[&[u8]]) -> Option<Vec<u8>> {
        match self.sealer {
            None => Some(parts.concat()),
            Some(s) => s.seal(&self.aad(self.base + pos as u64, kind), parts),
        }
    }

    /// Opens the payload of the `kind` record at byte `pos` of the buffer.
    pub(crate) fn open_at<'b>(&self, pos: usize, kind: u8, payload: &'b [u8]) -> Result<Cow<'b, [u8]>, Bad> {
        match self.sealer {
            None => Ok(Cow::Borrowed(payload)),
            Some(s) => s
                .open(&self.aad(self.base + pos as u64, kind), payload)
                .map(Cow::Owned)
                .ok_or(Bad::Sealed(pos)),
        }
    }

    /// Appends one record to `out` (whose byte 0 is at the frame's base); `None` when the
    /// payload is too large.
    pub(crate) fn push(&self, out: &mut Vec<u8>, kind: u8, parts: &[&[u8]]) -> Option<()> {
        if self.sealer.is_none() {
            return record::push(out, kind, parts);
        }
        let sealed = self.seal_at(out.len(), kind, parts)?;
        record::push(out, kind, &[&sealed])
    }

    /// Iterates the opened records of `bytes[start..]` (byte 0 at the frame's base).
    pub(crate) fn iter<'b>(&self, bytes: &'b [u8], start: usize) -> Opened<'a, 'b> {
        Opened {
            frame: *self,
            inner: record::iter(bytes, start),
        }
    }
}

/// Iterator of [`Frame::iter`]: `(kind, plaintext payload)`, one `Err` then the end.
#[derive(Debug)]
pub(crate) struct Opened<'a, 'b> {
    frame: Frame<'a>,
    inner: record::Records<'b>,
}

impl<'b> Iterator for Opened<'_, 'b> {
    type Item = Result<(u8, Cow<'b, [u8]>), Bad>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.inner.position();
        let r = match self.inner.next()? {
            Ok(r) => r,
            Err(bad) => return Some(Err(bad)),
        };
        let opened = self.frame.open_at(at, r.kind, r.payload).map(|p| (r.kind, p));
        if opened.is_err() {
            // Stop after the failure, as the plain iterator does.
            self.inner = record::iter(&[], 0);
        }
        Some(opened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(b: u8) -> Sealer {
        Sealer::new(&DataKey::from_bytes([b; 32])).unwrap()
    }

    #[test]
    fn records_open_only_in_their_place() {
        let s = sealer(1);
        let frame = Frame::new(Some(&s), b"file-a", [3; SALT_LEN], 100);
        let mut out = Vec::new();
        frame.push(&mut out, 2, &[b"hello ", b"world"]).unwrap();
        frame.push(&mut out, 3, &[b"second"]).unwrap();
        assert!(!out.windows(5).any(|w| w == b"hello"), "plaintext visible");
        let got: Vec<_> = frame.iter(&out, 0).map(|r| r.unwrap().1.into_owned()).collect();
        assert_eq!(got, vec![b"hello world".to_vec(), b"second".to_vec()]);

        let fails = |f: Frame<'_>, bytes: &[u8]| f.iter(bytes, 0).any(|r| r.is_err());
        assert!(fails(frame.at(101), &out), "another offset must fail");
        assert!(fails(Frame::new(Some(&s), b"file-b", [3; SALT_LEN], 100), &out));
        assert!(fails(Frame::new(Some(&s), b"file-a", [4; SALT_LEN], 100), &out));
        let other = sealer(2);
        assert!(fails(
            Frame::new(Some(&other), b"file-a", [3; SALT_LEN], 100),
            &out
        ));
        // Swapping the two records (re-framed with valid checksums) fails too.
        let mut records = record::iter(&out, 0);
        let a = records.next().unwrap().unwrap();
        let b = records.next().unwrap().unwrap();
        let mut swapped = Vec::new();
        record::push(&mut swapped, b.kind, &[b.payload]).unwrap();
        record::push(&mut swapped, a.kind, &[a.payload]).unwrap();
        assert!(fails(frame, &swapped));
    }

    #[test]
    fn headers_tell_sealed_from_plain() {
        let s = sealer(1);
        let (plain, _) = header(None, b"HSTST\0\0\x01");
        let (sealed, salt) = header(Some(&s), b"HSTST\0\0\x01");
        assert_eq!(read_header(None, b"HSTST\0\0\x01", &plain).unwrap().1, 8);
        assert_eq!(
            read_header(Some(&s), b"HSTST\0\0\x01", &sealed).unwrap(),
            (salt, 20)
        );
        assert!(
            read_header(None, b"HSTST\0\0\x01", &sealed)
                .unwrap_err()
                .contains("encrypted")
        );
        assert!(
            read_header(Some(&s), b"HSTST\0\0\x01", &plain)
                .unwrap_err()
                .contains("not encrypted")
        );
        assert_ne!(header(Some(&s), b"HSTST\0\0\x01").1, salt, "salts repeat");
    }
}
