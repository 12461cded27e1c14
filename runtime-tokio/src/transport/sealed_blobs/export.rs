//! Exports: bao streams for peers (verified against the outboard on the way out), plain ranges,
//! a file at a path (the explicit `get_blob` export), and bitfield observation.
//!
//! Every byte leaves through [`ReadAhead`] and [`Entry::read_run`] / [`Entry::read_group`], which
//! open the groups; a group that fails
//! authentication ends the export with [`super::SealedBlobError::Tampered`] and is dropped from
//! the entry, never served.

use std::io::Write;
use std::sync::Arc;

use bao_tree::ChunkRanges;
use bao_tree::io::mixed::{EncodedItem, ReadBytesAt};
use bao_tree::io::{EncodeError, Leaf};
use bytes::Bytes;
use iroh_blobs::api::blobs::{Bitfield, ExportProgressItem};
use iroh_blobs::api::proto::ExportRangesItem;
use iroh_blobs::protocol::ChunkRangesExt;
use irpc::channel::mpsc;
use range_collections::RangeSet2;
use range_collections::range_set::RangeSetRange;

use super::entry::Entry;
use super::groups;
use super::read_ahead::ReadAhead;

/// The error of an export of a blob the store does not have.
fn not_found() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, "blob not in the store")
}

/// Reads plaintext bytes of an entry for bao-tree's traversal.
struct Reader(ReadAhead);

impl ReadBytesAt for Reader {
    fn read_bytes_at(&self, offset: u64, size: usize) -> std::io::Result<Bytes> {
        self.0.read_bytes(offset, size).map_err(|e| e.into_io())
    }
}

/// bao-tree's sender over an irpc channel.
struct Sender<'a>(&'a mut mpsc::Sender<EncodedItem>);

impl bao_tree::io::mixed::Sender for Sender<'_> {
    type Error = irpc::channel::SendError;

    async fn send(&mut self, item: EncodedItem) -> Result<(), Self::Error> {
        self.0.send(item).await
    }
}

/// Sends `ranges` of the blob as a verified bao stream.
pub(crate) async fn bao(entry: Option<Arc<Entry>>, ranges: ChunkRanges, mut tx: mpsc::Sender<EncodedItem>) {
    let Some(entry) = entry.filter(|e| e.is_stored()) else {
        tx.send(EncodeError::Io(not_found()).into()).await.ok();
        return;
    };
    let _use = entry.acquire();
    let outboard = match entry.outboard() {
        Ok(o) => o,
        Err(e) => {
            tx.send(EncodeError::Io(e.into_io()).into()).await.ok();
            return;
        }
    };
    let reader = Reader(ReadAhead::new(entry.clone(), ranges.clone()));
    let mut sender = Sender(&mut tx);
    // Errors (a tampered group, a missing range) were sent as the stream's last item.
    bao_tree::io::mixed::traverse_ranges_validated(reader, outboard, &ranges, &mut sender)
        .await
        .ok();
}

/// Sends the byte `ranges` of the blob, clipped to its size, as plain leaves.
pub(crate) async fn ranges(
    entry: Option<Arc<Entry>>,
    ranges: RangeSet2<u64>,
    mut tx: mpsc::Sender<ExportRangesItem>,
) {
    let Some(entry) = entry.filter(|e| e.is_stored()) else {
        tx.send(ExportRangesItem::Error(not_found().into())).await.ok();
        return;
    };
    let _use = entry.acquire();
    let reader = ReadAhead::new(entry.clone(), ChunkRanges::all());
    if let Err(e) = send_ranges(&reader, ranges, &mut tx).await {
        tx.send(ExportRangesItem::Error(e.into())).await.ok();
    }
}

async fn send_ranges(
    reader: &ReadAhead,
    ranges: RangeSet2<u64>,
    tx: &mut mpsc::Sender<ExportRangesItem>,
) -> std::io::Result<()> {
    let bitfield = reader.entry().bitfield();
    let size = bitfield.size();
    tx.send(ExportRangesItem::Size(size)).await?;
    for range in ranges.iter() {
        let (start, end) = match range {
            RangeSetRange::Range(r) => (size.min(*r.start), size.min(*r.end)),
            RangeSetRange::RangeFrom(r) => (size.min(*r.start), size),
        };
        if start >= end {
            continue;
        }
        if !bitfield.ranges.is_superset(&ChunkRanges::bytes(start..end)) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("bytes {start}..{end} are not all present"),
            ));
        }
        for index in groups::of_bytes(start, end) {
            let group_start = index * groups::GROUP_LEN;
            let group = reader.group(index).map_err(|e| e.into_io())?;
            let from = start.max(group_start);
            let to = end.min(group_start + group.len() as u64).max(from);
            let data = group.slice((from - group_start) as usize..(to - group_start) as usize);
            tx.send(Leaf { offset: from, data }.into()).await?;
        }
    }
    Ok(())
}

/// Writes the whole blob to `target` (absolute), as the explicit export `get_blob` asks for.
pub(crate) async fn path(
    entry: Option<Arc<Entry>>,
    target: std::path::PathBuf,
    mut tx: mpsc::Sender<ExportProgressItem>,
) {
    let Some(entry) = entry.filter(|e| e.is_stored()) else {
        tx.send(ExportProgressItem::Error(not_found().into())).await.ok();
        return;
    };
    let _use = entry.acquire();
    let reader = ReadAhead::new(entry.clone(), ChunkRanges::all());
    let item = match write_to(&reader, &target, &mut tx).await {
        Ok(()) => ExportProgressItem::Done,
        Err(e) => ExportProgressItem::Error(e.into()),
    };
    tx.send(item).await.ok();
}

async fn write_to(
    reader: &ReadAhead,
    target: &std::path::Path,
    tx: &mut mpsc::Sender<ExportProgressItem>,
) -> std::io::Result<()> {
    if !target.is_absolute() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "path is not absolute",
        ));
    }
    let bitfield = reader.entry().bitfield();
    if !bitfield.is_complete() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "blob is not complete",
        ));
    }
    let size = bitfield.size();
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    tx.send(ExportProgressItem::Size(size)).await?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(target)?);
    for index in 0..groups::count(size) {
        let group = reader.group(index).map_err(|e| e.into_io())?;
        out.write_all(&group)?;
        if index % 64 == 0 {
            tx.try_send(ExportProgressItem::CopyProgress(index * groups::GROUP_LEN))
                .await
                .ok();
        }
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// Sends the entry's bitfield, then every change, until the receiver goes away.
pub(crate) async fn observe(entry: Arc<Entry>, tx: mpsc::Sender<Bitfield>) {
    let mut changes = entry.subscribe();
    let mut last = changes.borrow_and_update().clone();
    if tx.send(last.clone()).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        let now = changes.borrow_and_update().clone();
        if now != last {
            if tx.send(now.clone()).await.is_err() {
                return;
            }
            last = now;
        }
    }
}
