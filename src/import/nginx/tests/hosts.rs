//! Which Host headers the import answers (`server.hosts`) and which Host it sends upstream
//! (`upstream.host_header`), as nginx did.

use super::*;

/// A block is nginx's default server of its port when it is marked `default_server`, or
/// is the first on the port and none is marked: only then does it answer any Host, and
/// only otherwise does the import pin `hosts`.
#[test]
fn hosts_pinned_only_when_another_block_is_the_default_server() {
    let proxied = "location / { proxy_pass http://127.0.0.1:1; }";
    for (text, pinned) in [
        // A catch-all before it on the same port.
        (
            format!(
                "server {{ listen 443 ssl; server_name _; return 444; }}
                 server {{ listen 443 ssl; server_name b; {proxied} }}"
            ),
            true,
        ),
        // Marked default_server, though second.
        (
            format!(
                "server {{ listen 443 ssl; server_name a; return 444; }}
                 server {{ listen 443 ssl default_server; server_name b; {proxied} }}"
            ),
            false,
        ),
        // First on its port, but another block is marked default_server there.
        (
            format!(
                "server {{ listen 443 ssl; server_name b; {proxied} }}
                 server {{ listen [::]:443 ssl default_server; server_name _; return 444; }}"
            ),
            true,
        ),
        // Another block on another port only.
        (
            format!(
                "server {{ listen 8443 ssl; server_name _; return 444; }}
                 server {{ listen 443 ssl; server_name b; {proxied} }}"
            ),
            false,
        ),
    ] {
        let out = import(&text);
        assert_valid(&out);
        let t = table(&out);
        if pinned {
            assert_eq!(
                strings(get(&t, &["server", "hosts"])),
                ["b"],
                "{text}\n{out}"
            );
        } else {
            assert!(get(&t, &["server", "hosts"]).is_none(), "{text}\n{out}");
            assert!(out.contains("# hosts = [\"b\"]"), "{text}\n{out}");
        }
    }
}

/// The Host nginx sent upstream becomes `upstream.host_header`: `$host` without the port,
/// `$http_host` as received, no line (or `$proxy_host`) proxy_pass's host:port. A level
/// with any `proxy_set_header` of its own inherits none (nginx's rule), so a location
/// setting only X-Real-IP under a server-level `Host $host` sends `$proxy_host`. A value
/// frontdoor cannot send is named, not guessed.
#[test]
fn host_header_follows_proxy_set_header() {
    for (server_level, location_level, expected, note) in [
        (
            "",
            "proxy_set_header Host $host;",
            Some("client_name"),
            None,
        ),
        (
            "",
            "proxy_set_header Host $http_host;",
            Some("client"),
            None,
        ),
        (
            "",
            "proxy_set_header HOST $proxy_host;",
            Some("upstream"),
            None,
        ),
        ("", "", Some("upstream"), None),
        (
            "proxy_set_header Host $host;",
            "",
            Some("client_name"),
            None,
        ),
        (
            "proxy_set_header Host $host;",
            "proxy_set_header X-Real-IP $remote_addr;",
            Some("upstream"),
            None,
        ),
        (
            "",
            "proxy_set_header Host internal.example;",
            None,
            Some("# nginx: proxy_set_header Host internal.example -- not translated"),
        ),
    ] {
        let text = format!(
            "server {{ listen 443 ssl; {server_level} location / {{ {location_level} proxy_pass http://127.0.0.1:1; }} }}"
        );
        let out = import(&text);
        assert_valid(&out);
        let t = table(&out);
        assert_eq!(
            str_at(&t, &["upstream", "host_header"]).as_deref(),
            expected,
            "{text}\n{out}"
        );
        if let Some(note) = note {
            assert!(out.contains(note), "{text}\n{out}");
        }
    }
}
