//! SSLv2-format ClientHello (the backwards-compatible hello old clients send), decoded by hand:
//! tls-parser does not read it and the format is small.

use super::ClientHello;

/// Recognises the start of an SSLv2-format ClientHello: 2-byte header with the high bit set,
/// message type 1 (CLIENT-HELLO), version 0x0002 or 0x03xx. Needs at least 5 bytes.
pub(crate) fn looks_like_sslv2_hello(b: &[u8]) -> bool {
    match b {
        [h, _, 1, 0, 2, ..] | [h, _, 1, 3, _, ..] => h & 0x80 != 0,
        _ => false,
    }
}

/// Recognises the start of an SSLv2 SERVER-HELLO: 2-byte header with the high bit set,
/// message type 4, SESSION-ID-HIT 0 or 1, CERTIFICATE-TYPE 0 or 1 (X.509), version 0x0002.
/// Needs at least 7 bytes; 5 are enough to call a start one.
pub(crate) fn looks_like_sslv2_server_hello(b: &[u8]) -> bool {
    match b {
        [h, _, 4, 0 | 1, 0 | 1, 0, 2, ..] | [h, _, 4, 0 | 1, 0 | 1] => h & 0x80 != 0,
        _ => false,
    }
}

/// Record length (body bytes after the 2-byte header) of an SSLv2 record with a 2-byte header.
pub(crate) fn record_len(b0: u8, b1: u8) -> usize {
    usize::from(b0 & 0x7f) << 8 | usize::from(b1)
}

/// (header length, whole record length) of an SSLv2 record: a 2-byte header when the high bit
/// is set, else a 3-byte one (its third byte counts padding inside the body).
pub(crate) fn record_size(b0: u8, b1: u8) -> (usize, usize) {
    if b0 & 0x80 != 0 {
        (2, 2 + record_len(b0, b1))
    } else {
        let len = usize::from(b0 & 0x3f) << 8 | usize::from(b1);
        (3, 3 + len)
    }
}

/// The nearest TLS cipher suite of an SSLv2 CIPHER-KIND (same key exchange, cipher and key
/// size; SSLv2 MACs are all MD5, so the TLS name's MAC can differ), or the TLS suite itself for
/// `0x00XXYY` specs. None for kinds with no TLS counterpart.
pub(crate) fn tls_suite(kind: [u8; 3]) -> Option<u16> {
    Some(match kind {
        [0, hi, lo] => u16::from_be_bytes([hi, lo]),
        [0x01, 0x00, 0x80] => 0x0004, // RC4_128_WITH_MD5 = TLS_RSA_WITH_RC4_128_MD5
        [0x02, 0x00, 0x80] => 0x0003, // RC4_128_EXPORT40_WITH_MD5 = TLS_RSA_EXPORT_WITH_RC4_40_MD5
        [0x04, 0x00, 0x80] => 0x0006, // RC2_128_CBC_EXPORT40_WITH_MD5
        [0x05, 0x00, 0x80] => 0x0007, // IDEA_128_CBC_WITH_MD5 ~ TLS_RSA_WITH_IDEA_CBC_SHA
        [0x06, 0x00, 0x40] => 0x0009, // DES_64_CBC_WITH_MD5 ~ TLS_RSA_WITH_DES_CBC_SHA
        [0x07, 0x00, 0xc0] => 0x000a, // DES_192_EDE3_CBC_WITH_MD5 ~ TLS_RSA_WITH_3DES_EDE_CBC_SHA
        _ => return None,
    })
}

/// What an SSLv2 SERVER-HELLO says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SslV2ServerHello {
    /// The server resumes a session (no certificate is sent then).
    pub session_id_hit: bool,
    /// SERVER-VERSION.
    pub version: u16,
    /// The server's X.509 certificate (DER), when sent.
    pub certificate: Option<Vec<u8>>,
    /// CIPHER-SPECS-DATA, 3 bytes each.
    pub cipher_kinds: Vec<[u8; 3]>,
}

/// Decodes the body of an SSLv2 SERVER-HELLO record (after the record header).
pub(crate) fn decode_server_hello(body: &[u8]) -> Result<SslV2ServerHello, String> {
    let err = || "malformed SSLv2 ServerHello".to_string();
    let hdr = body.get(..11).ok_or_else(err)?;
    if hdr[0] != 4 {
        return Err(err());
    }
    let version = u16::from_be_bytes([hdr[3], hdr[4]]);
    let cert_len = usize::from(u16::from_be_bytes([hdr[5], hdr[6]]));
    let specs_len = usize::from(u16::from_be_bytes([hdr[7], hdr[8]]));
    let conn_id_len = usize::from(u16::from_be_bytes([hdr[9], hdr[10]]));
    let cert = body.get(11..11 + cert_len).ok_or_else(err)?;
    let specs = body
        .get(11 + cert_len..11 + cert_len + specs_len)
        .ok_or_else(err)?;
    body.get(11 + cert_len + specs_len..11 + cert_len + specs_len + conn_id_len)
        .ok_or_else(err)?;
    if specs_len % 3 != 0 {
        return Err(err());
    }
    Ok(SslV2ServerHello {
        session_id_hit: hdr[1] != 0,
        version,
        certificate: (!cert.is_empty()).then(|| cert.to_vec()),
        cipher_kinds: specs.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
    })
}

/// The CIPHER-KIND of an SSLv2 CLIENT-MASTER-KEY record body (message type 2).
pub(crate) fn client_master_key_kind(body: &[u8]) -> Option<[u8; 3]> {
    match body {
        [2, a, b, c, ..] => Some([*a, *b, *c]),
        _ => None,
    }
}

/// Decodes the body of an SSLv2 CLIENT-HELLO record (after the 2-byte record header).
///
/// Cipher specs are 3 bytes; `0x00XXYY` maps to the TLS suite `0xXXYY`, SSLv2-only specs are
/// dropped since they have no TLS number.
pub(crate) fn decode_client_hello(body: &[u8]) -> Result<ClientHello, String> {
    let err = || "malformed SSLv2 ClientHello".to_string();
    let hdr = body.get(..9).ok_or_else(err)?;
    if hdr[0] != 1 {
        return Err(err());
    }
    let version = u16::from_be_bytes([hdr[1], hdr[2]]);
    let cipher_len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
    let sid_len = usize::from(u16::from_be_bytes([hdr[5], hdr[6]]));
    let challenge_len = usize::from(u16::from_be_bytes([hdr[7], hdr[8]]));
    if cipher_len % 3 != 0 {
        return Err(err());
    }
    let specs = body.get(9..9 + cipher_len).ok_or_else(err)?;
    let sid_start = 9 + cipher_len;
    let session_id = body.get(sid_start..sid_start + sid_len).ok_or_else(err)?;
    let ch_start = sid_start + sid_len;
    let challenge = body
        .get(ch_start..ch_start + challenge_len)
        .ok_or_else(err)?;
    let ciphers = specs
        .chunks_exact(3)
        .filter(|s| s[0] == 0)
        .map(|s| u16::from_be_bytes([s[1], s[2]]))
        .collect();
    Ok(ClientHello {
        sslv2: true,
        legacy_version: version,
        random: challenge.to_vec(),
        session_id: session_id.to_vec(),
        ciphers,
        ..ClientHello::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-built (no corpus capture has an SSLv2 server): SERVER-HELLO with a 3-byte stand-in
    /// certificate, two cipher kinds and a 16-byte connection id; every truncation fails.
    #[test]
    fn decodes_hand_built_server_hello() {
        let mut body = vec![4, 0, 1, 0, 2, 0, 3, 0, 6, 0, 16];
        body.extend_from_slice(&[0x30, 0x01, 0x00]);
        body.extend_from_slice(&[0x01, 0x00, 0x80, 0x07, 0x00, 0xc0]);
        body.extend_from_slice(&[9; 16]);
        let sh = decode_server_hello(&body).unwrap();
        assert_eq!(sh.version, 0x0002);
        assert!(!sh.session_id_hit);
        assert_eq!(sh.certificate.as_deref(), Some(&[0x30, 0x01, 0x00][..]));
        assert_eq!(sh.cipher_kinds, [[1, 0, 0x80], [7, 0, 0xc0]]);
        assert_eq!(tls_suite(sh.cipher_kinds[0]), Some(0x0004));
        for cut in 0..body.len() {
            assert!(decode_server_hello(&body[..cut]).is_err(), "{cut}");
        }
        let mut record = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
        record.extend_from_slice(&body);
        assert!(looks_like_sslv2_server_hello(&record));
        assert_eq!(record_size(record[0], record[1]), (2, record.len()));
        assert_eq!(record_size(0x00, 0x10), (3, 19));
        assert_eq!(
            client_master_key_kind(&[2, 1, 0, 0x80, 0, 0]),
            Some([1, 0, 0x80])
        );
    }

    #[test]
    fn decodes_hand_built_hello() {
        // Hand-built: SSLv2 CLIENT-HELLO, version TLS 1.0, two specs (one SSLv2-only), no
        // session id, 16-byte challenge. One edge case: the spec mapping.
        let mut body = vec![1, 3, 1, 0, 6, 0, 0, 0, 16];
        body.extend_from_slice(&[0x01, 0x00, 0x80, 0x00, 0x00, 0x2f]);
        body.extend_from_slice(&[7; 16]);
        let ch = decode_client_hello(&body).unwrap();
        assert!(ch.sslv2);
        assert_eq!(ch.legacy_version, 0x0301);
        assert_eq!(ch.ciphers, vec![0x002f]);
        assert_eq!(ch.random, vec![7; 16]);
        assert!(decode_client_hello(&body[..20]).is_err());
        assert!(looks_like_sslv2_hello(&[0x80, 0x1f, 1, 3, 1]));
        assert!(!looks_like_sslv2_server_hello(&[0x80, 0x1f, 1, 3, 1]));
        assert!(!looks_like_sslv2_hello(&[0x16, 3, 1, 0, 5]));
    }
}
