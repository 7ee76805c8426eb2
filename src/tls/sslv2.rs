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

/// Record length (body bytes after the 2-byte header) of an SSLv2 record with a 2-byte header.
pub(crate) fn record_len(b0: u8, b1: u8) -> usize {
    usize::from(b0 & 0x7f) << 8 | usize::from(b1)
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
        assert!(!looks_like_sslv2_hello(&[0x16, 3, 1, 0, 5]));
    }
}
