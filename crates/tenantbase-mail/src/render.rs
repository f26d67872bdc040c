//! Rendering: picks the templates (`templates`: the ones in use) and subject of a `MessageKind`, checks the values that
//! escaping cannot make safe (colours, URLs), shows user-chosen names quoted, bounded and
//! unlinkable (`safe::quoted_name`), and fills the text and HTML templates.
//! The `.html` templates auto-escape every variable; the `.txt` ones do not, since the
//! text part is never interpreted as markup.

use minijinja::{Environment, Value, context};

use crate::{Branding, MailError, MessageKind, OutgoingEmail, mime, safe};

/// Renders `message` for the recipient `to` with `branding`. Fails (permanently) when
/// the address, a URL or the colour is unusable; nothing user-provided can add markup.
pub fn render(
    to: &str,
    message: &MessageKind,
    branding: &Branding,
) -> Result<OutgoingEmail, MailError> {
    let templates = crate::templates::active();
    let env = templates
        .as_ref()
        .as_ref()
        .map_err(|e| MailError::Permanent(e.clone()))?;
    render_with(env, to, message, branding)
}

/// [`render`] with the templates of `env` (the ones in use, or a set on trial).
pub(crate) fn render_with(
    env: &Environment<'static>,
    to: &str,
    message: &MessageKind,
    branding: &Branding,
) -> Result<OutgoingEmail, MailError> {
    mime::mailbox("recipient", to)?;
    let product_name = safe::header_text(&branding.product_name);
    let logo_url = branding
        .logo_url
        .as_deref()
        .map(|url| safe::web_url("branding logo URL", url))
        .transpose()?;
    let primary_color = safe::hex_color(&branding.primary_color)?;
    let (template, subject, variables) = parts(message, &product_name)?;
    let context = context! {
        product_name,
        logo_url,
        primary_color,
        support_email => branding.support_email.as_deref(),
        subject => subject.as_str(),
        ..variables
    };
    let fill = |name: String| {
        env.get_template(&name)
            .and_then(|t| t.render(&context))
            .map_err(|e| MailError::Permanent(format!("template {name}: {e:#}")))
    };
    Ok(OutgoingEmail {
        to: to.to_owned(),
        text: fill(format!("{template}.txt"))?,
        html: fill(format!("{template}.html"))?,
        subject,
    })
}

/// The template name, the subject and the template's own variables for `message`.
fn parts(message: &MessageKind, product: &str) -> Result<(&'static str, String, Value), MailError> {
    Ok(match message {
        MessageKind::VerifyEmail { display_name, link } => (
            "verify_email",
            format!("Verify your email for {product}"),
            context! {
                display_name => safe::quoted_name(display_name),
                link => safe::web_url("verification link", link)?,
            },
        ),
        MessageKind::ResetPassword {
            display_name,
            link,
            expires_in_minutes,
        } => (
            "reset_password",
            format!("Reset your {product} password"),
            context! {
                display_name => safe::quoted_name(display_name),
                expires_in_minutes,
                link => safe::web_url("password reset link", link)?,
            },
        ),
        MessageKind::Invitation {
            inviter_name,
            org_name,
            link,
        } => {
            let org_name = safe::quoted_name(org_name);
            (
                "invitation",
                format!("Join {org_name} on {product}"),
                context! {
                    inviter_name => safe::quoted_name(inviter_name),
                    org_name,
                    link => safe::web_url("invitation link", link)?,
                },
            )
        }
        MessageKind::NewSignIn {
            display_name,
            device,
            ip,
            time,
        } => (
            "new_sign_in",
            format!("New sign-in to your {product} account"),
            context! { display_name => safe::quoted_name(display_name), device, ip, time },
        ),
        MessageKind::MfaCode {
            display_name,
            code,
            expires_in_minutes,
            step_up,
        } => (
            // The code stays out of the subject: lock screens show subjects.
            "mfa_code",
            if *step_up {
                format!("Your {product} confirmation code")
            } else {
                format!("Your {product} sign-in code")
            },
            context! {
                display_name => safe::quoted_name(display_name), code, expires_in_minutes, step_up,
            },
        ),
        MessageKind::MfaRemoved {
            display_name,
            factor,
        } => (
            "mfa_removed",
            format!("A sign-in factor was removed from your {product} account"),
            context! { display_name => safe::quoted_name(display_name), factor },
        ),
        MessageKind::ConfirmEmailChange {
            display_name,
            link,
            expires_in_minutes,
        } => (
            "confirm_email_change",
            format!("Confirm your new email for {product}"),
            context! {
                display_name => safe::quoted_name(display_name),
                expires_in_minutes,
                link => safe::web_url("email change link", link)?,
            },
        ),
        MessageKind::EmailChanged { display_name } => (
            "email_changed",
            format!("The email of your {product} account was changed"),
            context! { display_name => safe::quoted_name(display_name) },
        ),
        MessageKind::PasskeyAdded {
            display_name,
            passkey_name,
            time,
        } => (
            "passkey_added",
            format!("A passkey was added to your {product} account"),
            context! {
                display_name => safe::quoted_name(display_name),
                passkey_name => safe::quoted_name(passkey_name),
                time,
            },
        ),
    })
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
