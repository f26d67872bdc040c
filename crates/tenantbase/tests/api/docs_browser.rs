//! `/docs` in a real browser: headless Chromium (Debian's package, installed by the test
//! when missing) loads the page from the real server, runs Swagger UI under our
//! Content-Security-Policy, and renders an operation for every route.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use crate::access_matrix::routes;
use crate::process::{Server, apt_get_install, output_within, tenantbase};

/// Chromium's path, installing Debian's package first if it is missing.
fn chromium() -> String {
    let found = || {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|path| std::path::Path::new(path).is_file())
    };
    if let Some(path) = found() {
        return path.to_owned();
    }
    let detail = apt_get_install("chromium").err().unwrap_or_default();
    found()
        .unwrap_or_else(|| {
            panic!(
                "Chromium is needed for the /docs browser test: `apt-get install chromium` failed: {detail}"
            )
        })
        .to_owned()
}

#[test]
fn swagger_ui_renders_every_operation_in_chromium() {
    let browser = chromium();
    let dir = tempfile::tempdir().expect("dir");
    let profile = tempfile::tempdir().expect("profile");
    let server = Server::start(&mut tenantbase(dir.path()));
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(server.url("/docs/"));
    let (_, dom, _) = output_within(&mut command, Duration::from_secs(90));
    let rendered = rendered_operations(&dom);
    let documented: BTreeSet<(String, String)> = routes()
        .into_iter()
        .map(|route| (route.method.to_string(), route.template))
        .collect();
    assert!(
        documented.len() > 60,
        "only {} operations",
        documented.len()
    );
    let missing: Vec<_> = documented.difference(&rendered).collect();
    assert!(missing.is_empty(), "Swagger UI did not render {missing:?}");
    let unknown: Vec<_> = rendered.difference(&documented).collect();
    assert!(unknown.is_empty(), "Swagger UI rendered {unknown:?}");
}

/// The (method, path) of each operation block Swagger UI rendered, read from its summary:
/// `opblock-summary-method">GET</span>…data-path="/health"`.
fn rendered_operations(dom: &str) -> BTreeSet<(String, String)> {
    const METHOD: &str = "opblock-summary-method\">";
    const PATH: &str = "data-path=\"";
    let mut found = BTreeSet::new();
    let mut rest = dom;
    while let Some(start) = rest.find(METHOD) {
        rest = &rest[start + METHOD.len()..];
        let method = rest.split('<').next().unwrap_or_default().to_owned();
        let Some(path_start) = rest.find(PATH) else {
            break;
        };
        rest = &rest[path_start + PATH.len()..];
        let path = rest.split('"').next().unwrap_or_default().to_owned();
        found.insert((method, path));
    }
    found
}
