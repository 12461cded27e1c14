//! A handle to one document: scalar puts and gets, blob references, and full Automerge access.

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ReadDoc, ScalarValue, Value};
use humansync_protocol::{BlobHash, DocId};

use humansync_sansio::AppRequest;

use crate::{Error, Node};

/// One document, opened with [`Node::open_doc`]. Cheap to clone.
///
/// Every change is local and instant; `put` and `change` return once the change is durable on
/// disk (acknowledged), and it is pushed to every connected peer at once.
#[derive(Clone)]
pub struct Doc {
    pub(crate) id: DocId,
    pub(crate) node: Node,
}

impl Doc {
    /// The document's id.
    pub fn id(&self) -> &DocId {
        &self.id
    }

    /// Sets `key` at the document root to a scalar (string, integer, float, bool, bytes…).
    pub async fn put(&self, key: &str, value: impl Into<ScalarValue>) -> Result<(), Error> {
        let key = key.to_owned();
        let value = value.into();
        self.change(move |tx| tx.put(automerge::ROOT, key, value).map_err(|e| e.to_string()))
            .await
    }

    /// Stores a blob reference `hsblob:<hash>` under `key` (HS-BLOB-1): every peer fetches the blob.
    pub async fn put_blob(&self, key: &str, hash: BlobHash) -> Result<(), Error> {
        self.put(key, hash.to_reference()).await
    }

    /// Reads the scalar at `key` at the document root; `None` when absent.
    pub async fn get<T: FromValue>(&self, key: &str) -> Result<Option<T>, Error> {
        let key = key.to_owned();
        let found: Option<ScalarValue> = self
            .read(move |am| match am.get(automerge::ROOT, key.as_str()) {
                Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
                _ => None,
            })
            .await?;
        match found {
            None => Ok(None),
            Some(scalar) => T::from_scalar(&scalar).map(Some).ok_or_else(|| Error::WrongType {
                key: key_name(&scalar),
                expected: T::NAME,
            }),
        }
    }

    /// Runs `f` inside one Automerge transaction (text splicing, lists, nested maps…); an `Err`
    /// rolls it back. Returns `f`'s value once the change is durable. The change records this
    /// device's wall-clock time in unix seconds (`Change::timestamp`, advisory).
    pub async fn change<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut Transaction<'_>) -> Result<R, String> + Send + 'static,
    {
        self.change_with_heads(f).await.map(|(value, _)| value)
    }

    /// As [`Doc::change`], also returning the document's heads right after this change was
    /// applied (before any later local or remote change): the version an editor that made the
    /// change now shows. When `f` changed nothing, they are the heads it ran at.
    pub async fn change_with_heads<R, F>(&self, f: F) -> Result<(R, Vec<automerge::ChangeHash>), Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut Transaction<'_>) -> Result<R, String> + Send + 'static,
    {
        // The change hands its value here when the core runs it; the core answers the request
        // once the change is durable.
        let (value_tx, value_rx) = tokio::sync::oneshot::channel();
        // Every local change carries its wall-clock time in unix seconds (Automerge's convention;
        // advisory, never used to merge): histories group edits by time.
        let time = crate::store::wall_ms() / 1000;
        let time = i64::try_from(time).unwrap_or(i64::MAX);
        let f = Box::new(move |am: &mut Automerge| {
            let result = am
                .transact_with::<_, _, String, _>(
                    |_| automerge::transaction::CommitOptions::default().with_time(time),
                    |tx| f(tx),
                )
                .map(|ok| (ok.result, am.get_heads()))
                .map_err(|failure| failure.error);
            let _ = value_tx.send(result);
        });
        self.node
            .app(AppRequest::Change {
                doc: self.id.clone(),
                f,
            })
            .await?;
        ran(value_rx.await)?.map_err(Error::Automerge)
    }

    /// Reads the document with `f`.
    pub async fn read<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Automerge) -> R + Send + 'static,
    {
        let (value_tx, value_rx) = tokio::sync::oneshot::channel();
        let f = Box::new(move |am: &Automerge| {
            let _ = value_tx.send(f(am));
        });
        self.node
            .app(AppRequest::Read {
                doc: self.id.clone(),
                f,
            })
            .await?;
        ran(value_rx.await)
    }

    /// The text of the Automerge text object at root `key`, if it is one.
    pub async fn text(&self, key: &str) -> Result<Option<String>, Error> {
        let key = key.to_owned();
        self.read(move |am| match am.get(automerge::ROOT, key.as_str()) {
            Ok(Some((Value::Object(automerge::ObjType::Text), id))) => am.text(&id).ok(),
            _ => None,
        })
        .await
    }
}

/// The value a request's function handed back. The core answers a request `Ok` only after
/// running it, so a missing value means the function did not return (it panicked).
fn ran<R>(value: Result<R, tokio::sync::oneshot::error::RecvError>) -> Result<R, Error> {
    value.map_err(|_| Error::Automerge("the document function did not complete".into()))
}

fn key_name(scalar: &ScalarValue) -> String {
    format!("{scalar:?}").chars().take(40).collect()
}

/// Scalars [`Doc::get`] can return.
pub trait FromValue: Sized {
    /// The type's name, for errors.
    const NAME: &'static str;
    /// Converts, or `None` for another type.
    fn from_scalar(value: &ScalarValue) -> Option<Self>;
}

impl FromValue for String {
    const NAME: &'static str = "string";
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        }
    }
}

impl FromValue for i64 {
    const NAME: &'static str = "integer";
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Int(i) => Some(*i),
            ScalarValue::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }
}

impl FromValue for u64 {
    const NAME: &'static str = "unsigned integer";
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Uint(u) => Some(*u),
            ScalarValue::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    const NAME: &'static str = "float";
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::F64(f) => Some(*f),
            _ => None,
        }
    }
}

impl FromValue for bool {
    const NAME: &'static str = "boolean";
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    const NAME: &'static str = "bytes";
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Bytes(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl FromValue for BlobHash {
    const NAME: &'static str = "blob reference";
    fn from_scalar(value: &ScalarValue) -> Option<Self> {
        match value {
            ScalarValue::Str(s) => BlobHash::from_reference(s),
            _ => None,
        }
    }
}
