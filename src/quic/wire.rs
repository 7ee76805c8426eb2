//! QUIC wire views: variable-length integers, long and short headers (RFC 9000 §17, RFC 9369
//! §3.2 for v2's type bits), and the frames of Initial and Handshake packets (§19).
//!
//! Views borrow the datagram; nothing here decrypts or keeps state. "Too short" is `None`:
//! a capture's packets are often cut by the snaplen and an observer just stops reading them.

/// QUIC version 1 (RFC 9000).
pub const V1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const V2: u32 = 0x6b33_43cf;
/// draft-29, the draft browsers shipped the longest.
pub const DRAFT29: u32 = 0xff00_001d;

/// Reads a variable-length integer (§16) at `*pos`, advancing it.
pub fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *b.get(*pos)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*pos..*pos + len)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    *pos += len;
    Some(v)
}

/// Long-header packet types, with v2's numbering mapped onto v1's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongType {
    /// Initial.
    Initial,
    /// 0-RTT.
    ZeroRtt,
    /// Handshake.
    Handshake,
    /// Retry.
    Retry,
}

impl LongType {
    fn from_bits(version: u32, bits: u8) -> LongType {
        // RFC 9369 §3.2: v2 rotates the type codes by one.
        let bits = if version == V2 {
            bits.wrapping_sub(1) & 3
        } else {
            bits
        };
        match bits {
            0 => LongType::Initial,
            1 => LongType::ZeroRtt,
            2 => LongType::Handshake,
            _ => LongType::Retry,
        }
    }
}

/// The fields of a long header before header protection is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// Version (0 for Version Negotiation).
    pub version: u32,
    /// Packet type (meaningless when `version` is 0).
    pub kind: LongType,
    /// Destination connection ID.
    pub dcid: &'a [u8],
    /// Source connection ID.
    pub scid: &'a [u8],
    /// Initial: the token; Retry: the retry token (integrity tag excluded).
    pub token: &'a [u8],
    /// Offset of the (protected) packet number from the start of the packet (0 for Retry and
    /// Version Negotiation).
    pub pn_offset: usize,
    /// Length of this packet within the datagram (the rest may be coalesced packets).
    pub packet_len: usize,
    /// Version Negotiation: the versions the server offers.
    pub offered: Vec<u32>,
}

/// Parses the long header at the start of `b` (first bit set). `None` when cut short or not a
/// long header.
pub fn long_header(b: &[u8]) -> Option<LongHeader<'_>> {
    let first = *b.first()?;
    if first & 0x80 == 0 {
        return None;
    }
    let version = u32::from_be_bytes(b.get(1..5)?.try_into().ok()?);
    let mut pos = 5;
    let dcid_len = usize::from(*b.get(pos)?);
    let dcid = b.get(pos + 1..pos + 1 + dcid_len)?;
    pos += 1 + dcid_len;
    let scid_len = usize::from(*b.get(pos)?);
    let scid = b.get(pos + 1..pos + 1 + scid_len)?;
    pos += 1 + scid_len;
    let mut h = LongHeader {
        version,
        kind: LongType::from_bits(version, (first >> 4) & 3),
        dcid,
        scid,
        token: &[],
        pn_offset: 0,
        packet_len: b.len(),
        offered: Vec::new(),
    };
    if version == 0 {
        h.offered = b[pos..]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        return Some(h);
    }
    // Connection IDs are at most 20 bytes in every version this reads (§17.2).
    if dcid_len > 20 || scid_len > 20 {
        return None;
    }
    match h.kind {
        LongType::Retry => {
            // The last 16 bytes are the Retry Integrity Tag.
            h.token = b.get(pos..b.len().checked_sub(16)?)?;
            return Some(h);
        }
        LongType::Initial => {
            let token_len = usize::try_from(varint(b, &mut pos)?).ok()?;
            h.token = b.get(pos..pos.checked_add(token_len)?)?;
            pos += token_len;
        }
        LongType::ZeroRtt | LongType::Handshake => {}
    }
    let length = usize::try_from(varint(b, &mut pos)?).ok()?;
    h.pn_offset = pos;
    // A length beyond the datagram (snaplen cut, or a lie) is kept as what the wire claimed;
    // callers check it against the bytes they have.
    h.packet_len = pos.checked_add(length)?;
    Some(h)
}

/// One frame of an Initial or Handshake packet, as far as the observer cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// CRYPTO (0x06): handshake bytes at `offset` of this epoch's stream.
    Crypto {
        /// Offset in the stream.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// CONNECTION_CLOSE (0x1c transport, 0x1d application).
    Close {
        /// The error code (0x0100 + alert for a TLS alert, RFC 9001 §4.8).
        code: u64,
        /// 0x1d: an application close.
        application: bool,
        /// The reason phrase (lossy UTF-8; may be empty).
        reason: String,
    },
    /// PADDING, PING, ACK and the frames the observer skips.
    Other,
}

/// Reads the frames of a decrypted payload. Stops at the first frame it cannot length
/// (returning what came before): Initial and Handshake packets carry only the frames listed
/// in RFC 9000 §12.4 Table 3, all of which are handled.
pub fn frames(b: &[u8]) -> Vec<Frame<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let Some(frame) = frame(b, &mut pos) else {
            break;
        };
        if frame != Frame::Other || out.last() != Some(&Frame::Other) {
            out.push(frame);
        }
    }
    out
}

fn frame<'a>(b: &'a [u8], pos: &mut usize) -> Option<Frame<'a>> {
    let kind = varint(b, pos)?;
    match kind {
        0x00 | 0x01 => Some(Frame::Other),
        0x02 | 0x03 => {
            varint(b, pos)?; // largest acknowledged
            varint(b, pos)?; // delay
            let ranges = varint(b, pos)?;
            varint(b, pos)?; // first range
            for _ in 0..ranges {
                varint(b, pos)?;
                varint(b, pos)?;
            }
            if kind == 0x03 {
                for _ in 0..3 {
                    varint(b, pos)?;
                }
            }
            Some(Frame::Other)
        }
        0x06 => {
            let offset = varint(b, pos)?;
            let len = usize::try_from(varint(b, pos)?).ok()?;
            let data = b.get(*pos..pos.checked_add(len)?)?;
            *pos += len;
            Some(Frame::Crypto { offset, data })
        }
        0x1c | 0x1d => {
            let code = varint(b, pos)?;
            if kind == 0x1c {
                varint(b, pos)?; // frame type that triggered it
            }
            let len = usize::try_from(varint(b, pos)?).ok()?;
            let reason = b.get(*pos..pos.checked_add(len)?)?;
            *pos += len;
            Some(Frame::Close {
                code,
                application: kind == 0x1d,
                reason: String::from_utf8_lossy(reason).into_owned(),
            })
        }
        // NEW_TOKEN and the stream frames never appear in these packets: stop.
        _ => None,
    }
}

/// The version's name as people know it.
/// A reserved version (RFC 9000 §15: `0x?a?a?a?a`) that no server speaks: a client sends one
/// to exercise version negotiation.
pub fn is_grease(v: u32) -> bool {
    v & 0x0f0f_0f0f == 0x0a0a_0a0a
}

pub fn version_name(v: u32) -> String {
    match v {
        V1 => "v1".into(),
        V2 => "v2".into(),
        0xff00_0000..=0xff00_00ff => format!("draft-{}", v & 0xff),
        0xface_b001 => "mvfst-draft-22".into(),
        0xface_b002 => "mvfst-draft-27".into(),
        0xface_b00e => "mvfst-exp".into(),
        0x5430_3530 => "gquic-T050".into(),
        0x5430_3531 => "gquic-T051".into(),
        v if is_grease(v) => format!("0x{v:08x} (grease)"),
        v => format!("0x{v:08x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 9000 §A.1 example encodings.
    #[test]
    fn varint_examples() {
        for (bytes, want) in [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c][..],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d][..], 494_878_333),
            (&[0x7b, 0xbd][..], 15_293),
            (&[0x25][..], 37),
        ] {
            let mut pos = 0;
            assert_eq!(varint(bytes, &mut pos), Some(want));
            assert_eq!(pos, bytes.len());
            for cut in 0..bytes.len() {
                assert_eq!(varint(&bytes[..cut], &mut 0), None);
            }
        }
    }

    // RFC 9001 §A.2: the client Initial's unprotected header.
    #[test]
    fn rfc9001_client_initial_header() {
        let mut pkt = hex::decode("c300000001088394c8f03e5157080000449e00000002").unwrap();
        pkt.resize(1200, 0);
        let h = long_header(&pkt).unwrap();
        assert_eq!(h.version, V1);
        assert_eq!(h.kind, LongType::Initial);
        assert_eq!(h.dcid, hex::decode("8394c8f03e515708").unwrap());
        assert!(h.scid.is_empty());
        assert!(h.token.is_empty());
        assert_eq!(h.pn_offset, 18);
        assert_eq!(h.packet_len, 18 + 0x49e);
        for cut in 0..18 {
            assert_eq!(long_header(&pkt[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn v2_type_bits_are_rotated() {
        assert_eq!(LongType::from_bits(V2, 1), LongType::Initial);
        assert_eq!(LongType::from_bits(V2, 0), LongType::Retry);
        assert_eq!(LongType::from_bits(V1, 0), LongType::Initial);
    }

    #[test]
    fn frames_stop_at_unknown_and_merge_padding() {
        // Hand-built: PADDING x2, CRYPTO(offset 0, "ab"), CONNECTION_CLOSE 0x0128 "x", then a
        // STREAM frame that ends the walk.
        let b = [
            0, 0, 6, 0, 2, b'a', b'b', 0x1c, 0x41, 0x28, 0x06, 1, b'x', 0x08, 1,
        ];
        assert_eq!(
            frames(&b),
            vec![
                Frame::Other,
                Frame::Crypto {
                    offset: 0,
                    data: b"ab"
                },
                Frame::Close {
                    code: 0x128,
                    application: false,
                    reason: "x".into()
                },
            ]
        );
    }

    proptest::proptest! {
        /// Any bytes, as decrypted frames or as a header: no panic, and CRYPTO data always
        /// lies inside the input.
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            for f in frames(&b) {
                if let Frame::Crypto { data, .. } = f {
                    proptest::prop_assert!(data.len() <= b.len());
                }
            }
            let _ = long_header(&b);
        }
    }
}
