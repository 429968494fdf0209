//! The police.uk context layer's workflows: importing monthly files
//! (commit each file's force-months, then rebuild the layer in memory) and
//! reading the import log.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use geo::Rect;

use super::ServiceError;
use crate::domain::viewer::{Action, Viewer};
use crate::import::police::{parse, ImportError, MonthImport};
use crate::index::police::PoliceLayer;
use crate::store::police::PoliceImportRecord;
use crate::store::{Store, StoreError};

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportFailure {
    /// The file could not be opened or read.
    #[error(transparent)]
    Read(#[from] ImportError),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Importing one file failed; the files before it stay imported.
    #[error("importing {}: {source}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: Box<ImportFailure>,
    },
}

/// The police.uk workflows.
#[derive(Debug, Clone)]
pub struct Police {
    store: Store,
    /// The layer a running server shows; `None` for the command line, which
    /// keeps none in memory (a running server picks imports up by polling
    /// the import log).
    layer: Option<Arc<PoliceLayer>>,
}

impl Police {
    /// Workflows over a store, keeping `layer` (if any) in step with it.
    pub fn new(store: Store, layer: Option<Arc<PoliceLayer>>) -> Self {
        Police { store, layer }
    }

    /// Reads each file and replaces its force-months in the store, a
    /// transaction per file, calling `done` after each commit; then rebuilds
    /// the layer once. On a failure, the files before it stay imported
    /// (and the layer shows them).
    pub async fn import_files(
        &self,
        files: &[std::path::PathBuf],
        area: Rect<f64>,
        by: &Viewer,
        at: DateTime<Utc>,
        mut done: impl FnMut(&Path, &[MonthImport]),
    ) -> Result<(), ImportFailure> {
        let mut result = Ok(());
        for path in files {
            match self.import_file(path, area, by, at).await {
                Ok(months) => done(path, &months),
                Err(e) => {
                    result = Err(ImportFailure::File {
                        path: path.clone(),
                        source: Box::new(e),
                    });
                    break;
                }
            }
        }
        if let Some(layer) = &self.layer {
            layer.reload(&self.store).await?;
        }
        result
    }

    async fn import_file(
        &self,
        path: &Path,
        area: Rect<f64>,
        by: &Viewer,
        at: DateTime<Utc>,
    ) -> Result<Vec<MonthImport>, ImportFailure> {
        let file = std::fs::File::open(path).map_err(ImportError::Io)?;
        let months = parse(std::io::BufReader::with_capacity(1 << 16, file), area)?;
        let source = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        self.store
            .replace_police_months(&months, &source, &by.principal, at)
            .await?;
        Ok(months)
    }

    /// What each import read, kept and left out: for anyone who reads
    /// layers, and administrators (who run the imports).
    pub async fn imports(&self, viewer: &Viewer) -> Result<Vec<PoliceImportRecord>, ServiceError> {
        if !viewer.may_at_all(Action::ReadLayers) && !viewer.admin {
            return Err(ServiceError::Forbidden);
        }
        Ok(self.store.police_imports().await?)
    }
}
