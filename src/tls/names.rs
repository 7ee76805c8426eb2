//! Human names for protocol numbers.

use tls_parser::TlsCipherSuite;

/// `"SSL 3.0"`, `"TLS 1.0"` … `"TLS 1.3"`, or `0x....` for anything else.
pub fn version_name(v: u16) -> String {
    match known_version_name(v) {
        Some(name) => name.to_string(),
        None => format!("0x{v:04x}"),
    }
}

/// The versions that have a name, with it.
const VERSION_NAMES: [(u16, &str); 10] = [
    (0x0002, "SSL 2.0"),
    (0x0300, "SSL 3.0"),
    (0x0301, "TLS 1.0"),
    (0x0302, "TLS 1.1"),
    (0x0303, "TLS 1.2"),
    (0x0304, "TLS 1.3"),
    (0xfeff, "DTLS 1.0"),
    (0xfefd, "DTLS 1.2"),
    (0xfefc, "DTLS 1.3"),
    // OpenSSL's DTLS before RFC 4347's number (DTLS1_BAD_VER), still Cisco AnyConnect's.
    (0x0100, "DTLS 1.0 (OpenSSL pre-standard)"),
];

/// The name of a version that has one (`TLS 1.3`).
pub fn known_version_name(v: u16) -> Option<&'static str> {
    VERSION_NAMES
        .iter()
        .find(|(code, _)| *code == v)
        .map(|(_, name)| *name)
}

/// The version [`version_name`] names `name` (`TLS 1.3`, or `0x7f1c` for one without a name).
pub fn version_by_name(name: &str) -> Option<u16> {
    VERSION_NAMES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(code, _)| *code)
        .or_else(|| hex_code(name))
}

/// The IANA name of a known cipher suite.
pub fn known_cipher_name(id: u16) -> Option<&'static str> {
    TlsCipherSuite::from_id(id).map(|cs| cs.name)
}

/// The suite [`cipher_name`] names `name` (IANA name, or `0x1301` for one without a name).
pub fn cipher_by_name(name: &str) -> Option<u16> {
    TlsCipherSuite::from_name(name)
        .map(|cs| cs.id.0)
        .or_else(|| hex_code(name))
}

/// `0x1a2b` → 0x1a2b.
fn hex_code(text: &str) -> Option<u16> {
    u16::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

/// IANA cipher suite name (e.g. `TLS_AES_128_GCM_SHA256`), or `0x....` when unknown.
pub fn cipher_name(id: u16) -> String {
    match known_cipher_name(id) {
        Some(name) => name.to_string(),
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

/// IANA name of a supported group (key exchange group), or its hex value.
pub fn group_name(g: u16) -> String {
    let name = match g {
        1 => "sect163k1",
        2 => "sect163r1",
        3 => "sect163r2",
        4 => "sect193r1",
        5 => "sect193r2",
        6 => "sect233k1",
        7 => "sect233r1",
        8 => "sect239k1",
        9 => "sect283k1",
        10 => "sect283r1",
        11 => "sect409k1",
        12 => "sect409r1",
        13 => "sect571k1",
        14 => "sect571r1",
        15 => "secp160k1",
        16 => "secp160r1",
        17 => "secp160r2",
        18 => "secp192k1",
        19 => "secp192r1",
        20 => "secp224k1",
        21 => "secp224r1",
        22 => "secp256k1",
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        26 => "brainpoolP256r1",
        27 => "brainpoolP384r1",
        28 => "brainpoolP512r1",
        29 => "x25519",
        30 => "x448",
        31 => "brainpoolP256r1tls13",
        32 => "brainpoolP384r1tls13",
        33 => "brainpoolP512r1tls13",
        256 => "ffdhe2048",
        257 => "ffdhe3072",
        258 => "ffdhe4096",
        259 => "ffdhe6144",
        260 => "ffdhe8192",
        0x0200 => "MLKEM512",
        0x0201 => "MLKEM768",
        0x0202 => "MLKEM1024",
        0x11eb => "SecP256r1MLKEM768",
        0x11ec => "X25519MLKEM768",
        0x11ed => "SecP384r1MLKEM1024",
        0x11ee => "curveSM2MLKEM768",
        41 => "curveSM2",
        0x6399 => "X25519Kyber768Draft00",
        0x639a => "SecP256r1Kyber768Draft00",
        _ => return format!("0x{g:04x}"),
    };
    name.to_string()
}

/// IANA name of a SignatureScheme, or of a TLS 1.2 (hash, signature) pair, or its hex value.
pub fn signature_scheme_name(s: u16) -> String {
    let name = tls_parser::SignatureScheme(s).to_string();
    // tls-parser writes unknown values as `SignatureScheme(…)`.
    if !name.contains('(') {
        return name;
    }
    let hash = match s >> 8 {
        1 => "md5",
        2 => "sha1",
        3 => "sha224",
        4 => "sha256",
        5 => "sha384",
        6 => "sha512",
        _ => return format!("0x{s:04x}"),
    };
    match s & 0xff {
        1 => format!("rsa_pkcs1_{hash}"),
        2 => format!("dsa_{hash}"),
        3 => format!("ecdsa_{hash}"),
        _ => format!("0x{s:04x}"),
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
        assert_eq!(group_name(29), "x25519");
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(group_name(0x2a2a), "0x2a2a");
        assert_eq!(signature_scheme_name(0x0804), "rsa_pss_rsae_sha256");
        assert_eq!(signature_scheme_name(0x0403), "ecdsa_secp256r1_sha256");
        assert_eq!(signature_scheme_name(0x0303), "ecdsa_sha224");
        assert!(is_grease(0x2a2a));
        assert!(!is_grease(0x2a3a));
    }
}
