//! What a free account can do to others: invitations need a verified address, are
//! limited per inviter and per org, and go once to an address, on both backends.

use axum::http::Method;
use serde_json::json;
use tenantbase_core::tenancy::TenancyPolicy;

use crate::helpers::{BOTH, TestApp};
use crate::tenants::{Caller, add_member, verified};

#[tokio::test]
async fn invitations_need_a_verified_inviter() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        for inviter in [
            Caller::registered(&app, "fresh@example.com").await,
            Caller::guest(&app).await,
        ] {
            let org = inviter.create_org(&app, "Unverified").await;
            inviter
                .post(
                    &app,
                    &format!("/v1/orgs/{org}/invitations"),
                    json!({"email": "victim@example.com"}),
                )
                .await
                .problem(403, "email_unverified");
        }
        assert!(
            app.queued_mail()
                .await
                .iter()
                .all(|m| !m.to.contains("victim"))
        );
    }
}

#[tokio::test]
async fn invitations_are_limited_per_inviter_and_per_org() {
    for backend in BOTH {
        let app = TestApp::with_tenancy(
            backend,
            TenancyPolicy {
                invitations_per_hour_per_inviter: 3,
                invitations_per_hour_per_org: 4,
                ..TenancyPolicy::default()
            },
        )
        .await;
        let invite = |caller: &Caller, org: &str, n: usize| {
            let (caller, org) = (caller.clone(), org.to_owned());
            let app = &app;
            async move {
                caller
                    .post(
                        app,
                        &format!("/v1/orgs/{org}/invitations"),
                        json!({"email": format!("invitee{n}@example.com")}),
                    )
                    .await
            }
        };
        // Ada's three per hour count across her orgs.
        let ada = verified(&app, "ada@example.com").await;
        let (one, two) = (
            ada.create_org(&app, "One").await,
            ada.create_org(&app, "Two").await,
        );
        for (n, org) in [&one, &two, &two].into_iter().enumerate() {
            assert_eq!(invite(&ada, org, n).await.status, 201);
        }
        let refused = invite(&ada, &one, 9).await;
        let problem = refused.problem(429, "rate_limited");
        let retry_after: u64 = refused
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!((60..=1200).contains(&retry_after), "{retry_after}");
        assert_eq!(problem["retry_after"], retry_after);

        // An org has four per hour, whoever sends them: Carol spends three (one on
        // Dave, now an admin), Dave the fourth, and his next is refused for the org.
        let carol = verified(&app, "carol@example.com").await;
        let org = carol.create_org(&app, "Three").await;
        let dave = add_member(&app, &carol, &org, "dave@example.com", &["admin"]).await;
        for n in 10..12 {
            assert_eq!(invite(&carol, &org, n).await.status, 201, "carol {n}");
        }
        assert_eq!(invite(&dave, &org, 12).await.status, 201);
        invite(&dave, &org, 13).await.problem(429, "rate_limited");
        // Dave's own budget is not spent: another org of his still takes one.
        let own = dave.create_org(&app, "Dave's").await;
        assert_eq!(invite(&dave, &own, 14).await.status, 201);
    }
}

/// An address that is a member's, or has a pending invitation, gets no second one: 409,
/// no email, nothing spent of the org's budget.
#[tokio::test]
async fn invitations_to_members_or_pending_addresses_conflict_and_cost_nothing() {
    for backend in BOTH {
        let app = TestApp::with_tenancy(
            backend,
            TenancyPolicy {
                invitations_per_hour_per_org: 3,
                ..TenancyPolicy::default()
            },
        )
        .await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Once").await;
        let invitations = format!("/v1/orgs/{org}/invitations");
        let invite = |email: &str| owner.post(&app, &invitations, json!({"email": email}));

        let first = invite("carol@example.com").await;
        assert_eq!(first.status, 201, "{}", first.text());
        let first = first.json()["id"].as_str().expect("id").to_owned();
        let again = invite(" Carol@Example.COM ").await;
        let problem = again.problem(409, "invitation_pending");
        assert_eq!(problem["invitation_id"], first.as_str(), "{backend:?}");
        invite("OWNER@example.com")
            .await
            .problem(409, "already_member");
        let invitations_mailed = |to: &'static str| {
            let app = &app;
            async move {
                let mail = app.queued_mail().await;
                let to_them = mail.iter().filter(|m| m.to.contains(to));
                to_them
                    .filter(|m| m.text.contains("accept-invitation"))
                    .count()
            }
        };
        assert_eq!(invitations_mailed("carol@example.com").await, 1);
        assert_eq!(invitations_mailed("owner@example.com").await, 0);

        // The refusals spent nothing: two more go out, a revoked invitation blocks none,
        // and the fourth is over the budget.
        assert_eq!(invite("dan@example.com").await.status, 201);
        let revoke = format!("{invitations}/{first}");
        let revoked = owner.call(&app, Method::DELETE, &revoke, None).await;
        assert_eq!(revoked.status, 204, "{}", revoked.text());
        assert_eq!(invite("carol@example.com").await.status, 201);
        invite("erin@example.com")
            .await
            .problem(429, "rate_limited");
    }
}

/// Concurrent invitations to one address: exactly one goes out (PostgreSQL runs them in
/// parallel; the org's row lock orders the checks).
#[tokio::test]
async fn concurrent_invitations_to_one_address_send_one() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Racing").await;
        let invitations = format!("/v1/orgs/{org}/invitations");
        let body = json!({"email": "carol@example.com"});
        let sent =
            futures::future::join_all((0..8).map(|_| owner.post(&app, &invitations, body.clone())))
                .await;
        let statuses: Vec<u16> = sent.iter().map(|r| r.status.as_u16()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "{statuses:?} on {backend:?}"
        );
        assert!(
            statuses.iter().all(|s| [201, 409].contains(s)),
            "{statuses:?}"
        );
    }
}

/// An expired invitation is no longer pending: the address may be invited again.
#[tokio::test]
async fn an_expired_invitation_blocks_no_new_one() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Expiring").await;
        let invitations = format!("/v1/orgs/{org}/invitations");
        let invite = || owner.post(&app, &invitations, json!({"email": "erin@example.com"}));
        assert_eq!(invite().await.status, 201, "{backend:?}");
        invite().await.problem(409, "invitation_pending");
        // Expired as stored, not by waiting: a short life could run out between the two
        // invitations above on a busy machine.
        let expired = app
            .execute_sql("UPDATE invitations SET expires_at = created_at")
            .await;
        assert_eq!(expired, 1, "{backend:?}");
        let again = invite().await;
        assert_eq!(again.status, 201, "{backend:?} {}", again.text());
    }
}
