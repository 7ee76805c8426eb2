//! HTTP requests and responses in decrypted (or cleartext) application data.

use crate::model::HttpRecord;
use crate::tls::HandshakeSummary;

/// The first HTTP exchanges of a connection.
pub fn exchanges(_hs: &HandshakeSummary) -> Vec<HttpRecord> {
    Vec::new()
}
