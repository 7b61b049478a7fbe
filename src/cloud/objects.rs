//! Whole-object reads and writes, blocking: what a farm's tasks and its
//! assembly need of the store they share (plan, reports, segments,
//! manifests), on top of the same stores and credentials as every output.

use super::Store;
use crate::error::{Error, Result};
use object_store::ObjectStoreExt;

impl Store {
    /// A runtime for one blocking call (the callers are plain threads).
    fn runtime(&self) -> Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("async runtime: {e}")))
    }

    /// The error of a request about object `rel`, naming it and the store.
    fn failed(&self, rel: &str, e: &object_store::Error) -> Error {
        Error::Store {
            store: format!("{}/{rel}", self.name),
            reason: super::upload::describe(e),
            source: None,
        }
    }

    /// Writes `bytes` as object `rel` (one PUT: readers see the whole
    /// object or none).
    pub(crate) fn put_object(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.path_of(rel);
        self.runtime()?
            .block_on(self.store.put(&path, bytes.into()))
            .map(|_| ())
            .map_err(|e| self.failed(rel, &e))
    }

    /// The bytes of object `rel`; `None` when it does not exist.
    pub(crate) fn get_object(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path_of(rel);
        let rt = self.runtime()?;
        let got = rt.block_on(async {
            let r = self.store.get(&path).await?;
            r.bytes().await
        });
        match got {
            Ok(b) => Ok(Some(b.to_vec())),
            // A missing bucket is an error, not a missing object.
            Err(e @ object_store::Error::NotFound { .. }) if !bucket_missing(&e) => Ok(None),
            Err(e) => Err(self.failed(rel, &e)),
        }
    }

    /// The size of object `rel` (a HEAD request); `None` when it does not
    /// exist.
    pub(crate) fn object_size(&self, rel: &str) -> Result<Option<u64>> {
        let path = self.path_of(rel);
        match self.runtime()?.block_on(self.store.head(&path)) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed(rel, &e)),
        }
    }
}

/// Whether a "not found" answer is the bucket's (or container's), which a
/// GET's body says and a HEAD's cannot.
fn bucket_missing(e: &object_store::Error) -> bool {
    super::upload::describe(e).starts_with("the bucket")
}
