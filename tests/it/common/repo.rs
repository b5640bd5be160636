//! Files of the repository that the tests hold the tap to: the catalog, the docs, the plugin
//! definitions.

use std::path::PathBuf;

/// A path below the repository's root.
pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The text of a file below the repository's root.
pub fn repo_file(rel: &str) -> String {
    let path = repo_path(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
