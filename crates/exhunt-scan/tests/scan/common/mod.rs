//! What the scanner's integration tests share: a TLS configuration for the small servers they start on loopback.

use std::sync::Arc;

/// A self-signed certificate for `localhost` (the lab's own configuration helper).
pub fn server_config() -> Arc<rustls::ServerConfig> {
    exhunt_lab::serve::self_signed_config("localhost").expect("certificate")
}
