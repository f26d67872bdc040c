//! `OrgScope` opens units on an org's rows; only the access layer may make one (ADR
//! 0002). Rust cannot restrict a constructor to one module of another crate, so this test
//! reads the workspace's sources and fails if any code outside `tenancy` calls it.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source tree") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn only_the_access_layer_constructs_org_scopes() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates dir");
    let mut sources = Vec::new();
    for krate in std::fs::read_dir(crates).expect("crates") {
        // `sql/` holds the statements the backends mount (ADR 0001): source too.
        for folder in ["src", "sql"] {
            let dir = krate.as_ref().expect("crate").path().join(folder);
            if dir.is_dir() {
                rust_files(&dir, &mut sources);
            }
        }
    }
    assert!(
        sources.len() > 50,
        "found only {} source files",
        sources.len()
    );
    let allowed = crates.join("tenantbase-core/src/tenancy");
    // The store's conformance suite is test code: it opens units on orgs it made up.
    let conformance = crates.join("tenantbase-store-tests/src");
    let definition = crates.join("tenantbase-store/src/scope.rs");
    let offenders: Vec<_> = sources
        .iter()
        .filter(|path| {
            !path.starts_with(&allowed) && !path.starts_with(&conformance) && **path != definition
        })
        .filter(|path| {
            std::fs::read_to_string(path).is_ok_and(|text| text.contains("for_checked_org("))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "OrgScope constructed outside the access layer: {offenders:?}"
    );
}
