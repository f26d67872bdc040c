//! Files refused (DATA-2): bad names, declared types that the bytes contradict, the
//! per-org quota and the size cap — each refusal with its problem code, and nothing stored.

use axum::body::Body;
use axum::http::{Method, Request};

use crate::files::{png, small_quota, stored_objects, upload};
use crate::files_quota_race::fed_upload;
use crate::helpers::{BOTH, Backend, TestApp};
use crate::tenants::Caller;

#[tokio::test]
async fn bad_names_and_types_are_refused_and_nothing_is_stored() {
    let app = TestApp::new(Backend::Sqlite).await;
    let owner = Caller::guest(&app).await;
    let org = owner.create_org(&app, "Strict").await;
    for name in [
        "../etc/passwd",
        "a\\b",
        "bell\u{7}",
        "..",
        " ",
        "invoice\u{202E}fdp.exe",
    ] {
        let refused = upload(&app, &owner, &org, name, "text/plain", b"x".to_vec()).await;
        let problem = refused.problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "name", "{name:?}");
    }
    let request = Request::post(format!("/v1/orgs/{org}/files"))
        .header("authorization", format!("Bearer {}", owner.token))
        .body(Body::from("x"))
        .expect("request");
    app.send(request).await.problem(422, "validation_failed");
    upload(&app, &owner, &org, "a.txt", "not a type", b"x".to_vec())
        .await
        .problem(422, "validation_failed");

    let fake = upload(
        &app,
        &owner,
        &org,
        "fake.png",
        "image/png",
        b"just text".to_vec(),
    )
    .await;
    let problem = fake.problem(415, "content_type_mismatch");
    assert_eq!(problem["declared"], "image/png");
    let disguised = upload(&app, &owner, &org, "x.txt", "text/plain", png(1, 1, 10)).await;
    assert_eq!(
        disguised.problem(415, "content_type_mismatch")["detected"],
        "image/png"
    );
    let jpeg = upload(&app, &owner, &org, "x.jpg", "image/jpeg", png(1, 1, 10)).await;
    jpeg.problem(415, "content_type_mismatch");
    let anything = upload(
        &app,
        &owner,
        &org,
        "blob.bin",
        "application/octet-stream",
        png(1, 1, 10),
    )
    .await;
    assert_eq!(anything.status, 201);
    assert_eq!(
        stored_objects(&app).len(),
        1,
        "refused uploads leave no object"
    );
}

/// A multipart part's declared type is checked as a raw upload's is: one that is not a
/// media type is refused (not taken for a missing one), and only a missing one stands
/// for `application/octet-stream`.
#[tokio::test]
async fn a_multipart_parts_type_is_checked_as_a_raw_uploads_is() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Parts").await;
        let form = |part_headers: &str| {
            let body = format!(
                "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
                 {part_headers}\r\nbytes\r\n--XYZ--\r\n"
            );
            Request::post(format!("/v1/orgs/{org}/files"))
                .header("authorization", format!("Bearer {}", owner.token))
                .header("content-type", "multipart/form-data; boundary=XYZ")
                .body(Body::from(body))
                .expect("request")
        };
        let refused = app.send(form("Content-Type: not a type\r\n")).await;
        assert_eq!(refused.invalid_fields(), ["content_type"], "{backend:?}");
        // A type that is no text at all is refused too, in a part or as a raw body's.
        let raw = Request::post(format!("/v1/orgs/{org}/files?name=a.bin"))
            .header("authorization", format!("Bearer {}", owner.token))
            .header(
                "content-type",
                axum::http::HeaderValue::from_bytes(b"text/\xff").expect("obs-text"),
            )
            .body(Body::from("bytes"))
            .expect("request");
        assert_eq!(app.send(raw).await.invalid_fields(), ["content_type"]);
        assert!(stored_objects(&app).is_empty(), "{backend:?}: bytes left");

        let untyped = app.send(form("")).await;
        assert_eq!(untyped.status, 201, "{backend:?}: {}", untyped.text());
        assert_eq!(untyped.json()["content_type"], "application/octet-stream");
    }
}

#[tokio::test]
async fn quota_and_size_caps_refuse_with_quota_exceeded() {
    for backend in BOTH {
        let app = TestApp::with_files(backend, small_quota(), None).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Quota").await;
        let big = upload(
            &app,
            &owner,
            &org,
            "big.bin",
            "application/octet-stream",
            vec![1; 700],
        )
        .await;
        let problem = big.problem(413, "quota_exceeded");
        assert_eq!(problem["limit"], "max_file_bytes");
        assert_eq!(problem["max_bytes"], 600);
        for _ in 0..2 {
            let fits = upload(
                &app,
                &owner,
                &org,
                "half.bin",
                "application/octet-stream",
                vec![2; 450],
            )
            .await;
            assert_eq!(fits.status, 201, "{}", fits.text());
        }
        let over = upload(
            &app,
            &owner,
            &org,
            "more.bin",
            "application/octet-stream",
            vec![3; 200],
        )
        .await;
        let problem = over.problem(507, "quota_exceeded");
        assert_eq!(problem["limit"], "org_quota_bytes");
        assert_eq!(problem["used_bytes"], 900);
        // A body that does not say its length is cut off as it streams.
        let chunks =
            futures::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![4u8; 100])));
        let request = Request::post(format!("/v1/orgs/{org}/files?name=stream.bin"))
            .header("authorization", format!("Bearer {}", owner.token))
            .header("content-type", "application/octet-stream")
            .body(Body::from_stream(chunks))
            .expect("request");
        app.send(request).await.problem(507, "quota_exceeded");
        assert_eq!(
            stored_objects(&app).len(),
            2,
            "{backend:?}: only the accepted files are stored"
        );
        // Another org has its own quota.
        let other = owner.create_org(&app, "Other").await;
        let fits = upload(
            &app,
            &owner,
            &other,
            "half.bin",
            "application/octet-stream",
            vec![2; 450],
        )
        .await;
        assert_eq!(fits.status, 201);
    }
}

/// An upload still streaming when its org is deleted is refused at its end as the org's
/// other routes are (404), and its bytes are removed: nothing is written into a deleted
/// org.
#[tokio::test]
async fn an_upload_that_ends_after_its_org_was_deleted_is_refused() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = Caller::guest(&app).await;
        let org = owner.create_org(&app, "Going").await;
        let (request, feed) = fed_upload(&owner, &org, "late.bin");
        let delete_mid_stream = async {
            feed.send(vec![7; 250]).await.expect("handler reads");
            // Returns once the handler took the first chunk: the upload is under way.
            feed.send(vec![7; 250]).await.expect("handler reads");
            let deleted = owner
                .call(&app, Method::DELETE, &format!("/v1/orgs/{org}"), None)
                .await;
            assert_eq!(deleted.status, 204, "{}", deleted.text());
            drop(feed);
        };
        let (uploaded, ()) = tokio::join!(app.send(request), delete_mid_stream);
        uploaded.problem(404, "not_found");
        assert!(stored_objects(&app).is_empty(), "{backend:?}: bytes left");
    }
}
