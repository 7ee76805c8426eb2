//! Certificate display fields (to be implemented).

use super::CertInfo;

/// A certificate that x509-parser could not read.
#[derive(Debug, thiserror::Error)]
#[error("unparsable certificate: {0}")]
pub struct CertError(pub String);

/// Reads a DER certificate's display fields.
pub fn summarize(der: &[u8]) -> Result<CertInfo, CertError> {
    let _ = der;
    todo!()
}
