//! Path confusion: encoded, dot-segment, case, parameter, control-byte and oversized request
//! targets written raw to a TLS socket (and again as HTTP/2 `:path`). Each row pins the
//! status and exactly what, if anything, reached the upstream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::{Harness, Options, status_of};
use http::Request;
use http_body_util::Full;

/// Everything public under `/`: only the hidden-path rule and normalization stand between
/// a request and the upstream.
const PUBLIC_ROOT: &str = r#"
[[route]]
path = "/"
auth = "none"
"#;

/// A few listed paths and nothing else.
const LISTED: &str = r#"
[[route]]
path = "/api/jobs"
methods = ["GET", "POST"]
auth = "none"

[[route]]
path = "/health"
auth = "none"

[[route]]
path = "/api/workspace/file"
exact = true
auth = "none"
"#;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Table {
    PublicRoot,
    Listed,
}

struct Row {
    table: Table,
    method: &'static str,
    target: String,
    status: u16,
    /// The raw target the upstream must receive, or None if nothing may reach it.
    forwarded: Option<&'static str>,
}

fn row(
    table: Table,
    method: &'static str,
    target: &str,
    status: u16,
    forwarded: Option<&'static str>,
) -> Row {
    Row {
        table,
        method,
        target: target.to_string(),
        status,
        forwarded,
    }
}

fn rows() -> Vec<Row> {
    use Table::{Listed as L, PublicRoot as P};
    let hidden = |t: &str| row(P, "GET", t, 404, None);
    let bad = |t: &str| row(P, "GET", t, 400, None);
    let mut rows = vec![
        // The hidden UIs, their case variants, encodings and dot segments.
        hidden("/admin"),
        hidden("/admin/"),
        hidden("/admin/users/1"),
        hidden("/ADMIN"),
        hidden("/Admin/settings"),
        hidden("/%61dmin"),
        hidden("/%41DMIN"),
        hidden("/a%64min"),
        hidden("/%61%64%6d%69%6e"),
        hidden("//admin"),
        hidden("///admin/"),
        hidden("/./admin"),
        hidden("/x/../admin"),
        hidden("/x/%2e%2e/admin"),
        hidden("/x/%2E%2E/admin"),
        hidden("/x/.%2e/admin"),
        hidden("/x/%2e./admin"),
        hidden("/%2e/admin"),
        hidden("/x/y/../../admin"),
        hidden("/workspace"),
        hidden("/WORKSPACE/file.txt"),
        hidden("/%77orkspace"),
        hidden("/wor%E2%84%AAspace"),
        hidden("/docs"),
        hidden("/docs/"),
        hidden("/DOCS"),
        hidden("/docs/oauth2-redirect"),
        hidden("/redoc"),
        hidden("/ReDoc"),
        hidden("/openapi.json"),
        hidden("/OPENAPI.JSON"),
        hidden("/openapi%2ejson"),
        hidden("/openapi%2Ejson"),
        hidden("/%6fpenapi.json"),
        hidden("/api/../openapi.json"),
        row(P, "POST", "/admin", 404, None),
        row(P, "DELETE", "/workspace/x", 404, None),
        row(P, "OPTIONS", "/docs", 404, None),
        row(P, "HEAD", "/admin", 404, None),
        // Ambiguous encodings and bytes: 400, never forwarded.
        bad("/docs%0a"),
        bad("/docs%0A"),
        bad("/docs%00"),
        bad("/docs%0d%0a"),
        bad("/admin%09"),
        bad("/admin%7f"),
        bad("/admin%2f"),
        bad("/admin%2F.."),
        bad("/x%2f..%2fadmin"),
        bad("/admin%5c"),
        bad("/admin%5C..%5Cx"),
        bad("/admin;jsessionid=1"),
        bad("/admin%3bx"),
        bad("/x;/admin"),
        bad("/%2561dmin"),
        bad("/a%252fb"),
        bad("/%252e%252e/admin"),
        bad("/a%%32%66"),
        bad("/a%2"),
        bad("/a%g0"),
        bad("/%"),
        bad("/%C0%AE%C0%AE/admin"),
        bad("/%c0%af"),
        bad("/%ff"),
        bad("/%e2%82"),
        bad("/.."),
        bad("/../admin"),
        bad("/%2e%2e/"),
        bad("/x/../../admin"),
        bad("/admin\\x"),
        bad("/..\\admin"),
        bad(&format!("/{}", "a".repeat(8200))),
        // Normal paths in odd spellings reach the upstream in canonical form.
        row(P, "GET", "/", 200, Some("/")),
        row(P, "GET", "/admin/..", 200, Some("/")),
        row(P, "GET", "/admin/../health", 200, Some("/health")),
        row(P, "GET", "/%68ealth", 200, Some("/health")),
        row(P, "GET", "//health", 200, Some("/health")),
        row(P, "GET", "/health/.", 404, Some("/health/")),
        row(P, "GET", "/admin.json", 404, Some("/admin.json")),
        row(P, "GET", "/docs.html", 404, Some("/docs.html")),
        row(P, "GET", "/administrator", 404, Some("/administrator")),
        row(P, "GET", "/admin%20", 404, Some("/admin%20")),
        row(P, "GET", "/caf%c3%a9", 404, Some("/caf%C3%A9")),
        row(P, "GET", "/%7eu", 404, Some("/~u")),
        row(P, "GET", "/%EF%BD%81dmin", 404, Some("/%EF%BD%81dmin")),
        row(
            P,
            "GET",
            "/api/jobs?next=/admin",
            200,
            Some("/api/jobs?next=/admin"),
        ),
        row(
            P,
            "GET",
            "/api/jobs?%2e%2e/%2fadmin",
            200,
            Some("/api/jobs?%2e%2e/%2fadmin"),
        ),
        row(P, "GET", "/api/./jobs", 200, Some("/api/jobs")),
        // A fragment is dropped by the parser: decided and forwarded without it.
        row(P, "GET", "/api/jobs#frag", 200, Some("/api/jobs")),
        row(P, "GET", "/admin#/../health", 404, None),
        row(P, "GET", "/api//jobs", 200, Some("/api/jobs")),
        // Listed routes: segment boundaries, exact routes, case, methods.
        row(L, "GET", "/api/jobs", 200, Some("/api/jobs")),
        row(L, "GET", "/api/%6aobs", 200, Some("/api/jobs")),
        row(L, "GET", "/api/jobs/", 404, Some("/api/jobs/")),
        row(L, "GET", "/api/jobsx", 404, None),
        row(L, "GET", "/api/jobs.json", 404, None),
        row(L, "GET", "/API/JOBS", 404, None),
        row(L, "GET", "/api", 404, None),
        row(L, "GET", "/", 404, None),
        row(
            L,
            "GET",
            "/api/workspace/file",
            200,
            Some("/api/workspace/file"),
        ),
        row(L, "GET", "/api/workspace/file/", 404, None),
        row(L, "GET", "/api/workspace/file/x", 404, None),
        row(L, "GET", "/api/workspace/filex", 404, None),
        row(L, "GET", "/health/../admin", 404, None),
        row(L, "GET", "/health/..%2fadmin", 400, None),
        row(L, "GET", "/api/jobs/%2e%2e/%2e%2e/admin", 404, None),
        row(L, "GET", "/api/jobs/%2e%2e/secret", 404, None),
        row(L, "DELETE", "/api/jobs", 405, None),
        row(L, "PUT", "/api/jobs/1", 405, None),
        row(L, "GET", "/_frontdoor/health", 200, None),
        row(L, "GET", "/_frontdoor/anything", 404, None),
        row(L, "GET", "/_frontdoor/../api/jobs", 200, Some("/api/jobs")),
        row(L, "GET", "/unlisted", 404, None),
        row(L, "POST", "/unlisted", 404, None),
    ];
    // Percent-encoding of every letter of "jobs" in both cases reaches the same route.
    for (enc, _) in [("%6a", 'j'), ("%6A", 'j')] {
        rows.push(Row {
            table: L,
            method: "GET",
            target: format!("/api/{enc}obs"),
            status: 200,
            forwarded: Some("/api/jobs"),
        });
    }
    rows
}

/// Rows that only make sense as a raw HTTP/1.1 request line.
fn raw_only_rows() -> Vec<(Table, Vec<u8>, u16)> {
    use Table::PublicRoot as P;
    vec![
        (P, b"GET * HTTP/1.1".to_vec(), 400),
        (P, b"OPTIONS * HTTP/1.1".to_vec(), 400),
        (P, b"GET localhost:443 HTTP/1.1".to_vec(), 400),
        (P, b"CONNECT localhost:443 HTTP/1.1".to_vec(), 400),
        (P, b"GET http://evil.example/x HTTP/1.1".to_vec(), 400),
        (P, b"GET /a b HTTP/1.1".to_vec(), 400),
        (P, b"GET /a\tb HTTP/1.1".to_vec(), 400),
        (P, b"GET /admin\x00 HTTP/1.1".to_vec(), 400),
        (P, b"GET /adm\x7fin HTTP/1.1".to_vec(), 400),
        (P, "GET /\u{e9}dmin HTTP/1.1".as_bytes().to_vec(), 400),
        (P, b"GET /\xff HTTP/1.1".to_vec(), 400),
        (
            P,
            format!("GET /{} HTTP/1.1", "a".repeat(20_000)).into_bytes(),
            431,
        ),
    ]
}

/// Every row, over HTTP/1.1 on a raw TLS socket: the status, and what the upstream saw.
#[tokio::test]
async fn path_confusion_table_http1() {
    let public = Harness::with(Options {
        routes: PUBLIC_ROOT,
        ..Options::default()
    })
    .await;
    let listed = Harness::with(Options {
        routes: LISTED,
        ..Options::default()
    })
    .await;
    let rows = rows();
    assert!(
        rows.len() + raw_only_rows().len() >= 100,
        "at least 100 targets"
    );
    let mut failures = Vec::new();
    for row in &rows {
        let h = if row.table == Table::PublicRoot {
            &public
        } else {
            &listed
        };
        h.agent.clear_seen();
        let request = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            row.method,
            row.target,
            h.authority()
        );
        let raw = h.raw(request.as_bytes()).await;
        let status = status_of(&raw);
        let seen = h.agent_targets();
        let expected_seen: Vec<String> = row.forwarded.iter().map(|s| s.to_string()).collect();
        if status != row.status || seen != expected_seen {
            failures.push(format!(
                "{} {} ({:?}): status {status} (want {}), upstream saw {seen:?} (want {expected_seen:?})",
                row.method, row.target, row.table, row.status
            ));
        }
    }
    for (table, line, want) in raw_only_rows() {
        let h = if table == Table::PublicRoot {
            &public
        } else {
            &listed
        };
        h.agent.clear_seen();
        let mut request = line.clone();
        request.extend_from_slice(
            format!("\r\nHost: {}\r\nConnection: close\r\n\r\n", h.authority()).as_bytes(),
        );
        let raw = h.raw(&request).await;
        let status = status_of(&raw);
        let seen = h.agent_targets();
        if status != want || !seen.is_empty() {
            failures.push(format!(
                "{:?}: status {status} (want {want}), upstream saw {seen:?}",
                String::from_utf8_lossy(&line[..line.len().min(60)])
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same table as HTTP/2 `:path` (rows an `http::Uri` can carry), same expectations.
#[tokio::test]
async fn path_confusion_table_http2() {
    let public = Harness::with(Options {
        routes: PUBLIC_ROOT,
        ..Options::default()
    })
    .await;
    let listed = Harness::with(Options {
        routes: LISTED,
        ..Options::default()
    })
    .await;
    let mut failures = Vec::new();
    let mut sent = 0;
    for row in rows() {
        let h = if row.table == Table::PublicRoot {
            &public
        } else {
            &listed
        };
        let uri = format!("https://{}{}", h.authority(), row.target);
        let Ok(uri) = uri.parse::<http::Uri>() else {
            continue;
        };
        if uri.path_and_query().map(|p| p.as_str()) != Some(row.target.as_str()) {
            continue; // the client library would rewrite it: not the same test
        }
        sent += 1;
        h.agent.clear_seen();
        let req = Request::builder()
            .method(row.method)
            .uri(uri)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = h.send_h2(req).await;
        let seen = h.agent_targets();
        let expected_seen: Vec<String> = row.forwarded.iter().map(|s| s.to_string()).collect();
        if response.status.as_u16() != row.status || seen != expected_seen {
            failures.push(format!(
                "h2 {} {}: status {} (want {}), upstream saw {seen:?} (want {expected_seen:?})",
                row.method, row.target, response.status, row.status
            ));
        }
    }
    assert!(sent >= 80, "only {sent} rows could be sent as :path");
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `explain` and `serve` agree on every row: the status frontdoor answers itself, or that
/// the request is forwarded. Both run the same policy code, and this pins it.
#[tokio::test]
async fn explain_agrees_with_serve() {
    let public = Harness::with(Options {
        routes: PUBLIC_ROOT,
        ..Options::default()
    })
    .await;
    let listed = Harness::with(Options {
        routes: LISTED,
        ..Options::default()
    })
    .await;
    let mut failures = Vec::new();
    let mut compared = 0;
    for row in rows() {
        let h = if row.table == Table::PublicRoot {
            &public
        } else {
            &listed
        };
        h.agent.clear_seen();
        let request = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            row.method,
            row.target,
            h.authority()
        );
        let served = status_of(&h.raw(request.as_bytes()).await);
        let forwarded = !h.agent_targets().is_empty();
        let runtime = h.server.as_ref().unwrap().state.runtime.load_full();
        let explained = match frontdoor::explain::explain(
            &runtime.config,
            row.method,
            &row.target,
            Some(&h.authority()),
        ) {
            Ok(e) => e.status,
            // Not even a URI: the server refuses it as a malformed request too.
            Err(frontdoor::explain::ExplainError::Target(_)) => Some(400),
            Err(e) => panic!("{} {}: {e}", row.method, row.target),
        };
        compared += 1;
        let agrees = match explained {
            None => forwarded,
            Some(status) => !forwarded && status == served,
        };
        if !agrees {
            failures.push(format!(
                "{} {} ({:?}): explain says {explained:?}, serve answered {served} (forwarded: {forwarded})",
                row.method, row.target, row.table
            ));
        }
    }
    assert!(compared >= 100, "only {compared} rows compared");
    assert!(
        failures.is_empty(),
        "{} rows disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
