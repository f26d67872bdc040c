//! Tests of argon2id hashing: correctness, costs, concurrency limits, bad input.
use argon2::PasswordHasher as _;
use tenantbase_domain::password::PasswordPolicy;

use super::*;

/// Cheap costs, so the tests do not spend seconds per hash in a debug build.
fn small() -> HashConfig {
    HashConfig {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 2,
        max_queued: 8,
    }
}

fn hasher(config: HashConfig) -> PasswordHasher {
    PasswordHasher::new(config).expect("valid config")
}

fn password(raw: &str) -> Password {
    Password::new(raw, None, &PasswordPolicy::default()).expect("valid password")
}

#[tokio::test]
async fn hashes_match_what_the_reference_implementation_verifies() {
    let hasher = PasswordHasher::new(small()).expect("hasher");
    let password =
        Password::new("correct horse battery", None, &PasswordPolicy::default()).expect("password");
    let phc = hasher.hash(&password).await.expect("hash");
    let parsed = PasswordHash::new(&phc).expect("PHC");
    assert!(
        Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok()
    );
    let reference = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(1024, 1, 1, None).expect("params"),
    )
    .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
    .expect("reference hash")
    .to_string();
    assert!(
        hasher
            .verify("correct horse battery", &reference)
            .await
            .expect("verify")
            .matches
    );
    assert!(
        !hasher
            .verify("correct horse batterY", &reference)
            .await
            .expect("verify")
            .matches
    );
}

#[tokio::test]
async fn a_hash_verifies_its_password_and_nothing_else() {
    let hasher = hasher(small());
    let phc = hasher
        .hash(&password("correct horse battery"))
        .await
        .expect("hashes");
    assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
    assert_eq!(
        hasher
            .verify("correct horse battery", &phc)
            .await
            .expect("verifies"),
        Verification {
            matches: true,
            needs_rehash: false
        }
    );
    for wrong in ["correct horse battery ", "Correct horse battery", ""] {
        let outcome = hasher.verify(wrong, &phc).await.expect("verifies");
        assert!(!outcome.matches, "{wrong:?}");
    }
}

#[tokio::test]
async fn salts_are_random() {
    let hasher = hasher(small());
    let password = password("correct horse battery");
    let first = hasher.hash(&password).await.expect("hashes");
    let second = hasher.hash(&password).await.expect("hashes");
    assert_ne!(first, second);
}

#[tokio::test]
async fn a_decomposed_candidate_matches_the_composed_password() {
    let hasher = hasher(small());
    let phc = hasher
        .hash(&password("caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e"))
        .await
        .expect("hashes");
    let typed = "cafe\u{301} cre\u{300}me bru\u{302}le\u{301}e";
    assert!(hasher.verify(typed, &phc).await.expect("verifies").matches);
}

#[tokio::test]
async fn hashes_made_with_other_parameters_verify_but_want_a_rehash() {
    let old = hasher(small());
    let phc = old
        .hash(&password("correct horse battery"))
        .await
        .expect("hashes");
    let new = hasher(HashConfig {
        memory_kib: 2048,
        ..small()
    });
    assert_eq!(
        new.verify("correct horse battery", &phc)
            .await
            .expect("verifies"),
        Verification {
            matches: true,
            needs_rehash: true
        }
    );

    // Another argon2 variant with the same costs is due for a rehash too.
    let params = Params::new(1024, 1, 1, None).expect("valid");
    let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
        .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
        .expect("hashes")
        .to_string();
    let outcome = old
        .verify("correct horse battery", &argon2i)
        .await
        .expect("verifies");
    assert!(outcome.matches && outcome.needs_rehash);
}

#[tokio::test]
async fn malformed_hashes_are_errors_not_panics() {
    let hasher = hasher(small());
    let phc = hasher
        .hash(&password("correct horse battery"))
        .await
        .expect("hashes");
    let without_hash = phc.rsplit_once('$').map(|(head, _)| head).expect("has $");
    for bad in [
        "",
        "plaintext",
        "$argon2id$",
        "$argon2id$v=19$m=1024,t=1,p=1$",
        without_hash,
        &phc[..phc.len() - 10],
        &phc.replace("m=1024", "m=1"),
        &phc.replace("m=1024", "m=banana"),
        &phc.replace("$argon2id$", "$scrypt$"),
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    ] {
        let outcome = hasher.verify("correct horse battery", bad).await;
        assert!(outcome.is_err(), "{bad:?} gave {outcome:?}");
    }
}

#[tokio::test]
async fn the_dummy_has_the_current_parameters_and_matches_nothing() {
    let hasher = hasher(small());
    let outcome = hasher
        .verify("correct horse battery", &hasher.dummy_phc)
        .await
        .expect("the dummy is a valid PHC string");
    assert_eq!(
        outcome,
        Verification {
            matches: false,
            needs_rehash: false
        }
    );
    hasher
        .verify_dummy("correct horse battery")
        .await
        .expect("spends the time");
    hasher.verify_dummy("").await.expect("spends the time");
}

#[tokio::test]
async fn a_burst_beyond_the_limit_waits_its_turn_and_returns_every_permit() {
    let hasher = hasher(HashConfig {
        max_concurrent: 1,
        ..small()
    });
    let phc = hasher
        .hash(&password("correct horse battery"))
        .await
        .expect("hashes");
    let outcomes =
        futures::future::join_all((0..6).map(|_| hasher.verify("correct horse battery", &phc)))
            .await;
    assert!(outcomes.iter().all(|o| matches!(o, Ok(v) if v.matches)));
    assert_eq!(hasher.permits.available_permits(), 1);
}

#[tokio::test]
async fn past_the_queue_bound_a_caller_is_refused_at_once_and_a_leaver_frees_its_place() {
    use futures::FutureExt as _;

    let hasher = hasher(HashConfig {
        max_concurrent: 1,
        max_queued: 1,
        ..small()
    });
    // The one slot: a job that runs until the test lets it go.
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let mut busy = Box::pin(hasher.run(move || {
        let _ = hold.recv();
        Ok(())
    }));
    assert!(futures::poll!(&mut busy).is_pending(), "running");
    // The one place in the queue.
    let mut queued = Box::pin(hasher.verify("correct horse battery", &hasher.dummy_phc));
    assert!(futures::poll!(&mut queued).is_pending(), "waiting its turn");
    // Anyone else is answered without waiting, while the slot is still taken.
    for _ in 0..3 {
        let refused = hasher.verify_dummy("correct horse battery").now_or_never();
        assert!(
            matches!(refused, Some(Err(HashError::Overloaded))),
            "{refused:?}"
        );
    }
    // A waiter that gives up (its request dropped) leaves room for the next.
    drop(queued);
    let mut next = Box::pin(hasher.verify_dummy("correct horse battery"));
    assert!(futures::poll!(&mut next).is_pending(), "admitted to wait");
    release.send(()).expect("the job waits");
    busy.await.expect("the held job ends");
    next.await.expect("the next one runs once the slot frees");
    assert_eq!(hasher.permits.available_permits(), 1);
    assert_eq!(hasher.admissions.available_permits(), 2);
}

#[tokio::test]
async fn the_default_costs_hash_and_verify() {
    let config = HashConfig::default();
    assert_eq!(
        (config.memory_kib, config.iterations, config.parallelism),
        (19_456, 2, 1)
    );
    let hasher = hasher(config);
    let phc = hasher
        .hash(&password("correct horse battery"))
        .await
        .expect("hashes");
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    let outcome = hasher
        .verify("correct horse battery", &phc)
        .await
        .expect("verifies");
    assert!(outcome.matches && !outcome.needs_rehash);
}

#[test]
fn unusable_configs_are_refused() {
    for config in [
        HashConfig {
            memory_kib: 0,
            ..small()
        },
        HashConfig {
            iterations: 0,
            ..small()
        },
        HashConfig {
            parallelism: 0,
            ..small()
        },
        HashConfig {
            max_concurrent: 0,
            ..small()
        },
        HashConfig {
            max_queued: usize::MAX,
            ..small()
        },
    ] {
        assert!(PasswordHasher::new(config).is_err(), "{config:?}");
    }
}

#[test]
fn config_fills_defaults_and_rejects_unknown_keys() {
    let config: HashConfig = serde_json::from_str(r#"{"memory_kib": 65536}"#).expect("parses");
    assert_eq!(
        config,
        HashConfig {
            memory_kib: 65_536,
            ..HashConfig::default()
        }
    );
    assert!(serde_json::from_str::<HashConfig>(r#"{"memory": 1}"#).is_err());
}
