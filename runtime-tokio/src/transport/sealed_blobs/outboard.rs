//! The plain BLAKE3 outboard of a blob: the hash pairs of its tree in pre-order, as iroh-blobs'
//! own stores keep them. It is not sealed: it holds hashes of the content's chunk groups only,
//! which reveal nothing about bytes a reader does not already have (and the root hash is what
//! peers ask for). Every range served is verified against it and the root on the way out.

use std::borrow::Borrow;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use bao_tree::blake3;
use bao_tree::io::sync::{Outboard, OutboardMut};
use bao_tree::{BaoTree, TreeNode};
use iroh_blobs::Hash;

/// A pre-order outboard in a file. A node never written reads as zeros, which never verify.
#[derive(Debug)]
pub(crate) struct FileOutboard<F> {
    root: blake3::Hash,
    tree: BaoTree,
    file: F,
}

impl<F: Borrow<File>> FileOutboard<F> {
    /// The outboard of the blob `hash` of `size` bytes in `file` (a `File` or a `&File`).
    pub(crate) fn new(hash: &Hash, size: u64, file: F) -> Self {
        FileOutboard {
            root: blake3::Hash::from_bytes(*hash.as_bytes()),
            tree: tree(size),
            file,
        }
    }
}

/// The tree of a blob of `size` bytes, with iroh-blobs' block size.
pub(crate) fn tree(size: u64) -> BaoTree {
    BaoTree::new(size, iroh_blobs::store::IROH_BLOCK_SIZE)
}

impl<F: Borrow<File>> Outboard for FileOutboard<F> {
    fn root(&self) -> blake3::Hash {
        self.root
    }

    fn tree(&self) -> BaoTree {
        self.tree
    }

    fn load(&self, node: TreeNode) -> io::Result<Option<(blake3::Hash, blake3::Hash)>> {
        let Some(offset) = self.tree.pre_order_offset(node) else {
            return Ok(None);
        };
        let mut pair = [0u8; 64];
        match self.file.borrow().read_exact_at(&mut pair, offset * 64) {
            Ok(()) => {}
            // Past the end of a sparse file: not written yet (zeros never verify).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => pair = [0; 64],
            Err(e) => return Err(e),
        }
        let mut left = [0u8; 32];
        let mut right = [0u8; 32];
        left.copy_from_slice(&pair[..32]);
        right.copy_from_slice(&pair[32..]);
        Ok(Some((
            blake3::Hash::from_bytes(left),
            blake3::Hash::from_bytes(right),
        )))
    }
}

impl<F: Borrow<File>> OutboardMut for FileOutboard<F> {
    fn save(&mut self, node: TreeNode, pair: &(blake3::Hash, blake3::Hash)) -> io::Result<()> {
        let Some(offset) = self.tree.pre_order_offset(node) else {
            return Ok(());
        };
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(pair.0.as_bytes());
        bytes[32..].copy_from_slice(pair.1.as_bytes());
        self.file.borrow().write_all_at(&bytes, offset * 64)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.borrow().sync_data()
    }
}
