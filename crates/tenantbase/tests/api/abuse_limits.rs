//! What a free account can do to others: invitations need a verified address and are
//! limited per inviter and per org, on both backends.

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
