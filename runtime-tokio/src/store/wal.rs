//! The write-ahead log: batches of physical file changes, made durable with one fdatasync each.
//!
//! `MAGIC`, then per batch one [`kind::OP`] record per [`PhysOp`] and a [`kind::COMMIT`] record
//! carrying the op count. Only batches whose COMMIT record is intact are replayed; a torn tail is
//! a batch that was never acknowledged and is cut off at open. Replaying an op is idempotent
//! (ops carry absolute offsets and whole files), so a crash during replay or during a checkpoint
//! just replays again.
//!
//! In an encrypted store the header carries a salt drawn at every reset, and records are sealed
//! with the label `wal` (seal.rs). An OP record is then `[u16 n][sealed (mode, id, offset, byte
//! count); n][bytes]`: the bytes are document-file records, already sealed for their file and
//! offset, so they are not encrypted twice; their count is bound by the sealed part.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use humansync_protocol::DocId;

use super::codec::{self, Malformed, Reader};
use super::durable;
use super::error::StoreError;
use super::layout;
use super::record;
use super::seal::{self, Frame, Salt, Sealer};
use super::stats::Counters;

/// The label binding sealed log records to the log.
const LABEL: &[u8] = b"wal";

/// The first bytes of the log (format version 1).
pub(crate) const MAGIC: &[u8; 8] = b"HSWAL\0\0\x01";

/// Record kinds in the log.
pub(crate) mod kind {
    /// One physical operation.
    pub(crate) const OP: u8 = 0x10;
    /// The end of a batch, with its op count.
    pub(crate) const COMMIT: u8 = 0x11;
}

/// A physical change to a document file, logged before it is performed (redo logging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PhysOp {
    /// Replace the file with `bytes`, a complete document file.
    Fresh {
        /// The document.
        doc: DocId,
        /// The new file.
        bytes: Vec<u8>,
    },
    /// Cut the file to `offset` bytes and write `bytes` there (an append).
    At {
        /// The document.
        doc: DocId,
        /// The file's length before the append.
        offset: u64,
        /// Records to append.
        bytes: Vec<u8>,
    },
    /// The file was moved to quarantine; the document has no file any more.
    Forget {
        /// The document.
        doc: DocId,
    },
}

impl PhysOp {
    /// The document the op changes.
    pub(crate) fn doc(&self) -> &DocId {
        match self {
            PhysOp::Fresh { doc, .. } | PhysOp::At { doc, .. } | PhysOp::Forget { doc } => doc,
        }
    }

    /// The fixed part of the record payload (mode, id, offset); the file bytes follow it.
    fn prefix(&self) -> (Vec<u8>, &[u8]) {
        let mut out = Vec::with_capacity(210);
        match self {
            PhysOp::Fresh { doc, bytes } => {
                out.push(0);
                codec::put_doc_id(&mut out, doc);
                (out, bytes)
            }
            PhysOp::At { doc, offset, bytes } => {
                out.push(1);
                codec::put_doc_id(&mut out, doc);
                out.extend_from_slice(&offset.to_le_bytes());
                (out, bytes)
            }
            PhysOp::Forget { doc } => {
                out.push(2);
                codec::put_doc_id(&mut out, doc);
                (out, &[])
            }
        }
    }

    /// Decodes an op from its record payload (plain: `body` is `None`, the bytes are the rest of
    /// `head`), or from an opened sealed head (mode, id, offset, byte count) and its `body`.
    fn decode(head: &[u8], body: Option<&[u8]>) -> Result<PhysOp, Malformed> {
        let mut r = Reader::new(head);
        let mode = r.u8()?;
        let doc = codec::doc_id(&mut r)?;
        let offset = if mode == 1 { r.u64()? } else { 0 };
        let bytes = match body {
            None => r.rest(),
            Some(body) => {
                let count = r.u64()?;
                r.finish()?;
                if count != body.len() as u64 {
                    return Err(Malformed("op byte count"));
                }
                body
            }
        };
        match mode {
            0 => Ok(PhysOp::Fresh {
                doc,
                bytes: bytes.to_vec(),
            }),
            1 => Ok(PhysOp::At {
                doc,
                offset,
                bytes: bytes.to_vec(),
            }),
            2 if bytes.is_empty() => Ok(PhysOp::Forget { doc }),
            _ => Err(Malformed("op mode")),
        }
    }
}

/// The size of `op`'s log record, or `None` when it exceeds the record limit.
pub(crate) fn record_len(op: &PhysOp) -> Option<usize> {
    let (prefix, bytes) = op.prefix();
    // The sealed form adds its length, the byte count and the seal.
    let len = prefix.len() + bytes.len() + 2 + 8 + seal::OVERHEAD;
    (len <= record::MAX_PAYLOAD).then_some(record::HEADER_LEN + len)
}

/// An append that failed; `poisoned` when the log's durable state is unknown (the failed batch
/// could not be cut off again).
#[derive(Debug)]
pub(crate) struct AppendError {
    pub(crate) error: StoreError,
    pub(crate) poisoned: bool,
}

/// The open log.
#[derive(Debug)]
pub(crate) struct Wal {
    file: File,
    path: PathBuf,
    len: u64,
    sealer: Option<Arc<Sealer>>,
    /// The salt of the current header (zero when plain).
    salt: Salt,
}

/// What [`Wal::open`] found.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// Ops of every committed batch, in order.
    pub(crate) ops: Vec<PhysOp>,
    /// Bytes of torn tail cut off.
    pub(crate) dropped: u64,
}

impl Wal {
    /// Opens the log at `path` (creating it durably if missing) and reads its committed batches.
    pub(crate) fn open(
        path: &Path,
        sealer: Option<Arc<Sealer>>,
        stats: &Counters,
    ) -> Result<(Wal, Recovered), StoreError> {
        let io = |op| StoreError::at(op, path);
        let bytes = match layout::read_all(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io("read log")(e)),
        };
        let file = layout::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io("open log"))?;
        let mut wal = Wal {
            file,
            path: path.to_path_buf(),
            len: bytes.len() as u64,
            sealer,
            salt: [0; seal::SALT_LEN],
        };
        let sealed_magic = seal::sealed_magic(MAGIC);
        let header_len = super::docfile::header_len(wal.sealer.as_deref());
        let interrupted = bytes.len() < header_len
            && (MAGIC.starts_with(&bytes)
                || sealed_magic.starts_with(&bytes)
                || bytes.starts_with(&sealed_magic));
        if interrupted {
            // New, or its creation was interrupted before the header was durable.
            wal.reset(stats).map_err(io("initialise log"))?;
            if let Some(dir) = path.parent() {
                durable::sync_dir(dir, stats).map_err(io("sync directory of"))?;
            }
            let recovered = Recovered {
                ops: Vec::new(),
                dropped: 0,
            };
            return Ok((wal, recovered));
        }
        let (salt, start) =
            seal::read_header(wal.sealer.as_deref(), MAGIC, &bytes).map_err(|reason| StoreError::Format {
                path: path.to_path_buf(),
                reason: format!("not a HumanSync write-ahead log of this version: {reason}"),
            })?;
        wal.salt = salt;
        let frame = Frame::new(wal.sealer.as_deref(), LABEL, salt, 0);
        let (ops, valid_end) = committed(&bytes, start, frame);
        let dropped = bytes.len() as u64 - valid_end;
        if dropped > 0 {
            tracing::warn!(path = %path.display(), dropped, "dropping the log's torn tail (never acknowledged)");
            wal.file.set_len(valid_end).map_err(io("truncate log"))?;
            durable::sync_file(&wal.file, stats).map_err(io("sync log"))?;
            wal.len = valid_end;
        }
        Ok((wal, Recovered { ops, dropped }))
    }

    /// Current size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends one batch and makes it durable with a single fdatasync (one [`kind::COMMIT`]).
    pub(crate) fn append(&mut self, ops: &[PhysOp], stats: &Counters) -> Result<(), AppendError> {
        let written = self.write_batch(ops).map_err(|e| {
            // Nothing was acknowledged: cut the partial batch off again (an error means the
            // batch did not happen; a torn tail would be dropped at open anyway).
            let poisoned = self.file.set_len(self.len).is_err();
            AppendError {
                error: StoreError::io("append to log", &self.path, e),
                poisoned,
            }
        })?;
        if let Err(e) = durable::sync_file(&self.file, stats) {
            // The batch's durability is unknown: cut it off durably so that it never replays.
            let poisoned = self.cut_back(stats).is_err();
            return Err(AppendError {
                error: StoreError::io("sync log", &self.path, e),
                poisoned,
            });
        }
        stats.wrote(written as usize);
        self.len += written;
        Ok(())
    }

    fn write_batch(&mut self, ops: &[PhysOp]) -> io::Result<u64> {
        self.file.seek(SeekFrom::Start(self.len))?;
        let frame = Frame::new(self.sealer.as_deref(), LABEL, self.salt, 0);
        let mut out = BufWriter::with_capacity(1 << 20, &self.file);
        let mut written = 0u64;
        let too_large = || io::Error::other("log record exceeds the record limit");
        let seal_failed = || io::Error::other("sealing a log record failed");
        for op in ops {
            let (prefix, bytes) = op.prefix();
            let at = usize::try_from(self.len + written).map_err(|_| too_large())?;
            let sealed_head;
            let head_parts: [&[u8]; 2] = if frame.sealed() {
                let count = (bytes.len() as u64).to_le_bytes();
                let sealed = frame
                    .seal_at(at, kind::OP, &[&prefix, &count])
                    .ok_or_else(seal_failed)?;
                // A sealed head is at most ~250 bytes (id, offset, count, seal).
                let n = u16::try_from(sealed.len()).map_err(|_| too_large())?;
                sealed_head = (n.to_le_bytes(), sealed);
                [&sealed_head.0[..], &sealed_head.1[..]]
            } else {
                [&prefix[..], &[]]
            };
            let head =
                record::header(kind::OP, &[head_parts[0], head_parts[1], bytes]).ok_or_else(too_large)?;
            out.write_all(&head)?;
            out.write_all(head_parts[0])?;
            out.write_all(head_parts[1])?;
            out.write_all(bytes)?;
            written += (head.len() + head_parts[0].len() + head_parts[1].len() + bytes.len()) as u64;
        }
        let at = usize::try_from(self.len + written).map_err(|_| too_large())?;
        let count = frame
            .seal_at(at, kind::COMMIT, &[&(ops.len() as u64).to_le_bytes()])
            .ok_or_else(seal_failed)?;
        let head = record::header(kind::COMMIT, &[&count]).ok_or_else(too_large)?;
        out.write_all(&head)?;
        out.write_all(&count)?;
        out.flush()?;
        Ok(written + (head.len() + count.len()) as u64)
    }

    /// Cuts the log back to what was acknowledged and makes that durable: after a failed sync
    /// the last page of acknowledged bytes (shared with the failed batch) may be clean in the
    /// cache but unwritten, so it is written again before the sync.
    pub(crate) fn cut_back(&mut self, stats: &Counters) -> io::Result<()> {
        const PAGE: u64 = 4096;
        self.file.set_len(self.len)?;
        let start = (self.len.saturating_sub(1) / PAGE) * PAGE;
        let tail_len = usize::try_from(self.len - start).map_err(io::Error::other)?;
        let mut tail = vec![0u8; tail_len];
        self.file.seek(SeekFrom::Start(start))?;
        io::Read::read_exact(&mut self.file, &mut tail)?;
        self.file.seek(SeekFrom::Start(start))?;
        self.file.write_all(&tail)?;
        durable::sync_file(&self.file, stats)
    }

    /// Writes a batch without syncing or acknowledging it (what a failed sync leaves).
    #[cfg(test)]
    pub(crate) fn write_unacknowledged(&mut self, ops: &[PhysOp]) -> io::Result<()> {
        self.write_batch(ops).map(|_| ())
    }

    /// Empties the log (after a checkpoint made its content durable elsewhere) durably.
    pub(crate) fn reset(&mut self, stats: &Counters) -> io::Result<()> {
        self.file.set_len(0)?;
        // The old content is gone from here on, whatever fails next.
        self.len = 0;
        self.file.seek(SeekFrom::Start(0))?;
        let (header, salt) = seal::header(self.sealer.as_deref(), MAGIC);
        self.file.write_all(&header)?;
        durable::sync_file(&self.file, stats)?;
        stats.wrote(header.len());
        self.len = header.len() as u64;
        self.salt = salt;
        Ok(())
    }
}

/// The ops of every intact batch after the header (`start` bytes) and the offset where the intact
/// prefix ends.
fn committed(bytes: &[u8], start: usize, frame: Frame<'_>) -> (Vec<PhysOp>, u64) {
    let mut ops = Vec::new();
    let mut pending = Vec::new();
    let mut valid_end = start;
    let mut records = record::iter(bytes, start);
    loop {
        let at = records.position();
        let Some(Ok(r)) = records.next() else { break };
        let ok = match r.kind {
            kind::OP => decode_op(frame, at, r.payload)
                .map(|op| pending.push(op))
                .is_some(),
            kind::COMMIT => {
                let count = frame.open_at(at, r.kind, r.payload).ok().and_then(|p| {
                    let mut reader = Reader::new(&p);
                    reader.u64().ok().filter(|_| reader.finish().is_ok())
                });
                let ok = count == Some(pending.len() as u64);
                if ok {
                    ops.append(&mut pending);
                    valid_end = records.position();
                }
                ok
            }
            _ => false,
        };
        if !ok {
            break;
        }
    }
    (ops, valid_end as u64)
}

/// The op of the OP record at byte `at` (sealed or plain, as `frame` says).
fn decode_op(frame: Frame<'_>, at: usize, payload: &[u8]) -> Option<PhysOp> {
    if !frame.sealed() {
        return PhysOp::decode(payload, None).ok();
    }
    let n = usize::from(u16::from_le_bytes([*payload.first()?, *payload.get(1)?]));
    let sealed = payload.get(2..2 + n)?;
    let head = frame.open_at(at, kind::OP, sealed).ok()?;
    PhysOp::decode(&head, Some(payload.get(2 + n..)?)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops() -> Vec<PhysOp> {
        let doc = DocId::new("a/b").unwrap();
        vec![
            PhysOp::Fresh {
                doc: doc.clone(),
                bytes: b"file".to_vec(),
            },
            PhysOp::At {
                doc: doc.clone(),
                offset: 4,
                bytes: b"more".to_vec(),
            },
            PhysOp::Forget { doc },
        ]
    }

    #[test]
    fn batches_survive_reopen_and_torn_tails_are_dropped() {
        torn_tails(None);
        let key = crate::keys::DataKey::from_bytes([4; 32]);
        torn_tails(Some(Arc::new(Sealer::new(&key).unwrap())));
    }

    fn torn_tails(sealer: Option<Arc<Sealer>>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let stats = Counters::default();
        let (mut wal, rec) = Wal::open(&path, sealer.clone(), &stats).unwrap();
        assert!(rec.ops.is_empty());
        wal.append(&ops(), &stats).unwrap();
        let one = wal.len();
        wal.append(&ops()[..1], &stats).unwrap();
        let two = wal.len();
        drop(wal);
        let full = std::fs::read(&path).unwrap();
        for cut in one..two {
            std::fs::write(&path, &full[..cut as usize]).unwrap();
            let (wal, rec) = Wal::open(&path, sealer.clone(), &stats).unwrap();
            assert_eq!(rec.ops, ops(), "cut at {cut}");
            assert_eq!(rec.dropped, cut - one);
            assert_eq!(wal.len(), one);
        }
        std::fs::write(&path, &full).unwrap();
        let (_, rec) = Wal::open(&path, sealer.clone(), &stats).unwrap();
        assert_eq!(rec.ops.len(), 4);
        if sealer.is_some() {
            assert!(!full.windows(3).any(|w| w == b"a/b"), "the doc id is visible");
            // Opened without the key, or plain with a key: a clear format error.
            assert!(matches!(
                Wal::open(&path, None, &stats),
                Err(StoreError::Format { .. })
            ));
        }
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        std::fs::write(&path, b"something else entirely").unwrap();
        assert!(matches!(
            Wal::open(&path, None, &Counters::default()),
            Err(StoreError::Format { .. })
        ));
    }
}
