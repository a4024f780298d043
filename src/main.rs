//! The `frontdoor` command: parses the command line, installs the crypto provider and
//! logging, and calls the library. Nothing else lives here.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use frontdoor::config::{Config, DEFAULT_CONFIG_PATH};

#[derive(Parser)]
#[command(
    name = "frontdoor",
    version,
    about = "HTTPS and login in front of an application that has none"
)]
struct Cli {
    /// Log lines as human-readable text or as JSON objects (one per line).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "FRONTDOOR_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Start a demo agent and frontdoor in front of it on https://127.0.0.1:8443.
    Demo {
        /// Where frontdoor listens.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Where the demo keeps its certificate, config and htpasswd file.
        #[arg(long, default_value = "certs/demo")]
        state_dir: PathBuf,
    },
    /// Run the proxy.
    Serve {
        /// The config file (default: $FRONTDOOR_CONFIG, then config/frontdoor.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Ask the running frontdoor to reload its config (SIGHUP via `server.pid_file`).
    Reload {
        /// The config file (default: $FRONTDOOR_CONFIG, then config/frontdoor.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Validate a config without serving: errors exit 1.
    Check {
        /// The config file (default: $FRONTDOOR_CONFIG, then config/frontdoor.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
    },
    /// Print what the policy decides for a request, and why.
    Explain {
        /// The config file (default: $FRONTDOOR_CONFIG, then config/frontdoor.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The request method, e.g. GET.
        method: String,
        /// The request target, e.g. /api/jobs?x=1 or /%61dmin.
        target: String,
        /// The Host header to ask with (default: the first of server.hosts).
        #[arg(long)]
        host: Option<String>,
    },
    /// Edit an htpasswd file like Apache's htpasswd (bcrypt, which nginx and Apache read;
    /// argon2id with --argon2id).
    #[command(
        override_usage = "frontdoor passwd [-cimBDv] [--argon2id] [-C cost] FILE USER\n       frontdoor passwd -b[cmBDv] [-C cost] FILE USER PASSWORD\n       frontdoor passwd -n[imB] [-C cost] USER\n       frontdoor passwd -nb[mB] [-C cost] USER PASSWORD"
    )]
    Passwd(PasswdFlags),
    /// Translate another front door's config into a frontdoor config (printed to stdout).
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Certificate helpers.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// API keys for programs (routes with auth = ["api_key"]): add, list, revoke, rotate.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Second factors (TOTP) for the sign-in page ([auth.login] totp = FILE): add, remove.
    Totp {
        #[command(subcommand)]
        command: TotpCommand,
    },
}

/// The file a `key` or `totp` command edits: `--file`, else the one the config names
/// (`[auth.api_keys] file`, `[auth.login] totp`).
#[derive(clap::Args)]
struct FileArgs {
    /// The file to edit (default: the one the config names).
    #[arg(long, conflicts_with = "config")]
    file: Option<PathBuf>,
    /// The config file (default: $FRONTDOOR_CONFIG, then config/frontdoor.toml).
    #[arg(long, short)]
    config: Option<PathBuf>,
}

impl FileArgs {
    /// `--file`, else what `pick` finds in the config; `missing` says what to add when the
    /// config names none.
    fn resolve(
        self,
        pick: impl FnOnce(Config) -> Option<PathBuf>,
        missing: &str,
    ) -> Result<PathBuf> {
        if let Some(file) = self.file {
            return Ok(file);
        }
        let path = config_path(self.config);
        match pick(Config::load(&path)?) {
            Some(file) => Ok(file),
            None => bail!(
                "{} has no {missing} (relative to its folder), or name the file with --file",
                path.display()
            ),
        }
    }
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a key and print it once, alone on its line (KEY=$(frontdoor key add ci)).
    Add {
        /// The key's name: what the upstream sees in X-Forwarded-User and the log shows.
        name: String,
        #[command(flatten)]
        file: FileArgs,
        /// Only this path and below (repeatable; default: every route that allows keys).
        #[arg(long = "route")]
        routes: Vec<String>,
        /// Only this method (repeatable; GET also allows HEAD; default: every method).
        #[arg(long = "method")]
        methods: Vec<String>,
        /// When it stops working: a duration (90d, 12h, 2w) or a date (2027-03-01).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List the keys: name, scope, dates, when last used (never the key or its digest).
    List {
        #[command(flatten)]
        file: FileArgs,
    },
    /// Remove a key (a running frontdoor refuses it within a second).
    Revoke {
        name: String,
        #[command(flatten)]
        file: FileArgs,
    },
    /// Print a new key for NAME with the same scope; the old key keeps working for --grace.
    Rotate {
        name: String,
        #[command(flatten)]
        file: FileArgs,
        /// How long the old key keeps working (0: stops now).
        #[arg(long, default_value = "24h")]
        grace: String,
        /// The new key's expiry (default: the old key's lifetime again, or never).
        #[arg(long)]
        expires: Option<String>,
    },
}

#[derive(Subcommand)]
enum TotpCommand {
    /// Enrol USER (a new secret replaces an old one): prints the otpauth:// URI and a QR code
    /// for an authenticator app.
    Add {
        user: String,
        #[command(flatten)]
        file: FileArgs,
    },
    /// Remove USER's second factor.
    Remove {
        user: String,
        #[command(flatten)]
        file: FileArgs,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// An nginx config holding a `server` block (auth_basic, proxy_pass, locations, ...).
    Nginx {
        /// nginx.conf or a sites-available file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum CertCommand {
    /// Write a self-signed key and certificate (mode 0600).
    SelfSigned {
        /// Names (DNS or IP) the certificate covers.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// Where the certificate (PEM) is written (the default is where a config in
        /// config/ with `self_signed = true` looks for it).
        #[arg(long, default_value = "config/certs/self-signed.crt")]
        cert: PathBuf,
        /// Where the private key (PEM, mode 0600) is written.
        #[arg(long, default_value = "config/certs/self-signed.key")]
        key: PathBuf,
    },
}

fn main() -> ExitCode {
    // aws-lc-rs is the one TLS crypto stack; installing it first makes every rustls config
    // (server, tests, ACME later) use it.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("frontdoor: {e:#}");
            if let Some(config) = e
                .chain()
                .find_map(|cause| cause.downcast_ref::<frontdoor::config::ConfigError>())
            {
                eprintln!("fix: {}", config.fix());
            }
            ExitCode::FAILURE
        }
    }
}

/// The key file a `key` command edits.
fn key_file(args: FileArgs) -> Result<PathBuf> {
    args.resolve(
        |c| c.api_keys.map(|k| k.file),
        "[auth.api_keys]; add `[auth.api_keys] file = \"api-keys.toml\"` to it",
    )
}

/// The second factors' file a `totp` command edits.
fn totp_file(args: FileArgs) -> Result<PathBuf> {
    args.resolve(
        |c| c.login.and_then(|l| l.totp),
        "[auth.login] totp file; add `totp = \"totp\"` under [auth.login]",
    )
}

fn totp_command(command: TotpCommand) -> Result<ExitCode> {
    use frontdoor::auth::login::totp;
    match command {
        TotpCommand::Add { user, file } => {
            let path = totp_file(file)?;
            let uri = totp::add(&path, &user)?;
            println!("{uri}");
            match qrcode::QrCode::new(uri.as_bytes()) {
                Ok(code) => {
                    use qrcode::render::unicode::Dense1x2;
                    let art = code
                        .render::<Dense1x2>()
                        .dark_color(Dense1x2::Light)
                        .light_color(Dense1x2::Dark)
                        .quiet_zone(true)
                        .build();
                    println!("{art}");
                }
                Err(e) => eprintln!("(no QR code: {e})"),
            }
            eprintln!(
                "{user} now needs a code from an authenticator app at sign-in: scan the QR code \
                 above or enter the URI's secret. Written to {} (mode 0600).",
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        TotpCommand::Remove { user, file } => {
            let path = totp_file(file)?;
            if totp::remove(&path, &user)? {
                eprintln!("{user}'s second factor is removed ({}).", path.display());
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{user} has no second factor in {}.", path.display());
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

fn key_command(command: KeyCommand) -> Result<ExitCode> {
    use frontdoor::auth::api_keys::commands::{self, AddOptions};
    let now = frontdoor::clock::now_unix();
    match command {
        KeyCommand::Add {
            name,
            file,
            routes,
            methods,
            expires,
        } => {
            let path = key_file(file)?;
            let options = AddOptions {
                name: name.clone(),
                routes,
                methods,
                expires,
            };
            let key = commands::add(&path, &options, now)?;
            // The key alone on stdout; what to do with it on stderr.
            println!("{key}");
            eprintln!(
                "added key `{name}` to {}: it is shown this once; send it as                  `Authorization: Bearer KEY` or `X-API-Key: KEY`",
                path.display()
            );
        }
        KeyCommand::List { file } => {
            let path = key_file(file)?;
            print!("{}", commands::list(&path, now)?);
        }
        KeyCommand::Revoke { name, file } => {
            let path = key_file(file)?;
            let removed = commands::revoke(&path, &name)?;
            eprintln!(
                "revoked `{name}` ({removed} key{}): a running frontdoor refuses it within a second",
                if removed == 1 { "" } else { "s" }
            );
        }
        KeyCommand::Rotate {
            name,
            file,
            grace,
            expires,
        } => {
            let path = key_file(file)?;
            let grace_secs = if grace == "0" {
                0
            } else {
                commands::parse_duration(&grace).with_context(|| {
                    format!("--grace `{grace}`: give a duration like 24h, 30m or 0")
                })?
            };
            let (key, old_until) =
                commands::rotate(&path, &name, grace_secs, expires.as_deref(), now)?;
            println!("{key}");
            eprintln!(
                "new key for `{name}` shown this once; the old key works until {}",
                frontdoor::clock::format_rfc3339(old_until)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn config_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("FRONTDOOR_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo { listen, state_dir } => {
            runtime()?.block_on(async {
                let demo = frontdoor::demo::start(listen, &state_dir).await?;
                let url = format!("https://{}", demo.server.https_addr);
                println!();
                println!("  frontdoor demo is running at {url}/");
                println!("  (self-signed certificate: your browser will ask you to accept it)");
                println!("  browsers get a sign-in page; curl sends the same user and password");
                println!();
                println!("  user:      {}", demo.user);
                println!(
                    "  password:  {}   (shown once; stored argon2id-hashed)",
                    demo.password
                );
                println!();
                println!("  try:");
                println!("    curl -k {url}/health                          # public: 200");
                println!("    curl -k {url}/api/jobs                        # 401 without login");
                println!(
                    "    curl -k -u {}:{} {url}/api/jobs",
                    demo.user, demo.password
                );
                println!(
                    "    curl -k -u {}:{} {url}/admin      # hidden: 404",
                    demo.user, demo.password
                );
                println!();
                println!("  config: {}   (Ctrl-C stops)", demo.config_path.display());
                println!();
                demo.server.run_until_signal().await;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { config } => {
            let path = config_path(config);
            let config = Config::load(&path)?;
            let pid_file = config.server.pid_file.clone();
            runtime()?.block_on(async {
                let server = frontdoor::server::start(config).await?;
                if let Some(pid_file) = &pid_file
                    && let Err(e) = std::fs::write(pid_file, format!("{}\n", std::process::id()))
                {
                    // Serving matters more than `frontdoor reload`: SIGHUP still works.
                    tracing::warn!(
                        pid_file = %pid_file.display(),
                        error = %e,
                        "cannot write the pid file: `frontdoor reload` will not find this server (send SIGHUP instead)"
                    );
                }
                server.run_until_signal().await;
                anyhow::Ok(())
            })?;
            if let Some(pid_file) = pid_file {
                let _ = std::fs::remove_file(pid_file);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reload { config } => {
            let path = config_path(config);
            let config = Config::load(&path)?;
            let Some(pid_file) = config.server.pid_file else {
                bail!(
                    "{}: set `server.pid_file` so `frontdoor reload` can find the server (or send SIGHUP yourself)",
                    path.display()
                );
            };
            let pid = std::fs::read_to_string(&pid_file).with_context(|| {
                format!("cannot read {} (is frontdoor running?)", pid_file.display())
            })?;
            let pid: u32 = pid
                .trim()
                .parse()
                .with_context(|| format!("{} does not hold a process id", pid_file.display()))?;
            // A stale file (after a crash) may name another process now: signal only a
            // running `frontdoor serve`.
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if !cmdline.split(|b| *b == 0).any(|arg| arg == b"serve") {
                bail!(
                    "process {pid} (from {}) is not a running `frontdoor serve`: the pid file is stale",
                    pid_file.display()
                );
            }
            let status = std::process::Command::new("kill")
                .args(["-HUP", &pid.to_string()])
                .status()
                .context("cannot run kill")?;
            if !status.success() {
                bail!(
                    "could not signal process {pid} (from {})",
                    pid_file.display()
                );
            }
            println!(
                "sent SIGHUP to frontdoor (pid {pid}); its log says whether the reload succeeded"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config, strict } => check(&config_path(config), strict),
        Command::Explain {
            config,
            method,
            target,
            host,
        } => {
            let config = Config::load(&config_path(config))?;
            let explanation =
                frontdoor::explain::explain(&config, &method, &target, host.as_deref())?;
            println!("{}", explanation.text);
            Ok(ExitCode::SUCCESS)
        }
        Command::Passwd(flags) => Ok(passwd(flags)),
        Command::Import {
            command: ImportCommand::Nginx { file },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let toml = frontdoor::import::nginx::import_nginx(&text, &file.display().to_string())?;
            print!("{toml}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Key { command } => key_command(command),
        Command::Totp { command } => totp_command(command),
        Command::Cert {
            command: CertCommand::SelfSigned { hosts, cert, key },
        } => {
            frontdoor::certificates::tls::write_self_signed(&cert, &key, &hosts)?;
            println!("wrote {} and {} (mode 0600)", cert.display(), key.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Validates the config and the files it names, as `serve` does at start: one line per
/// finding, then a summary; errors exit 1, warnings too with `--strict`.
fn check(path: &Path, strict: bool) -> Result<ExitCode> {
    let findings = match Config::load(path) {
        Ok(config) => frontdoor::check::check(&config),
        Err(e) => vec![frontdoor::check::Finding {
            severity: frontdoor::check::Severity::Error,
            subject: path.display().to_string(),
            problem: e.problem(),
            fix: e.fix(),
        }],
    };
    for f in &findings {
        println!("{f}");
    }
    let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
    println!(
        "{}: {} errors, {} warnings",
        path.display(),
        count(frontdoor::check::Severity::Error),
        count(frontdoor::check::Severity::Warning)
    );
    Ok(if frontdoor::check::fails(&findings, strict) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(clap::Args)]
struct PasswdFlags {
    /// Create the file (overwrite it if it exists).
    #[arg(short = 'c')]
    create: bool,
    /// Print the line to stdout instead of changing a file.
    #[arg(short = 'n')]
    print: bool,
    /// Take the password from the command line (visible to other users: prefer -i).
    #[arg(short = 'b')]
    batch: bool,
    /// Read the password from stdin without prompting.
    #[arg(short = 'i')]
    stdin: bool,
    /// bcrypt (the default; readable by nginx and Apache).
    #[arg(short = 'B')]
    bcrypt: bool,
    /// argon2id: stronger, but only frontdoor can read it (not nginx or Apache).
    #[arg(long = "argon2id")]
    argon2id: bool,
    /// bcrypt cost, 4 to 17 (default 10, or the highest the file already uses).
    #[arg(short = 'C', value_name = "COST")]
    cost: Option<u32>,
    /// Apache MD5 (apr1), for legacy readers only.
    #[arg(short = 'm')]
    apr1: bool,
    /// Delete the user.
    #[arg(short = 'D')]
    delete: bool,
    /// Verify the user's password.
    #[arg(short = 'v')]
    verify: bool,
    /// FILE USER [PASSWORD], or with -n: USER [PASSWORD].
    #[arg(num_args = 1..=3, value_name = "ARGS")]
    args: Vec<String>,
}

/// `frontdoor passwd`: Apache htpasswd's flags, messages and exit codes.
fn passwd(flags: PasswdFlags) -> ExitCode {
    use frontdoor::auth::passwd::{self, Change, HashFormat};
    let usage = |why: &str| {
        eprintln!("frontdoor passwd: {why}; see `frontdoor passwd --help`");
        ExitCode::from(2)
    };
    let mut args = flags.args.into_iter();
    let file = if flags.print {
        None
    } else {
        args.next().map(PathBuf::from)
    };
    let Some(user) = args.next() else {
        return usage("missing user name");
    };
    let given_password = args.next();
    if args.next().is_some() || (given_password.is_some() != flags.batch) {
        return usage("a password argument goes with -b, and only with -b");
    }
    if flags.print && (flags.create || flags.delete || flags.verify) {
        return usage("-n cannot be combined with -c, -D or -v");
    }
    if usize::from(flags.bcrypt) + usize::from(flags.apr1) + usize::from(flags.argon2id) > 1 {
        return usage("choose one of -B, -m and --argon2id");
    }
    if flags.cost.is_some() && (flags.apr1 || flags.argon2id) {
        return usage("-C sets a bcrypt cost: it goes with bcrypt, not -m or --argon2id");
    }
    let format = if flags.apr1 {
        HashFormat::Apr1
    } else if flags.argon2id {
        HashFormat::Argon2id
    } else {
        let existing = if flags.create { None } else { file.as_deref() };
        let cost = flags
            .cost
            .unwrap_or_else(|| passwd::bcrypt_cost_for(existing));
        if !(4..=17).contains(&cost) {
            return usage("bcrypt cost (-C) must be 4 to 17");
        }
        HashFormat::Bcrypt { cost }
    };
    let fail = |e: passwd::PasswdError| {
        eprintln!("frontdoor passwd: {e}");
        ExitCode::from(e.exit_code())
    };
    if let Err(e) = passwd::check_user_name(&user) {
        return fail(e);
    }
    if flags.delete {
        let Some(file) = file else {
            return usage("missing file");
        };
        return match passwd::delete_user(&file, &user) {
            Ok(true) => {
                eprintln!("Deleting password for user {user}");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("User {user} not found");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let password = match given_password {
        Some(p) => p.into_bytes(),
        None if flags.stdin => match read_stdin_line() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("frontdoor passwd: cannot read the password: {e}");
                return ExitCode::from(1);
            }
        },
        None => match prompt_twice(!flags.verify) {
            Ok(p) => p,
            Err(e) => return fail(e),
        },
    };
    if flags.print {
        return match passwd::format_line(&user, &password, format) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let Some(file) = file else {
        return usage("missing file");
    };
    if flags.verify {
        return match passwd::verify_user(&file, &user, &password) {
            Ok(()) => {
                eprintln!("Password for user {user} correct.");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    match passwd::set_user(&file, &user, &password, format, flags.create) {
        Ok(Change::Added) => {
            eprintln!("Adding password for user {user}");
            ExitCode::SUCCESS
        }
        Ok(Change::Updated) => {
            eprintln!("Updating password for user {user}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn read_stdin_line() -> std::io::Result<Vec<u8>> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).as_bytes().to_vec())
}

/// Prompts without echo (via stty when stdin is a terminal); asks twice for a new password.
fn prompt_twice(confirm: bool) -> Result<Vec<u8>, frontdoor::auth::passwd::PasswdError> {
    use std::io::IsTerminal;
    let terminal = std::io::stdin().is_terminal();
    let ask = |prompt: &str| -> Vec<u8> {
        eprint!("{prompt}");
        if terminal {
            let _ = std::process::Command::new("stty").arg("-echo").status();
        }
        let line = read_stdin_line().unwrap_or_default();
        if terminal {
            let _ = std::process::Command::new("stty").arg("echo").status();
            eprintln!();
        }
        line
    };
    let first = ask(if confirm {
        "New password: "
    } else {
        "Enter password: "
    });
    if confirm && ask("Re-type new password: ") != first {
        return Err(frontdoor::auth::passwd::PasswdError::Mismatch);
    }
    Ok(first)
}
