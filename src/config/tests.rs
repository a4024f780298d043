use super::*;

const MINIMAL: &str = r#"
        [tls]
        self_signed = true
        [upstream]
        url = "http://127.0.0.1:8000"
        [auth.basic]
        htpasswd = "config/htpasswd"
        [[route]]
        path = "/api/jobs"
        methods = ["GET", "post"]
        [[route]]
        path = "/health"
        auth = "none"
    "#;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", &Env::from_pairs(env.iter().copied()))
}

fn error_text(text: &str, env: &[(&str, &str)]) -> String {
    match load(text, env) {
        Ok(_) => panic!("config was accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Defaults are the safe ones: loopback bind, 500 MB cap, UIs hidden, auth = basic.
#[test]
fn minimal_config_gets_safe_defaults() {
    let cfg = load(MINIMAL, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.server.listen,
        "127.0.0.1:8443".parse().unwrap_or_else(|_| unreachable!())
    );
    assert_eq!(cfg.max_body_bytes, 524_288_000);
    assert_eq!(cfg.ui, UiSwitches::default());
    assert_eq!(cfg.routes[0].auth, vec![AuthMethod::Basic]);
    assert!(cfg.routes[1].is_public());
    assert_eq!(cfg.routes[0].methods, Some(vec![Method::GET, Method::POST]));
}

/// A typo is an error naming the key, never silently ignored.
#[test]
fn unknown_key_is_named() {
    let text = MINIMAL.replace("[ui]", "").to_string() + "\n[ui]\ndashbord = true\n";
    let err = error_text(&text, &[]);
    assert!(err.contains("dashbord"), "{err}");
    assert!(err.contains("test.toml"), "{err}");
}

/// 0.0.0.0 is refused with a message naming the key and the env variable.
#[test]
fn public_bind_needs_acknowledgement() {
    let text = format!("[server]\nlisten = \"0.0.0.0:8443\"\n{MINIMAL}");
    let err = error_text(&text, &[]);
    assert!(err.contains("allow_public_bind"), "{err}");
    assert!(err.contains("FRONTDOOR_SERVER_ALLOW_PUBLIC_BIND"), "{err}");
    assert!(err.contains("server.listen"), "{err}");
    let cfg = load(&text, &[("FRONTDOOR_SERVER_ALLOW_PUBLIC_BIND", "true")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.server.allow_public_bind);
    let text6 = format!("[server]\nlisten = \"[::]:8443\"\n{MINIMAL}");
    assert!(error_text(&text6, &[]).contains("allow_public_bind"));
}

/// FRONTDOOR_UI_DASHBOARD=true turns a hidden UI on, typed as a bool.
#[test]
fn env_overrides_scalars() {
    let cfg = load(
        MINIMAL,
        &[
            ("FRONTDOOR_UI_DASHBOARD", "true"),
            ("FRONTDOOR_LIMITS_MAX_BODY_BYTES", "1000"),
            ("FRONTDOOR_AUTH_BASIC_REALM", "agent"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.ui.dashboard);
    assert_eq!(cfg.max_body_bytes, 1000);
    let lists = load(
        MINIMAL,
        &[
            ("FRONTDOOR_SERVER_HOSTS", "a.example, B.example"),
            ("FRONTDOOR_SERVER_TRUSTED_PROXIES", "10.0.0.0/8"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        lists.server.hosts,
        vec!["a.example".to_string(), "b.example".to_string()]
    );
    assert_eq!(lists.server.trusted_proxies.len(), 1);
    assert_eq!(cfg.basic.map(|b| b.realm), Some("agent".to_string()));
    let err = error_text(MINIMAL, &[("FRONTDOOR_UI_DASHBORD", "true")]);
    assert!(err.contains("dashbord"), "{err}");
}

/// `${VAR}` and `file:` references resolve; a missing one names the key.
#[test]
fn references_resolve() {
    let text = MINIMAL.replace("\"config/htpasswd\"", "\"${HT}\"");
    let cfg = load(&text, &[("HT", "/etc/ht")]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.basic.map(|b| b.htpasswd),
        Some(PathBuf::from("/etc/ht"))
    );
    let err = error_text(&text, &[]);
    assert!(
        err.contains("auth.basic.htpasswd") && err.contains("HT"),
        "{err}"
    );
    let text = MINIMAL.replace("\"config/htpasswd\"", "\"file:/nonexistent/x\"");
    let err = error_text(&text, &[]);
    assert!(err.contains("/nonexistent/x"), "{err}");
}

/// Routes that cannot be enforced as written are refused.
#[test]
fn bad_routes_are_refused() {
    for (route, needle) in [
        ("path = \"/api/../admin\"", "normal form"),
        ("path = \"/api//x\"", "normal form"),
        ("path = \"api\"", "route[2].path"),
        ("path = \"/x\"\nauth = \"oidc\"", "oidc"),
        ("path = \"/x\"\nauth = [\"none\", \"basic\"]", "none"),
        ("path = \"/x\"\nmethods = []", "methods"),
        ("path = \"/x\"\nmethods = [\"G T\"]", "not a method"),
    ] {
        let text = format!("{MINIMAL}\n[[route]]\n{route}\n");
        let err = error_text(&text, &[]);
        assert!(err.contains(needle), "{route}: {err}");
    }
    let text = MINIMAL.replace("[auth.basic]\n        htpasswd = \"config/htpasswd\"", "");
    assert!(error_text(&text, &[]).contains("[auth.basic] is not configured"));
}

/// Values that would silently weaken or break the front door are refused.
#[test]
fn risky_server_values_are_refused() {
    for (server, key) in [
        ("hosts = [\"agent.example.com:443\"]", "server.hosts[0]"),
        (
            "trusted_proxies = [\"10.0.0.1/0\"]",
            "server.trusted_proxies[0]",
        ),
        ("max_header_bytes = 4096", "server.max_header_bytes"),
        ("max_connections = 0", "server.max_connections"),
    ] {
        let text = format!("[server]\n{server}\n{MINIMAL}");
        let err = error_text(&text, &[]);
        assert!(err.contains(key), "{server}: {err}");
    }
    let ok = format!("[server]\nhosts = [\"[::1]\", \"Agent.Example.com\"]\n{MINIMAL}");
    assert!(load(&ok, &[]).is_ok());
}

/// `[tls.acme]`: defaults, the staging switch, env overrides, and every bad value named.
#[test]
fn acme_settings() {
    let base = MINIMAL.replace("self_signed = true", "");
    let with = |acme: &str| format!("{base}\n[tls.acme]\n{acme}\n");
    let cfg = load(
            &with("domains = [\"Agent.Example.com\", \"agent.example.com\"]\ncontact = \"ops@example.com\""),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let TlsSettings::Acme(acme) = &cfg.tls else {
        panic!("not ACME: {:?}", cfg.tls)
    };
    assert_eq!(acme.domains, vec!["agent.example.com".to_string()]);
    assert_eq!(acme.contact.as_deref(), Some("mailto:ops@example.com"));
    assert_eq!(acme.directory, LETS_ENCRYPT_PRODUCTION);
    assert_eq!(acme.challenge, AcmeChallenge::TlsAlpn01);
    assert_eq!(acme.cache_dir, PathBuf::from("certs/acme"));
    let staging = load(&with("domains = [\"a.example.com\"]\nstaging = true"), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&staging.tls, TlsSettings::Acme(a) if a.directory == LETS_ENCRYPT_STAGING));
    let from_env = load(
        &with(""),
        &[("FRONTDOOR_TLS_ACME_DOMAINS", "a.example.com, b.example.com")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&from_env.tls, TlsSettings::Acme(a) if a.domains.len() == 2));

    for (acme, key, words) in [
        ("", "tls.acme.domains", "list the names"),
        (
            "domains = [\"*.example.com\"]",
            "tls.acme.domains",
            "DNS-01",
        ),
        (
            "domains = [\"203.0.113.7\"]",
            "tls.acme.domains",
            "IP addresses",
        ),
        ("domains = [\"localhost\"]", "tls.acme.domains", "full name"),
        (
            "domains = [\"a_b.example.com\"]",
            "tls.acme.domains",
            "not a valid DNS label",
        ),
        (
            "domains = [\"a.example.com\"]\ncontact = \"nobody\"",
            "tls.acme.contact",
            "email",
        ),
        (
            "domains = [\"a.example.com\"]\ndirectory = \"http://ca.example/dir\"",
            "tls.acme.directory",
            "https://",
        ),
        (
            "domains = [\"a.example.com\"]\ndirectory = \"https://ca.example/dir\"\nstaging = true",
            "tls.acme.staging",
            "remove",
        ),
        (
            "domains = [\"a.example.com\"]\nchallenge = \"dns-01\"",
            "tls.acme.challenge",
            "not supported",
        ),
        (
            "domains = [\"a.example.com\"]\nchallenge = \"http-01\"",
            "tls.acme.challenge",
            "http_listen",
        ),
        (
            "domains = [\"a.example.com\"]\nemail = \"x@example.com\"",
            "email",
            "unknown field",
        ),
    ] {
        let err = error_text(&with(acme), &[]);
        assert!(err.contains(key) && err.contains(words), "{acme}: {err}");
    }
    let both = format!("{MINIMAL}\n[tls.acme]\ndomains = [\"a.example.com\"]\n");
    assert!(error_text(&both, &[]).contains("cannot be combined"));
    let http01 = format!(
        "[server]\nhttp_listen = \"127.0.0.1:8080\"\n{}",
        with("domains = [\"a.example.com\"]\nchallenge = \"http-01\"")
    );
    assert!(load(&http01, &[]).is_ok());
}

/// `[auth.oidc]` and `[session]`: defaults, references for secrets, and bad values named.
#[test]
fn oidc_settings() {
    const OIDC: &str = r#"
            [auth.oidc]
            issuer = "https://id.example.com"
            client_id = "frontdoor"
            client_secret = "${SECRET}"
            redirect_url = "https://agent.example.com/_frontdoor/callback"
            [session]
            cookie_key = "${KEY}"
            lifetime = "8h"
            [[route]]
            path = "/app"
            auth = ["oidc", "basic"]
            allow_groups = ["admins"]
        "#;
    let env = [
        ("SECRET", "s3cret"),
        ("KEY", "0123456789abcdef0123456789abcdef"),
    ];
    let text = format!("{MINIMAL}{OIDC}");
    let cfg = load(&text, &env).unwrap_or_else(|e| panic!("{e}"));
    let oidc = cfg.oidc.clone().unwrap_or_else(|| panic!("no oidc"));
    assert_eq!(oidc.scopes, vec!["openid", "email", "profile"]);
    assert_eq!(oidc.groups_claim, "groups");
    assert_eq!(oidc.audience, "frontdoor");
    assert_eq!(oidc.redirect_path, "/_frontdoor/callback");
    assert_eq!(oidc.client_secret, "s3cret");
    let session = cfg.session.clone().unwrap_or_else(|| panic!("no session"));
    assert_eq!(session.lifetime, Duration::from_secs(8 * 3600));
    assert_eq!(session.refresh_interval, Duration::from_secs(3600));
    assert_eq!(
        cfg.routes[2].auth,
        vec![AuthMethod::Oidc, AuthMethod::Basic]
    );
    assert_eq!(cfg.routes[2].access.groups, vec!["admins".to_string()]);

    let literal = text.replace("\"${SECRET}\"", "\"s3cret\"");
    let err = error_text(&literal, &env);
    assert!(
        err.contains("auth.oidc.client_secret") && err.contains("reference"),
        "{err}"
    );
    let literal_key = text.replace("\"${KEY}\"", "\"0123456789abcdef0123456789abcdef\"");
    assert!(error_text(&literal_key, &env).contains("session.cookie_key"));
    let literal_previous = text.replace(
        "lifetime = \"8h\"",
        "lifetime = \"8h\"\nprevious_keys = [\"0123456789abcdef0123456789abcdef-old\"]",
    );
    assert!(error_text(&literal_previous, &env).contains("session.previous_keys"));
    // An environment override is a reference too.
    let overridden = load(
        &text.replace("client_secret = \"${SECRET}\"", ""),
        &[
            env[0],
            env[1],
            ("FRONTDOOR_AUTH_OIDC_CLIENT_SECRET", "from-env"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        overridden.oidc.map(|o| o.client_secret).as_deref(),
        Some("from-env")
    );

    for (from, to, key) in [
        (
            "https://id.example.com",
            "http://id.example.com",
            "auth.oidc.issuer",
        ),
        (
            "https://agent.example.com/_frontdoor/callback",
            "https://agent.example.com/callback",
            "auth.oidc.redirect_url",
        ),
        (
            "https://agent.example.com/_frontdoor/callback",
            "http://agent.example.com/_frontdoor/callback",
            "auth.oidc.redirect_url",
        ),
        (
            "lifetime = \"8h\"",
            "lifetime = \"8 weeks\"",
            "session.lifetime",
        ),
        ("lifetime = \"8h\"", "lifetime = 0", "session.lifetime"),
        ("client_id = \"frontdoor\"", "", "auth.oidc.client_id"),
    ] {
        let bad = text.replace(from, to);
        let err = error_text(&bad, &env);
        assert!(err.contains(key), "{to}: {err}");
    }
    let loopback = text.replace("https://id.example.com", "http://127.0.0.1:9000");
    assert!(load(&loopback, &env).is_ok(), "http issuer on loopback");
    let short_key = error_text(&text, &[env[0], ("KEY", "short")]);
    assert!(
        short_key.contains("session.cookie_key") && short_key.contains("32"),
        "{short_key}"
    );
    // "oidc" needs both sections; allow rules need an OIDC method.
    let no_session = text
        .replace("[session]", "[ui]")
        .replace("cookie_key = \"${KEY}\"", "")
        .replace("lifetime = \"8h\"", "");
    assert!(error_text(&no_session, &env).contains("[session]"));
    let rules_on_basic = text.replace("auth = [\"oidc\", \"basic\"]", "auth = [\"basic\"]");
    assert!(error_text(&rules_on_basic, &env).contains("allow_emails"));
}

/// A deny route needs nothing else and refuses auth or methods beside it.
#[test]
fn deny_routes() {
    let text = format!("{MINIMAL}\n[[route]]\npath = \"/api/jobs/secret\"\ndeny = true\n");
    let cfg = load(&text, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.routes[2].deny);
    let text = format!("{MINIMAL}\n[[route]]\npath = \"/x\"\ndeny = true\nauth = \"none\"\n");
    assert!(error_text(&text, &[]).contains("route[2].deny"));
}

/// Routes pick named upstreams; an unknown name, or no default for a route that names
/// none, is refused.
#[test]
fn named_upstreams() {
    let text = format!(
        "{MINIMAL}\n[upstreams.dashboard]\nurl = \"http://127.0.0.1:3000\"\n[[route]]\npath = \"/ui\"\nupstream = \"dashboard\"\n"
    );
    let cfg = load(&text, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.upstreams.len(), 2);
    assert_eq!(cfg.routes[2].upstream, 1);
    assert_eq!(cfg.routes[0].upstream, 0);
    let bad = format!("{MINIMAL}\n[[route]]\npath = \"/ui\"\nupstream = \"nope\"\n");
    assert!(error_text(&bad, &[]).contains("route[2].upstream"));
    let no_default = text.replace("[upstream]\n        url = \"http://127.0.0.1:8000\"", "");
    assert!(error_text(&no_default, &[]).contains("route[0].upstream"));
}

/// The upstream must be a bare http:// origin.
#[test]
fn upstream_is_checked() {
    for bad in ["https://x:1", "http://x:1/base", "ftp://x", "not a url"] {
        let text = MINIMAL.replace("http://127.0.0.1:8000", bad);
        assert!(error_text(&text, &[]).contains("upstream.url"), "{bad}");
    }
}

/// Sizes accept nginx's units where bytes are asked for; anything else is refused by name.
#[test]
fn sizes_with_nginx_units() {
    use super::raw::parse_byte_size;
    assert_eq!(parse_byte_size("1048576"), Some(1_048_576));
    assert_eq!(parse_byte_size("512k"), Some(512 * 1024));
    assert_eq!(parse_byte_size("50M"), Some(50 * 1024 * 1024));
    assert_eq!(parse_byte_size("1g"), Some(1 << 30));
    assert_eq!(parse_byte_size("1t"), None);
    assert_eq!(parse_byte_size("m"), None);
    assert_eq!(parse_byte_size("99999999999g"), None);
    let cfg = load(
        &format!("{MINIMAL}\n[limits]\nmax_body_bytes = \"50m\"\n"),
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.max_body_bytes, 50 * 1024 * 1024);
    assert!(
        error_text(
            &format!("{MINIMAL}\n[limits]\nmax_body_bytes = \"lots\"\n"),
            &[]
        )
        .contains("not a size")
    );
}

/// A typo names its line and column once, and suggests the key it was meant to be.
#[test]
fn typos_get_a_position_and_a_suggestion() {
    let text = MINIMAL.replacen("[upstream]", "[upstream]\nurll = \"x\"", 1);
    let Err(err) = Config::from_toml(&text, "t.toml", &Env::default()) else {
        panic!("a typo was accepted");
    };
    let problem = err.problem();
    assert!(problem.starts_with("line "), "{problem}");
    assert!(problem.contains("unknown field `urll`"), "{problem}");
    assert!(
        err.fix().starts_with("did you mean `url`?"),
        "{}",
        err.fix()
    );
    assert_eq!(err.to_string().matches("t.toml").count(), 1, "{err}");
}

/// `upstream.host_header`: "client" by default; a value that is none of the three names
/// them with nginx's equivalents.
#[test]
fn host_header_choices() {
    let cfg = load(MINIMAL, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.upstreams[0].host_header, HostHeader::Client);
    for (written, expected) in [
        ("client", HostHeader::Client),
        ("client_name", HostHeader::ClientName),
        ("upstream", HostHeader::Upstream),
    ] {
        let text = MINIMAL.replace(
            "url = \"http://127.0.0.1:8000\"",
            &format!("url = \"http://127.0.0.1:8000\"\nhost_header = \"{written}\""),
        );
        let cfg = load(&text, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.upstreams[0].host_header, expected);
    }
    let text = MINIMAL.replace(
        "url = \"http://127.0.0.1:8000\"",
        "url = \"http://127.0.0.1:8000\"\nhost_header = \"$host\"",
    );
    let message = error_text(&text, &[]);
    assert!(message.contains("upstream.host_header"), "{message}");
    assert!(
        message.contains("\"client_name\" (without its port, nginx's $host)"),
        "{message}"
    );
}

/// A config loaded from a file reads its relative paths from the file's folder; one
/// built from text keeps them as written.
#[test]
fn relative_paths_are_anchored_to_the_config_file() {
    let dir = std::env::temp_dir().join(format!("frontdoor-anchor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("realm"), "from a file\n").unwrap_or_else(|e| panic!("{e}"));
    let text = format!("{MINIMAL}\n[server]\npid_file = \"run/frontdoor.pid\"\n").replace(
        "htpasswd = \"config/htpasswd\"",
        "htpasswd = \"config/htpasswd\"\nrealm = \"file:realm\"",
    );
    let path = dir.join("frontdoor.toml");
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let cfg = Config::load_with_env(&path, &Env::default()).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let base = std::path::absolute(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        cfg.basic.as_ref().map(|b| b.htpasswd.clone()),
        Some(base.join("config/htpasswd"))
    );
    assert_eq!(cfg.server.pid_file, Some(base.join("run/frontdoor.pid")));
    assert_eq!(
        cfg.tls,
        TlsSettings::SelfSigned {
            cert: base.join("certs/self-signed.crt"),
            key: base.join("certs/self-signed.key"),
            hosts: vec!["localhost".into(), "127.0.0.1".into()],
        }
    );
    assert_eq!(
        cfg.basic.as_ref().map(|b| b.realm.as_str()),
        Some("from a file")
    );
    let from_text = load(MINIMAL, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        from_text.basic.map(|b| b.htpasswd),
        Some(PathBuf::from("config/htpasswd"))
    );
}
