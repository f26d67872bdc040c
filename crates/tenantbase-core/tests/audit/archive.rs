//! Exporting and archiving a chain, and what a verify or an archive run sees when an
//! archive truncates the chain under it.

use chrono::{DateTime, Utc};
use tenantbase_blob::BlobStore;
use tenantbase_core::audit::archive::{archive_before, archive_chain, read_archive};
use tenantbase_core::audit::export::{Format, export_chain};
use tenantbase_core::audit::verify::verify_chain;
use tenantbase_domain::OrgId;

use super::fixture::{self, BOTH, Fixture};
use super::{append_many, verdict};

#[tokio::test]
async fn exports_stream_jsonl_and_csv_within_a_time_range() {
    let f = Fixture::new(fixture::Backend::Sqlite).await;
    let org = OrgId::new();
    append_many(f.store.as_ref(), org, 3).await;
    let middle = f
        .store
        .events_after(&org.to_string(), 1, 1)
        .await
        .expect("event 2")[0]
        .occurred_at;

    let mut jsonl = Vec::new();
    let n = export_chain(
        f.store.as_ref(),
        &org.to_string(),
        Format::Jsonl,
        None,
        None,
        &mut jsonl,
    )
    .await
    .expect("export");
    assert_eq!(n, 3);
    let lines: Vec<serde_json::Value> = String::from_utf8(jsonl)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["event_type"], "test.event.0");
    assert_eq!(lines[0]["payload"]["name"], "x", "payload is nested JSON");
    assert_eq!(lines[0]["payload"]["password"], "[redacted]");

    let mut csv = Vec::new();
    let n = export_chain(
        f.store.as_ref(),
        &org.to_string(),
        Format::Csv,
        Some(middle),
        None,
        &mut csv,
    )
    .await
    .expect("export");
    assert_eq!(n, 2, "since is inclusive");
    let text = String::from_utf8(csv).expect("utf-8");
    let mut rows = text.lines();
    assert!(
        rows.next()
            .expect("header")
            .starts_with("id,chain,seq,org_id,event_type")
    );
    assert!(rows.next().expect("row").contains("test.event.1"));

    let mut none = Vec::new();
    let n = export_chain(
        f.store.as_ref(),
        &org.to_string(),
        Format::Jsonl,
        None,
        Some(middle),
        &mut none,
    )
    .await
    .expect("export");
    assert_eq!(n, 1, "until is exclusive");
}

/// An object store, and an org whose chain holds four sealed events older than the
/// returned cutoff and two newer ones.
async fn four_old_and_two_new(f: &Fixture) -> (BlobStore, OrgId, DateTime<Utc>) {
    let blob = BlobStore::local(&f.dir.path().join("files"))
        .await
        .expect("blob");
    let org = OrgId::new();
    append_many(f.store.as_ref(), org, 4).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cutoff = Utc::now();
    append_many(f.store.as_ref(), org, 2).await;
    (blob, org, cutoff)
}

#[tokio::test]
async fn archived_events_leave_a_chain_that_still_verifies() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let (blob, org, cutoff) = four_old_and_two_new(&f).await;

        let manifests = archive_before(f.store.as_ref(), &blob, cutoff)
            .await
            .expect("archive");
        assert_eq!(manifests.len(), 1, "{backend:?}");
        let manifest = &manifests[0];
        assert_eq!(
            (manifest.first_seq, manifest.last_seq, manifest.events),
            (1, 4, 4)
        );

        let remaining = f
            .store
            .events_after(&org.to_string(), 0, 100)
            .await
            .expect("rest");
        assert_eq!(
            remaining.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![5, 6]
        );
        assert_eq!(
            remaining[0].prev_hash, manifest.last_hash,
            "the chain continues from the archive"
        );
        assert_eq!(
            verdict(f.store.as_ref(), org).await.to_string(),
            format!("{org}: ok 2 events")
        );

        let key = manifest.object.replace(".jsonl.gz", ".manifest.json");
        let (read, events) = read_archive(&blob, &key).await.expect("archive verifies");
        assert_eq!(&read, manifest);
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );

        // Nothing old is left: a second run archives nothing.
        assert!(
            archive_before(f.store.as_ref(), &blob, cutoff)
                .await
                .expect("again")
                .is_empty()
        );
        // A tampered archive is refused.
        blob.put(&manifest.object, b"not gzip".to_vec())
            .await
            .expect("overwrite");
        assert!(read_archive(&blob, &key).await.is_err());
    }
}

#[tokio::test]
async fn verify_and_archive_runs_that_an_archive_overtakes_find_no_break() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let (blob, org, cutoff) = four_old_and_two_new(&f).await;
        // The verify reads the chain's head (anchor at the start)…
        let head = f
            .store
            .chain_heads()
            .await
            .expect("heads")
            .into_iter()
            .find(|h| h.chain == org.to_string())
            .expect("head");
        // …then an archive run truncates the chain before the verify walks it.
        let manifests = archive_before(f.store.as_ref(), &blob, cutoff)
            .await
            .expect("archive");
        assert_eq!(manifests.len(), 1, "{backend:?}");
        let overtaken = verify_chain(f.store.as_ref(), &head).await.expect("verify");
        assert_eq!(
            overtaken.to_string(),
            format!("{org}: ok 2 events"),
            "{backend:?}: the walk starts again from the new anchor"
        );

        // Another archive run that read the same head goes on from the new anchor: it
        // archives what became old since, and reports no break.
        let later = Utc::now();
        let manifests = archive_chain(f.store.as_ref(), &blob, head, later)
            .await
            .expect("an overtaken run is no break");
        assert_eq!(
            manifests
                .iter()
                .map(|m| (m.first_seq, m.last_seq))
                .collect::<Vec<_>>(),
            vec![(5, 6)],
            "{backend:?}"
        );
        assert_eq!(
            verdict(f.store.as_ref(), org).await.to_string(),
            format!("{org}: ok 0 events"),
            "{backend:?}"
        );
    }
}
