//! The templates in use: the built-in ones, compiled into the binary so that a deployment
//! cannot lose them, each optionally replaced by a file of the same name in a folder
//! (`mail.templates_dir`), which a config reload reads again. A new set takes over only
//! once every message kind renders with it; until then the running set stays.

use std::path::Path;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};

use crate::{Branding, MailError, MessageKind};

/// `(name, source)` of a file in `templates/`.
macro_rules! template {
    ($name:literal) => {
        ($name, include_str!(concat!("../templates/", $name)))
    };
}

/// Every template; a kind's pair is `<kind>.txt` and `<kind>.html`, both extending a layout.
const BUILT_IN: &[(&str, &str)] = &[
    template!("layout.html"),
    template!("layout.txt"),
    template!("verify_email.html"),
    template!("verify_email.txt"),
    template!("reset_password.html"),
    template!("reset_password.txt"),
    template!("invitation.html"),
    template!("invitation.txt"),
    template!("new_sign_in.html"),
    template!("new_sign_in.txt"),
    template!("mfa_code.html"),
    template!("mfa_code.txt"),
    template!("mfa_removed.html"),
    template!("mfa_removed.txt"),
    template!("passkey_added.html"),
    template!("passkey_added.txt"),
    template!("confirm_email_change.html"),
    template!("confirm_email_change.txt"),
    template!("email_changed.html"),
    template!("email_changed.txt"),
];

/// A compiled set; an error here (built-ins only) is a bug, reported on every render.
pub(crate) type Templates = Arc<Result<Environment<'static>, String>>;

static ACTIVE: LazyLock<RwLock<Templates>> =
    LazyLock::new(|| RwLock::new(Arc::new(environment(Vec::new()))));

/// The set renders use now.
pub(crate) fn active() -> Templates {
    ACTIVE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Puts the built-in templates, with the files of `folder` in place of those of the same
/// name, in use for every message rendered from now on; `None` goes back to the built-in
/// ones. Refused, with the running set kept, when a file is not named after a built-in
/// template (`verify_email.html`, `layout.txt`, …), cannot be read, does not compile, or
/// a message kind does not render with it. Answers the names replaced.
pub fn use_templates(folder: Option<&Path>) -> Result<Vec<String>, MailError> {
    let replaced = match folder {
        Some(folder) => read_folder(folder)?,
        None => Vec::new(),
    };
    let names = replaced.iter().map(|(name, _)| name.clone()).collect();
    let env = environment(replaced).map_err(MailError::Permanent)?;
    for message in samples() {
        crate::render::render_with(
            &env,
            "Sample <sample@example.com>",
            &message,
            &Branding::default(),
        )?;
    }
    *ACTIVE.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Ok(env));
    Ok(names)
}

/// The template files of `folder`. Hidden entries and folders are skipped: a Kubernetes
/// config map mounts its files through `..data` links.
fn read_folder(folder: &Path) -> Result<Vec<(String, String)>, MailError> {
    let refuse = |why: String| MailError::Permanent(format!("mail.templates_dir: {why}"));
    let entries = std::fs::read_dir(folder)
        .map_err(|e| refuse(format!("reading {}: {e}", folder.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| refuse(e.to_string()))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.starts_with('.') || path.is_dir() {
            continue;
        }
        if !BUILT_IN.iter().any(|(known, _)| *known == name) {
            return Err(refuse(format!("{name} is not the name of a template")));
        }
        let source =
            std::fs::read_to_string(&path).map_err(|e| refuse(format!("reading {name}: {e}")))?;
        files.push((name, source));
    }
    Ok(files)
}

fn environment(replaced: Vec<(String, String)>) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    // A variable that the template expects and the code forgot is a bug: fail rather
    // than send an email with a hole in it.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Block tags on lines of their own leave no blank lines behind.
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| format!("template syntax: {e}"))?;
    env.set_syntax(syntax);
    for (name, source) in BUILT_IN {
        if !replaced.iter().any(|(own, _)| own == name) {
            env.add_template(name, source)
                .map_err(|e| format!("template {name}: {e:#}"))?;
        }
    }
    for (name, source) in replaced {
        let error = |e: minijinja::Error| format!("template {name}: {e:#}");
        env.add_template_owned(name.clone(), source)
            .map_err(error)?;
    }
    Ok(env)
}

/// One message of each kind, to try a new set with before it goes live.
fn samples() -> Vec<MessageKind> {
    let link = || "https://app.example.com/sample?token=t".to_owned();
    let text = |s: &str| s.to_owned();
    vec![
        MessageKind::VerifyEmail {
            display_name: text("Ada"),
            link: link(),
        },
        MessageKind::ResetPassword {
            display_name: text("Ada"),
            link: link(),
            expires_in_minutes: 30,
        },
        MessageKind::Invitation {
            inviter_name: text("Ada"),
            org_name: text("Acme"),
            link: link(),
        },
        MessageKind::NewSignIn {
            display_name: text("Ada"),
            device: text("Firefox on Linux"),
            ip: text("192.0.2.1"),
            time: text("2025-01-01 12:00 UTC"),
        },
        MessageKind::MfaCode {
            display_name: text("Ada"),
            code: text("123456"),
            expires_in_minutes: 10,
            step_up: false,
        },
        MessageKind::MfaRemoved {
            display_name: text("Ada"),
            factor: text("totp"),
        },
        MessageKind::PasskeyAdded {
            display_name: text("Ada"),
            passkey_name: text("Laptop"),
            time: text("2025-01-01 12:00 UTC"),
        },
        MessageKind::ConfirmEmailChange {
            display_name: text("Ada"),
            link: link(),
            expires_in_minutes: 60,
        },
        MessageKind::EmailChanged {
            display_name: text("Ada"),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_templates_compile() {
        if let Err(e) = environment(Vec::new()) {
            panic!("{e}");
        }
    }

    #[test]
    fn a_broken_or_unknown_file_keeps_the_running_set() {
        let folder = tempfile::tempdir().expect("dir");
        std::fs::write(folder.path().join("verify_email.txt"), "{{ unclosed").expect("write");
        assert!(
            use_templates(Some(folder.path())).is_err(),
            "does not compile"
        );
        std::fs::write(
            folder.path().join("verify_email.txt"),
            "{{ no_such_variable }}",
        )
        .expect("write");
        assert!(
            use_templates(Some(folder.path())).is_err(),
            "does not render"
        );
        std::fs::remove_file(folder.path().join("verify_email.txt")).expect("rm");
        std::fs::write(folder.path().join("welcome.txt"), "hi").expect("write");
        assert!(use_templates(Some(folder.path())).is_err(), "unknown name");
        let built_in = active();
        assert!(
            built_in.as_ref().is_ok(),
            "the built-in set is still in use"
        );
    }
}
