//! Exporting and archiving a chain, what a verify or an archive run sees when an archive
//! truncates the chain under it, and what archive runs that race or crash leave stored.

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tenantbase_blob::BlobStore;
use tenantbase_core::audit::archive::{
    Batch, Manifest, Selected, archive_before, archive_chain, read_archive, select_batch,
};
use tenantbase_core::audit::export::{Format, export_chain};
use tenantbase_core::audit::verify::verify_chain;
use tenantbase_domain::OrgId;
use tenantbase_domain::model::ChainHead;
use tenantbase_store::Store;

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

        let key = manifest.key();
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
        let head = head_of(f.store.as_ref(), org).await;
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

#[tokio::test]
async fn a_run_that_loses_a_race_from_one_anchor_leaves_only_the_winners_archive() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        // Whose cutoff is later (taking six events, not four); with the same cutoff,
        // both store the same range, and the loser must remove its own copy only.
        for (winner_later, loser_later) in [(false, true), (true, false), (false, false)] {
            let (blob, org, cutoff) = four_old_and_two_new(&f).await;
            let later = Utc::now();
            let at = |is_later| if is_later { later } else { cutoff };
            let (winner_cutoff, loser_cutoff) = (at(winner_later), at(loser_later));
            let store = f.store.as_ref();
            // Both runs read the chain from one anchor; the winner stores and truncates,
            // then the loser stores what it read (after the winner's clean-up) and loses.
            let head = head_of(store, org).await;
            let loser = selected(store, &head, loser_cutoff).await;
            let winner = selected(store, &head, winner_cutoff).await;
            let written = winner.write(&blob).await.expect("winner writes");
            let Batch::Archived(manifest) = written.truncate(store, &blob).await.expect("wins")
            else {
                panic!("{backend:?}: the first truncation wins");
            };
            let written = loser.write(&blob).await.expect("loser writes");
            assert_ne!(written.manifest().object, manifest.object);
            assert!(matches!(
                written.truncate(store, &blob).await.expect("loses"),
                Batch::Moved
            ));

            assert_eq!(
                stored_keys(&blob, org).await,
                keys_of(&manifest),
                "{backend:?}, later cutoff for winner {winner_later}, loser {loser_later}"
            );
            let (_, events) = read_archive(&blob, &manifest.key())
                .await
                .expect("the winner's archive verifies");
            assert_eq!(events.len(), if winner_later { 6 } else { 4 });
            assert_eq!(
                verdict(store, org).await.to_string(),
                format!("{org}: ok {} events", 6 - manifest.events),
                "{backend:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_next_run_removes_what_a_run_that_crashed_before_truncating_stored() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let (blob, org, cutoff) = four_old_and_two_new(&f).await;
        let store = f.store.as_ref();
        let head = head_of(store, org).await;
        // A run stores the four old events and stops short of truncating, as if it
        // crashed: they stay in the chain, and the anchor where it was.
        drop(
            selected(store, &head, cutoff)
                .await
                .write(&blob)
                .await
                .expect("write"),
        );
        assert_eq!(stored_keys(&blob, org).await.len(), 2);
        assert_eq!(
            verdict(store, org).await.to_string(),
            format!("{org}: ok 6 events")
        );

        // The next run, with a later cutoff, archives from that anchor and removes them.
        let manifests = archive_chain(store, &blob, head, Utc::now())
            .await
            .expect("archive");
        assert_eq!(manifests.len(), 1, "{backend:?}");
        assert_eq!(
            stored_keys(&blob, org).await,
            keys_of(&manifests[0]),
            "{backend:?}"
        );
        read_archive(&blob, &manifests[0].key())
            .await
            .expect("archive verifies");
    }
}

async fn head_of(store: &dyn Store, org: OrgId) -> ChainHead {
    store
        .chain_heads()
        .await
        .expect("heads")
        .into_iter()
        .find(|h| h.chain == org.to_string())
        .expect("head")
}

/// The first step of a run from `head`: the events before `cutoff`, which must be some.
async fn selected(store: &dyn Store, head: &ChainHead, cutoff: DateTime<Utc>) -> Selected {
    match select_batch(store, head, cutoff).await.expect("select") {
        ControlFlow::Continue(selected) => selected,
        ControlFlow::Break(_) => panic!("nothing to archive"),
    }
}

/// Every key stored for `org`'s archives, sorted.
async fn stored_keys(blob: &BlobStore, org: OrgId) -> Vec<String> {
    let listed: Vec<_> = blob
        .list(&format!("audit/{org}"))
        .try_collect()
        .await
        .expect("list");
    let mut keys: Vec<String> = listed.into_iter().map(|meta| meta.key).collect();
    keys.sort();
    keys
}

/// The keys of an archive's object and manifest, sorted.
fn keys_of(manifest: &Manifest) -> Vec<String> {
    let mut keys = vec![manifest.object.clone(), manifest.key()];
    keys.sort();
    keys
}
