//! Owns background upkeep while the server runs: picking up htpasswd changes (so
//! `frontdoor passwd` takes effect without a restart), swapping in certificate files that
//! changed on disk, closing idle upstream connections and sweeping expired lockout records.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::note_certificate_expiry;
use crate::config::TlsSettings;
use crate::state::AppState;

/// How often the htpasswd file is checked for changes.
const RELOAD_POLL: Duration = Duration::from_secs(1);
/// How often expired lockout records are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Background upkeep: picks up htpasswd changes (so `frontdoor passwd` takes effect without
/// a restart) and sweeps expired lockout records.
pub(super) async fn run(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(RELOAD_POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sweep = Instant::now();
    let mut certificate_files = None;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => {}
        }
        reload_users(&state, false);
        reload_keys(&state, false);
        watch_certificate(&state, &mut certificate_files);
        for upstream in &state.runtime.load().upstreams {
            upstream.evict_idle();
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            state.lockout.sweep();
            save_key_use(&state);
            last_sweep = Instant::now();
        }
    }
}

/// Re-reads the API key file (when it changed, or always when `force`), so `frontdoor key
/// revoke` takes effect within a second; a file that cannot be used keeps the previous keys.
pub(super) fn reload_keys(state: &AppState, force: bool) {
    let runtime = state.runtime.load_full();
    let Some(keys) = &runtime.api_keys else {
        return;
    };
    match keys.reload(force) {
        None => {}
        Some(Ok(count)) => {
            tracing::info!(file = %keys.path.display(), keys = count, "api keys reloaded");
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "api key reload FAILED: keeping the previous keys");
        }
    }
}

/// Writes when each API key was last used beside the key file (at most once a minute).
pub(super) fn save_key_use(state: &AppState) {
    let runtime = state.runtime.load_full();
    let Some(keys) = &runtime.api_keys else {
        return;
    };
    if let Err(e) = keys.save_last_used() {
        tracing::warn!(
            file = %crate::auth::api_keys::last_used_path(&keys.path).display(),
            error = %e,
            "cannot record when api keys were last used (keys keep working)"
        );
    }
}

/// The fingerprints of the certificate and key files last looked at.
type CertificateFiles = (
    Option<crate::files::FileFingerprint>,
    Option<crate::files::FileFingerprint>,
);

/// Swaps in the certificate when its files change on disk (certbot renew needs no hook and
/// no restart). New handshakes get the new certificate; open connections keep theirs. A
/// half-written pair (new certificate, old key) is refused and retried on the next change.
fn watch_certificate(state: &AppState, seen: &mut Option<CertificateFiles>) {
    let runtime = state.runtime.load_full();
    let (cert, key) = match &runtime.config.tls {
        TlsSettings::Files { cert, key } | TlsSettings::SelfSigned { cert, key, .. } => (cert, key),
        TlsSettings::Acme(_) => return, // renewed by the ACME task
    };
    let now = (
        crate::files::fingerprint(cert),
        crate::files::fingerprint(key),
    );
    let Some(before) = seen.replace(now) else {
        return; // the first look: what is being served now
    };
    if before == now {
        return;
    }
    match crate::certificates::tls::load_certified_key(cert, key) {
        Ok(certified) => {
            note_certificate_expiry(&state.metrics, &certified);
            state.certificate.set(certified);
            tracing::info!(cert = %cert.display(), "certificate files changed: new certificate in use");
        }
        Err(e) => tracing::error!(
            error = %e,
            "certificate files changed but cannot be used: keeping the current certificate"
        ),
    }
}

/// Re-reads the htpasswd file (when it changed, or always when `force`); a file that
/// cannot be used keeps the previous users.
pub(super) fn reload_users(state: &AppState, force: bool) {
    let runtime = state.runtime.load_full();
    let Some(basic) = &runtime.basic else { return };
    match basic.reload(force) {
        None => {}
        Some(Ok(users)) => {
            tracing::info!(file = %basic.path.display(), users, "htpasswd reloaded");
        }
        Some(Err(e)) => {
            tracing::error!(
                file = %basic.path.display(),
                error = %e,
                "htpasswd reload FAILED: keeping the previous users"
            );
        }
    }
}
