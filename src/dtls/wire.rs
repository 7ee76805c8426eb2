//! DTLS on the wire (RFC 6347 for 1.0/1.2, RFC 9147 for 1.3): records in a datagram and the
//! handshake fragment header. Views only: nothing here keeps state.

/// A record's content type.
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;
/// DTLS 1.3 acknowledgements (RFC 9147 §7).
pub const ACK: u8 = 26;

/// Handshake message types DTLS adds or handles apart.
pub const CLIENT_HELLO: u8 = 1;
pub const HELLO_VERIFY_REQUEST: u8 = 3;

/// One record of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Content type; for a DTLS 1.3 encrypted record (unified header) the real type is
    /// inside the protected payload and this is [`APPLICATION_DATA`].
    pub content_type: u8,
    /// Record-layer version (`0xfeff` DTLS 1.0, `0xfefd` 1.2); 0 in a unified header.
    pub version: u16,
    /// Epoch (its two low bits in a unified header); 0 is the unprotected handshake.
    pub epoch: u16,
    /// Sequence number within the epoch (48 bits; a unified header carries only its low
    /// bits, not kept: 0).
    pub seq: u64,
    /// A DTLS 1.3 record with the unified header (always protected).
    pub unified: bool,
    /// The record's payload.
    pub fragment: &'a [u8],
}

/// DTLSPlaintext / DTLSCiphertext (≤ 1.2) header length.
const HEADER: usize = 13;

/// Whether `version` is one DTLS uses in its record layer or hellos.
pub fn is_dtls_version(version: u16) -> bool {
    matches!(version, 0xfeff | 0xfefd | 0xfefc | 0x0100)
}

/// The records of a datagram, in order, and whether they covered it exactly (false: the rest
/// was not DTLS or was cut by the snap length).
pub fn records(datagram: &[u8]) -> (Vec<Record<'_>>, bool) {
    let mut out = Vec::new();
    let mut rest = datagram;
    while let Some(&first) = rest.first() {
        let parsed = if first & 0xe0 == 0x20 {
            unified(rest)
        } else {
            plain(rest)
        };
        let Some((record, len)) = parsed else {
            return (out, false);
        };
        out.push(record);
        rest = &rest[len..];
    }
    (out, true)
}

/// A record with the 13-byte header: the record and its length.
fn plain(bytes: &[u8]) -> Option<(Record<'_>, usize)> {
    let header = bytes.get(..HEADER)?;
    let content_type = header[0];
    if !(CHANGE_CIPHER_SPEC..=ACK).contains(&content_type) {
        return None;
    }
    let version = u16::from_be_bytes([header[1], header[2]]);
    if !is_dtls_version(version) {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([header[11], header[12]]));
    let fragment = bytes.get(HEADER..HEADER + len)?;
    Some((
        Record {
            content_type,
            version,
            epoch: u16::from_be_bytes([header[3], header[4]]),
            seq: header[5..11]
                .iter()
                .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
            unified: false,
            fragment,
        },
        HEADER + len,
    ))
}

/// A DTLS 1.3 unified header record (`001CSLEE`): the connection ID, whose length the
/// handshake negotiated, cannot be skipped here, so a record with one ends the walk.
fn unified(bytes: &[u8]) -> Option<(Record<'_>, usize)> {
    let first = *bytes.first()?;
    if first & 0x10 != 0 {
        return None;
    }
    let seq_len = if first & 0x08 != 0 { 2 } else { 1 };
    let mut at = 1 + seq_len;
    let len = if first & 0x04 != 0 {
        let l = bytes.get(at..at + 2)?;
        at += 2;
        usize::from(u16::from_be_bytes([l[0], l[1]]))
    } else {
        bytes.len().checked_sub(at)?
    };
    let fragment = bytes.get(at..at + len)?;
    Some((
        Record {
            content_type: APPLICATION_DATA,
            version: 0,
            epoch: u16::from(first & 0x03),
            seq: 0,
            unified: true,
            fragment,
        },
        at + len,
    ))
}

/// A handshake fragment (RFC 6347 §4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub msg_type: u8,
    /// Length of the whole message.
    pub length: usize,
    pub message_seq: u16,
    pub offset: usize,
    pub body: &'a [u8],
}

/// Handshake header length in DTLS.
const FRAGMENT_HEADER: usize = 12;

/// The handshake fragments of a record's payload.
pub fn fragments(mut payload: &[u8]) -> Vec<Fragment<'_>> {
    let mut out = Vec::new();
    while let Some(h) = payload.get(..FRAGMENT_HEADER) {
        let be24 = |b: &[u8]| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]);
        let length = be24(&h[1..4]);
        let offset = be24(&h[6..9]);
        let frag_len = be24(&h[9..12]);
        let Some(body) = payload.get(FRAGMENT_HEADER..FRAGMENT_HEADER + frag_len) else {
            break;
        };
        if offset
            .checked_add(frag_len)
            .map_or(true, |end| end > length)
        {
            break;
        }
        out.push(Fragment {
            msg_type: h[0],
            length,
            message_seq: u16::from_be_bytes([h[4], h[5]]),
            offset,
            body,
        });
        payload = &payload[FRAGMENT_HEADER + frag_len..];
    }
    out
}

/// A whole handshake message as TLS frames it (4-byte header), from a DTLS one: the
/// ClientHello loses its cookie, which TLS's ClientHello does not have.
pub fn tls_message(msg_type: u8, body: &[u8]) -> Option<Vec<u8>> {
    let (head, tail) = if msg_type == CLIENT_HELLO {
        // version (2), random (32), session id, then the cookie.
        let sid = 34 + 1 + usize::from(*body.get(34)?);
        let cookie = 1 + usize::from(*body.get(sid)?);
        (body.get(..sid)?, body.get(sid + cookie..)?)
    } else {
        (body, &[][..])
    };
    let len = head.len() + tail.len();
    let len24 = u32::try_from(len).ok().filter(|l| *l < 1 << 24)?;
    let mut out = Vec::with_capacity(4 + len);
    out.push(msg_type);
    out.extend_from_slice(&len24.to_be_bytes()[1..]);
    out.extend_from_slice(head);
    out.extend_from_slice(tail);
    Some(out)
}

/// The cookie length of a DTLS ClientHello body (0: none, the first of a cookie exchange).
pub fn client_hello_cookie_len(body: &[u8]) -> Option<usize> {
    let sid = 34 + 1 + usize::from(*body.get(34)?);
    body.get(sid).map(|l| usize::from(*l))
}

/// A version's name as DTLS numbers it.
pub fn version_name(version: u16) -> &'static str {
    match version {
        0xfeff => "DTLS 1.0",
        0xfefd => "DTLS 1.2",
        0xfefc => "DTLS 1.3",
        0x0100 => "DTLS 1.0 (OpenSSL pre-standard)",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-built bytes (edge cases of the header walk, not a capture).
    #[test]
    fn a_cut_record_stops_the_walk() {
        let mut d = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4];
        let (recs, whole) = records(&d);
        assert_eq!((recs.len(), whole), (1, true));
        assert_eq!(recs[0].fragment, &[1, 2, 3, 4]);
        d.truncate(15);
        let (recs, whole) = records(&d);
        assert_eq!((recs.len(), whole), (0, false));
        for n in 0..d.len() {
            let _ = records(&d[..n]);
            let _ = fragments(&d[..n]);
        }
    }

    #[test]
    fn not_dtls_versions_are_refused() {
        let d = [22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(records(&d), (vec![], false));
    }

    #[test]
    fn unified_header_with_length() {
        // 0x2c: C=0, S=1 (16-bit seq), L=1, epoch 0 bits... then seq (2), length (2).
        let d = [0x2e, 0, 7, 0, 2, 0xaa, 0xbb];
        let (recs, whole) = records(&d);
        assert!(whole);
        assert_eq!(recs[0].epoch, 2);
        assert!(recs[0].unified);
        assert_eq!(recs[0].fragment, &[0xaa, 0xbb]);
    }

    #[test]
    fn fragment_past_its_message_is_refused() {
        // length 4, offset 2, fragment length 3: ends past the message.
        let f = [1, 0, 0, 4, 0, 0, 0, 0, 2, 0, 0, 3, 9, 9, 9];
        assert!(fragments(&f).is_empty());
    }

    #[test]
    fn client_hello_loses_its_cookie() {
        let mut body = vec![0xfe, 0xfd];
        body.extend([7; 32]);
        body.extend([1, 0x55]); // session id of 1 byte
        body.extend([2, 0xc0, 0xc1]); // cookie of 2 bytes
        body.extend([0, 2, 0x13, 0x01, 1, 0]); // one suite, null compression
        let tls = tls_message(CLIENT_HELLO, &body).unwrap();
        assert_eq!(&tls[..4], &[1, 0, 0, (body.len() - 3) as u8]);
        assert_eq!(&tls[4 + 35..4 + 36], &[0x55]);
        assert_eq!(&tls[4 + 36..], &[0, 2, 0x13, 0x01, 1, 0]);
        assert_eq!(client_hello_cookie_len(&body), Some(2));
    }
}
