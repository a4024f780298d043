//! Owns the certificates frontdoor serves: loading and generating them (`tls`), the slot
//! every handshake reads (swapped on reload, on file change and on renewal), and ACME
//! (`acme`). Below `server` and `check`, which both use it.

pub mod acme;
pub mod tls;

pub use tls::{CertificateSlot, TlsError};
