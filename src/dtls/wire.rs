//! DTLS on the wire (RFC 6347 for 1.0/1.2, RFC 9147 for 1.3): records in a datagram and the
//! handshake fragment header. Views only: nothing here keeps state.

/// A record's content type.
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;
/// DTLS 1.2 record with a connection ID (RFC 9146): the real type is inside the protected
/// payload.
pub const TLS12_CID: u8 = 25;
/// DTLS 1.3 acknowledgements (RFC 9147 §7).
pub const ACK: u8 = 26;

/// The connection_id extension (RFC 9146, RFC 9147 §9).
const EXT_CONNECTION_ID: u16 = 54;
/// Longest connection ID (its length is one byte on the wire).
const MAX_CID: usize = 255;

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
    /// 8 or 16 bits, encrypted: 0 here, see `header`).
    pub seq: u64,
    /// A DTLS 1.3 record with the unified header (always protected).
    pub unified: bool,
    /// The record carries a connection ID (unified header C bit, or DTLS 1.2 `tls12_cid`).
    pub has_cid: bool,
    /// The connection ID's length was not known (no hello negotiated it in view), so the
    /// header could not be split: the record runs to the datagram's end and is not read.
    pub cid_unknown: bool,
    /// The unified header as on the wire (the AEAD's additional data once its sequence
    /// number is unmasked); empty for other records.
    pub header: &'a [u8],
    /// Where the (masked) sequence number starts in `header`, and its length (1 or 2).
    pub seq_at: usize,
    pub seq_len: usize,
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
/// was not DTLS or was cut by the snap length). `cid_len`: the length of the connection ID
/// the datagram's receiver chose (from the hellos), None when unknown.
pub fn records(datagram: &[u8], cid_len: Option<usize>) -> (Vec<Record<'_>>, bool) {
    let mut out = Vec::new();
    let mut rest = datagram;
    while let Some(&first) = rest.first() {
        let parsed = if first & 0xe0 == 0x20 {
            unified(rest, cid_len)
        } else {
            plain(rest, cid_len)
        };
        let Some((record, len)) = parsed else {
            return (out, false);
        };
        out.push(record);
        rest = &rest[len..];
    }
    (out, true)
}

/// A record with the 13-byte header (plus the connection ID of a `tls12_cid` record): the
/// record and its length.
fn plain(bytes: &[u8], cid_len: Option<usize>) -> Option<(Record<'_>, usize)> {
    let header = bytes.get(..HEADER)?;
    let content_type = header[0];
    if !(CHANGE_CIPHER_SPEC..=ACK).contains(&content_type) {
        return None;
    }
    let version = u16::from_be_bytes([header[1], header[2]]);
    if !is_dtls_version(version) {
        return None;
    }
    let record = Record {
        content_type,
        version,
        epoch: u16::from_be_bytes([header[3], header[4]]),
        seq: header[5..11]
            .iter()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
        unified: false,
        has_cid: content_type == TLS12_CID,
        cid_unknown: false,
        header: &[],
        seq_at: 0,
        seq_len: 0,
        fragment: &[],
    };
    // The connection ID sits between the sequence number and the length.
    let cid = if content_type == TLS12_CID {
        match cid_len.or_else(|| cid_len_by_end(bytes, HEADER - 2, 2)) {
            Some(n) => n,
            None => return Some(unread_rest(record, bytes, HEADER - 2)),
        }
    } else {
        0
    };
    let l = bytes.get(HEADER - 2 + cid..HEADER + cid)?;
    let len = usize::from(u16::from_be_bytes([l[0], l[1]]));
    let fragment = bytes.get(HEADER + cid..HEADER + cid + len)?;
    Some((Record { fragment, ..record }, HEADER + cid + len))
}

/// The connection ID length that makes a record whose length field follows the ID at
/// `len_at` (+ ID) end exactly at the datagram's end (a record whose ID length the hellos
/// did not show, alone or last in its datagram). `len_bytes`: 2, or 0 for no length field.
fn cid_len_by_end(bytes: &[u8], len_at: usize, len_bytes: usize) -> Option<usize> {
    if len_bytes == 0 {
        return None;
    }
    (0..=MAX_CID).find(|&n| {
        bytes.get(len_at + n..len_at + n + 2).is_some_and(|l| {
            usize::from(u16::from_be_bytes([l[0], l[1]])) + len_at + n + 2 == bytes.len()
        })
    })
}

/// A record whose header cannot be split (connection ID of unknown length): everything from
/// `header_end_guess` to the datagram's end, marked unread.
fn unread_rest<'a>(
    record: Record<'a>,
    bytes: &'a [u8],
    header_end_guess: usize,
) -> (Record<'a>, usize) {
    (
        Record {
            cid_unknown: true,
            fragment: bytes.get(header_end_guess..).unwrap_or_default(),
            ..record
        },
        bytes.len(),
    )
}

/// A DTLS 1.3 unified header record (`001CSLEE`, RFC 9147 §4): C says a connection ID of
/// the negotiated length follows the first byte, S a 16-bit (else 8-bit) sequence number,
/// L a 16-bit length (else the record runs to the datagram's end), EE the epoch's low bits.
fn unified(bytes: &[u8], cid_len: Option<usize>) -> Option<(Record<'_>, usize)> {
    let first = *bytes.first()?;
    let has_cid = first & 0x10 != 0;
    let seq_len = if first & 0x08 != 0 { 2 } else { 1 };
    let len_bytes = if first & 0x04 != 0 { 2 } else { 0 };
    let record = Record {
        content_type: APPLICATION_DATA,
        version: 0,
        epoch: u16::from(first & 0x03),
        seq: 0,
        unified: true,
        has_cid,
        cid_unknown: false,
        header: &[],
        seq_at: 0,
        seq_len,
        fragment: &[],
    };
    let cid = if has_cid {
        match cid_len.or_else(|| cid_len_by_end(bytes, 1 + seq_len, len_bytes)) {
            Some(n) => n,
            None => return Some(unread_rest(record, bytes, 1)),
        }
    } else {
        0
    };
    let seq_at = 1 + cid;
    let mut at = seq_at + seq_len;
    let len = if len_bytes > 0 {
        let l = bytes.get(at..at + 2)?;
        at += 2;
        usize::from(u16::from_be_bytes([l[0], l[1]]))
    } else {
        bytes.len().checked_sub(at)?
    };
    let fragment = bytes.get(at..at + len)?;
    Some((
        Record {
            header: &bytes[..at],
            seq_at,
            fragment,
            ..record
        },
        at + len,
    ))
}

/// The connection ID a hello (ClientHello 1 or ServerHello 2 body, DTLS framing) asks its
/// peer to put in the records it sends (RFC 9146 §3: the extension names the ID its sender
/// wants to receive). None: no extension.
pub fn hello_connection_id(msg_type: u8, body: &[u8]) -> Option<&[u8]> {
    let skip8 = |b: &[u8], at: usize| Some(at + 1 + usize::from(*b.get(at)?));
    let skip16 = |b: &[u8], at: usize| {
        let l = b.get(at..at + 2)?;
        Some(at + 2 + usize::from(u16::from_be_bytes([l[0], l[1]])))
    };
    // version (2), random (32), session id.
    let mut at = skip8(body, 34)?;
    match msg_type {
        CLIENT_HELLO => {
            at = skip8(body, at)?; // cookie
            at = skip16(body, at)?; // cipher suites
            at = skip8(body, at)?; // compression methods
        }
        2 => at += 3, // cipher suite, compression method
        _ => return None,
    }
    let end = skip16(body, at)?;
    let mut exts = body.get(at + 2..end)?;
    while exts.len() >= 4 {
        let t = u16::from_be_bytes([exts[0], exts[1]]);
        let n = usize::from(u16::from_be_bytes([exts[2], exts[3]]));
        let data = exts.get(4..4 + n)?;
        if t == EXT_CONNECTION_ID {
            // opaque cid<0..2^8-1>
            let len = usize::from(*data.first()?);
            return data.get(1..1 + len);
        }
        exts = &exts[4 + n..];
    }
    None
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
        let (recs, whole) = records(&d, None);
        assert_eq!((recs.len(), whole), (1, true));
        assert_eq!(recs[0].fragment, &[1, 2, 3, 4]);
        d.truncate(15);
        let (recs, whole) = records(&d, None);
        assert_eq!((recs.len(), whole), (0, false));
        for n in 0..d.len() {
            let _ = records(&d[..n], None);
            let _ = fragments(&d[..n]);
        }
    }

    #[test]
    fn not_dtls_versions_are_refused() {
        let d = [22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(records(&d, None), (vec![], false));
    }

    #[test]
    fn unified_header_with_length() {
        // 0x2c: C=0, S=1 (16-bit seq), L=1, epoch 0 bits... then seq (2), length (2).
        let d = [0x2e, 0, 7, 0, 2, 0xaa, 0xbb];
        let (recs, whole) = records(&d, None);
        assert!(whole);
        assert_eq!(recs[0].epoch, 2);
        assert!(recs[0].unified);
        assert_eq!(recs[0].fragment, &[0xaa, 0xbb]);
        assert_eq!(
            (recs[0].header, recs[0].seq_at, recs[0].seq_len),
            (&d[..5], 1, 2)
        );
    }

    // Hand-built bytes (no capture in reach has a DTLS 1.3 connection ID): C=1, S=0, L=1,
    // epoch bits 3, a 4-byte CID, 8-bit sequence number, length 3; then a second record
    // without CID or length that runs to the end.
    #[test]
    fn unified_header_with_connection_id() {
        let d = [
            0x37, 0xc1, 0xc2, 0xc3, 0xc4, 0x05, 0, 3, 1, 2, 3, 0x23, 0x09, 7, 7,
        ];
        let (recs, whole) = records(&d, Some(4));
        assert!(whole);
        assert_eq!(recs.len(), 2);
        let r = &recs[0];
        assert!(r.unified && r.has_cid && !r.cid_unknown);
        assert_eq!((r.epoch, r.seq_at, r.seq_len), (3, 5, 1));
        assert_eq!(r.header, &d[..8]);
        assert_eq!(r.fragment, &[1, 2, 3]);
        assert!(!recs[1].has_cid);
        assert_eq!(recs[1].fragment, &[7, 7]);
        // Without the hellos the length field still places a lone record's ID.
        let (recs, whole) = records(&d[..11], None);
        assert!(whole);
        assert_eq!((recs[0].seq_at, recs[0].fragment), (5, &[1u8, 2, 3][..]));
        // No length field and no hellos: the record is counted, its header not split.
        let d = [0x33, 0xc1, 0xc2, 0x05, 9, 9, 9];
        let (recs, whole) = records(&d, None);
        assert!(whole && recs[0].cid_unknown && recs[0].has_cid);
        for n in 0..d.len() {
            let _ = records(&d[..n], Some(4));
            let _ = records(&d[..n], None);
        }
    }

    // Hand-built bytes (no capture in reach has one): a DTLS 1.2 tls12_cid record (RFC
    // 9146 §4), type 25, a 2-byte CID between the sequence number and the length.
    #[test]
    fn tls12_cid_record() {
        let d = [
            25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 5, 0xaa, 0xbb, 0, 2, 8, 9,
        ];
        for cid in [Some(2), None] {
            let (recs, whole) = records(&d, cid);
            assert!(whole);
            let r = &recs[0];
            assert_eq!((r.content_type, r.epoch, r.seq), (TLS12_CID, 1, 5));
            assert!(r.has_cid && !r.unified);
            assert_eq!(r.fragment, &[8, 9]);
        }
        for n in 0..d.len() {
            let _ = records(&d[..n], None);
        }
    }

    // Hand-built hellos: the connection_id extension is found after the fields before it.
    #[test]
    fn hello_connection_ids() {
        let mut ch = vec![0xfe, 0xfd];
        ch.extend([0; 32]);
        ch.extend([0, 0]); // no session id, no cookie
        ch.extend([0, 2, 0x13, 0x01, 1, 0]);
        // extensions (14 bytes): supported_versions, then connection_id ab cd.
        ch.extend([
            0, 14, 0, 43, 0, 3, 2, 0xfe, 0xfc, 0, 54, 0, 3, 2, 0xab, 0xcd,
        ]);
        assert_eq!(
            hello_connection_id(CLIENT_HELLO, &ch),
            Some(&[0xab, 0xcd][..])
        );
        let mut sh = vec![0xfe, 0xfd];
        sh.extend([0; 32]);
        sh.extend([0, 0x13, 0x01, 0, 0, 5, 0, 54, 0, 1, 0]);
        assert_eq!(hello_connection_id(2, &sh), Some(&[][..]));
        for n in 0..ch.len() {
            let _ = hello_connection_id(CLIENT_HELLO, &ch[..n]);
        }
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
