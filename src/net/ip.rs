//! IPv4 / IPv6 (with extension headers) and TCP headers.
//!
//! Lengths are checked here first so that reasons read like "IPv4 header says 60 bytes, packet
//! has 34"; etherparse's header slices then give the fields.

use super::carrier::CarrierKind;
use super::defrag::{FragKey, Fragment};
use super::link::Network;
use super::{Decoded, TcpFlags, TcpSegment};
use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice, TcpHeaderSlice};
use std::net::{IpAddr, SocketAddr};

pub(crate) const PROTO_TCP: u8 = 6;
/// IPv4 inside IP (IPIP, 4in6).
const PROTO_IPV4: u8 = 4;
/// IPv6 inside IP (6in4, 6in6).
const PROTO_IPV6: u8 = 41;
pub(crate) const PROTO_UDP: u8 = 17;
const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;
const PROTO_GRE: u8 = 47;
const V6_HOP_BY_HOP: u8 = 0;
const V6_ROUTING: u8 = 43;
const V6_FRAGMENT: u8 = 44;
const V6_AH: u8 = 51;
const V6_DEST_OPTS: u8 = 60;
const V6_MOBILITY: u8 = 135;
const V6_HIP: u8 = 139;
const V6_SHIM6: u8 = 140;

/// An IP packet, classified.
#[derive(Debug)]
pub(crate) enum Ip<'a> {
    /// A TCP segment: the IP payload as captured and its length on the wire.
    Tcp {
        src: IpAddr,
        dst: IpAddr,
        transport: &'a [u8],
        wire_len: usize,
    },
    /// A fragment of a TCP-carrying (or, for IPv6, possibly TCP-carrying) datagram.
    Fragment {
        src: IpAddr,
        dst: IpAddr,
        fragment: Fragment<'a>,
        /// The whole fragment is in the capture (a snaplen-cut fragment cannot be used).
        whole: bool,
    },
    /// A UDP datagram (header and payload), possibly a tunnel.
    Udp(&'a [u8]),
    /// A GRE packet (header and payload).
    Gre(&'a [u8]),
    /// An IP packet inside IP.
    Tunnel {
        kind: CarrierKind,
        inner: Network<'a>,
    },
    /// An ICMP (or, `v6`, ICMPv6) message from `from`: the ICMP header on.
    Icmp {
        from: IpAddr,
        message: &'a [u8],
        v6: bool,
    },
    /// Valid, not TCP.
    Other,
    /// Headers do not fit or are invalid.
    Malformed(String),
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// An IP packet inside an IP tunnel (protocol 4 or 41 in an IPv4 or IPv6 header).
fn ip_in_ip(outer_v6: bool, protocol: u8, data: &[u8]) -> Ip<'_> {
    let (kind, inner) = match (outer_v6, protocol) {
        (false, PROTO_IPV4) => (CarrierKind::IpIp, Network::Ipv4(data)),
        (false, _) => (CarrierKind::SixIn4, Network::Ipv6(data)),
        (true, PROTO_IPV4) => (CarrierKind::FourIn6, Network::Ipv4(data)),
        (true, _) => (CarrierKind::SixIn6, Network::Ipv6(data)),
    };
    Ip::Tunnel { kind, inner }
}

/// What an IP payload of `protocol` is, for a payload whole again after reassembly.
pub(crate) fn carried(outer_v6: bool, protocol: u8, payload: &[u8]) -> Ip<'_> {
    match protocol {
        PROTO_UDP => Ip::Udp(payload),
        PROTO_GRE => Ip::Gre(payload),
        PROTO_IPV4 | PROTO_IPV6 => ip_in_ip(outer_v6, protocol, payload),
        _ => Ip::Other,
    }
}

/// Whether a fragmented datagram of this protocol is worth reassembling: TCP, or a carrier
/// that may hold TCP.
fn may_hold_tcp(protocol: u8) -> bool {
    matches!(
        protocol,
        PROTO_TCP | PROTO_UDP | PROTO_GRE | PROTO_IPV4 | PROTO_IPV6
    )
}

/// Parses an IPv4 packet (`data` may carry link padding after it).
pub(crate) fn ipv4(data: &[u8]) -> Ip<'_> {
    let Some(&first) = data.first() else {
        return Ip::Malformed("IPv4 header needs 20 bytes, packet has 0".into());
    };
    if first >> 4 != 4 {
        return Ip::Malformed(format!("IPv4 packet with IP version {}", first >> 4));
    }
    let header_len = usize::from(first & 0x0F) * 4;
    if header_len < 20 {
        return Ip::Malformed(format!("IPv4 header length {header_len} is below 20"));
    }
    if data.len() < header_len {
        return Ip::Malformed(format!(
            "IPv4 header says {header_len} bytes, packet has {}",
            data.len()
        ));
    }
    let header = match Ipv4HeaderSlice::from_slice(data) {
        Ok(header) => header,
        Err(e) => return Ip::Malformed(format!("IPv4 header: {e}")),
    };
    let mut total_len = usize::from(header.total_len());
    if total_len == 0 {
        // Segmentation offload: the capturing host's own large segments carry 0 here.
        total_len = data.len();
    }
    if total_len < header_len {
        return Ip::Malformed(format!(
            "IPv4 total length {total_len} is smaller than its {header_len}-byte header"
        ));
    }
    let captured_end = total_len.min(data.len());
    let payload = data.get(header_len..captured_end).unwrap_or_default();
    let wire_len = total_len - header_len;
    let protocol = header.protocol().0;
    let src = header.source_addr();
    let dst = header.destination_addr();
    let offset = u32::from(header.fragments_offset().byte_offset());
    if header.more_fragments() || offset != 0 {
        if !may_hold_tcp(protocol) {
            return Ip::Other;
        }
        return Ip::Fragment {
            src: src.into(),
            dst: dst.into(),
            fragment: Fragment {
                key: FragKey::V4 {
                    src,
                    dst,
                    protocol,
                    id: header.identification(),
                },
                offset,
                more: header.more_fragments(),
                payload,
                next_header: protocol,
            },
            whole: data.len() >= total_len,
        };
    }
    if protocol == PROTO_ICMP {
        return Ip::Icmp {
            from: src.into(),
            message: payload,
            v6: false,
        };
    }
    if protocol != PROTO_TCP {
        return carried(false, protocol, payload);
    }
    Ip::Tcp {
        src: src.into(),
        dst: dst.into(),
        transport: payload,
        wire_len,
    }
}

/// Where an IPv6 extension-header chain leads.
#[derive(Debug)]
pub(crate) enum V6Chain {
    /// TCP starts at this offset.
    Tcp(usize),
    /// A packet that may carry a tunnel (IP protocol 4, 41, UDP or GRE) starts at this offset.
    Tunnel(usize, u8),
    /// An ICMPv6 message starts at this offset.
    Icmp(usize),
    /// A fragment header: (offset of the fragmentable part, byte offset, more, id, next).
    Fragment(usize, u32, bool, u32, u8),
    /// Ends in something other than TCP.
    Other,
    /// An extension header is cut or invalid.
    Malformed(String),
}

/// Walks IPv6 extension headers starting with `next` at the start of `data`.
pub(crate) fn walk_v6_extensions(mut next: u8, data: &[u8], allow_fragment: bool) -> V6Chain {
    let mut pos = 0usize;
    // Each header is at least 8 bytes, so the walk ends; the cap keeps it short on junk.
    for _ in 0..64 {
        let rest = data.get(pos..).unwrap_or_default();
        let ext_len = match next {
            PROTO_TCP => return V6Chain::Tcp(pos),
            PROTO_ICMPV6 => return V6Chain::Icmp(pos),
            PROTO_IPV4 | PROTO_IPV6 | PROTO_UDP | PROTO_GRE => return V6Chain::Tunnel(pos, next),
            V6_HOP_BY_HOP | V6_ROUTING | V6_DEST_OPTS | V6_MOBILITY | V6_HIP | V6_SHIM6 => {
                match rest.get(1) {
                    Some(&len) => (usize::from(len) + 1) * 8,
                    None => return extension_cut(next, 2, rest.len()),
                }
            }
            V6_AH => match rest.get(1) {
                Some(&len) => (usize::from(len) + 2) * 4,
                None => return extension_cut(next, 2, rest.len()),
            },
            V6_FRAGMENT => {
                let (Some(word), Some(id)) = (be16(rest, 2), be32(rest, 4)) else {
                    return extension_cut(next, 8, rest.len());
                };
                let offset = u32::from(word & 0xFFF8);
                let more = word & 1 == 1;
                let inner = rest.first().copied().unwrap_or_default();
                if offset != 0 || more {
                    if !allow_fragment {
                        return V6Chain::Malformed("IPv6 fragment header inside a fragment".into());
                    }
                    return V6Chain::Fragment(pos + 8, offset, more, id, inner);
                }
                // An atomic fragment: the datagram is whole, keep walking.
                8
            }
            _ => return V6Chain::Other,
        };
        if rest.len() < ext_len {
            return extension_cut(next, ext_len, rest.len());
        }
        next = rest.first().copied().unwrap_or_default();
        pos += ext_len;
    }
    V6Chain::Malformed("IPv6 extension header chain too long".into())
}

fn extension_cut(kind: u8, needed: usize, have: usize) -> V6Chain {
    V6Chain::Malformed(format!(
        "IPv6 extension header {kind} needs {needed} bytes, packet has {have}"
    ))
}

/// Parses an IPv6 packet (`data` may carry link padding after it).
pub(crate) fn ipv6(data: &[u8]) -> Ip<'_> {
    if data.len() < 40 {
        return Ip::Malformed(format!(
            "IPv6 header needs 40 bytes, packet has {}",
            data.len()
        ));
    }
    let header = match Ipv6HeaderSlice::from_slice(data) {
        Ok(header) => header,
        Err(e) => return Ip::Malformed(format!("IPv6 header: {e}")),
    };
    let captured = data.get(40..).unwrap_or_default();
    let payload_len = match usize::from(header.payload_length()) {
        // Jumbogram or segmentation offload: the capture is all we know.
        0 => captured.len(),
        n => n,
    };
    let payload = captured.get(..payload_len).unwrap_or(captured);
    let src: IpAddr = header.source_addr().into();
    let dst: IpAddr = header.destination_addr().into();
    match walk_v6_extensions(header.next_header().0, payload, true) {
        V6Chain::Tcp(at) => Ip::Tcp {
            src,
            dst,
            transport: payload.get(at..).unwrap_or_default(),
            wire_len: payload_len.saturating_sub(at),
        },
        V6Chain::Fragment(_, _, _, _, next_header)
            if !may_hold_tcp(next_header)
                && !matches!(
                    next_header,
                    V6_HOP_BY_HOP
                        | V6_ROUTING
                        | V6_DEST_OPTS
                        | V6_AH
                        | V6_MOBILITY
                        | V6_HIP
                        | V6_SHIM6
                ) =>
        {
            // Only datagrams that may hold TCP are worth the memory.
            Ip::Other
        }
        V6Chain::Fragment(at, offset, more, id, next_header) => Ip::Fragment {
            src,
            dst,
            fragment: Fragment {
                key: FragKey::V6 {
                    src: header.source_addr(),
                    dst: header.destination_addr(),
                    id,
                },
                offset,
                more,
                payload: payload.get(at..).unwrap_or_default(),
                next_header,
            },
            whole: captured.len() >= payload_len,
        },
        V6Chain::Tunnel(at, protocol) => {
            carried(true, protocol, payload.get(at..).unwrap_or_default())
        }
        V6Chain::Icmp(at) => Ip::Icmp {
            from: src,
            message: payload.get(at..).unwrap_or_default(),
            v6: true,
        },
        V6Chain::Other => Ip::Other,
        V6Chain::Malformed(reason) => Ip::Malformed(reason),
    }
}

/// Decodes a TCP header. `transport` is the captured IP payload, `wire_len` its length on the
/// wire (from the IP header), which bounds the payload (dropping link padding) and tells how
/// much the snaplen cut.
pub(crate) fn tcp<'a>(
    src: IpAddr,
    dst: IpAddr,
    transport: &'a [u8],
    wire_len: usize,
) -> Decoded<'a> {
    let Some(&offset_byte) = transport.get(12) else {
        return Decoded::Malformed(format!(
            "TCP header needs 20 bytes, packet has {}",
            transport.len()
        ));
    };
    let header_len = usize::from(offset_byte >> 4) * 4;
    if header_len < 20 {
        return Decoded::Malformed(format!("TCP header length {header_len} is below 20"));
    }
    if transport.len() < header_len {
        return Decoded::Malformed(format!(
            "TCP header says {header_len} bytes, packet has {}",
            transport.len()
        ));
    }
    if wire_len < header_len {
        return Decoded::Malformed(format!(
            "TCP header says {header_len} bytes, IP payload is {wire_len}"
        ));
    }
    let header = match TcpHeaderSlice::from_slice(transport) {
        Ok(header) => header,
        Err(e) => return Decoded::Malformed(format!("TCP header: {e}")),
    };
    let payload_end = wire_len.min(transport.len());
    let payload = transport.get(header_len..payload_end).unwrap_or_default();
    let flags = transport.get(13).copied().unwrap_or_default();
    let mss = if flags & TcpFlags::SYN != 0 && header_len > 20 {
        syn_mss(transport.get(20..header_len).unwrap_or_default())
    } else {
        0
    };
    Decoded::Tcp(TcpSegment {
        src: SocketAddr::new(src, header.source_port()),
        dst: SocketAddr::new(dst, header.destination_port()),
        seq: header.sequence_number(),
        ack: header.acknowledgment_number(),
        flags: TcpFlags(flags),
        window: header.window_size(),
        mss,
        payload,
        wire_payload_len: u32::try_from(wire_len - header_len).unwrap_or(u32::MAX),
        carrier: None,
    })
}

/// The MSS option (kind 2) among a SYN's TCP options; 0 when absent or malformed.
fn syn_mss(mut options: &[u8]) -> u16 {
    while let Some((&kind, rest)) = options.split_first() {
        match kind {
            0 => break,
            1 => options = rest,
            _ => {
                let Some(&len) = rest.first() else { break };
                let len = usize::from(len);
                if len < 2 || len > options.len() {
                    break;
                }
                if kind == 2 && len == 4 {
                    return u16::from_be_bytes([options[2], options[3]]);
                }
                options = &options[len..];
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::syn_mss;

    /// Hand-built option lists: the MSS among NOPs and others, and lying lengths.
    #[test]
    fn syn_mss_reads_the_option_and_survives_bad_lengths() {
        assert_eq!(syn_mss(&[2, 4, 0x05, 0xb4, 1, 1, 4, 2]), 1460);
        assert_eq!(
            syn_mss(&[1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 2, 4, 0x04, 0xd8]),
            1240
        );
        assert_eq!(syn_mss(&[4, 2, 0, 2, 4, 0x05, 0xb4]), 0);
        assert_eq!(syn_mss(&[2, 4, 0x05]), 0);
        assert_eq!(syn_mss(&[8, 1, 2, 4, 0x05, 0xb4]), 0);
        assert_eq!(syn_mss(&[3, 0]), 0);
        assert_eq!(syn_mss(&[]), 0);
    }
}
