//! Loading the configuration from every source, and the refusals of bad values.

use super::*;
use tenantbase_store_sqlite::Synchronous;

#[test]
fn defaults_are_safe() {
    figment::Jail::expect_with(|_jail| {
        let config = Config::load(&Overrides::default()).expect("defaults load");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.database_kind().expect("kind"), DatabaseKind::Sqlite);
        assert_eq!(
            config.database_url().expose_secret(),
            "sqlite://./data/tenantbase.db"
        );
        assert!(config.http.hsts_max_age_secs.is_none());
        assert!(!config.log.probes, "probes are not logged by default");
        assert_eq!(config.log.queue_lines, 8192);
        Ok(())
    });
}

#[test]
fn pools_and_write_slots_default_by_backend() {
    figment::Jail::expect_with(|jail| {
        let sqlite = Config::load(&Overrides::default()).expect("sqlite defaults");
        assert_eq!(
            (sqlite.max_connections(), sqlite.max_concurrent_writes()),
            (10, 64),
            "SQLite: ten readers, and the writes a batch carries"
        );
        jail.set_env("DATABASE_URL", "postgres://u@localhost/db");
        let postgres = Config::load(&Overrides::default()).expect("postgres defaults");
        assert_eq!(
            (postgres.max_connections(), postgres.max_concurrent_writes()),
            (32, 16),
            "PostgreSQL: a pool of 32, half of it for writes"
        );
        jail.set_env("TENANTBASE_DATABASE__MAX_CONNECTIONS", "10");
        let set = Config::load(&Overrides::default()).expect("a pool set");
        assert_eq!(
            (set.max_connections(), set.max_concurrent_writes()),
            (10, 5)
        );
        jail.set_env("TENANTBASE_HTTP__MAX_CONCURRENT_WRITES", "7");
        let both = Config::load(&Overrides::default()).expect("both set");
        assert_eq!(both.max_concurrent_writes(), 7);
        Ok(())
    });
}

#[test]
fn file_then_env_then_flags() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "tb.toml",
            "listen = \"127.0.0.1:1111\"\ndata_dir = \"/file\"\n[http]\nbody_limit_bytes = 10\n",
        )?;
        jail.set_env("TENANTBASE_DATA_DIR", "/env");
        jail.set_env("TENANTBASE_HTTP__REQUEST_TIMEOUT_SECS", "7");
        jail.set_env("DATABASE_URL", "postgres://u@localhost/db");
        let overrides = Overrides {
            config_file: Some(PathBuf::from("tb.toml")),
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 2222))),
            ..Overrides::default()
        };
        let config = Config::load(&overrides).expect("loads");
        assert_eq!(config.listen.port(), 2222, "flag wins over file");
        assert_eq!(config.data_dir, PathBuf::from("/env"), "env wins over file");
        assert_eq!(config.http.body_limit_bytes, 10, "file wins over default");
        assert_eq!(config.http.request_timeout_secs, 7);
        assert_eq!(
            config.database_kind().expect("kind"),
            DatabaseKind::Postgres
        );
        Ok(())
    });
}

#[test]
fn bad_values_name_their_key() {
    let cases: [(&str, &str, &str); 18] = [
        (
            "TENANTBASE_HTTP__BODY_LIMIT_BYTES",
            "lots",
            "body_limit_bytes",
        ),
        (
            "TENANTBASE_HTTP__BODY_LIMIT_BYTES",
            "0",
            "http.body_limit_bytes",
        ),
        // Exactly an upload's life plus a completion's lease: no margin.
        (
            "TENANTBASE_FILES__ORPHAN_GRACE_MINUTES",
            "90",
            "files.orphan_grace_minutes",
        ),
        (
            "TENANTBASE_AUTH__KEEP_ENDED_DAYS",
            "3651",
            "auth.keep_ended_days",
        ),
        // A deletion's purge would be due past any date there is.
        (
            "TENANTBASE_ORGS__RESTORE_DAYS",
            "4294967295",
            "orgs.restore_days",
        ),
        (
            "TENANTBASE_AUTH__PASSWORD_MIN_CHARS",
            "7",
            "auth.password_min_chars",
        ),
        // No password could be long enough.
        (
            "TENANTBASE_AUTH__PASSWORD_MIN_CHARS",
            "129",
            "auth.password_min_chars",
        ),
        // Every auth route would answer 429.
        (
            "TENANTBASE_AUTH__RATE_LIMIT_PER_MINUTE",
            "0",
            "auth.rate_limit_per_minute",
        ),
        ("TENANTBASE_LISTEN", "nowhere", "listen"),
        ("TENANTBASE_LOG__LEVEL", "info,=[", "log.level"),
        ("TENANTBASE_LOG__QUEUE_LINES", "0", "log.queue_lines"),
        (
            "TENANTBASE_HTTP__HEADER_READ_TIMEOUT_SECS",
            "0",
            "http.header_read_timeout_secs",
        ),
        // Every invitation would be born expired.
        (
            "TENANTBASE_ORGS__INVITATION_TTL_HOURS",
            "0",
            "orgs.invitation_ttl_hours",
        ),
        // Past any date a database keeps.
        (
            "TENANTBASE_ORGS__INVITATION_TTL_HOURS",
            "4294967295",
            "orgs.invitation_ttl_hours",
        ),
        (
            "TENANTBASE_HTTP__HEADER_READ_TIMEOUT_SECS",
            "18446744073709551615",
            "http.header_read_timeout_secs",
        ),
        (
            "TENANTBASE_HTTP__WRITE_TIMEOUT_SECS",
            "0",
            "http.write_timeout_secs",
        ),
        (
            "TENANTBASE_HTTP__WRITE_TIMEOUT_SECS",
            "3601",
            "http.write_timeout_secs",
        ),
        ("TENANTBASE_NO_SUCH_KEY", "1", "no_such_key"),
    ];
    for (var, value, key) in cases {
        figment::Jail::expect_with(|jail| {
            jail.set_env(var, value);
            let error = Config::load(&Overrides::default()).expect_err("rejected");
            let message = format!("{error:#}");
            assert!(message.contains(key), "{var}={value}: {message}");
            Ok(())
        });
    }
}

#[test]
fn trusted_proxies_take_addresses_and_cidrs() {
    figment::Jail::expect_with(|jail| {
        jail.set_env(
            "TENANTBASE_HTTP__TRUSTED_PROXIES",
            "[127.0.0.1, 10.0.0.0/8]",
        );
        let config = Config::load(&Overrides::default()).expect("loads");
        let expected: Vec<ipnet::IpNet> = ["127.0.0.1/32", "10.0.0.0/8"]
            .iter()
            .map(|net| net.parse().expect("net"))
            .collect();
        assert_eq!(config.http.trusted_proxies, expected);
        Ok(())
    });
}

#[test]
fn unknown_database_scheme_is_rejected() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("DATABASE_URL", "mysql://x");
        let error = Config::load(&Overrides::default()).expect_err("rejected");
        assert!(error.to_string().contains("database_url"));
        Ok(())
    });
}

#[test]
fn sqlite_synchronous_is_full_unless_set_and_only_full_or_normal() {
    figment::Jail::expect_with(|jail| {
        let config = Config::load(&Overrides::default()).expect("defaults load");
        assert_eq!(config.database.sqlite_synchronous, Synchronous::Full);
        jail.set_env("TENANTBASE_DATABASE__SQLITE_SYNCHRONOUS", "normal");
        let config = Config::load(&Overrides::default()).expect("normal loads");
        assert_eq!(config.database.sqlite_synchronous, Synchronous::Normal);
        jail.set_env("TENANTBASE_DATABASE__SQLITE_SYNCHRONOUS", "off");
        let error = Config::load(&Overrides::default()).expect_err("off is refused");
        assert!(
            format!("{error:#}").contains("sqlite_synchronous"),
            "{error:#}"
        );
        Ok(())
    });
}

#[test]
fn missing_config_file_is_an_error() {
    figment::Jail::expect_with(|_jail| {
        let overrides = Overrides {
            config_file: Some(PathBuf::from("absent.toml")),
            ..Overrides::default()
        };
        let error = Config::load(&overrides).expect_err("rejected");
        assert!(error.to_string().contains("absent.toml"));
        Ok(())
    });
}

#[test]
fn debug_hides_the_database_url() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("DATABASE_URL", "postgres://user:hunter2@db/x");
        let config = Config::load(&Overrides::default()).expect("loads");
        assert!(!format!("{config:?}").contains("hunter2"));
        Ok(())
    });
}

/// A provider as the README shows it, with `extra` lines appended to its table.
fn oidc_toml(issuer: &str, extra: &str) -> String {
    format!(
        "[auth.oidc]\npublic_url = \"https://api.example.com\"\n\
         [[auth.oidc.providers]]\nname = \"corp\"\nissuer = \"{issuer}\"\n\
         client_id = \"tenantbase\"\nclient_secret = \"s3cret-value\"\n\
         redirect_uris = [\"https://app.example.com/signed-in\"]\n{extra}"
    )
}

#[test]
fn oidc_providers_load_and_keep_their_secret_out_of_debug() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "tb.toml",
            &oidc_toml(
                "https://login.example.com",
                "claims = { email = \"upn\" }\nrequire_code_challenge = true\n",
            ),
        )?;
        let overrides = Overrides {
            config_file: Some(PathBuf::from("tb.toml")),
            ..Overrides::default()
        };
        let config = Config::load(&overrides).expect("loads");
        let provider = &config.auth.oidc.providers[0];
        assert_eq!(provider.claims.email, "upn");
        assert_eq!(
            provider.claims.name, "name",
            "unset claim names keep their default"
        );
        assert_eq!(provider.scopes, ["email", "profile"]);
        assert!(provider.require_code_challenge);
        assert!(!format!("{config:?}").contains("s3cret-value"));
        Ok(())
    });
}

#[test]
fn unusable_oidc_providers_are_refused_at_start_up() {
    let cases = [
        (oidc_toml("http://login.example.com", ""), "issuer"),
        (
            oidc_toml("https://login.example.com", "scopes = [\"two words\"]\n"),
            "scopes",
        ),
        (
            oidc_toml("https://login.example.com", "").replace(
                "https://app.example.com/signed-in",
                "https://app.example.com/#x",
            ),
            "redirect_uris",
        ),
        (
            oidc_toml("https://login.example.com", "").replace("\"corp\"", "\"Corp!\""),
            "name",
        ),
        (
            oidc_toml("https://login.example.com", "").replace("s3cret-value", " "),
            "client_secret",
        ),
    ];
    for (toml, key) in cases {
        figment::Jail::expect_with(|jail| {
            jail.create_file("tb.toml", &toml)?;
            let overrides = Overrides {
                config_file: Some(PathBuf::from("tb.toml")),
                ..Overrides::default()
            };
            let error = Config::load(&overrides).expect_err(key).to_string();
            assert!(
                error.contains("auth.oidc.providers") && error.contains(key),
                "{key}: {error}"
            );
            Ok(())
        });
    }
}
