//! Files (DATA-2) on the local store, both backends: streamed upload (raw and multipart),
//! metadata, listing, download with ETag/Range/Content-Disposition, deletion, quotas,
//! type checks and isolation. Presigned URLs: `files_presigned`; sweep, purge and a
//! failing store: `files_faults`.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tenantbase_core::tenancy::files::FilePolicy;

use crate::helpers::{BOTH, Backend, TestApp, TestResponse};
use crate::tenants::{Caller, add_member, verified};

/// A PNG header as image tools write it: signature and IHDR of a `width`×`height` image.
pub(crate) fn png(width: u32, height: u32, padding: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89]);
    bytes.resize(bytes.len() + padding, 0);
    bytes
}

fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) async fn upload(
    app: &TestApp,
    caller: &Caller,
    org: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> TestResponse {
    let request = Request::post(format!("/v1/orgs/{org}/files?name={}", query_escape(name)))
        .header("authorization", format!("Bearer {}", caller.token))
        .header("content-type", content_type)
        .body(Body::from(bytes))
        .expect("request");
    app.send(request).await
}

/// `bytes` as a body arriving in pieces, as it would over a network.
pub(crate) fn in_chunks(
    bytes: Vec<u8>,
    size: usize,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Vec<u8>> = bytes.chunks(size).map(<[u8]>::to_vec).collect();
    futures::stream::iter(chunks.into_iter().map(Ok))
}

/// The id of the file an upload created (asserting that it did).
pub(crate) fn created_id(response: TestResponse) -> String {
    assert_eq!(response.status, 201, "{}", response.text());
    response.json()["id"].as_str().expect("id").to_owned()
}

/// A GET, as `caller` or without credentials (presigned URLs), with extra headers.
pub(crate) async fn get_with(
    app: &TestApp,
    caller: Option<&Caller>,
    path: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut request = Request::get(path);
    if let Some(caller) = caller {
        request = request.header("authorization", format!("Bearer {}", caller.token));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

/// Object keys of files and staged uploads in the local store.
pub(crate) fn stored_objects(app: &TestApp) -> Vec<String> {
    everything_stored(app)
        .into_iter()
        .filter(|key| key.starts_with("org/") || key.starts_with("uploads/"))
        .collect()
}

/// Every object anywhere under the local store's root but the store's own readiness
/// marker, as paths relative to it: bytes in a folder a test did not think of are seen.
pub(crate) fn everything_stored(app: &TestApp) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![app.files_dir.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(
                    path.strip_prefix(&app.files_dir)
                        .expect("under root")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    found.retain(|key| key != tenantbase_blob::PROBE_KEY);
    found.sort();
    found
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
#[tokio::test]
async fn files_upload_list_download_and_delete() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Files").await;
        let bytes = png(3, 2, 5000);
        let created = upload(
            &app,
            &owner,
            &org,
            "Zoë's photo.png",
            "image/png",
            bytes.clone(),
        )
        .await;
        assert_eq!(created.status, 201, "{backend:?}: {}", created.text());
        let file = created.json();
        let id = file["id"].as_str().expect("id").to_owned();
        assert!(id.starts_with("fil_"));
        assert_eq!(file["name"], "Zoë's photo.png");
        assert_eq!(file["size"], bytes.len());
        assert_eq!(file["content_type"], "image/png");
        assert_eq!(file["sha256"], sha256(&bytes));
        assert_eq!(file["created_by"], owner.user_id.as_str());
        assert!(file["created_at"].is_string());
        assert_eq!(
            stored_objects(&app),
            vec![format!("org/{org}/{id}")],
            "keyed by org and file"
        );

        let meta = owner.get(&app, &format!("/v1/orgs/{org}/files/{id}")).await;
        assert_eq!(meta.json(), file);

        let content = format!("/v1/orgs/{org}/files/{id}/content");
        let whole = get_with(&app, Some(&owner), &content, &[]).await;
        assert_eq!(whole.status, 200);
        assert_eq!(whole.body, bytes);
        assert_eq!(whole.header("content-type"), Some("image/png"));
        assert_eq!(whole.header("accept-ranges"), Some("bytes"));
        assert_eq!(
            whole.header("content-security-policy"),
            Some("default-src 'none'; sandbox; frame-ancestors 'none'"),
            "stored bytes never run as a page of ours"
        );
        let etag = whole.header("etag").expect("etag").to_owned();
        assert_eq!(etag, format!("\"{}\"", sha256(&bytes)));
        assert_eq!(
            whole.header("content-disposition"),
            Some(
                "attachment; filename=\"Zo_'s photo.png\"; filename*=UTF-8''Zo%C3%AB%27s%20photo.png"
            )
        );

        let unchanged = get_with(&app, Some(&owner), &content, &[("if-none-match", &etag)]).await;
        assert_eq!(unchanged.status, 304);
        assert!(unchanged.body.is_empty());
        let stale = get_with(
            &app,
            Some(&owner),
            &content,
            &[("if-none-match", "\"other\"")],
        )
        .await;
        assert_eq!(stale.status, 200);
        // `If-Match` compares strongly, and goes before every other condition.
        let weak = format!("W/{etag}");
        let this_one = format!("\"other\", {etag}");
        for current in [this_one.as_str(), "*"] {
            let sure = get_with(&app, Some(&owner), &content, &[("if-match", current)]).await;
            assert_eq!(sure.status, 200, "{current}");
        }
        for other in ["\"other\"", weak.as_str()] {
            let refused = [("if-match", other), ("if-none-match", etag.as_str())];
            let refused = get_with(&app, Some(&owner), &content, &refused).await;
            refused.problem(412, "precondition_failed");
        }
        // A list over several header lines is one list.
        let lines = [("if-match", "\"other\""), ("if-match", etag.as_str())];
        let sure = get_with(&app, Some(&owner), &content, &lines).await;
        assert_eq!(sure.status, 200);

        let part = get_with(&app, Some(&owner), &content, &[("range", "bytes=8-15")]).await;
        assert_eq!(part.status, 206);
        assert_eq!(part.body, bytes[8..16]);
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes 8-15/{}", bytes.len()).as_str())
        );
        // A part of this version only: `If-Range` with another validator gets it whole.
        let same = [("range", "bytes=8-15"), ("if-range", etag.as_str())];
        let same = get_with(&app, Some(&owner), &content, &same).await;
        assert_eq!(
            (same.status.as_u16(), same.body.as_slice()),
            (206, &bytes[8..16])
        );
        for validator in ["\"other\"", weak.as_str(), "Sun, 06 Dec 2026 10:00:00 GMT"] {
            let other = [("range", "bytes=8-15"), ("if-range", validator)];
            let whole = get_with(&app, Some(&owner), &content, &other).await;
            assert_eq!(
                (whole.status.as_u16(), whole.body.len()),
                (200, bytes.len()),
                "{validator}"
            );
        }
        let tail = get_with(&app, Some(&owner), &content, &[("range", "bytes=-10")]).await;
        assert_eq!(
            (tail.status.as_u16(), tail.body.as_slice()),
            (206, &bytes[bytes.len() - 10..])
        );
        let outside = get_with(&app, Some(&owner), &content, &[("range", "bytes=999999-")]).await;
        outside.problem(416, "range_not_satisfiable");
        assert_eq!(
            outside.header("content-range"),
            Some(format!("bytes */{}", bytes.len()).as_str())
        );

        let notes = upload(
            &app,
            &owner,
            &org,
            "notes.txt",
            "text/plain",
            b"hello".to_vec(),
        )
        .await;
        assert_eq!(notes.status, 201, "{}", notes.text());
        let list = owner
            .get(&app, &format!("/v1/orgs/{org}/files?limit=1"))
            .await
            .json();
        assert_eq!(list["items"][0]["id"], id.as_str());
        let cursor = list["next_cursor"].as_str().expect("cursor");
        let rest = owner
            .get(
                &app,
                &format!("/v1/orgs/{org}/files?limit=1&cursor={cursor}"),
            )
            .await
            .json();
        assert_eq!(rest["items"][0]["name"], "notes.txt");
        assert_eq!(rest["next_cursor"], Value::Null);
        let images = owner
            .get(&app, &format!("/v1/orgs/{org}/files?content_type=image/"))
            .await;
        assert_eq!(images.status, 200, "{}", images.text());
        let images = images.json();
        assert_eq!(images["items"].as_array().map(Vec::len), Some(1));
        let named = owner
            .get(&app, &format!("/v1/orgs/{org}/files?prefix=not"))
            .await
            .json();
        assert_eq!(named["items"][0]["name"], "notes.txt");
        assert_eq!(named["items"].as_array().map(Vec::len), Some(1));
        owner
            .get(&app, &format!("/v1/orgs/{org}/files?cursor=nonsense"))
            .await
            .problem(422, "validation_failed");

        let deleted = owner
            .call(
                &app,
                Method::DELETE,
                &format!("/v1/orgs/{org}/files/{id}"),
                None,
            )
            .await;
        assert_eq!(deleted.status, 204);
        owner
            .get(&app, &format!("/v1/orgs/{org}/files/{id}"))
            .await
            .problem(404, "not_found");
        get_with(&app, Some(&owner), &content, &[])
            .await
            .problem(404, "not_found");
        assert_eq!(
            stored_objects(&app).len(),
            1,
            "the deleted file's object went too"
        );
        let audit = owner
            .get(&app, &format!("/v1/orgs/{org}/audit?type=file.deleted"))
            .await
            .json();
        assert_eq!(audit["items"][0]["target_id"], id.as_str());
        let audit = owner
            .get(&app, &format!("/v1/orgs/{org}/audit?type=file.uploaded"))
            .await
            .json();
        assert_eq!(audit["items"].as_array().map(Vec::len), Some(2));
    }
}

#[tokio::test]
async fn multipart_uploads_take_the_part_with_a_file_name() {
    let app = TestApp::new(Backend::Sqlite).await;
    let owner = Caller::guest(&app).await;
    let org = owner.create_org(&app, "Forms").await;
    let body = "--XYZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
        --XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.pdf\"\r\n\
        Content-Type: application/pdf\r\n\r\n%PDF-1.7\nbody\r\n--XYZ--\r\n";
    let request = Request::post(format!("/v1/orgs/{org}/files"))
        .header("authorization", format!("Bearer {}", owner.token))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body(Body::from(body))
        .expect("request");
    let created = app.send(request).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let file = created.json();
    assert_eq!(file["name"], "report.pdf");
    assert_eq!(file["content_type"], "application/pdf");
    assert_eq!(file["size"], 13);
    assert_eq!(file["sha256"], sha256(b"%PDF-1.7\nbody"));

    // A large file streams through, whatever the size of the pieces it arrives in.
    let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    for piece in [16 * 1024, 256 * 1024, 4 * 1024 * 1024] {
        let mut body = b"--XYZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n\
            --XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
            .to_vec();
        body.extend_from_slice(&big);
        body.extend_from_slice(b"\r\n--XYZ--\r\n");
        let request = Request::post(format!("/v1/orgs/{org}/files"))
            .header("authorization", format!("Bearer {}", owner.token))
            .header("content-type", "multipart/form-data; boundary=XYZ")
            .body(Body::from_stream(in_chunks(body, piece)))
            .expect("request");
        let stored = app.send(request).await;
        assert_eq!(stored.status, 201, "pieces of {piece}: {}", stored.text());
        assert_eq!(stored.json()["sha256"], sha256(&big));
    }

    // Whatever is not file data may take only so much of the body: a part that never
    // ends, or a boundary that never comes, is refused instead of held in memory.
    let filler = "x".repeat(200 * 1024);
    for body in [
        format!(
            "--XYZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n{filler}\r\n--XYZ--\r\n"
        ),
        format!("no boundary at all {filler}"),
    ] {
        let request = Request::post(format!("/v1/orgs/{org}/files"))
            .header("authorization", format!("Bearer {}", owner.token))
            .header("content-type", "multipart/form-data; boundary=XYZ")
            .body(Body::from_stream(in_chunks(body.into_bytes(), 16 * 1024)))
            .expect("request");
        app.send(request).await.problem(400, "bad_multipart");
    }
}

pub(crate) fn small_quota() -> FilePolicy {
    FilePolicy {
        quota_bytes: 1000,
        max_file_bytes: 600,
        ..FilePolicy::default()
    }
}

#[tokio::test]
async fn files_are_invisible_across_orgs_and_need_their_permissions() {
    let app = TestApp::new(Backend::Sqlite).await;
    let owner = verified(&app, "owner@example.com").await;
    let org = owner.create_org(&app, "Mine").await;
    let id = created_id(
        upload(
            &app,
            &owner,
            &org,
            "secret.txt",
            "text/plain",
            b"s3cret".to_vec(),
        )
        .await,
    );
    let stranger = Caller::guest(&app).await;
    let theirs = stranger.create_org(&app, "Theirs").await;
    for path in [
        format!("/v1/orgs/{org}/files/{id}"),
        format!("/v1/orgs/{org}/files/{id}/content"),
        format!("/v1/orgs/{theirs}/files/{id}"),
        format!("/v1/orgs/{theirs}/files/{id}/content"),
    ] {
        stranger.get(&app, &path).await.problem(404, "not_found");
    }
    stranger
        .call(
            &app,
            Method::DELETE,
            &format!("/v1/orgs/{theirs}/files/{id}"),
            None,
        )
        .await
        .problem(404, "not_found");

    let viewer = add_member(&app, &owner, &org, "viewer@example.com", &["viewer"]).await;
    let read = viewer
        .get(&app, &format!("/v1/orgs/{org}/files/{id}/content"))
        .await;
    assert_eq!(read.body, b"s3cret");
    upload(&app, &viewer, &org, "mine.txt", "text/plain", b"x".to_vec())
        .await
        .problem(403, "permission_denied");
    viewer
        .call(
            &app,
            Method::DELETE,
            &format!("/v1/orgs/{org}/files/{id}"),
            None,
        )
        .await
        .problem(403, "permission_denied");
    let member = add_member(&app, &owner, &org, "member@example.com", &["member"]).await;
    assert_eq!(
        upload(&app, &member, &org, "m.txt", "text/plain", b"x".to_vec())
            .await
            .status,
        201
    );
    member
        .call(
            &app,
            Method::DELETE,
            &format!("/v1/orgs/{org}/files/{id}"),
            None,
        )
        .await
        .problem(403, "permission_denied");
}
