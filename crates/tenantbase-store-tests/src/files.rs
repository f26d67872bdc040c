//! Conformance tests of file rows, presigned uploads and profiles, and the helpers that
//! make users and orgs for other tests.

use chrono::{SubsecRound, Utc};
use tenantbase_domain::OrgId;
use tenantbase_domain::id::{FileId, UserId};
use tenantbase_domain::model::{Avatar, FileUpload, Profile, ProfileVisibility, StoredFile};
use tenantbase_store::identity::users::NewUser;
use tenantbase_store::org::files::FileQuery;
use tenantbase_store::{OrgScope, Store, StoreError};

fn file(name: &str, size: u64, content_type: &str, created_by: UserId) -> StoredFile {
    StoredFile {
        id: FileId::new(),
        name: name.to_owned(),
        size,
        content_type: content_type.to_owned(),
        sha256: "ab".repeat(32),
        created_by,
        created_at: Utc::now().trunc_subsecs(6),
        upload_claim: None,
    }
}

pub(crate) async fn new_user(store: &dyn Store) -> UserId {
    let id = UserId::new();
    let mut unit = store.begin().await.expect("begin");
    unit.create_user(NewUser {
        id,
        email: None,
        display_name: "Guest".to_owned(),
        password_hash: None,
        is_guest: true,
    })
    .await
    .expect("user");
    unit.commit().await.expect("commit");
    id
}

/// A new org named `name` that `owner` created, with a slug of its own.
pub(crate) async fn new_org(store: &dyn Store, name: &str, owner: UserId) -> OrgScope {
    let scope = OrgScope::for_checked_org(OrgId::new());
    let slug = format!("{name}-{}", scope.org_id().as_uuid().simple());
    let mut unit = store.begin_org(&scope).await.expect("unit");
    unit.create_org(name, &slug, owner).await.expect("org");
    unit.commit().await.expect("commit");
    scope
}

pub async fn files_are_listed_filtered_and_counted_per_org(store: &dyn Store) {
    let owner = new_user(store).await;
    let (a, b) = (
        new_org(store, "a", owner).await,
        new_org(store, "b", owner).await,
    );
    let files = [
        file("zoë.png", 100, "image/png", owner),
        file("zebra.jpg", 50, "image/jpeg", owner),
        StoredFile {
            // From a presigned upload: its key names the claim that moved the bytes.
            upload_claim: Some((Utc::now() + chrono::Duration::minutes(30)).trunc_subsecs(6)),
            ..file("notes.txt", 7, "text/plain", owner)
        },
    ];
    let mut unit = store.begin_org(&a).await.expect("unit");
    for f in &files {
        unit.insert_file(f).await.expect("insert");
    }
    let now = Utc::now();
    let upload = FileUpload {
        id: FileId::new(),
        name: "up.bin".to_owned(),
        size: 1000,
        content_type: "application/octet-stream".to_owned(),
        sha256: None,
        created_by: owner,
        created_at: now.trunc_subsecs(6),
        expires_at: (now + chrono::Duration::minutes(5)).trunc_subsecs(6),
    };
    unit.insert_upload(&upload).await.expect("upload");
    unit.commit().await.expect("commit");

    let mut read = store.read_org(&a).await.expect("read");
    assert_eq!(read.file(files[0].id).await.expect("file"), files[0]);
    assert_eq!(read.file(files[2].id).await.expect("file"), files[2]);
    let all = read
        .files(&FileQuery {
            limit: 10,
            ..FileQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(all.len(), 3);
    let page = read
        .files(&FileQuery {
            limit: 10,
            after: Some((all[0].created_at, all[0].id)),
            ..FileQuery::default()
        })
        .await
        .expect("page");
    assert_eq!(page, all[1..].to_vec());
    let names = |found: Vec<StoredFile>| found.into_iter().map(|f| f.name).collect::<Vec<_>>();
    let z = read
        .files(&FileQuery {
            limit: 10,
            name_prefix: Some("z".to_owned()),
            ..FileQuery::default()
        })
        .await
        .expect("prefix");
    assert_eq!(names(z).len(), 2);
    let zo = read
        .files(&FileQuery {
            limit: 10,
            name_prefix: Some("zoë".to_owned()),
            ..FileQuery::default()
        })
        .await
        .expect("prefix");
    assert_eq!(names(zo), ["zoë.png"]);
    let images = read
        .files(&FileQuery {
            limit: 10,
            content_type: Some("image/".to_owned()),
            ..FileQuery::default()
        })
        .await
        .expect("family");
    assert_eq!(images.len(), 2);
    let text = read
        .files(&FileQuery {
            limit: 10,
            content_type: Some("text/plain".to_owned()),
            ..FileQuery::default()
        })
        .await
        .expect("exact");
    assert_eq!(names(text), ["notes.txt"]);
    assert_eq!(
        read.bytes_used(Utc::now()).await.expect("used"),
        1157,
        "files and the open upload"
    );
    assert_eq!(
        read.bytes_used(upload.expires_at + chrono::Duration::seconds(1))
            .await
            .expect("used"),
        157,
        "an expired upload no longer counts"
    );
    let stranger = FileId::new();
    assert_eq!(
        read.existing_files(&[files[0].id, files[2].id, stranger])
            .await
            .expect("existing")
            .into_iter()
            .collect::<std::collections::HashSet<_>>(),
        [(files[0].id, None), (files[2].id, files[2].upload_claim)].into()
    );
    assert_eq!(read.upload(upload.id).await.expect("upload"), upload);
    drop(read);

    let mut other = store.read_org(&b).await.expect("read b");
    assert!(matches!(
        other.file(files[0].id).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        other
            .files(&FileQuery {
                limit: 10,
                ..FileQuery::default()
            })
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(other.bytes_used(Utc::now()).await.expect("used"), 0);
    assert!(matches!(
        other.upload(upload.id).await,
        Err(StoreError::NotFound)
    ));
    drop(other);

    let mut unit = store.begin_org(&a).await.expect("unit");
    assert_eq!(unit.open_uploads(Utc::now()).await.expect("open"), 1);
    // One completion holds an upload at a time; a lost one's claim runs out.
    // Microseconds, as the databases keep it: a claim is named by its end.
    let lease = (Utc::now() + chrono::Duration::minutes(5)).trunc_subsecs(6);
    assert!(
        unit.claim_upload(upload.id, Utc::now(), lease)
            .await
            .expect("claim")
    );
    assert!(
        !unit
            .claim_upload(upload.id, Utc::now(), lease)
            .await
            .expect("held")
    );
    let newer = lease + chrono::Duration::minutes(5);
    assert!(
        unit.claim_upload(upload.id, lease, newer)
            .await
            .expect("ran out")
    );
    // The claim that ran out can neither act as the holder nor give the newer one up.
    assert!(
        !unit
            .hold_upload(upload.id, lease, Utc::now())
            .await
            .expect("hold")
    );
    unit.release_upload(upload.id, lease)
        .await
        .expect("release");
    assert!(
        unit.hold_upload(upload.id, newer, lease)
            .await
            .expect("hold"),
        "the newer claim still holds"
    );
    assert!(
        !unit
            .hold_upload(upload.id, newer, newer)
            .await
            .expect("hold"),
        "not once it ran out"
    );
    unit.release_upload(upload.id, newer)
        .await
        .expect("release");
    let again = lease + chrono::Duration::minutes(30);
    assert!(
        unit.claim_upload(upload.id, Utc::now(), again)
            .await
            .expect("claim again")
    );
    assert_eq!(
        unit.bytes_used(upload.expires_at + chrono::Duration::seconds(1))
            .await
            .expect("used"),
        157 + 1000,
        "a claimed upload stays reserved past its expiry"
    );
    assert_eq!(
        unit.prune_uploads(upload.expires_at + chrono::Duration::seconds(1))
            .await
            .expect("prune"),
        0,
        "nor is it pruned while claimed"
    );
    unit.release_upload(upload.id, again)
        .await
        .expect("release");
    let expired = FileUpload {
        id: FileId::new(),
        expires_at: (now - chrono::Duration::seconds(1)).trunc_subsecs(6),
        ..upload.clone()
    };
    unit.insert_upload(&expired).await.expect("expired upload");
    assert_eq!(
        unit.prune_uploads(Utc::now()).await.expect("prune"),
        1,
        "only the expired one"
    );
    assert_eq!(unit.open_uploads(Utc::now()).await.expect("open"), 1);
    assert!(unit.delete_file(files[0].id).await.expect("delete"));
    assert!(!unit.delete_file(files[0].id).await.expect("again"));
    assert!(unit.delete_upload(upload.id).await.expect("delete upload"));
    unit.commit().await.expect("commit");
    let mut read = store.read_org(&a).await.expect("read");
    assert_eq!(read.bytes_used(Utc::now()).await.expect("used"), 57);
}

pub async fn profiles_round_trip(store: &dyn Store) {
    let user = new_user(store).await;
    let profile = store.profile(user).await.expect("profile");
    assert_eq!(
        profile,
        Profile {
            display_name: "Guest".to_owned(),
            bio: None,
            visibility: ProfileVisibility::Org,
            avatar: None,
        }
    );
    let changed = Profile {
        display_name: "Ada".to_owned(),
        bio: Some("Counts.".to_owned()),
        visibility: ProfileVisibility::Private,
        avatar: None,
    };
    store.update_profile(user, &changed).await.expect("update");
    let avatar = Avatar {
        content_type: "image/png".to_owned(),
        sha256: "cd".repeat(32),
        key: Some("users/u/avatar/cd.1".to_owned()),
    };
    assert!(
        store
            .set_avatar(user, None, Some(&avatar))
            .await
            .expect("avatar")
    );
    assert!(
        !store
            .set_avatar(user, None, Some(&avatar))
            .await
            .expect("stale"),
        "only over the avatar it replaces"
    );
    let read = store.profile(user).await.expect("profile");
    assert_eq!(
        read,
        Profile {
            avatar: Some(avatar.clone()),
            ..changed.clone()
        }
    );
    assert_eq!(
        store.user_by_id(user).await.expect("user").display_name,
        "Ada"
    );
    assert!(
        store
            .set_avatar(user, Some(&avatar), None)
            .await
            .expect("clear")
    );
    assert_eq!(store.profile(user).await.expect("profile"), changed);
    assert!(matches!(
        store.profile(UserId::new()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_profile(UserId::new(), &changed).await,
        Err(StoreError::NotFound)
    ));
}

/// Creates an org of `creator` in a committed unit, if `creator` has a slot below `cap`.
async fn create_counted_org(store: &dyn Store, creator: UserId, cap: u32) -> Option<OrgScope> {
    let scope = OrgScope::for_checked_org(OrgId::new());
    let mut unit = store.begin_org(&scope).await.expect("unit");
    if !unit.take_org_slot(creator, cap).await.expect("slot") {
        return None;
    }
    let slug = format!("o-{}", scope.org_id().as_uuid().simple());
    unit.create_org("Org", &slug, creator).await.expect("org");
    unit.commit().await.expect("commit");
    Some(scope)
}

pub async fn creators_are_charged_for_their_orgs_until_purged(store: &dyn Store) {
    let creator = new_user(store).await;
    let a = create_counted_org(store, creator, 2).await.expect("first");
    let b = create_counted_org(store, creator, 2).await.expect("second");
    assert!(
        create_counted_org(store, creator, 2).await.is_none(),
        "the cap is reached"
    );
    let someone_else = new_user(store).await;
    assert!(create_counted_org(store, someone_else, 2).await.is_some());

    let kept = file("a.bin", 100, "application/octet-stream", creator);
    let gone = file("b.bin", 40, "application/octet-stream", creator);
    for (scope, stored) in [(&a, &kept), (&b, &gone)] {
        let mut unit = store.begin_org(scope).await.expect("unit");
        unit.insert_file(stored).await.expect("file");
        unit.commit().await.expect("commit");
    }
    let mut unit = store.begin_org(&b).await.expect("unit");
    unit.lock_creator().await.expect("lock");
    let now = Utc::now();
    unit.insert_upload(&FileUpload {
        id: FileId::new(),
        name: "open.bin".to_owned(),
        size: 7,
        content_type: "application/octet-stream".to_owned(),
        sha256: None,
        created_by: creator,
        created_at: now.trunc_subsecs(6),
        expires_at: (now + chrono::Duration::minutes(5)).trunc_subsecs(6),
    })
    .await
    .expect("upload");
    assert_eq!(
        unit.creator_bytes_used(now).await.expect("used"),
        147,
        "both orgs' files and this org's open upload"
    );
    unit.commit().await.expect("commit");
    let mut read = store.read_org(&a).await.expect("read a");
    assert_eq!(read.creator_bytes_used(now).await.expect("used"), 140);
    drop(read);

    let mut unit = store.begin_org(&a).await.expect("unit");
    assert!(unit.delete_file(kept.id).await.expect("delete"));
    unit.commit().await.expect("commit");
    let mut unit = store.begin_org(&b).await.expect("unit");
    unit.purge_org().await.expect("purge");
    unit.commit().await.expect("commit");
    let mut read = store.read_org(&a).await.expect("read a");
    assert_eq!(
        read.creator_bytes_used(now).await.expect("used"),
        0,
        "deleted and purged bytes are given back"
    );
    drop(read);
    assert!(
        create_counted_org(store, creator, 2).await.is_some(),
        "the purged org's slot is given back"
    );
}
