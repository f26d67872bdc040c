//! Tests of `render`: every kind with its variables, escaping of hostile input, and the
//! values that must be refused.

use minijinja::HtmlEscape;

use super::*;

const TO: &str = "Ada Lovelace <ada@example.com>";
const LINK: &str = "https://app.example.com/verify?token=abc123&next=%2Fhome";
const HOSTILE: &str = "<script>alert(\"x\")</script> & 'Co' \" onmouseover=\"alert(1)";

fn escaped(value: &str) -> String {
    HtmlEscape(value).to_string()
}

/// Every kind, with the values of its variables as the text part must show them.
fn every_kind(user_text: &str, link: &str) -> Vec<(MessageKind, Vec<String>)> {
    let text = |suffix: &str| format!("{user_text}{suffix}");
    vec![
        (
            MessageKind::VerifyEmail {
                display_name: text(" (name)"),
                link: link.to_owned(),
            },
            vec![text(" (name)"), link.to_owned()],
        ),
        (
            MessageKind::ResetPassword {
                display_name: text(" (name)"),
                link: link.to_owned(),
                expires_in_minutes: 45,
            },
            vec![text(" (name)"), link.to_owned(), "45 minutes".to_owned()],
        ),
        (
            MessageKind::Invitation {
                inviter_name: text(" (inviter)"),
                org_name: text(" (org)"),
                link: link.to_owned(),
            },
            vec![text(" (inviter)"), text(" (org)"), link.to_owned()],
        ),
        (
            MessageKind::NewSignIn {
                display_name: text(" (name)"),
                device: text(" (device)"),
                ip: text(" (ip)"),
                time: text(" (time)"),
            },
            vec![
                text(" (name)"),
                text(" (device)"),
                text(" (ip)"),
                text(" (time)"),
            ],
        ),
        (
            MessageKind::MfaCode {
                display_name: text(" (name)"),
                code: text(" (code)"),
                expires_in_minutes: 1,
                step_up: false,
            },
            vec![
                text(" (name)"),
                text(" (code)"),
                "1 minute.".to_owned(),
                "sign-in code is:".to_owned(),
            ],
        ),
        (
            MessageKind::MfaCode {
                display_name: text(" (name)"),
                code: text(" (code)"),
                expires_in_minutes: 10,
                step_up: true,
            },
            vec![
                text(" (name)"),
                text(" (code)"),
                "10 minutes.".to_owned(),
                "confirmation code is:".to_owned(),
                "sensitive change".to_owned(),
            ],
        ),
        (
            MessageKind::MfaRemoved {
                display_name: text(" (name)"),
                factor: text(" (factor)"),
            },
            vec![text(" (name)"), text(" (factor)")],
        ),
        (
            MessageKind::PasskeyAdded {
                display_name: text(" (name)"),
                passkey_name: text(" (passkey)"),
                time: text(" (time)"),
            },
            vec![text(" (name)"), text(" (passkey)"), text(" (time)")],
        ),
        (
            MessageKind::ConfirmEmailChange {
                display_name: text(" (name)"),
                link: link.to_owned(),
                expires_in_minutes: 60,
            },
            vec![text(" (name)"), link.to_owned(), "60 minutes".to_owned()],
        ),
        (
            MessageKind::EmailChanged {
                display_name: text(" (name)"),
            },
            vec![text(" (name)")],
        ),
    ]
}

#[test]
fn every_kind_renders_text_and_html_with_its_variables() {
    for (message, values) in every_kind("Ada", LINK) {
        let email = render(TO, &message, &Branding::default()).expect("renders");
        assert_eq!(email.to, TO);
        assert!(email.subject.contains("tenantbase"), "{}", email.subject);
        assert!(email.subject.chars().count() <= 80, "{}", email.subject);
        assert!(email.html.starts_with("<!DOCTYPE html>"), "{message:?}");
        assert!(email.html.contains("#2f6feb"), "{message:?}");
        for value in &values {
            assert!(
                email.text.contains(value.as_str()),
                "{value:?} not in text:\n{}",
                email.text
            );
            assert!(
                email.html.contains(&escaped(value)),
                "{value:?} not in HTML:\n{}",
                email.html
            );
        }
    }
}

#[test]
fn the_text_part_has_no_markup_and_no_entities() {
    for (message, _) in every_kind("Ada", LINK) {
        let email = render(TO, &message, &Branding::default()).expect("renders");
        assert!(
            !email.text.contains(['<', '>']),
            "markup in text:\n{}",
            email.text
        );
        assert!(
            !email.text.contains("&amp;") && !email.text.contains("&#"),
            "{}",
            email.text
        );
        assert!(
            email.text.trim_end().ends_with("tenantbase"),
            "{}",
            email.text
        );
    }
}

#[test]
fn user_text_is_escaped_in_html_and_verbatim_in_text() {
    for (message, values) in every_kind(HOSTILE, LINK) {
        let email = render(TO, &message, &Branding::default()).expect("renders");
        assert!(
            !email.html.contains("<script"),
            "{message:?}:\n{}",
            email.html
        );
        assert!(
            !email.html.contains("\" onmouseover"),
            "{message:?}:\n{}",
            email.html
        );
        assert!(!email.html.contains("'Co'"), "{message:?}:\n{}", email.html);
        assert!(email.html.contains("&lt;script&gt;"), "{message:?}");
        assert!(email.html.contains("&quot;x&quot;"), "{message:?}");
        assert!(email.html.contains(" &amp; "), "{message:?}");
        // Only user fields are checked: a link has no `<` to begin with. Names are cut
        // at 64 characters, so their start is compared.
        for value in values.iter().filter(|v| v.starts_with("<script>")) {
            let start: String = value.chars().take(40).collect();
            assert!(email.text.contains(&start), "{value:?} changed in text");
        }
    }
}

#[test]
fn subjects_stay_one_short_line() {
    let message = MessageKind::Invitation {
        inviter_name: "Eve".to_owned(),
        org_name: format!("Acme\r\nBcc: victim@example.com {}", "x".repeat(200)),
        link: LINK.to_owned(),
    };
    let email = render(TO, &message, &Branding::default()).expect("renders");
    assert!(!email.subject.contains(['\r', '\n']), "{:?}", email.subject);
    assert!(
        email
            .subject
            .starts_with("Join “Acme Bcc: victim@example[.]com x"),
        "{:?}",
        email.subject
    );
    assert!(
        email.subject.ends_with("…” on tenantbase"),
        "{:?}",
        email.subject
    );
    assert!(email.subject.chars().count() < 90, "{:?}", email.subject);
}

#[test]
fn names_holding_a_url_are_quoted_one_line_and_not_links() {
    let message = MessageKind::Invitation {
        inviter_name: "IT desk\r\nhttps://evil.example/login".to_owned(),
        org_name: format!(
            "Your account is locked: visit www.evil.example {}",
            "!".repeat(80)
        ),
        link: LINK.to_owned(),
    };
    let email = render(TO, &message, &Branding::default()).expect("renders");
    let inviter = "“IT desk https[:]//evil[.]example/login”";
    for (part, body, inviter) in [
        ("text", &email.text, inviter.to_owned()),
        ("html", &email.html, escaped(inviter)),
    ] {
        for linkable in [
            "https://evil",
            "https:&#x2f;&#x2f;evil",
            "evil.example",
            "www.evil",
        ] {
            assert!(!body.contains(linkable), "{linkable} in {part}:\n{body}");
        }
        assert!(body.contains(&inviter), "{part}:\n{body}");
        assert!(
            body.contains("“Your account is locked: visit www[.]evil[.]example !"),
            "{part}:\n{body}"
        );
        assert!(
            body.contains("!…”"),
            "cut with an ellipsis in {part}:\n{body}"
        );
    }
    // Only the real link is one.
    assert_eq!(email.html.matches("href=").count(), 2, "{}", email.html);
}

#[test]
fn branding_reaches_subject_text_and_html() {
    let branding = Branding {
        product_name: "Acme Cloud".to_owned(),
        logo_url: Some("https://cdn.example.com/logo.png?v=2&s=64".to_owned()),
        primary_color: "#C0FFEE".to_owned(),
        support_email: Some("help@acme.example".to_owned()),
    };
    let (message, _) = every_kind("Ada", LINK).remove(0);
    let email = render(TO, &message, &branding).expect("renders");
    assert_eq!(email.subject, "Verify your email for Acme Cloud");
    assert!(
        email
            .text
            .contains("Acme Cloud · Questions? Write to help@acme.example")
    );
    assert!(email.html.contains("#C0FFEE"));
    let logo = escaped("https://cdn.example.com/logo.png?v=2&s=64");
    assert!(
        email.html.contains(&format!("<img src=\"{logo}\"")),
        "{}",
        email.html
    );
    assert!(email.html.contains("help@acme.example"));

    let plain = render(TO, &message, &Branding::default()).expect("renders");
    assert!(
        !plain.html.contains("<img"),
        "no logo configured, none shown"
    );
    assert!(!plain.text.contains("Questions?"));
}

#[test]
fn a_bad_colour_is_refused() {
    let (message, _) = every_kind("Ada", LINK).remove(0);
    for colour in [
        "red",
        "#12345",
        "#fff;background:url(https://evil)",
        "\"><script>",
    ] {
        let branding = Branding {
            primary_color: colour.to_owned(),
            ..Branding::default()
        };
        let error = render(TO, &message, &branding).expect_err(colour);
        assert!(!error.is_transient(), "{colour}");
    }
}

#[test]
fn script_and_other_non_web_urls_are_refused() {
    for bad in [
        "javascript:alert(document.cookie)",
        "data:text/html,x",
        "/relative",
    ] {
        let with_link: Vec<_> = every_kind("Ada", bad)
            .into_iter()
            .filter(|(m, _)| {
                !matches!(
                    m,
                    MessageKind::NewSignIn { .. }
                        | MessageKind::MfaCode { .. }
                        | MessageKind::MfaRemoved { .. }
                        | MessageKind::PasskeyAdded { .. }
                        | MessageKind::EmailChanged { .. }
                )
            })
            .collect();
        assert_eq!(with_link.len(), 4);
        for (message, _) in with_link {
            let error = render(TO, &message, &Branding::default()).expect_err(bad);
            assert!(!error.is_transient(), "{message:?}");
        }
        let branding = Branding {
            logo_url: Some(bad.to_owned()),
            ..Branding::default()
        };
        let (message, _) = every_kind("Ada", LINK).remove(0);
        assert!(render(TO, &message, &branding).is_err(), "logo {bad}");
    }
}

#[test]
fn a_bad_recipient_is_refused() {
    let (message, _) = every_kind("Ada", LINK).remove(0);
    for bad in ["", "ada", "ada@", "<script>@example.com"] {
        let error = render(bad, &message, &Branding::default()).expect_err(bad);
        assert!(!error.is_transient());
    }
}

#[test]
fn an_empty_display_name_leaves_no_gap() {
    let message = MessageKind::VerifyEmail {
        display_name: String::new(),
        link: LINK.to_owned(),
    };
    let email = render(TO, &message, &Branding::default()).expect("renders");
    assert!(email.text.starts_with("Hi,\n"), "{}", email.text);
    assert!(email.html.contains("<p>Hi,</p>"));
}

#[test]
fn messages_and_emails_travel_as_json() {
    let message: MessageKind = serde_json::from_value(serde_json::json!({
        "template": "mfa_code", "display_name": "Ada", "code": "123456", "expires_in_minutes": 10,
    }))
    .expect("a job payload parses");
    assert!(matches!(&message, MessageKind::MfaCode { code, .. } if code == "123456"));
    let json = serde_json::to_value(&message).expect("serializes");
    assert_eq!(json["template"], "mfa_code");

    let email = render(TO, &message, &Branding::default()).expect("renders");
    let back: OutgoingEmail =
        serde_json::from_str(&serde_json::to_string(&email).expect("serializes")).expect("parses");
    assert_eq!(back, email);
}

#[test]
fn a_step_up_code_says_what_it_confirms() {
    let code = |step_up| MessageKind::MfaCode {
        display_name: "Ada".to_owned(),
        code: "123456".to_owned(),
        expires_in_minutes: 10,
        step_up,
    };
    let sign_in = render(TO, &code(false), &Branding::default()).expect("renders");
    let step_up = render(TO, &code(true), &Branding::default()).expect("renders");
    assert_eq!(sign_in.subject, "Your tenantbase sign-in code");
    assert_eq!(step_up.subject, "Your tenantbase confirmation code");
    for part in [&step_up.text, &step_up.html] {
        assert!(part.contains("confirmation code is:"), "{part}");
        assert!(!part.contains("try to sign in"), "{part}");
    }
    assert!(sign_in.text.contains("If you did not try to sign in"));
}
