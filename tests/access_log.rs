//! The access log as an operator greps it: refusals say `ACCESS DENIED`, an upstream outage
//! says `UPSTREAM FAILED` (so it does not flood the refusals), and durations have a fixed
//! precision.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Client, ServeProcess, Setup};

#[tokio::test]
async fn outages_and_refusals_are_told_apart() {
    let Setup { dir, agent } = Setup::new("accesslog").await;
    let (_reserved, gone) = common::refusing_address();
    let config = dir.join("f.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[tls]\nself_signed = true\ncert = \"{d}/c.pem\"\nkey = \"{d}/k.pem\"\n\
             [upstream]\nurl = \"http://{a}\"\n[upstreams.gone]\nurl = \"http://{gone}\"\n\
             [[route]]\npath = \"/api/echo\"\nauth = \"none\"\n\
             [[route]]\npath = \"/down\"\nauth = \"none\"\nupstream = \"gone\"\n",
            d = dir.path().display(),
            a = agent.addr
        ),
    )
    .unwrap();
    let process = ServeProcess::start(&["--log-format", "json"], &config, &[("RUST_LOG", "info")]);
    let client = Client::new(process.addr, &dir.join("c.pem"));
    assert_eq!(client.get("/api/echo", None).await.status, 200);
    assert_eq!(client.get("/admin", None).await.status, 404);
    assert_eq!(client.get("/down", None).await.status, 502);
    process.signal("TERM");
    let (_, log) = process.finish().await;
    let access: Vec<serde_json::Value> = log
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "frontdoor::access")
        .collect();
    let message = |path: &str| {
        access
            .iter()
            .find(|v| v["fields"]["path"] == path || v["path"] == path)
            .map(|v| {
                v["fields"]["message"]
                    .as_str()
                    .or(v["message"].as_str())
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_else(|| panic!("no access line for {path}: {log:#?}"))
    };
    assert_eq!(message("/api/echo"), "request");
    assert_eq!(message("/admin"), "ACCESS DENIED");
    assert_eq!(message("/down"), "UPSTREAM FAILED");
    for line in &access {
        let ms = line["fields"]["duration_ms"]
            .as_f64()
            .or(line["duration_ms"].as_f64())
            .unwrap();
        let printed = ms.to_string();
        let decimals = printed.split('.').nth(1).map_or(0, str::len);
        assert!(decimals <= 3, "duration_ms = {printed}");
    }
}
