//! Where a farm's files live: a folder every machine mounts, or an object
//! store (`s3://`, `gs://`, `az://`, `http(s)://` WebDAV, `ftp://`) opened
//! as any output of ffstream is, with the credentials of the environment.

use crate::cloud::Store;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Whether `location` (a plan's, an output's) names a store rather than a
/// file: the URLs `-o` uploads to.
pub(crate) fn is_store_location(location: &str) -> bool {
    crate::cloud::is_store_url(location)
        || crate::cloud::is_ftp_url(location)
        || location.starts_with("http://")
        || location.starts_with("https://")
}

/// The folder of `location`, a store URL naming an object
/// (`s3://b/title/plan.json` → `s3://b/title`).
pub(crate) fn url_folder(location: &str) -> Option<&str> {
    location
        .trim_end_matches('/')
        .rsplit_once('/')
        .map(|(dir, _)| dir)
        .filter(|d| d.contains("://") && !d.ends_with(':') && !d.ends_with("//"))
}

/// The place every task and the assembly read and write.
#[derive(Debug)]
pub(crate) enum Shared {
    /// A folder (a shared file system, mounted at the same path or beside
    /// the plan).
    Folder(PathBuf),
    /// A store and the folder's prefix in it.
    Store(Store),
}

impl Shared {
    /// The place of `dir`: a folder path, or a store URL naming a folder.
    pub(crate) fn open(dir: &Path) -> Result<Shared> {
        let s = dir.to_string_lossy();
        if is_store_location(&s) {
            Ok(Shared::Store(Store::from_url(&s)?))
        } else {
            Ok(Shared::Folder(dir.to_path_buf()))
        }
    }

    /// Whether the files are in a store.
    pub(crate) fn is_store(&self) -> bool {
        matches!(self, Shared::Store(_))
    }

    /// How messages name file `rel`.
    pub(crate) fn name_of(&self, rel: &str) -> String {
        match self {
            Shared::Folder(d) => d.join(rel).display().to_string(),
            Shared::Store(s) => format!("{}/{rel}", s.name()),
        }
    }

    /// Writes file `rel` whole: a folder's through a temporary name
    /// renamed into place, a store's in one PUT.
    pub(crate) fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        match self {
            Shared::Folder(d) => super::write_atomically(&d.join(rel), &bytes),
            Shared::Store(s) => s.put_object(rel, bytes),
        }
    }

    /// Writes local file `local` as `rel`.
    pub(crate) fn put_file(&self, rel: &str, local: &Path) -> Result<()> {
        let bytes = std::fs::read(local).map_err(|e| Error::io(local, e))?;
        self.put(rel, bytes)
    }

    /// The bytes of `rel`; `None` when there is no such file.
    pub(crate) fn get(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Shared::Folder(d) => {
                let p = d.join(rel);
                match std::fs::read(&p) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::io(&p, e)),
                }
            }
            Shared::Store(s) => s.get_object(rel),
        }
    }

    /// The size of `rel` (a store: a HEAD request); `None` when there is
    /// no such file.
    pub(crate) fn size(&self, rel: &str) -> Result<Option<u64>> {
        match self {
            Shared::Folder(d) => Ok(std::fs::metadata(d.join(rel))
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())),
            Shared::Store(s) => s.object_size(rel),
        }
    }

    /// Copies `rel` into local folder `to` (a store's file, for the
    /// assembly's readers that want files); a folder's is read in place.
    pub(crate) fn fetch_into(&self, rel: &str, to: &Path) -> Result<()> {
        let bytes = self
            .get(rel)?
            .ok_or_else(|| Error::Config(format!("{}: missing", self.name_of(rel))))?;
        let p = to.join(rel);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_locations_and_their_folders() {
        for u in [
            "s3://b/t/plan.json",
            "gs://b/plan.json",
            "az://c/x/plan.json",
            "https://h/dav/plan.json",
            "ftp://u:p@h/d/plan.json",
        ] {
            assert!(is_store_location(u), "{u}");
        }
        for p in ["/shared/out/plan.json", "out/plan.json", "plan.json"] {
            assert!(!is_store_location(p), "{p}");
        }
        assert_eq!(url_folder("s3://b/t/plan.json"), Some("s3://b/t"));
        assert_eq!(url_folder("s3://b/plan.json"), Some("s3://b"));
        assert_eq!(url_folder("s3://plan.json"), None);
    }
}
