//! Mail a client can make the server send again and again, on both backends: reset
//! links (whose route must not tell whether the address has an account) and verification
//! emails are held back past a per-account budget, as emailed codes are.

use serde_json::json;

use crate::auth::post;
use crate::helpers::{BOTH, TestApp};
use crate::tenants::Caller;

#[tokio::test]
async fn a_reset_link_asked_for_again_and_again_is_mailed_a_few_times_only() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        Caller::registered(&app, "ada@example.com").await;
        const ASKED: usize = 30;
        for email in ["ada@example.com", "ghost@example.com"] {
            for _ in 0..ASKED {
                let asked = post(
                    &app,
                    "/v1/auth/password/forgot",
                    json!({"email": email}),
                    &[],
                )
                .await;
                assert_eq!(asked.status, 202, "the same answer for {email}");
                assert!(asked.body.is_empty());
            }
        }
        // The work runs after the answer: each request is audited once it ran.
        for _ in 0..400 {
            if requested_resets(&app).await >= ASKED {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(requested_resets(&app).await, ASKED, "{backend:?}");
        let mailed = app
            .queued_mail()
            .await
            .into_iter()
            .filter(|m| m.to.contains("ada@example.com") && m.text.contains("reset-password"))
            .count();
        assert!(
            (1..=ASKED - 10).contains(&mailed),
            "{backend:?}: {mailed} reset emails for {ASKED} requests"
        );
    }
}

async fn requested_resets(app: &TestApp) -> usize {
    app.platform_events()
        .await
        .iter()
        .filter(|e| e["event_type"] == "auth.password.reset_requested")
        .count()
}

#[tokio::test]
async fn a_verification_email_sent_again_and_again_is_held_back() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let caller = Caller::registered(&app, "ada@example.com").await;
        let mut held_back = None;
        for _ in 0..15 {
            let resent = caller.post(&app, "/v1/auth/email/resend", json!({})).await;
            if resent.status == 429 {
                held_back = Some(resent);
                break;
            }
            assert_eq!(resent.status, 202, "{}", resent.text());
        }
        let held_back = held_back.unwrap_or_else(|| panic!("{backend:?}: 15 emails sent"));
        held_back.problem(429, "too_many_attempts");
        assert!(held_back.header("retry-after").is_some());
    }
}

#[tokio::test]
async fn a_guest_asking_for_a_verification_email_is_told_it_has_no_address() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let guest = Caller::guest(&app).await;
        let refused = guest.post(&app, "/v1/auth/email/resend", json!({})).await;
        refused.problem(409, "no_email");
    }
}
