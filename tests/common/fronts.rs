//! Real front proxies for tests: Debian's nginx and Caddy, each in the foreground on a free
//! loopback port with a config written for the test, stopped on drop.

use std::process::Command;

use super::TempDir;

/// A real nginx (Debian's) serving a site, on a free loopback port, in the foreground.
pub struct Nginx {
    child: std::process::Child,
    pub port: u16,
}

impl Nginx {
    /// Starts nginx with `site` (its `{PORT}` replaced by a free port) in `dir`.
    pub fn start(dir: &TempDir, site: &str) -> (Nginx, String) {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let site = site.replace("{PORT}", &port.to_string());
            let d = dir.path().display();
            let conf = format!(
                "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{ worker_connections 64; }}\nhttp {{\n access_log off;\n\
                 client_body_temp_path {d}/client_body;\n proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
                 include {d}/site.conf;\n}}\n"
            );
            std::fs::write(dir.join("site.conf"), &site).unwrap();
            std::fs::write(dir.join("nginx.conf"), conf).unwrap();
            let child = Command::new("nginx")
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("nginx is needed by this test ({e}); ./scripts/test installs it")
                });
            let mut nginx = Nginx { child, port };
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return (nginx, site);
                }
                if nginx.child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile, or the config is wrong
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            drop(nginx);
            assert!(
                log.contains("Address already in use"),
                "nginx did not start:\n{log}"
            );
        }
        panic!("no free port for nginx after 5 tries");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real Caddy (Debian's) serving a Caddyfile, on a free loopback port, in the foreground.
pub struct Caddy {
    child: std::process::Child,
    pub port: u16,
}

impl Caddy {
    /// Starts Caddy with `site` (its `{PORT}` replaced by a free port) in `dir`; no admin
    /// endpoint, no automatic HTTPS (the site names its certificate).
    pub fn start(dir: &TempDir, site: &str) -> (Caddy, String) {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let site = site.replace("{PORT}", &port.to_string());
            let file = format!(
                "{{\n\tadmin off\n\tauto_https off\n\tlog {{\n\t\tlevel ERROR\n\t}}\n}}\n{site}"
            );
            std::fs::write(dir.join("Caddyfile"), &file).unwrap();
            let log = std::fs::File::create(dir.join("caddy.log")).unwrap();
            let child = Command::new("caddy")
                .args(["run", "--adapter", "caddyfile", "--config"])
                .arg(dir.join("Caddyfile"))
                .env("HOME", dir.path())
                .env("XDG_DATA_HOME", dir.join("data"))
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("caddy is needed by this test ({e}); ./scripts/test installs it")
                });
            let mut caddy = Caddy { child, port };
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return (caddy, site);
                }
                if caddy.child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let log = std::fs::read_to_string(dir.join("caddy.log")).unwrap_or_default();
            drop(caddy);
            assert!(
                log.contains("address already in use"),
                "caddy did not start:\n{log}"
            );
        }
        panic!("no free port for caddy after 5 tries");
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
