//! Every length, count, size and duration bound of protocol v1 (SPEC.md §9, "Limits").
//!
//! SPEC.md names these constants; code and tests reference them, never restate them.

/// Largest frame payload a peer may send or accept, in bytes (HS-FRAME-2).
pub const MAX_FRAME_LEN: u32 = 16 * 1024 * 1024;
/// Largest saved document or Automerge sync message carried in one message (HS-SYNC-1, HS-SYNC-3).
pub const MAX_DOC_BYTES: usize = MAX_FRAME_LEN as usize - 64 * 1024;
/// Longest document id, in bytes (HS-DOC-1).
pub const MAX_DOC_ID_LEN: usize = 200;
/// Most protocol versions a Hello may list (HS-VER-1).
pub const MAX_VERSIONS: usize = 8;
/// Longest human-readable close reason, in bytes (HS-CLOSE-2).
pub const MAX_REASON_LEN: usize = 256;
/// Most change hashes in a DocWhole's heads (HS-SYNC-1).
pub const MAX_HEADS: usize = 256;
/// Most blob references a DocWhole may announce (HS-SYNC-1).
pub const MAX_BLOB_REFS: usize = 4096;
/// Most document ids in one DocWant (HS-SYNC-2).
pub const MAX_WANT: usize = 1024;
/// Most blob hashes in one BlobWant or BlobHave (HS-BLOB-2).
pub const MAX_BLOB_WANT: usize = 1024;
/// Most message numbers in one `Held`'s `refused` list (HS-SYNC-14).
pub const MAX_HELD_REFUSED: usize = 1024;
/// Payload bytes of `DocWhole` / `DocChanges` a sender keeps not yet covered by the peer's `Held`
/// on a version-3 session before further ones wait (HS-SYNC-15).
pub const SEND_WINDOW: usize = 8 * 1024 * 1024;
/// Most ranges in one Reconcile message (HS-RECON-5).
pub const MAX_RECON_RANGES: usize = 256;
/// Most items, summed over all ranges, in one Reconcile message (HS-RECON-5).
pub const MAX_RECON_ITEMS: usize = 1024;
/// How many sub-ranges a differing range is split into (HS-RECON-3).
pub const RECON_BRANCHING: usize = 16;
/// A differing range with at most this many local items is answered with its items (HS-RECON-3).
pub const RECON_ITEMS_THRESHOLD: usize = 16;
/// Longest device name, in bytes, after sanitising (HS-PAIR-4).
pub const MAX_DEVICE_NAME_LEN: usize = 64;
/// Largest encoded registry record payload, in bytes (HS-REG-1).
pub const MAX_RECORD_LEN: usize = 512;
/// Most registry records a node accepts in its registry view (HS-REG-4).
pub const MAX_REGISTRY_RECORDS: usize = 10_000;
/// Largest HTTP request body the server reads, in bytes (HS-HTTP-1).
pub const MAX_HTTP_BODY: usize = 16 * 1024;
/// Largest HTTP response body a client reads, in bytes (HS-HTTP-1): a full registry fits.
pub const MAX_HTTP_RESPONSE: usize = 8 * 1024 * 1024;
/// Largest clock skew accepted on a signed HTTP request, in milliseconds (HS-HTTP-3).
pub const HTTP_AUTH_WINDOW_MS: u64 = 300_000;
/// How far ahead of the server's clock a signed request's timestamp may be, in milliseconds
/// (HS-HTTP-3): tighter than the window, so a pre-signed request cannot be held for long.
pub const HTTP_AUTH_FUTURE_MS: u64 = 30_000;
/// Most nonces the server remembers per signing device (HS-HTTP-3): one device cannot fill
/// the server-wide memory and lock the others out.
pub const MAX_NONCES_PER_DEVICE: usize = 1_024;
/// Time an acceptor waits for Hello before closing, in milliseconds (HS-VER-3).
pub const HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// Pairing failures from one source before backoff starts (HS-PAIR-2).
pub const PAIR_FAILURES_BEFORE_BACKOFF: u32 = 3;
/// First backoff after [`PAIR_FAILURES_BEFORE_BACKOFF`] failures, in milliseconds; doubles per failure (HS-PAIR-2).
pub const PAIR_BACKOFF_BASE_MS: u64 = 1_000;
/// Longest per-source backoff, in milliseconds (HS-PAIR-2).
pub const PAIR_BACKOFF_MAX_MS: u64 = 15 * 60 * 1_000;
/// Global pairing failures within [`PAIR_LOCKOUT_WINDOW_MS`] that lock pairing (HS-PAIR-2).
pub const PAIR_LOCKOUT_FAILURES: u32 = 20;
/// Window over which global pairing failures are counted, in milliseconds (HS-PAIR-2).
pub const PAIR_LOCKOUT_WINDOW_MS: u64 = 10 * 60 * 1_000;
/// How long pairing stays locked after a lockout, in milliseconds (HS-PAIR-2).
pub const PAIR_LOCKOUT_DURATION_MS: u64 = 15 * 60 * 1_000;
/// Pairing attempts per source accepted within [`PAIR_RATE_WINDOW_MS`] (HS-PAIR-2).
pub const PAIR_RATE_PER_SOURCE: u32 = 10;
/// Pairing attempts accepted globally within [`PAIR_RATE_WINDOW_MS`] (HS-PAIR-2).
pub const PAIR_RATE_GLOBAL: u32 = 60;
/// Sliding window for the pairing rate limits, in milliseconds (HS-PAIR-2).
pub const PAIR_RATE_WINDOW_MS: u64 = 60 * 1_000;
/// First retry delay for a failed blob fetch, in milliseconds; doubles per failure (HS-BLOB-2).
pub const BLOB_RETRY_BASE_MS: u64 = 500;
/// Longest retry delay for a failed blob fetch, in milliseconds (HS-BLOB-2).
pub const BLOB_RETRY_MAX_MS: u64 = 60_000;
/// Default grace period of blob retention, in milliseconds: a held blob no live document
/// references and the app has not pinned is deleted this long after it became unreferenced
/// (HS-BLOB-4). Local policy; the library and the server let it be configured.
pub const BLOB_GRACE_DEFAULT_MS: u64 = 24 * 3_600_000;
/// How soon a blob whose grace period ended is looked at again while documents are in flight
/// (HS-BLOB-4), in milliseconds.
pub const BLOB_RETENTION_RECHECK_MS: u64 = 1_000;
/// Least time between two `Synced` messages on one session, in milliseconds (HS-RESUME-5).
pub const SYNCED_INTERVAL_MS: u64 = 1_000;

/// Time between a password login's start and its finish, ms (HS-PAIR-11).
pub const LOGIN_TTL_MS: u64 = 60_000;
/// Password logins in progress on a server (HS-PAIR-11).
pub const MAX_LOGINS: usize = 1_024;
/// Password logins in progress per source or signing device (HS-PAIR-11).
pub const MAX_LOGINS_PER_SOURCE: usize = 4;
/// Open HTTP connections on a server (HS-HTTP-9).
pub const HTTP_MAX_CONNECTIONS: usize = 256;
/// Open HTTP connections from one IP address (HS-HTTP-9).
pub const HTTP_MAX_CONNECTIONS_PER_IP: usize = 32;
/// Time a client has to send a request's headers, ms (HS-HTTP-9).
pub const HTTP_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Time a client has to send a request's body, ms (HS-HTTP-9).
pub const HTTP_BODY_READ_TIMEOUT_MS: u64 = 10_000;
/// Life of one HTTP connection before it is closed gracefully, ms (HS-HTTP-9).
pub const HTTP_CONNECTION_LIFETIME_MS: u64 = 60_000;
/// Longest invitation link, bytes (HS-INV-1).
pub const MAX_LINK_LEN: usize = 2_048;
/// Longest `url` of an invitation link, bytes decoded (HS-INV-1).
pub const MAX_LINK_URL_LEN: usize = 1_024;
/// Most `addr` parameters of an invitation link (HS-INV-1).
pub const MAX_LINK_ADDRS: usize = 8;
/// An invitation's lifetime unless asked otherwise, ms: 10 min (HS-INV-2).
pub const INVITATION_DEFAULT_TTL_MS: u64 = 600_000;
/// The longest invitation lifetime a server grants, ms: 7 days (HS-INV-2).
pub const INVITATION_MAX_TTL_MS: u64 = 7 * 24 * 3_600_000;
/// Invitations active at once on a server (HS-INV-2).
pub const MAX_ACTIVE_INVITATIONS: u64 = 100;

/// Most bytes one parse of peer-supplied Automerge bytes (a saved document, its incremental
/// save, a `DocChanges` or the changes of a sync message) may expand to: chunk data as written
/// plus everything its compressed change chunks and DEFLATE'd columns inflate to. Checked
/// before Automerge parses anything (HS-SYNC-12).
pub const MAX_AUTOMERGE_EXPANDED_BYTES: u64 = 32 * 1024 * 1024;
/// Most rows (changes plus operations, as the column encodings declare them, run lengths
/// included) one parse of peer-supplied Automerge bytes may declare (HS-SYNC-12).
pub const MAX_AUTOMERGE_ROWS: u64 = 2 * 1024 * 1024;
/// Most hash probes per entry an Automerge sync message's Bloom filter may declare (HS-SYNC-12;
/// Automerge writes 7).
pub const MAX_BLOOM_PROBES: u32 = 64;
/// Most bits per entry an Automerge sync message's Bloom filter may declare (HS-SYNC-12;
/// Automerge writes 10).
pub const MAX_BLOOM_BITS_PER_ENTRY: u32 = 64;
/// Most documents a node remembers as quarantined (bytes refused or failed to load); the oldest
/// is forgotten first (HS-SYNC-13).
pub const MAX_QUARANTINED: usize = 1_024;
/// Most peers remembered per quarantined document as having supplied bytes that failed
/// (HS-SYNC-13).
pub const MAX_QUARANTINE_PEERS: usize = 8;
/// First delay before a document that failed to load is asked for again, in milliseconds;
/// doubles per failure (HS-SYNC-13).
pub const QUARANTINE_RETRY_BASE_MS: u64 = 1_000;
/// Longest delay between two requests for a document that failed to load, in milliseconds
/// (HS-SYNC-13).
pub const QUARANTINE_RETRY_MAX_MS: u64 = 3_600_000;
/// Failed loads of one document after which it is no longer asked for (until restart or a
/// new version arrives by reconciliation) (HS-SYNC-13).
pub const QUARANTINE_MAX_RETRIES: u32 = 6;
