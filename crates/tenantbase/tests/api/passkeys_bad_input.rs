//! Passkey routes against clients that send what no browser would, end to end on both
//! backends: credentials malformed, truncated or of the wrong type (a 422 naming the
//! credential, or the ceremony's refusal — never a server error), challenges answered at
//! the ceremony of another purpose, and passkey names that hide characters.

use axum::http::Method;
use serde_json::{Value, json};

use crate::helpers::{BOTH, TestResponse};
use crate::passkeys::{
    ORIGIN, SoftKey, add_passkey, app, finish_registration, login_finish, login_start,
    registration_options,
};
use crate::tenants::Caller;

/// `value` with the member at `pointer` replaced by `member`, or removed for `None`.
fn altered(value: &Value, pointer: &str, member: Option<Value>) -> Value {
    let mut value = value.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let parent = value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("an object");
    match member {
        Some(member) => parent.insert(key.to_owned(), member),
        None => parent.remove(key),
    };
    value
}

/// The base64url text at `pointer`, cut to half its length.
fn halved(value: &Value, pointer: &str) -> Value {
    let text = value
        .pointer(pointer)
        .and_then(Value::as_str)
        .expect("text");
    Value::from(&text[..text.len() / 2])
}

/// What a misbehaving client may send in place of `credential`, shaped after a real one.
fn misshapen(credential: &Value, binary: &[&str]) -> Vec<Value> {
    let mut variants = vec![
        Value::Null,
        json!(5),
        json!("credential"),
        json!([]),
        json!({}),
        json!({"id": 1, "rawId": 2, "response": 3, "type": 4}),
        altered(credential, "/rawId", Some(json!("***"))),
        altered(credential, "/response", Some(json!([]))),
        altered(credential, "/response/clientDataJSON", None),
        altered(credential, "/response/clientDataJSON", Some(json!(7))),
        altered(credential, "/response/clientDataJSON", Some(json!("e30"))),
    ];
    for pointer in binary {
        variants.push(altered(
            credential,
            pointer,
            Some(halved(credential, pointer)),
        ));
        variants.push(altered(credential, pointer, Some(json!(""))));
    }
    variants
}

/// A refusal a client can act on: 401 with `code`, or a 422 naming the credential only.
fn assert_refused(answer: &TestResponse, code: &str, sent: &Value) {
    match answer.status.as_u16() {
        401 => {
            answer.problem(401, code);
        }
        422 => {
            let fields = answer.invalid_fields();
            assert!(
                !fields.is_empty() && fields.iter().all(|f| f.starts_with("credential")),
                "{fields:?} for {sent}"
            );
        }
        _ => panic!("{sent} was answered {}", answer.text()),
    }
}

#[tokio::test]
async fn every_misshapen_member_of_a_credential_is_named_at_once() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let wrong = json!({"id": 1, "rawId": "***", "response": 3, "type": 4, "extra": 5});
        // Members it does not know are no problem: browsers add some.
        let every = [
            "credential.id",
            "credential.rawId",
            "credential.response",
            "credential.type",
        ];
        let refused = finish_registration(&app, &ada, "", &wrong).await;
        let mut named = every.to_vec();
        named.push("name");
        assert_eq!(refused.invalid_fields(), named, "{backend:?}");
        let refused = login_finish(&app, &wrong).await;
        assert_eq!(refused.invalid_fields(), every, "{backend:?}");
        // Absent members are named too, and a member's own member by its path.
        let partial = json!({"id": "x", "response": {"clientDataJSON": 1}});
        let refused = login_finish(&app, &partial).await;
        assert_eq!(
            refused.invalid_fields(),
            [
                "credential.rawId",
                "credential.response.clientDataJSON",
                "credential.type"
            ],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn misshapen_credentials_are_refused_never_a_server_error() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();

        // Each variant answers a ceremony of its own, so that it reaches the verifier.
        let options = registration_options(&app, &ada).await;
        let template = key.create(ORIGIN, &options).await;
        let binary = ["/response/attestationObject"];
        for variant in misshapen(&template, &binary) {
            let options = registration_options(&app, &ada).await;
            let fresh = key.create(ORIGIN, &options).await;
            let variant = rebased(&variant, &template, &fresh);
            let answer = finish_registration(&app, &ada, "Laptop", &variant).await;
            assert_eq!(answer.status, 422, "{variant}: {}", answer.text());
            assert_refused(&answer, "", &variant);
        }
        let listed = ada.get(&app, "/v1/auth/passkeys").await.json();
        assert_eq!(listed["items"], json!([]), "{backend:?}");

        add_passkey(&app, &ada, &mut key, "Laptop").await;
        let template = key.get(ORIGIN, &login_start(&app).await).await;
        let binary = [
            "/response/authenticatorData",
            "/response/signature",
            "/response/userHandle",
        ];
        let mut variants = misshapen(&template, &binary);
        variants.push(altered(
            &template,
            "/response/userHandle",
            Some(Value::Null),
        ));
        for variant in variants {
            let fresh = key.get(ORIGIN, &login_start(&app).await).await;
            let variant = rebased(&variant, &template, &fresh);
            let answer = login_finish(&app, &variant).await;
            assert_refused(&answer, "passkey_refused", &variant);
        }
        // The key still signs in: no refusal moved its counter.
        let fresh = key.get(ORIGIN, &login_start(&app).await).await;
        assert_eq!(login_finish(&app, &fresh).await.status, 200, "{backend:?}");
    }
}

/// `variant` of `template` made from `fresh` instead: the members `variant` kept as they
/// were in `template` take `fresh`'s values, so it answers `fresh`'s ceremony.
fn rebased(variant: &Value, template: &Value, fresh: &Value) -> Value {
    match (variant, template, fresh) {
        (Value::Object(variant), Value::Object(template), Value::Object(fresh)) => variant
            .iter()
            .map(|(key, member)| {
                let member = match (template.get(key), fresh.get(key)) {
                    (Some(was), Some(now)) => rebased(member, was, now),
                    _ => member.clone(),
                };
                (key.clone(), member)
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ if variant == template => fresh.clone(),
        _ => variant.clone(),
    }
}

#[tokio::test]
async fn a_challenge_answers_only_the_ceremony_that_issued_it() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let bob = Caller::registered(&app, "bob@example.com").await;
        let mut key = SoftKey::default();
        add_passkey(&app, &ada, &mut key, "Laptop").await;

        // A registration's challenge signed as a sign-in.
        let options = registration_options(&app, &ada).await;
        let request = json!({"publicKey": {
            "challenge": options["publicKey"]["challenge"],
            "rpId": "example.com",
            "userVerification": "required",
        }});
        let assertion = key.get(ORIGIN, &request).await;
        login_finish(&app, &assertion)
            .await
            .problem(401, "passkey_refused");

        // A sign-in's challenge answered with a new credential.
        let signing_in = login_start(&app).await;
        let mut creation = registration_options(&app, &ada).await;
        creation["publicKey"]["challenge"] = signing_in["publicKey"]["challenge"].clone();
        let created = SoftKey::default().create(ORIGIN, &creation).await;
        let refused = finish_registration(&app, &ada, "Phone", &created).await;
        assert_eq!(refused.invalid_fields(), ["credential"], "{backend:?}");

        // Bob's registration finished by Ada.
        let options = registration_options(&app, &bob).await;
        let created = SoftKey::default().create(ORIGIN, &options).await;
        let refused = finish_registration(&app, &ada, "Bob's", &created).await;
        assert_eq!(refused.invalid_fields(), ["credential"], "{backend:?}");
        let listed = ada.get(&app, "/v1/auth/passkeys").await.json();
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            bob.get(&app, "/v1/auth/passkeys").await.json()["items"],
            json!([])
        );
    }
}

/// Names that must be refused, as every name the API keeps refuses them.
const BAD_NAMES: [&str; 8] = [
    "",
    "   ",
    "Lap\u{7}top",
    "Lap\ntop",
    "\u{202E}pot.exe",
    "Lap\u{200B}top",
    "\u{FEFF}Laptop",
    "sixty-five characters: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

#[tokio::test]
async fn a_passkey_name_is_printable_visible_and_short() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();
        let passkey = add_passkey(&app, &ada, &mut key, "Laptop").await;
        let path = format!("/v1/auth/passkeys/{}", passkey["id"].as_str().expect("id"));
        assert_eq!(BAD_NAMES[7].chars().count(), 65);

        for name in BAD_NAMES {
            let renamed = ada
                .call(&app, Method::PATCH, &path, Some(json!({"name": name})))
                .await;
            assert_eq!(renamed.invalid_fields(), ["name"], "{backend:?}: {name:?}");
        }
        // The ceremony waits for a good name: the same answer then adds the passkey.
        let options = registration_options(&app, &ada).await;
        let created = SoftKey::default().create(ORIGIN, &options).await;
        for name in BAD_NAMES {
            let refused = finish_registration(&app, &ada, name, &created).await;
            assert_eq!(refused.invalid_fields(), ["name"], "{backend:?}: {name:?}");
        }
        let added = finish_registration(&app, &ada, "Phone \u{1F4F1}", &created).await;
        assert_eq!(added.status, 201, "{}", added.text());

        let names: Vec<Value> = ada.get(&app, "/v1/auth/passkeys").await.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| p["name"].clone())
            .collect();
        assert_eq!(names, [json!("Laptop"), json!("Phone \u{1F4F1}")]);
    }
}

/// Calls on another user's passkey id, or on one that never was, are alike.
#[tokio::test]
async fn another_users_passkey_is_not_found_whatever_the_call() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let bob = Caller::registered(&app, "bob@example.com").await;
        let passkey = add_passkey(&app, &ada, &mut SoftKey::default(), "Laptop").await;
        let theirs = format!("/v1/auth/passkeys/{}", passkey["id"].as_str().expect("id"));
        let nobodys = "/v1/auth/passkeys/pk_0123456789abcdef0123456789abcdef";
        for path in [theirs.as_str(), nobodys] {
            for (method, body) in [
                (Method::PATCH, Some(json!({"name": "Mine"}))),
                (Method::DELETE, None),
            ] {
                let answer = bob.call(&app, method.clone(), path, body).await;
                answer.problem(404, "passkey_not_found");
            }
        }
        let listed = ada.get(&app, "/v1/auth/passkeys").await.json();
        assert_eq!(listed["items"][0]["name"], "Laptop");
    }
}
