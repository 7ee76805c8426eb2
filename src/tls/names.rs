//! Human names for protocol numbers.

use tls_parser::TlsCipherSuite;

/// `"SSL 3.0"`, `"TLS 1.0"` … `"TLS 1.3"`, or `0x....` for anything else.
pub fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSL 2.0".to_string(),
        0x0300 => "SSL 3.0".to_string(),
        0x0301 => "TLS 1.0".to_string(),
        0x0302 => "TLS 1.1".to_string(),
        0x0303 => "TLS 1.2".to_string(),
        0x0304 => "TLS 1.3".to_string(),
        0xfeff => "DTLS 1.0".to_string(),
        0xfefd => "DTLS 1.2".to_string(),
        0xfefc => "DTLS 1.3".to_string(),
        // OpenSSL's DTLS before RFC 4347's number (DTLS1_BAD_VER), still Cisco AnyConnect's.
        0x0100 => "DTLS 1.0 (OpenSSL pre-standard)".to_string(),
        other => format!("0x{other:04x}"),
    }
}

/// IANA cipher suite name (e.g. `TLS_AES_128_GCM_SHA256`), or `0x....` when unknown.
pub fn cipher_name(id: u16) -> String {
    match TlsCipherSuite::from_id(id) {
        Some(cs) => cs.name.to_string(),
        None => format!("0x{id:04x}"),
    }
}

/// RFC alert description name (e.g. `unknown_ca`), or `alert_NN`.
pub fn alert_name(code: u8) -> String {
    let name = match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        121 => "ech_required",
        other => return format!("alert_{other}"),
    };
    name.to_string()
}

/// `warning`, `fatal`, or `level_N`.
pub fn alert_level_name(level: u8) -> String {
    match level {
        1 => "warning".to_string(),
        2 => "fatal".to_string(),
        other => format!("level_{other}"),
    }
}

/// GREASE values (RFC 8701): `0x?a?a` with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(version_name(0x0303), "TLS 1.2");
        assert_eq!(version_name(0x0300), "SSL 3.0");
        assert_eq!(version_name(0x7f1c), "0x7f1c");
        assert_eq!(cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(cipher_name(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(cipher_name(0x0a0a), "0x0a0a");
        assert_eq!(alert_name(48), "unknown_ca");
        assert_eq!(alert_name(116), "certificate_required");
        assert_eq!(alert_name(200), "alert_200");
        assert_eq!(alert_level_name(2), "fatal");
        assert_eq!(alert_level_name(7), "level_7");
        assert!(is_grease(0x2a2a));
        assert!(!is_grease(0x2a3a));
    }
}
