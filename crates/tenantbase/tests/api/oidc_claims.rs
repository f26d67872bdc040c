//! What a provider's ID token may bring that a user typed at the provider — a display
//! name with control characters, an address mail cannot be sent to, an email claim with
//! NUL — on both backends: never a 500, never stored as is.

use serde_json::json;
use tenantbase_testkit::oidc_provider::ProviderUser;

use crate::auth::register;
use crate::helpers::BOTH;
use crate::oidc::{
    app_with_provider, caller, confirm, exchange_with, link_code, login_code, through_callback,
};

#[tokio::test]
async fn a_provider_name_that_is_no_display_name_gives_way_to_the_local_part() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        let cases = [
            ("nul", "Ada\u{0}Lovelace", "nul"),
            ("bell", "Ada\u{7}", "bell"),
            ("bidi", "Ada\u{202E}ecalevol", "bidi"),
            ("padded", "  Ada  ", "Ada"),
        ];
        for (local, name, shown) in cases {
            let mut user = ProviderUser::verified(local, &format!("{local}@example.com"));
            user.name = Some(name.to_owned());
            provider.sign_in_as(user);
            let code = login_code(&app).await;
            let tokens = exchange_with(&app, json!({"login_code": code}), &[]).await;
            assert_eq!(tokens.status, 200, "{backend:?}: {}", tokens.text());
            assert_eq!(tokens.json()["user"]["display_name"], shown, "{backend:?}");
        }
        // A long name is cut, as the provider's to choose.
        let mut user = ProviderUser::verified("long", "long@example.com");
        user.name = Some("n".repeat(150));
        provider.sign_in_as(user);
        let code = login_code(&app).await;
        let tokens = exchange_with(&app, json!({"login_code": code}), &[]).await;
        assert_eq!(tokens.json()["user"]["display_name"], "n".repeat(100));
    }
}

#[tokio::test]
async fn an_address_mail_cannot_reach_makes_no_account() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        for address in [
            "ada..lovelace@example.com",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            provider.sign_in_as(ProviderUser::verified("sub-1", address));
            through_callback(&app)
                .await
                .problem(403, "email_not_verified");
            assert!(
                app.store
                    .user_by_email(address)
                    .await
                    .expect("read")
                    .is_none(),
                "{backend:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_linked_identitys_unusable_email_is_not_kept() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        let owner = caller(&register(&app, "owner@example.com").await);
        let mut user = ProviderUser::verified("sub-owner", "owner\u{0}@example.com");
        user.email_verified = false;
        provider.sign_in_as(user);
        let code = link_code(&app, &owner).await;
        let confirmed = confirm(&app, &owner, &code).await;
        assert_eq!(confirmed.status, 201, "{backend:?}: {}", confirmed.text());
        assert_eq!(confirmed.json()["email"], json!(null));
    }
}

#[tokio::test]
async fn a_subject_with_nul_is_refused_like_any_bad_id_token() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        provider.sign_in_as(ProviderUser::verified("sub\u{0}1", "nul@example.com"));
        through_callback(&app)
            .await
            .problem(401, "invalid_id_token");
        assert!(
            app.store
                .user_by_email("nul@example.com")
                .await
                .expect("read")
                .is_none(),
            "{backend:?}"
        );
    }
}
