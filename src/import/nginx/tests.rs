use super::*;

/// The nginx example from the seed page (../shared/seeds/000_14d53eb88520bea4.txt), verbatim.
const SEED: &str = r#"server {
listen 443 ssl;
server_name assistant.yourdomain.com;
# TLS config here (certbot/Let's Encrypt)
# Password-protect everything
auth_basic "Assistant";
auth_basic_user_file /etc/nginx/.htpasswd;
location / {
proxy_pass http://127.0.0.1:8000;
proxy_set_header Host $host;
proxy_set_header X-Real-IP $remote_addr;
}
}
"#;

/// A certbot-managed sites-available file (tests/fixtures/nginx/sites-available.conf).
const SITES_AVAILABLE: &str = r#"# /etc/nginx/sites-available/agent -- the agent behind HTTPS and a password.
server {
    listen 443 ssl http2;
    listen [::]:443 ssl http2;
    server_name agent.example.com;

    ssl_certificate /etc/letsencrypt/live/agent.example.com/fullchain.pem; # managed by Certbot
    ssl_certificate_key /etc/letsencrypt/live/agent.example.com/privkey.pem; # managed by Certbot
    include /etc/letsencrypt/options-ssl-nginx.conf; # managed by Certbot
    ssl_dhparam /etc/letsencrypt/ssl-dhparams.pem; # managed by Certbot

    client_max_body_size 500m;
    add_header Strict-Transport-Security "max-age=63072000" always;

    location / {
        auth_basic "Agent";
        auth_basic_user_file /etc/nginx/.htpasswd;
        proxy_pass http://127.0.0.1:8000;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 300s;
    }

    location /health {
        auth_basic off;
        proxy_pass http://127.0.0.1:8000;
    }

    location /admin {
        deny all;
    }

    location = /api/workspace/upload {
        auth_basic "Agent";
        auth_basic_user_file /etc/nginx/.htpasswd;
        client_max_body_size 500M;
        limit_except PUT {
            deny all;
        }
        proxy_pass http://127.0.0.1:8000;
        proxy_request_buffering off;
    }

    location /ws/ {
        auth_basic "Agent";
        auth_basic_user_file /etc/nginx/.htpasswd;
        proxy_pass http://127.0.0.1:8000;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_read_timeout 3600s;
    }
}

server {
    listen 80;
    listen [::]:80;
    server_name agent.example.com;
    return 301 https://$host$request_uri;
}
"#;

/// A whole nginx.conf with an http block (tests/fixtures/nginx/http-block.conf).
const HTTP_BLOCK: &str = r#"# /etc/nginx/nginx.conf -- two agents' ports on one machine, everything behind one password file.
user www-data;
worker_processes auto;
pid /run/nginx.pid;

events {
    worker_connections 768;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    client_max_body_size 0;
    auth_basic "Agents";
    auth_basic_user_file /etc/nginx/agents.htpasswd;

    upstream agent_api {
        server 127.0.0.1:8080;
        keepalive 16;
    }

    # the dashboard on its second port, loopback only
    server {
        listen 127.0.0.1:8081;
        server_name _;
        location / {
            proxy_pass http://127.0.0.1:9000;
        }
    }

    server {
        listen 127.0.0.1:8443 ssl;
        server_name agent.internal *.agent.internal;
        ssl_certificate     certs/agent.crt;
        ssl_certificate_key certs/agent.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        include snippets/security-headers.conf;

        location ~* \.(php|asp|env)$ {
            return 404;
        }
        location /api/ {
            proxy_pass http://agent_api;
            proxy_set_header X-Forwarded-Host $host;
        }
        location ^~ /v1/ {
            client_max_body_size 10m;
            proxy_pass http://agent_api;
        }
        location = /v1/secrets {
            return 403;
        }
        location /static/ {
            root /var/www/agent;
        }
        location /docs {
            proxy_pass http://127.0.0.1:8080;
        }
        location /metrics {
            proxy_pass http://127.0.0.1:9100;
        }
        location /legacy/ {
            proxy_pass http://127.0.0.1:8080/api/;
        }
    }
}
"#;

// ---- helpers ----------------------------------------------------------------------

fn import(text: &str) -> String {
    match import_nginx(text, "test.conf") {
        Ok(out) => out,
        Err(e) => panic!("import failed: {e}\n{text}"),
    }
}

fn import_err(text: &str) -> ImportError {
    match import_nginx(text, "test.conf") {
        Ok(out) => panic!("import succeeded:\n{out}"),
        Err(e) => e,
    }
}

fn table(out: &str) -> toml::Table {
    match out.parse::<toml::Table>() {
        Ok(t) => t,
        Err(e) => panic!("output is not TOML: {e}\n{out}"),
    }
}

fn get<'t>(t: &'t toml::Table, path: &[&str]) -> Option<&'t toml::Value> {
    let (last, sections) = path.split_last()?;
    let mut cur = t;
    for s in sections {
        cur = cur.get(*s)?.as_table()?;
    }
    cur.get(*last)
}

fn str_at(t: &toml::Table, path: &[&str]) -> Option<String> {
    get(t, path).and_then(|v| v.as_str()).map(str::to_string)
}

fn int_at(t: &toml::Table, path: &[&str]) -> Option<i64> {
    get(t, path).and_then(toml::Value::as_integer)
}

fn routes(t: &toml::Table) -> Vec<toml::Table> {
    get(t, &["route"])
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|r| r.as_table().cloned()).collect())
        .unwrap_or_default()
}

fn route(t: &toml::Table, path: &str) -> Option<toml::Table> {
    routes(t)
        .into_iter()
        .find(|r| r.get("path").and_then(|p| p.as_str()) == Some(path))
}

fn strings(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The keys `src/config/raw.rs` accepts (deny_unknown_fields), with their TOML types.
const ALLOWED: &[(&str, &str, &str)] = &[
    ("server", "listen", "str"),
    ("server", "allow_public_bind", "bool"),
    ("server", "http_listen", "str"),
    ("server", "hosts", "strs"),
    ("server", "trusted_proxies", "strs"),
    ("server", "header_timeout_secs", "int"),
    ("server", "idle_timeout_secs", "int"),
    ("server", "max_header_bytes", "int"),
    ("server", "shutdown_grace_secs", "int"),
    ("tls", "cert", "str"),
    ("tls", "key", "str"),
    ("tls", "self_signed", "bool"),
    ("tls", "self_signed_hosts", "strs"),
    ("upstream", "url", "str"),
    ("upstream", "connect_timeout_secs", "int"),
    ("upstream", "response_timeout_secs", "int"),
    ("upstream", "host_header", "str"),
    ("limits", "max_body_bytes", "int"),
    ("ui", "dashboard", "bool"),
    ("ui", "workspace", "bool"),
    ("ui", "docs", "bool"),
    ("ui", "openapi", "bool"),
    ("auth.basic", "htpasswd", "str"),
    ("auth.basic", "realm", "str"),
    ("auth.lockout", "max_retries", "int"),
    ("auth.lockout", "max_retries_per_ip", "int"),
    ("auth.lockout", "find_time_secs", "int"),
    ("auth.lockout", "ban_time_secs", "int"),
    ("route", "path", "str"),
    ("route", "exact", "bool"),
    ("route", "methods", "strs"),
    ("route", "auth", "auth"),
    ("route", "max_body_bytes", "int"),
    ("route", "forward_authorization", "bool"),
    ("route", "deny", "bool"),
];

fn type_ok(kind: &str, v: &toml::Value) -> bool {
    let strs = |v: &toml::Value| {
        v.as_array()
            .is_some_and(|a| a.iter().all(|x| x.as_str().is_some()))
    };
    match kind {
        "str" => v.as_str().is_some(),
        "bool" => v.as_bool().is_some(),
        "int" => v.as_integer().is_some_and(|i| i >= 0),
        "strs" => strs(v),
        "auth" => v.as_str().is_some() || strs(v),
        _ => false,
    }
}

fn check_keys(section: &str, t: &toml::Table, errors: &mut Vec<String>) {
    for (k, v) in t {
        match ALLOWED.iter().find(|(s, key, _)| *s == section && key == k) {
            Some((_, _, kind)) => {
                if !type_ok(kind, v) {
                    errors.push(format!("{section}.{k} has the wrong type: {v}"));
                }
            }
            None => errors.push(format!("unknown key {section}.{k}")),
        }
    }
}

/// Every emitted key is one raw.rs accepts, with the right type.
fn assert_known_keys(out: &str) {
    let t = table(out);
    let mut errors = Vec::new();
    for (k, v) in &t {
        match (k.as_str(), v) {
            ("server" | "tls" | "upstream" | "limits" | "ui", toml::Value::Table(s)) => {
                check_keys(k, s, &mut errors);
            }
            ("auth", toml::Value::Table(a)) => {
                for (k2, v2) in a {
                    match (k2.as_str(), v2) {
                        ("basic" | "lockout", toml::Value::Table(s)) => {
                            check_keys(&format!("auth.{k2}"), s, &mut errors);
                        }
                        _ => errors.push(format!("unknown key auth.{k2}")),
                    }
                }
            }
            ("route", toml::Value::Array(items)) => {
                for item in items {
                    match item.as_table() {
                        Some(r) => check_keys("route", r, &mut errors),
                        None => errors.push("a route is not a table".to_string()),
                    }
                }
            }
            _ => errors.push(format!("unknown top-level key {k}")),
        }
    }
    assert!(errors.is_empty(), "{errors:?}\n{out}");
}

/// The checks `config::validate` makes, so `serve` accepts what the import writes.
/// The real config validation, as `serve` and `check` run it.
fn validate(out: &str) -> Result<(), String> {
    crate::config::Config::from_toml(out, "imported.toml", &crate::config::Env::default())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn assert_valid(out: &str) {
    assert_known_keys(out);
    if let Err(e) = validate(out) {
        panic!("{e}\n{out}");
    }
}

// ---- the fixtures --------------------------------------------------------------------

/// The seed's nginx example: server-wide Basic login, no certificate in the block.
#[test]
fn seed_block_imports() {
    let out = import(SEED);
    assert_valid(&out);
    let t = table(&out);
    assert!(out.starts_with("# Imported from test.conf by `frontdoor import nginx`"));
    assert_eq!(
        str_at(&t, &["server", "listen"]).as_deref(),
        Some("0.0.0.0:443")
    );
    assert_eq!(
        get(&t, &["server", "allow_public_bind"]),
        Some(&toml::Value::Boolean(true))
    );
    // The file's one block is nginx's default server: it answered every Host.
    assert!(get(&t, &["server", "hosts"]).is_none(), "{out}");
    assert!(
        out.contains("# hosts = [\"assistant.yourdomain.com\"]  # nginx answered every Host"),
        "{out}"
    );
    assert_eq!(
        str_at(&t, &["upstream", "host_header"]).as_deref(),
        Some("client_name"),
        "{out}"
    );
    assert_eq!(
        get(&t, &["tls", "self_signed"]),
        Some(&toml::Value::Boolean(true))
    );
    assert!(out.contains("names no ssl_certificate"), "{out}");
    assert_eq!(
        str_at(&t, &["upstream", "url"]).as_deref(),
        Some("http://127.0.0.1:8000")
    );
    assert_eq!(
        str_at(&t, &["auth", "basic", "htpasswd"]).as_deref(),
        Some("/etc/nginx/.htpasswd")
    );
    assert_eq!(
        str_at(&t, &["auth", "basic", "realm"]).as_deref(),
        Some("Assistant")
    );
    assert_eq!(int_at(&t, &["limits", "max_body_bytes"]), Some(1_048_576));
    assert_eq!(routes(&t).len(), 1);
    let root = route(&t, "/").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(strings(root.get("auth")), ["basic"]);
    assert!(!out.contains("# nginx: proxy_set_header Host"), "{out}");
    assert!(
        out.contains("# nginx: proxy_set_header X-Real-IP $remote_addr -- not translated"),
        "{out}"
    );
    assert!(
        out.contains("dashboard = false  # /admin: nginx passed it on"),
        "{out}"
    );
}

/// A certbot-managed sites-available file with per-location rules and a redirect server.
#[test]
fn sites_available_imports() {
    let out = import(SITES_AVAILABLE);
    assert_valid(&out);
    let t = table(&out);
    assert_eq!(
        str_at(&t, &["server", "listen"]).as_deref(),
        Some("0.0.0.0:443")
    );
    assert_eq!(
        str_at(&t, &["server", "http_listen"]).as_deref(),
        Some("0.0.0.0:80")
    );
    assert!(out.contains("from the server block at line 57"), "{out}");
    assert!(out.contains("# nginx: listen [::]:443 ssl http2 -- not translated: frontdoor listens on one TLS address"), "{out}");
    assert!(
        out.contains(
            "# nginx: listen [::]:80 -- not translated: frontdoor has one plain-HTTP listener"
        ),
        "{out}"
    );
    assert!(get(&t, &["server", "hosts"]).is_none(), "{out}");
    assert!(out.contains("# hosts = [\"agent.example.com\"]"), "{out}");
    // location / sets Host $host; the websocket location sets other headers only, so
    // nginx sent it $proxy_host: the import follows the first and names the other.
    assert_eq!(
        str_at(&t, &["upstream", "host_header"]).as_deref(),
        Some("client_name"),
        "{out}"
    );
    assert!(
        out.contains("sent Host $proxy_host (nginx's default) -- not translated: frontdoor sends one Host per upstream"),
        "{out}"
    );
    assert_eq!(
        str_at(&t, &["tls", "cert"]).as_deref(),
        Some("/etc/letsencrypt/live/agent.example.com/fullchain.pem")
    );
    assert_eq!(
        str_at(&t, &["tls", "key"]).as_deref(),
        Some("/etc/letsencrypt/live/agent.example.com/privkey.pem")
    );
    assert!(out.contains("# nginx: include /etc/letsencrypt/options-ssl-nginx.conf -- not translated: included files are not followed"), "{out}");
    assert!(
        out.contains("# nginx: ssl_dhparam /etc/letsencrypt/ssl-dhparams.pem -- not translated"),
        "{out}"
    );
    assert!(
        out.contains("# nginx: add_header Strict-Transport-Security"),
        "{out}"
    );
    assert_eq!(int_at(&t, &["limits", "max_body_bytes"]), Some(524_288_000));
    assert_eq!(
        int_at(&t, &["upstream", "response_timeout_secs"]),
        Some(300)
    );
    assert_eq!(
        str_at(&t, &["auth", "basic", "realm"]).as_deref(),
        Some("Agent")
    );

    let paths: Vec<String> = routes(&t)
        .iter()
        .filter_map(|r| r.get("path").and_then(|p| p.as_str()).map(str::to_string))
        .collect();
    assert_eq!(paths, ["/", "/health", "/api/workspace/upload", "/ws"]);
    let root = route(&t, "/").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(strings(root.get("auth")), ["basic"]);
    assert!(root.get("max_body_bytes").is_none());
    let health = route(&t, "/health").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(health.get("auth").and_then(|a| a.as_str()), Some("none"));
    let upload = route(&t, "/api/workspace/upload").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        upload.get("exact").and_then(toml::Value::as_bool),
        Some(true)
    );
    assert_eq!(strings(upload.get("methods")), ["PUT"]);
    assert_eq!(
        upload
            .get("max_body_bytes")
            .and_then(toml::Value::as_integer),
        Some(524_288_000)
    );
    assert_eq!(strings(upload.get("auth")), ["basic"]);
    let ws = route(&t, "/ws").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(strings(ws.get("auth")), ["basic"]);
    assert!(
        out.contains(
            "# nginx: proxy_http_version 1.1 -- not translated: frontdoor speaks HTTP/1.1"
        ),
        "{out}"
    );
    assert!(out.contains("# nginx: proxy_set_header Upgrade $http_upgrade -- not translated: frontdoor forwards websocket upgrades itself"), "{out}");
    assert!(
        out.contains(
            "# nginx: proxy_read_timeout 3600s -- not translated: in nginx it bounds idle websocket"
        ),
        "{out}"
    );
    assert!(route(&t, "/admin").is_none());
    assert!(
            out.contains("# location /admin: deny all -> not listed, and frontdoor hides /admin anyway (404 unless [ui] dashboard = true)"),
            "{out}"
        );
    assert_eq!(
        get(&t, &["ui", "dashboard"]),
        Some(&toml::Value::Boolean(false))
    );
}

/// A whole nginx.conf: http{} defaults, two servers, an upstream block, regex and
/// include, unlimited bodies, locations to other upstreams and with rewrites.
#[test]
fn http_block_imports() {
    let out = import(HTTP_BLOCK);
    assert_valid(&out);
    let t = table(&out);
    assert_eq!(
        str_at(&t, &["server", "listen"]).as_deref(),
        Some("127.0.0.1:8443")
    );
    assert!(get(&t, &["server", "allow_public_bind"]).is_none(), "{out}");
    assert!(get(&t, &["server", "http_listen"]).is_none(), "{out}");
    // The only block on 8443 (the other listens on 8081): nginx's default server there.
    assert!(get(&t, &["server", "hosts"]).is_none(), "{out}");
    assert!(out.contains("# hosts = [\"agent.internal\"]"), "{out}");
    assert!(
        out.contains("# nginx: server_name *.agent.internal -- not translated: wildcard"),
        "{out}"
    );
    assert_eq!(
        str_at(&t, &["tls", "cert"]).as_deref(),
        Some("certs/agent.crt")
    );
    assert!(out.contains("relative paths"), "{out}");
    assert_eq!(int_at(&t, &["limits", "max_body_bytes"]), Some(1 << 40));
    assert!(
        out.contains("WARNING: client_max_body_size 0 means unlimited in nginx"),
        "{out}"
    );
    assert_eq!(
        str_at(&t, &["upstream", "url"]).as_deref(),
        Some("http://127.0.0.1:8080")
    );
    assert!(
        out.contains("# upstream agent_api -> 127.0.0.1:8080"),
        "{out}"
    );
    assert_eq!(
        str_at(&t, &["auth", "basic", "htpasswd"]).as_deref(),
        Some("/etc/nginx/agents.htpasswd")
    );
    assert_eq!(
        str_at(&t, &["auth", "basic", "realm"]).as_deref(),
        Some("Agents")
    );

    let paths: Vec<String> = routes(&t)
        .iter()
        .filter_map(|r| r.get("path").and_then(|p| p.as_str()).map(str::to_string))
        .collect();
    assert_eq!(paths, ["/v1/secrets", "/api", "/v1", "/docs"]);
    for r in routes(&t) {
        if r.get("deny").and_then(toml::Value::as_bool) == Some(true) {
            continue;
        }
        assert_eq!(strings(r.get("auth")), ["basic"], "{out}");
    }
    let v1 = route(&t, "/v1").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        v1.get("max_body_bytes").and_then(toml::Value::as_integer),
        Some(10 << 20)
    );
    assert_eq!(get(&t, &["ui", "docs"]), Some(&toml::Value::Boolean(true)));
    assert!(
        out.contains("location ~* \"\\\\.(php|asp|env)$\"")
            || out.contains("location ~* \\.(php|asp|env)$"),
        "{out}"
    );
    assert!(out.contains("regex locations cannot be expressed"), "{out}");
    assert!(out.contains("# location /v1/secrets: return 403 -> route \"/v1\" covers /v1/secrets, so a deny route answers 404 here\n[[route]]\npath = \"/v1/secrets\"\nexact = true\ndeny = true"), "{out}");
    assert!(
        out.contains("multiple upstreams are not supported yet"),
        "{out}"
    );
    assert!(
        out.contains("http://127.0.0.1:9100 (location /metrics)"),
        "{out}"
    );
    assert!(
        out.contains("the URI part rewrites the path (/legacy/ -> /api/)"),
        "{out}"
    );
    assert!(
        out.contains("location /static/ { ... } -- not translated: no proxy_pass"),
        "{out}"
    );
    assert!(out.contains("server { listen 127.0.0.1:8081; server_name _; ... } (line 24) -- not translated: frontdoor imports one server block"), "{out}");
    assert!(
        out.contains("# nginx: include /etc/nginx/mime.types -- not translated"),
        "{out}"
    );
    assert!(
        out.contains("# nginx: include snippets/security-headers.conf -- not translated"),
        "{out}"
    );
    assert!(
        out.contains("# nginx: events { ... } -- not translated"),
        "{out}"
    );
    assert!(
        out.contains("# nginx: ssl_protocols TLSv1.2 TLSv1.3 -- not translated"),
        "{out}"
    );
}

// ---- translation details ---------------------------------------------------------------

fn server(body: &str) -> String {
    format!(
        "server {{\n listen 127.0.0.1:8443 ssl;\n ssl_certificate /c.pem;\n ssl_certificate_key /k.pem;\n{body}\n}}\n"
    )
}

#[test]
fn auth_basic_off_and_missing_user_file() {
    let out = import(&server(
        "auth_basic \"x\";\n location / { proxy_pass http://127.0.0.1:1; }\n \
             location /pub { auth_basic off; proxy_pass http://127.0.0.1:1; }",
    ));
    assert_valid(&out);
    let t = table(&out);
    assert!(get(&t, &["auth"]).is_none(), "{out}");
    assert!(
        out.contains("auth_basic without auth_basic_user_file"),
        "{out}"
    );
    assert!(
        out.contains("auth_basic off: nginx had no login here"),
        "{out}"
    );
    assert!(
        out.contains("WARNING: nginx asked for no login on any translated location"),
        "{out}"
    );
}

#[test]
fn denied_locations_are_not_routes() {
    let out = import(&server(
        "location /api { proxy_pass http://127.0.0.1:1; }\n location /internal { return 404; }\n \
             location /workspace { deny all; }\n location /api/private { deny all; }",
    ));
    assert_valid(&out);
    assert!(
        out.contains("# location /internal: return 404 -> not listed, so frontdoor answers 404"),
        "{out}"
    );
    assert!(out.contains("frontdoor hides /workspace anyway"), "{out}");
    assert!(out.contains("# location /api/private: deny all -> route \"/api\" covers /api/private, so a deny route answers 404 here"), "{out}");
    assert_eq!(
        routes(&table(&out)).len(),
        2,
        "the /api route and the /api/private deny route"
    );
}

#[test]
fn limit_except_becomes_methods() {
    let out = import(&server(
        "location /api/jobs { limit_except GET POST { deny all; } proxy_pass http://127.0.0.1:1/api/jobs; }",
    ));
    assert_valid(&out);
    let t = table(&out);
    let r = route(&t, "/api/jobs").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(strings(r.get("methods")), ["GET", "POST"]);
}

#[test]
fn server_level_proxy_pass_makes_a_root_route() {
    let out = import(&server("proxy_pass http://localhost:3000/;"));
    assert_valid(&out);
    let t = table(&out);
    assert_eq!(
        str_at(&t, &["upstream", "url"]).as_deref(),
        Some("http://localhost:3000")
    );
    assert!(route(&t, "/").is_some(), "{out}");
}

#[test]
fn no_proxy_is_an_error() {
    assert!(matches!(
        import_err(&server("location / { root /var/www; }")),
        ImportError::NoUpstream { .. }
    ));
    assert!(matches!(
        import_err(&server("location / { proxy_pass https://127.0.0.1:8000; }")),
        ImportError::NoUpstream { .. }
    ));
    assert!(matches!(
        import_err("http { sendfile on; }"),
        ImportError::NoServerBlock { .. }
    ));
    assert!(matches!(import_err(""), ImportError::NoServerBlock { .. }));
}

/// Where nginx demanded something frontdoor cannot check, the location stays unlisted.
#[test]
fn untranslatable_protection_fails_closed() {
    let out = import(&server(
        "location / { proxy_pass http://127.0.0.1:1; }\n \
             location /sso { auth_request /auth; proxy_pass http://127.0.0.1:1; }\n \
             location /lan { allow 10.0.0.0/8; deny all; proxy_pass http://127.0.0.1:1; }",
    ));
    assert_valid(&out);
    let t = table(&out);
    assert!(
        route(&t, "/sso").is_none() && route(&t, "/lan").is_none(),
        "{out}"
    );
    assert!(
        out.contains("nginx required `auth_request /auth` here"),
        "{out}"
    );
    assert!(out.contains("nginx allowed only 10.0.0.0/8 here"), "{out}");
}

#[test]
fn nested_locations_inherit() {
    let out = import(&server(
        "auth_basic_user_file /h;\n location /a { auth_basic \"A\"; client_max_body_size 2k; \
             proxy_pass http://127.0.0.1:1; location /a/b { proxy_pass http://127.0.0.1:1; } }",
    ));
    assert_valid(&out);
    let t = table(&out);
    let b = route(&t, "/a/b").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(strings(b.get("auth")), ["basic"]);
    assert_eq!(
        b.get("max_body_bytes").and_then(toml::Value::as_integer),
        Some(2048)
    );
}

#[test]
fn listen_forms() {
    for (listen, want, public) in [
        ("443 ssl", "0.0.0.0:443", true),
        ("[::]:443 ssl", "[::]:443", true),
        ("127.0.0.1:8443 ssl", "127.0.0.1:8443", false),
        ("[::1]:8443 ssl", "[::1]:8443", false),
        ("*:443 ssl default_server", "0.0.0.0:443", true),
        ("192.168.1.5:443 ssl", "192.168.1.5:443", true),
    ] {
        let out = import(&format!(
            "server {{ listen {listen}; location / {{ proxy_pass http://127.0.0.1:1; }} }}"
        ));
        assert_valid(&out);
        let t = table(&out);
        assert_eq!(
            str_at(&t, &["server", "listen"]).as_deref(),
            Some(want),
            "{out}"
        );
        assert_eq!(
            get(&t, &["server", "allow_public_bind"]).is_some(),
            public,
            "{out}"
        );
    }
    // Plain HTTP only: no TLS listen, the plain one becomes the redirect listener.
    let out = import("server { listen 80; location / { proxy_pass http://127.0.0.1:1; } }");
    assert_valid(&out);
    let t = table(&out);
    assert!(get(&t, &["server", "listen"]).is_none());
    assert_eq!(
        str_at(&t, &["server", "http_listen"]).as_deref(),
        Some("0.0.0.0:80")
    );
    assert!(out.contains("served this site without TLS"), "{out}");
}

#[test]
fn picks_the_ssl_server_and_names_the_others() {
    let out = import(
        "server { listen 8080; server_name a; location / { proxy_pass http://127.0.0.1:1; } }\n\
             server { listen 127.0.0.1:8443 ssl; server_name b; location / { proxy_pass http://127.0.0.1:2; } }",
    );
    assert_valid(&out);
    let t = table(&out);
    assert!(get(&t, &["server", "hosts"]).is_none(), "{out}");
    assert!(
        out.contains("server { listen 8080; server_name a; ... } (line 1) -- not translated"),
        "{out}"
    );
}

#[test]
fn sizes_and_times() {
    assert_eq!(parse_size("500m"), Some(524_288_000));
    assert_eq!(parse_size("500M"), Some(524_288_000));
    assert_eq!(parse_size("10k"), Some(10_240));
    assert_eq!(parse_size("1G"), Some(1 << 30));
    assert_eq!(parse_size("123"), Some(123));
    assert_eq!(parse_size("0"), Some(0));
    for bad in [
        "",
        "m",
        "1.5m",
        "-1",
        "99999999999999999999",
        "18014398509481984k",
        "1t",
    ] {
        assert_eq!(parse_size(bad), None, "{bad}");
    }
    assert_eq!(parse_secs("300"), Some(300));
    assert_eq!(parse_secs("300s"), Some(300));
    assert_eq!(parse_secs("5m"), Some(300));
    assert_eq!(parse_secs("1m30s"), Some(90));
    assert_eq!(parse_secs("1h"), Some(3600));
    assert_eq!(parse_secs("1500ms"), Some(2));
    for bad in ["", "s", "5x", "1m3", "99999999999999999999y"] {
        let got = parse_secs(bad);
        assert!(bad == "1m3" || got.is_none(), "{bad}: {got:?}");
    }
    let out = import(&server(
        "client_max_body_size 0;\n location / { proxy_pass http://127.0.0.1:1; }",
    ));
    assert_eq!(
        int_at(&table(&out), &["limits", "max_body_bytes"]),
        Some(1 << 40)
    );
}

#[test]
fn route_paths_are_normal() {
    assert_eq!(route_path("/").as_deref(), Ok("/"));
    assert_eq!(route_path("/api/").as_deref(), Ok("/api"));
    assert_eq!(route_path("/a b").as_deref(), Ok("/a%20b"));
    assert_eq!(route_path("/caf\u{e9}").as_deref(), Ok("/caf%C3%A9"));
    for bad in [
        "api", "//x", "/a/../b", "/a/./b", "/x%2F", "/a;b", "/a\\b", "/a?b", "/x//",
    ] {
        assert!(route_path(bad).is_err(), "{bad}");
    }
}

/// Values from nginx can hold quotes, backslashes and newlines: they stay inside their
/// TOML strings and comments can never start a new line.
#[test]
fn hostile_values_stay_escaped() {
    let text = "server { listen 127.0.0.1:8443 ssl;\n\
            ssl_certificate \"/c\\\"x\\\\y\\n[upstream]\";\n ssl_certificate_key /k;\n\
            auth_basic \"Re\\\"alm\\nx = 1\";\n auth_basic_user_file \"/h\\\"\\n[ui]\";\n\
            add_header X \"a\\n[server]\\nlisten = 1\";\n\
            location \"/a b\\\"\" { proxy_pass http://127.0.0.1:1; } }";
    let out = import(text);
    assert_valid(&out);
    let t = table(&out);
    assert_eq!(
        str_at(&t, &["tls", "cert"]).as_deref(),
        Some("/c\"x\\y\n[upstream]")
    );
    assert_eq!(
        str_at(&t, &["auth", "basic", "realm"]).as_deref(),
        Some("Realmx = 1")
    );
    assert_eq!(
        str_at(&t, &["auth", "basic", "htpasswd"]).as_deref(),
        Some("/h\"\n[ui]")
    );
    assert!(route(&t, "/a%20b%22").is_some(), "{out}");
    assert_eq!(
        toml_str("a\"b\\c\u{1}\u{7f}"),
        "\"a\\\"b\\\\c\\u0001\\u007F\""
    );
}

// ---- syntax errors ---------------------------------------------------------------------

#[test]
fn syntax_errors_name_the_line() {
    let cases: &[(&str, &str)] = &[
        (
            "server {\n listen 443;\n}\n}\n",
            "test.conf:4: unexpected `}`",
        ),
        (
            "http {\n server {\n listen 443;\n}\n",
            "test.conf:1: `http {` is never closed",
        ),
        (
            "server {\n listen 443;\n location / {\n",
            "test.conf:3: `location {` is never closed",
        ),
        (
            "server {\n auth_basic \"x;\n}\n",
            "test.conf:2: unterminated quoted string",
        ),
        (
            "server {\n location / {\n  proxy_pass http://x:1\n }\n}\n",
            "test.conf:3: missing `;` after `proxy_pass`",
        ),
        (
            "server {\n listen 443 ssl\n server_name a;\n}\n",
            "test.conf:2: missing `;` after `listen`",
        ),
        (
            "server {\n listen 443\n",
            "test.conf:2: missing `;` after `listen`",
        ),
        ("server {\n ;\n}\n", "test.conf:2: unexpected `;`"),
        ("{\n}\n", "test.conf:1: unexpected `{`"),
    ];
    for (text, want) in cases {
        let err = import_err(text).to_string();
        assert!(err.starts_with(want), "{text:?}: {err}");
    }
    let deep = "a {".repeat(100_000);
    assert!(matches!(
        import_err(&deep),
        ImportError::TooDeep { line: 1, .. }
    ));
}

#[test]
fn tokenizer_details() {
    let toks = match tokenize("a 'q\\'x' \"t\\tz\" \\.php$ ${v}x;# c\nb", "t") {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let words: Vec<String> = toks
        .iter()
        .filter_map(|t| match t {
            Token::Word { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(words, ["a", "q'x", "t\tz", "\\.php$", "${v}x", "b"]);
}

// ---- no panics -------------------------------------------------------------------------

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

/// Whatever comes in, the import returns; and what it returns is a valid config.
fn no_panic(text: &str) {
    if let Ok(out) = import_nginx(text, "fuzz \"\n name") {
        assert_valid(&out);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2_000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                0 => {
                    let special = b"{};\"'\\#$\n ";
                    special
                        .get(rng.below(special.len()))
                        .copied()
                        .unwrap_or(b' ')
                }
                _ => (rng.next() & 0xFF) as u8,
            })
            .collect();
        no_panic(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn token_soup_never_panics() {
    const WORDS: &[&str] = &[
        "server",
        "{",
        "}",
        ";",
        "location",
        "/",
        "/x",
        "/admin",
        "=",
        "^~",
        "~",
        "~*",
        "@n",
        "proxy_pass",
        "http://127.0.0.1:8000",
        "http://127.0.0.1:9/",
        "http://up",
        "https://h",
        "http://$v",
        "listen",
        "443",
        "ssl",
        "80",
        "[::]:443",
        "unix:/s",
        "auth_basic",
        "off",
        "\"R\\\"e\"",
        "auth_basic_user_file",
        "/h",
        "limit_except",
        "GET",
        "CONNECT",
        "deny",
        "allow",
        "all",
        "return",
        "404",
        "301",
        "https://x",
        "client_max_body_size",
        "0",
        "5m",
        "99999999999999999999g",
        "include",
        "if",
        "upstream",
        "up",
        "http",
        "\n",
        "#c\n",
        "server_name",
        "_",
        "*.x",
        "a.b",
        "ssl_certificate",
        "ssl_certificate_key",
        "auth_request",
        "satisfy",
        "any",
        "proxy_read_timeout",
        "1m",
        "keepalive_timeout",
        "'",
        "\"",
        "\\",
        "${",
        "ssl_verify_client",
        "on",
    ];
    let mut rng = XorShift(42);
    for _ in 0..3_000 {
        let n = rng.below(80);
        let mut text = String::new();
        for _ in 0..n {
            text.push_str(WORDS.get(rng.below(WORDS.len())).copied().unwrap_or(""));
            text.push(' ');
        }
        no_panic(&text);
    }
}

#[test]
fn truncated_fixtures_never_panic() {
    let mut rng = XorShift(7);
    for fixture in [SEED, SITES_AVAILABLE, HTTP_BLOCK] {
        for end in 0..=fixture.len() {
            if let Some(prefix) = fixture.get(..end) {
                no_panic(prefix);
            }
        }
        for _ in 0..300 {
            let a = rng.below(fixture.len());
            let b = rng.below(fixture.len());
            let (lo, hi) = (a.min(b), a.max(b));
            if let (Some(x), Some(y)) = (fixture.get(..lo), fixture.get(hi..)) {
                no_panic(&format!("{x}{y}"));
            }
        }
    }
}

#[test]
#[ignore = "prints the fixtures' translations: cargo test -- --ignored --nocapture"]
fn show() {
    for text in [SEED, SITES_AVAILABLE, HTTP_BLOCK] {
        eprintln!("{}\n========", import(text));
    }
}

/// A huge file (many locations, names, methods, upstreams) imports in linear time.
#[test]
fn large_input_stays_fast() {
    let mut text = String::from("server { listen 127.0.0.1:8443 ssl; server_name");
    for i in 0..20_000 {
        text.push_str(&format!(" h{i}.example"));
    }
    text.push_str(";\n location / { proxy_pass http://127.0.0.1:1; }\n");
    for i in 0..20_000 {
        text.push_str(&format!(
                "location /a{i} {{ limit_except GET POST GET {{ deny all; }} proxy_pass http://127.0.0.1:1; }}\n\
                 location /a{i}/x {{ deny all; }}\n location /o{i} {{ proxy_pass http://127.0.0.1:{}; }}\n",
                2 + i % 60_000
            ));
    }
    text.push('}');
    let started = std::time::Instant::now();
    let out = import(&text);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // 20,000 proxied locations, 20,000 deny routes for the denied sub-locations, and /.
    assert_eq!(routes(&table(&out)).len(), 40_001);
}

#[test]
fn unused_upstream_blocks_are_named() {
    let out = import(
        "upstream a { server 127.0.0.1:1; server 127.0.0.1:2; }\n upstream b { server 127.0.0.1:3; }\n\
             server { listen 127.0.0.1:8443 ssl; listen 127.0.0.1:8443; location / { proxy_pass http://a; } }",
    );
    assert_valid(&out);
    let t = table(&out);
    assert_eq!(
        str_at(&t, &["upstream", "url"]).as_deref(),
        Some("http://127.0.0.1:1")
    );
    assert!(out.contains("frontdoor does not balance load"), "{out}");
    assert!(out.contains("# nginx: upstream b { ... } -- not translated: the translated server block does not use it"), "{out}");
    assert!(!out.contains("# nginx: upstream a"), "{out}");
    assert!(get(&t, &["server", "http_listen"]).is_none(), "{out}");
    assert!(out.contains("same port as the TLS listener"), "{out}");
}

/// Every key any fixture produces is one raw.rs accepts.
#[test]
fn emitted_keys_are_known() {
    for text in [SEED, SITES_AVAILABLE, HTTP_BLOCK] {
        assert_known_keys(&import(text));
    }
}

/// The importer reads its own output back with the config loader: the seed's block loads
/// as it is, and a translation the loader refuses is marked at the top, naming the key.
#[test]
fn output_is_validated_by_the_loader() {
    let out = import_nginx(SEED, "seed.conf").unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.starts_with("# WARNING"), "{out}");
    let Err(refused) = validate("[server]\nlisten = \"0.0.0.0:8443\"\n") else {
        panic!("a public listener without allow_public_bind was accepted");
    };
    assert!(refused.contains("server.listen"), "{refused}");
    assert!(validate(&out).is_ok());
}

mod hosts;
