//! The path-confusion table: request targets (encoded, dot-segment, case, parameter,
//! control-byte, oversized) with the status frontdoor answers and what may reach the
//! upstream. Proxy mode (tests/path_confusion.rs) and the fronts of forward auth
//! (tests/forward_auth_fronts.rs) run the same rows.

/// Everything public under `/`: only the hidden-path rule and normalization stand between
/// a request and the upstream.
pub const PUBLIC_ROOT: &str = r#"
[[route]]
path = "/"
auth = "none"
"#;

/// A few listed paths and nothing else.
pub const LISTED: &str = r#"
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
pub enum Table {
    PublicRoot,
    Listed,
}

pub struct Row {
    pub table: Table,
    pub method: &'static str,
    pub target: String,
    pub status: u16,
    /// The raw target the upstream must receive, or None if nothing may reach it.
    pub forwarded: Option<&'static str>,
}

pub fn row(
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

pub fn rows() -> Vec<Row> {
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
pub fn raw_only_rows() -> Vec<(Table, Vec<u8>, u16)> {
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
