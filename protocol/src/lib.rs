//! # humansync-protocol
//!
//! The HumanSync wire protocol, version 1, as SPEC.md defines it: ids,
//! messages, their postcard encoding, framing, limits, versions, close codes,
//! signed registry records and the pairing API's JSON bodies. No I/O.
//!
//! Goals: a peer in any language can be built from SPEC.md and the vectors in
//! `conformance/`; every length is bounded and checked before allocation; no
//! input makes a decoder panic.
//!
//! ```
//! use humansync_protocol::{FrameDecoder, Message, SetSummary, Fingerprint, DocDigest, encode_frame};
//!
//! let hello = Message::Hello {
//!     versions: vec![1],
//!     set: SetSummary { count: 0, fingerprint: Fingerprint::EMPTY },
//!     devices: DocDigest::default(),
//! };
//! let bytes = encode_frame(&hello).unwrap();
//! let mut decoder = FrameDecoder::new();
//! decoder.push(&bytes);
//! assert_eq!(decoder.next_message().unwrap(), Some(hello));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bounded;
mod close;
pub mod digest;
mod doc_id;
mod frame;
pub mod hex_text;
pub mod http;
mod ids;
pub mod invitation;
pub mod limits;
pub mod login;
mod message;
pub mod registry;
mod version;

pub use close::CloseCode;
pub use doc_id::{DocId, DocIdError, validate as validate_doc_id};
pub use frame::{FRAME_HEADER_LEN, FrameDecoder, FrameError, encode_frame, frame_payload};
pub use ids::{BlobHash, ChangeHash, DeviceId, DeviceIdError, DocDigest, Fingerprint};
pub use message::{
    Bound, Cursor, DecodeError, EncodeError, Item, Message, RangeEntry, RangeMode, SetSummary,
};
pub use registry::{RecordError, RegistryRecord, SignedRecord};
pub use version::{SUPPORTED_VERSIONS, SYNC_ALPN, V1, V2, V3, allowed_in, negotiate};

/// The prefix of a blob reference stored in a document: `hsblob:<64 hex>` (HS-BLOB-1).
pub const BLOB_REF_PREFIX: &str = "hsblob:";
