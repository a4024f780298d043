//! Path confusion: encoded, dot-segment, case, parameter, control-byte and oversized request
//! targets written raw to a TLS socket (and again as HTTP/2 `:path`). Each row pins the
//! status and exactly what, if anything, reached the upstream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::paths::{LISTED, PUBLIC_ROOT, Table, raw_only_rows, rows};
use common::{Harness, Options, status_of};
use http::Request;
use http_body_util::Full;

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
