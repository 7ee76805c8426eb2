//! Revocation inputs: CRL files (parsed by x509-parser) and stapled OCSP responses (RFC 6960,
//! decoded with the asn1-rs parser x509-parser re-exports; ASN.1 decoding only, no crypto).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use x509_parser::asn1_rs::{Any, Class, FromDer, GeneralizedTime, Tag};
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
    /// `sigRequired`, `unauthorized`, or the number.
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

const OID_OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";

/// Decodes an OCSPResponse (the body of a stapled CertificateStatus message).
///
/// The responder's signature is not checked: a stapled response is evidence of what the server
/// sent, which is what a diagnosis needs.
pub fn parse_ocsp_response(der: &[u8]) -> Result<OcspResponse, CertsError> {
    let top = sequence_items(der, "OCSPResponse")?;
    let status_any = top.first().ok_or_else(|| bad("OCSPResponse is empty"))?;
    if status_any.header.tag() != Tag::Enumerated {
        return Err(bad("responseStatus is not an ENUMERATED"));
    }
    let status = small_uint(status_any.data).ok_or_else(|| bad("responseStatus too large"))?;
    let response_status = match status {
        0 => "successful".to_string(),
        1 => "malformedRequest".to_string(),
        2 => "internalError".to_string(),
        3 => "tryLater".to_string(),
        5 => "sigRequired".to_string(),
        6 => "unauthorized".to_string(),
        n => n.to_string(),
    };
    if status != 0 {
        return Ok(OcspResponse {
            response_status,
            produced_at: String::new(),
            responses: Vec::new(),
        });
    }
    // responseBytes [0] EXPLICIT ResponseBytes ::= SEQUENCE { responseType OID, response OCTET STRING }
    let wrapper = top
        .get(1)
        .filter(|a| is_context(a, 0))
        .ok_or_else(|| bad("successful response without responseBytes"))?;
    let response_bytes = sequence_items(wrapper.data, "ResponseBytes")?;
    let (Some(kind), Some(body)) = (response_bytes.first(), response_bytes.get(1)) else {
        return Err(bad("ResponseBytes is incomplete"));
    };
    let kind = kind
        .as_oid()
        .map_err(|_| bad("responseType is not an OID"))?
        .to_id_string();
    if kind != OID_OCSP_BASIC {
        return Err(bad(&format!(
            "responseType {kind} is not id-pkix-ocsp-basic"
        )));
    }
    if body.header.tag() != Tag::OctetString {
        return Err(bad("response is not an OCTET STRING"));
    }
    // BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm, signature, certs }
    let basic = sequence_items(body.data, "BasicOCSPResponse")?;
    let tbs = basic
        .first()
        .ok_or_else(|| bad("BasicOCSPResponse is empty"))?;
    if tbs.header.tag() != Tag::Sequence {
        return Err(bad("tbsResponseData is not a SEQUENCE"));
    }
    // ResponseData ::= SEQUENCE { version [0] OPTIONAL, responderID (CHOICE [1]/[2]),
    //                             producedAt GeneralizedTime, responses SEQUENCE OF SingleResponse, ... }
    let fields = children(tbs.data, "ResponseData")?;
    let mut rest = fields.iter().peekable();
    if rest.peek().is_some_and(|a| is_context(a, 0)) {
        rest.next();
    }
    rest.next()
        .filter(|a| is_context(a, 1) || is_context(a, 2))
        .ok_or_else(|| bad("responderID missing"))?;
    let produced_at = rest
        .next()
        .and_then(generalized_time)
        .ok_or_else(|| bad("producedAt is not a GeneralizedTime"))?;
    let list = rest
        .next()
        .filter(|a| a.header.tag() == Tag::Sequence)
        .ok_or_else(|| bad("responses is not a SEQUENCE"))?;
    let mut responses = Vec::new();
    for single in children(list.data, "responses")? {
        responses.push(parse_single(&single)?);
    }
    Ok(OcspResponse {
        response_status,
        produced_at: rfc3339_secs(produced_at),
        responses,
    })
}

/// SingleResponse ::= SEQUENCE { certID CertID, certStatus CertStatus, thisUpdate, ... }
fn parse_single(single: &Any<'_>) -> Result<OcspSingleResponse, CertsError> {
    if single.header.tag() != Tag::Sequence {
        return Err(bad("SingleResponse is not a SEQUENCE"));
    }
    let fields = children(single.data, "SingleResponse")?;
    let (Some(cert_id), Some(status)) = (fields.first(), fields.get(1)) else {
        return Err(bad("SingleResponse is incomplete"));
    };
    // CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber INTEGER }
    let id_fields = children(cert_id.data, "CertID")?;
    let serial_any = id_fields
        .get(3)
        .filter(|a| a.header.tag() == Tag::Integer)
        .ok_or_else(|| bad("CertID.serialNumber missing"))?;
    let serial_raw = trim_leading_zeros(serial_any.data).to_vec();
    let status = if is_context(status, 0) {
        OcspCertStatus::Good
    } else if is_context(status, 1) {
        // revoked [1] IMPLICIT RevokedInfo ::= SEQUENCE { revocationTime, revocationReason [0] EXPLICIT OPTIONAL }
        let info = children(status.data, "RevokedInfo")?;
        let revoked_at = info
            .first()
            .and_then(generalized_time)
            .ok_or_else(|| bad("revocationTime is not a GeneralizedTime"))?;
        let reason = info
            .get(1)
            .filter(|a| is_context(a, 0))
            .and_then(|a| Any::from_der(a.data).ok())
            .and_then(|(_, e)| small_uint(e.data));
        OcspCertStatus::Revoked {
            revoked_at: rfc3339_secs(revoked_at),
            reason,
        }
    } else if is_context(status, 2) {
        OcspCertStatus::Unknown
    } else {
        return Err(bad(
            "certStatus is not good [0], revoked [1] or unknown [2]",
        ));
    };
    let this_update = fields
        .get(2)
        .and_then(generalized_time)
        .map(rfc3339_secs)
        .unwrap_or_default();
    Ok(OcspSingleResponse {
        serial: colon_hex(&serial_raw),
        serial_raw,
        status,
        this_update,
    })
}

fn bad(what: &str) -> CertsError {
    CertsError::BadOcsp(what.to_string())
}

/// The elements of the SEQUENCE at the start of `der`.
fn sequence_items<'a>(der: &'a [u8], what: &str) -> Result<Vec<Any<'a>>, CertsError> {
    let (_, seq) = Any::from_der(der).map_err(|e| bad(&format!("{what}: {e}")))?;
    if seq.header.tag() != Tag::Sequence || seq.header.class() != Class::Universal {
        return Err(bad(&format!("{what} is not a SEQUENCE")));
    }
    children(seq.data, what)
}

/// The TLVs concatenated in `content`.
fn children<'a>(mut content: &'a [u8], what: &str) -> Result<Vec<Any<'a>>, CertsError> {
    let mut items = Vec::new();
    while !content.is_empty() {
        let (rest, item) = Any::from_der(content).map_err(|e| bad(&format!("{what}: {e}")))?;
        items.push(item);
        content = rest;
    }
    Ok(items)
}

fn is_context(any: &Any<'_>, tag: u32) -> bool {
    any.header.class() == Class::ContextSpecific && any.header.tag() == Tag(tag)
}

/// A GeneralizedTime TLV as seconds since the epoch.
fn generalized_time(any: &Any<'_>) -> Option<i64> {
    let time = GeneralizedTime::try_from(any.clone()).ok()?;
    time.utc_datetime().ok().map(|t| t.unix_timestamp())
}

/// A non-negative INTEGER/ENUMERATED content of at most 4 bytes.
fn small_uint(content: &[u8]) -> Option<u32> {
    let trimmed = trim_leading_zeros(content);
    if trimmed.len() > 4 || content.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    Some(
        trimmed
            .iter()
            .fold(0u32, |acc, b| (acc << 8) | u32::from(*b)),
    )
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
    fn pem_detection() {
        assert!(looks_like_pem(b"\n -----BEGIN X509 CRL-----"));
        assert!(!looks_like_pem(&[0x30, 0x82]));
    }
}
