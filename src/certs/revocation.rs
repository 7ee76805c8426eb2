//! Revocation inputs: CRL files (parsed by x509-parser) and stapled OCSP responses (RFC 6960,
//! decoded by x509-ocsp; ASN.1 decoding only, no crypto).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use x509_parser::asn1_rs::FromDer;
use x509_parser::pem::Pem;
use x509_parser::prelude::SubjectPublicKeyInfo;
use x509_parser::revocation_list::CertificateRevocationList;

use super::info::{colon_hex, name_text, rfc3339_secs, trim_leading_zeros};
use super::CertsError;

/// One CRL loaded from a file.
#[derive(Debug, Clone)]
pub struct LoadedCrl {
    /// The file it came from, as given.
    pub file: String,
    /// Issuer DN text.
    pub issuer: String,
    /// Raw DER of the issuer Name (matched against certificates' issuer).
    pub(crate) issuer_raw: Vec<u8>,
    /// The CRL's DER (kept to check its signature once the issuer's key is known).
    der: Vec<u8>,
    /// Revoked serial (no leading zeros) → revocation date, seconds since the epoch.
    revoked: HashMap<Vec<u8>, i64>,
}

impl LoadedCrl {
    /// Revocation date of `serial` (without leading zero bytes), if listed.
    pub(crate) fn revoked_at(&self, serial: &[u8]) -> Option<i64> {
        self.revoked.get(serial).copied()
    }

    /// The CRL's signature verifies under `issuer_key`.
    pub(crate) fn signed_by(&self, issuer_key: &SubjectPublicKeyInfo<'_>) -> bool {
        match CertificateRevocationList::from_der(&self.der) {
            Ok((_, crl)) => crl.verify_signature(issuer_key).is_ok(),
            Err(_) => false,
        }
    }
}

/// CRLs from `--crl` files.
#[derive(Debug, Clone, Default)]
pub struct CrlSet {
    /// Every CRL read, in file order.
    pub crls: Vec<LoadedCrl>,
}

impl CrlSet {
    /// Reads DER or PEM CRL files (a PEM file may hold several `X509 CRL` blocks).
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<CrlSet, CertsError> {
        let mut crls = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let file = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|source| CertsError::Read {
                path: file.clone(),
                source,
            })?;
            let ders = if looks_like_pem(&bytes) {
                let blocks: Vec<Vec<u8>> = Pem::iter_from_buffer(&bytes)
                    .filter_map(Result::ok)
                    .filter(|pem| pem.label == "X509 CRL")
                    .map(|pem| pem.contents)
                    .collect();
                if blocks.is_empty() {
                    return Err(CertsError::BadCrl {
                        path: file,
                        reason: "no PEM \"X509 CRL\" block".into(),
                    });
                }
                blocks
            } else {
                vec![bytes]
            };
            for der in ders {
                crls.push(parse_crl(&file, der)?);
            }
        }
        Ok(CrlSet { crls })
    }

    /// CRLs whose issuer Name equals `issuer_raw` byte for byte.
    pub(crate) fn for_issuer<'s>(
        &'s self,
        issuer_raw: &'s [u8],
    ) -> impl Iterator<Item = &'s LoadedCrl> + 's {
        self.crls
            .iter()
            .filter(move |crl| crl.issuer_raw == issuer_raw)
    }
}

fn parse_crl(file: &str, der: Vec<u8>) -> Result<LoadedCrl, CertsError> {
    let (_, crl) = CertificateRevocationList::from_der(&der).map_err(|e| CertsError::BadCrl {
        path: file.to_string(),
        reason: e.to_string(),
    })?;
    let revoked = crl
        .iter_revoked_certificates()
        .map(|entry| {
            (
                trim_leading_zeros(entry.raw_serial()).to_vec(),
                entry.revocation_date.timestamp(),
            )
        })
        .collect();
    let issuer = name_text(crl.issuer());
    let issuer_raw = crl.issuer().as_raw().to_vec();
    Ok(LoadedCrl {
        file: file.to_string(),
        issuer,
        issuer_raw,
        der,
        revoked,
    })
}

/// True when the bytes start (after whitespace) with a PEM armour line.
pub(crate) fn looks_like_pem(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes
        .get(start..)
        .is_some_and(|rest| rest.starts_with(b"-----BEGIN"))
}

/// `certStatus` of one SingleResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OcspCertStatus {
    /// `good`.
    Good,
    /// `revoked`, with revocationTime (RFC 3339) and the CRLReason code when present.
    Revoked {
        /// revocationTime, RFC 3339 UTC.
        revoked_at: String,
        /// CRLReason code (1 = keyCompromise, ...).
        reason: Option<u32>,
    },
    /// `unknown`.
    Unknown,
}

/// One SingleResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OcspSingleResponse {
    /// certID.serialNumber, lower-case hex with colons.
    pub serial: String,
    /// certID.serialNumber without leading zero bytes.
    #[serde(skip)]
    pub serial_raw: Vec<u8>,
    /// certStatus.
    pub status: OcspCertStatus,
    /// thisUpdate, RFC 3339 UTC (empty when unreadable).
    pub this_update: String,
}

/// A decoded OCSPResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OcspResponse {
    /// responseStatus name: `successful`, `malformedRequest`, `internalError`, `tryLater`,
    /// `sigRequired` or `unauthorized` (any other value makes the response unparsable).
    pub response_status: String,
    /// producedAt, RFC 3339 UTC (empty when not successful).
    pub produced_at: String,
    /// The SingleResponses (empty when not successful).
    pub responses: Vec<OcspSingleResponse>,
}

impl OcspResponse {
    /// Status for a certificate serial number (DER INTEGER content; leading zeros ignored).
    pub fn status_of(&self, serial: &[u8]) -> Option<&OcspCertStatus> {
        let serial = trim_leading_zeros(serial);
        self.responses
            .iter()
            .find(|r| r.serial_raw == serial)
            .map(|r| &r.status)
    }
}

/// Decodes an OCSPResponse (the body of a stapled CertificateStatus message).
///
/// The responder's signature is not checked: a stapled response is evidence of what the server
/// sent, which is what a diagnosis needs. Bytes after the OCSPResponse are ignored.
pub fn parse_ocsp_response(der: &[u8]) -> Result<OcspResponse, CertsError> {
    use der::oid::AssociatedOid;
    use der::{Decode, SliceReader};
    use x509_ocsp::{BasicOcspResponse, OcspResponseStatus};

    let response = SliceReader::new(der)
        .and_then(|mut reader| x509_ocsp::OcspResponse::decode(&mut reader))
        .map_err(|e| bad(&format!("OCSPResponse: {e}")))?;
    let response_status = match response.response_status {
        OcspResponseStatus::Successful => "successful",
        OcspResponseStatus::MalformedRequest => "malformedRequest",
        OcspResponseStatus::InternalError => "internalError",
        OcspResponseStatus::TryLater => "tryLater",
        OcspResponseStatus::SigRequired => "sigRequired",
        OcspResponseStatus::Unauthorized => "unauthorized",
    }
    .to_string();
    if response.response_status != OcspResponseStatus::Successful {
        return Ok(OcspResponse {
            response_status,
            produced_at: String::new(),
            responses: Vec::new(),
        });
    }
    let bytes = response
        .response_bytes
        .ok_or_else(|| bad("successful response without responseBytes"))?;
    if bytes.response_type != BasicOcspResponse::OID {
        return Err(bad(&format!(
            "responseType {} is not id-pkix-ocsp-basic",
            bytes.response_type
        )));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| bad(&format!("BasicOCSPResponse: {e}")))?;
    let data = basic.tbs_response_data;
    let responses = data
        .responses
        .iter()
        .map(|single| {
            let serial_raw = trim_leading_zeros(single.cert_id.serial_number.as_bytes()).to_vec();
            let status = match &single.cert_status {
                x509_ocsp::CertStatus::Good(_) => OcspCertStatus::Good,
                x509_ocsp::CertStatus::Revoked(info) => OcspCertStatus::Revoked {
                    revoked_at: rfc3339_secs(unix_secs(&info.revocation_time.0)),
                    reason: info.revocation_reason.map(|r| r as u32),
                },
                x509_ocsp::CertStatus::Unknown(_) => OcspCertStatus::Unknown,
            };
            OcspSingleResponse {
                serial: colon_hex(&serial_raw),
                serial_raw,
                status,
                this_update: rfc3339_secs(unix_secs(&single.this_update.0)),
            }
        })
        .collect();
    Ok(OcspResponse {
        response_status,
        produced_at: rfc3339_secs(unix_secs(&data.produced_at.0)),
        responses,
    })
}

/// Seconds since the epoch (a DER GeneralizedTime cannot be before 1970).
fn unix_secs(time: &der::asn1::GeneralizedTime) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

fn bad(what: &str) -> CertsError {
    CertsError::BadOcsp(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocsp_garbage_is_an_error() {
        assert!(parse_ocsp_response(&[]).is_err());
        assert!(parse_ocsp_response(&[0x30, 0x00]).is_err());
        assert!(parse_ocsp_response(&[0x04, 0x01, 0x00]).is_err());
    }

    #[test]
    fn unsuccessful_ocsp_status_is_reported() {
        // Hand-built (edge case): OCSPResponse { responseStatus tryLater(3) } with no responseBytes.
        let der = [0x30, 0x03, 0x0a, 0x01, 0x03];
        let response = parse_ocsp_response(&der).unwrap();
        assert_eq!(response.response_status, "tryLater");
        assert!(response.responses.is_empty());
    }

    #[test]
    fn bytes_after_the_ocsp_response_are_ignored_and_unknown_statuses_refused() {
        // Hand-built (edge cases): tryLater followed by two stray bytes; then status 4, which
        // RFC 6960 leaves unused.
        let der = [0x30, 0x03, 0x0a, 0x01, 0x03, 0x00, 0x00];
        assert_eq!(
            parse_ocsp_response(&der).unwrap().response_status,
            "tryLater"
        );
        let der = [0x30, 0x03, 0x0a, 0x01, 0x04];
        assert!(matches!(
            parse_ocsp_response(&der),
            Err(CertsError::BadOcsp(_))
        ));
    }

    #[test]
    fn pem_detection() {
        assert!(looks_like_pem(b"\n -----BEGIN X509 CRL-----"));
        assert!(!looks_like_pem(&[0x30, 0x82]));
    }
}
