//! Link, IP and TCP headers: packets → TCP segments (and UDP datagrams, when asked).
//!
//! Parsing is zero-copy: a [`TcpSegment`] borrows its payload from the packet, or from the
//! [`NetDecoder`]'s defragmentation buffer when the packet completed an IP datagram.
//! Header parsing uses etherparse; link layers etherparse does not know (SLL2, BSD null, PPP,
//! PPPoE) are peeled here. Tunnels (VXLAN, GENEVE, GRE, ERSPAN, MPLS, IP-in-IP, GTP-U, CAPWAP,
//! 802.11) are peeled by [`tunnel`] and named in the segment's [`Carrier`].

use crate::capture::{LinkType, Packet};
use std::net::SocketAddr;

/// TCP flag bits as they appear in the header's 13th byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;

    /// FIN set.
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    /// SYN set.
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    /// RST set.
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    /// ACK set.
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// One TCP segment, decoded from a packet.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    /// Sender address and port.
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when the ACK flag is set).
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Receive window (unscaled).
    pub window: u16,
    /// The MSS option of a SYN or SYN-ACK (0: absent, or not a SYN: only SYNs are read).
    pub mss: u16,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload bytes the segment carried on the wire (more than `payload.len()` when the
    /// snaplen cut the packet).
    pub wire_payload_len: u32,
    /// The tunnels the segment was found in; `None` when sent directly on the link. Borrowed
    /// so that direct traffic pays nothing for it.
    pub carrier: Option<&'a Carrier>,
}

impl TcpSegment<'_> {
    /// Which of `shards` workers owns this segment's connection: the same for both directions
    /// of a 5-tuple (the hash of each endpoint is combined symmetrically), so a reader thread can
    /// hand segments to per-shard flow tables without any table seeing half a connection.
    /// Not keyed: crafted traffic can unbalance the shards, never mix connections up.
    /// `shards == 0` is treated as 1.
    pub fn shard(&self, shards: usize) -> usize {
        let h = endpoint_hash(&self.src).wrapping_add(endpoint_hash(&self.dst));
        // Multiply-shift onto [0, shards): uses the well-mixed high bits.
        ((u128::from(mix64(h)) * shards.max(1) as u128) >> 64) as usize
    }
}

/// SplitMix64's finaliser: a cheap, well-distributed 64-bit mix (not cryptographic).
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One endpoint (address and port) folded to 64 bits and mixed.
fn endpoint_hash(a: &SocketAddr) -> u64 {
    let ip = match a.ip() {
        std::net::IpAddr::V4(v4) => u64::from(u32::from(v4)),
        std::net::IpAddr::V6(v6) => {
            let x = u128::from(v6);
            (x as u64) ^ mix64((x >> 64) as u64)
        }
    };
    mix64(ip ^ (u64::from(a.port()) << 48) ^ u64::from(a.is_ipv6()))
}

/// What a packet turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// A UDP datagram sent directly on the link, not a tunnel (only from a decoder built
    /// [`NetDecoder::with_udp`]).
    Udp(UdpDatagram<'a>),
    /// An ICMP or ICMPv6 error about a TCP or UDP packet (sent directly or in a tunnel).
    Icmp(IcmpError),
    /// A valid packet that is not TCP (UDP, other ICMP, ARP, ...), or a fragment still waiting for the
    /// rest of its datagram.
    Other,
    /// The link type is not supported (the caller warns once per file).
    UnsupportedLink(LinkType),
    /// The packet is shorter than its headers claim, or a header is invalid.
    Malformed(String),
}

/// Limits for IP fragment reassembly (bounded memory on hostile input).
#[derive(Debug, Clone)]
pub struct DefragLimits {
    /// Datagrams being reassembled at once; the oldest is dropped beyond this.
    pub max_datagrams: usize,
    /// Largest reassembled datagram.
    pub max_datagram_bytes: usize,
    /// Seconds of capture time after which an incomplete datagram is dropped.
    pub timeout_secs: i64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 1024,
            max_datagram_bytes: 65_535 + 40,
            timeout_secs: 30,
        }
    }
}

mod carrier;
mod defrag;
mod icmp;
mod ip;
mod link;
mod tunnel;
mod udp;
pub use carrier::{flow_scope, Carrier, CarrierKind, FLOW_SCOPE_LIMIT};
pub use icmp::{IcmpError, IcmpKind, QuotedTransport};
pub use udp::UdpDatagram;

/// Tunnels inside tunnels beyond this are treated as hostile.
const MAX_NESTED_TUNNELS: usize = 8;

/// Stateful packet decoder (state = IP fragments awaiting reassembly).
#[derive(Debug, Default)]
pub struct NetDecoder {
    defrag: defrag::Defragmenter,
    /// The carrier of the packet decoded last (segments borrow it).
    carrier: Carrier,
    /// Yield UDP datagrams rather than [`Decoded::Other`].
    udp: bool,
}

impl NetDecoder {
    /// A decoder with the given fragment limits.
    pub fn new(limits: DefragLimits) -> Self {
        NetDecoder {
            defrag: defrag::Defragmenter::new(limits),
            carrier: Carrier::default(),
            udp: false,
        }
    }

    /// Also yields UDP datagrams ([`Decoded::Udp`]).
    pub fn with_udp(mut self) -> Self {
        self.udp = true;
        self
    }

    /// Decodes one packet. The result may borrow from `packet` or from `self`.
    pub fn decode<'a>(&'a mut self, packet: &Packet<'a>) -> Decoded<'a> {
        let NetDecoder {
            defrag,
            carrier,
            udp,
        } = self;
        carrier.clear();
        decode_in(defrag, packet, carrier, *udp)
    }
}

#[inline(always)]
fn decode_in<'a>(
    defrag: &'a mut defrag::Defragmenter,
    packet: &Packet<'a>,
    carrier: &'a mut Carrier,
    udp: bool,
) -> Decoded<'a> {
    let (parsed, l3) = match link::peel(packet.link, packet.data, &mut *carrier) {
        link::Network::Ipv4(data) => (ip::ipv4(data), data),
        link::Network::Ipv6(data) => (ip::ipv6(data), data),
        link::Network::NotIp => return Decoded::Other,
        link::Network::Unsupported => return Decoded::UnsupportedLink(packet.link),
        link::Network::Malformed(reason) => return Decoded::Malformed(reason),
    };
    match parsed {
        ip::Ip::Tcp {
            src,
            dst,
            transport,
            wire_len,
        } if carrier.is_direct() => tcp_in_packet(packet, src, dst, transport, wire_len),
        // MPLS on the link.
        ip::Ip::Tcp {
            src,
            dst,
            transport,
            wire_len,
        } => with_carrier(
            tcp_in_packet(packet, src, dst, transport, wire_len),
            carrier,
        ),
        ip::Ip::Udp(_) if udp => {
            let direct = carrier.is_direct();
            match decode_tunnelled(defrag, packet, (parsed, l3), carrier, true) {
                // Not a tunnel: the datagram itself (QUIC, DTLS). Parsed again from the IP
                // header, only when UDP is wanted.
                Decoded::Other if direct => udp::datagram(l3).map_or(Decoded::Other, Decoded::Udp),
                decoded => decoded,
            }
        }
        ip::Ip::Gre(_) | ip::Ip::Tunnel { .. } if udp => {
            decode_tunnelled(defrag, packet, (parsed, l3), carrier, true)
        }
        ip::Ip::Udp(_) | ip::Ip::Gre(_) | ip::Ip::Tunnel { .. } => {
            decode_tunnelled(defrag, packet, (parsed, l3), carrier, false)
        }
        ip::Ip::Icmp { from, message, v6 } => icmp_error(from, message, v6),
        ip::Ip::Other => Decoded::Other,
        ip::Ip::Malformed(reason) => Decoded::Malformed(reason),
        // A fragment the snaplen cut cannot complete a datagram.
        ip::Ip::Fragment { whole: false, .. } => Decoded::Other,
        ip::Ip::Fragment {
            src,
            dst,
            fragment,
            whole: true,
        } => reassemble(defrag, packet, src, dst, fragment, carrier),
    }
}

/// The TCP segment of an IP packet that came whole in `packet`.
#[inline(always)]
fn tcp_in_packet<'a>(
    packet: &Packet<'a>,
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    transport: &'a [u8],
    wire_len: usize,
) -> Decoded<'a> {
    // The IP length cannot claim more than the wire carried: what was captured plus what the
    // snaplen cut (a lying length would invent missing bytes).
    let cut = (packet.orig_len as usize).saturating_sub(packet.data.len());
    ip::tcp(src, dst, transport, wire_len.min(transport.len() + cut))
}

/// An ICMP message: the error it carries about a TCP or UDP packet, or nothing to report.
#[cold]
fn icmp_error<'a>(from: std::net::IpAddr, message: &[u8], v6: bool) -> Decoded<'a> {
    let error = if v6 {
        icmp::icmpv6(from, message)
    } else {
        icmp::icmpv4(from, message)
    };
    error.map_or(Decoded::Other, Decoded::Icmp)
}

/// Names the carrier in a segment found inside one.
#[cold]
fn with_carrier<'a>(decoded: Decoded<'a>, carrier: &'a Carrier) -> Decoded<'a> {
    match decoded {
        Decoded::Tcp(seg) if !carrier.is_direct() => Decoded::Tcp(TcpSegment {
            carrier: Some(carrier),
            ..seg
        }),
        decoded => decoded,
    }
}

/// A packet whose IP payload (`parsed`, in the IP packet `outer_ip`) is a tunnel: what is
/// inside, decoded (a UDP datagram inside a tunnel only when `udp` is wanted). Kept off the path of packets sent directly on the link.
#[cold]
fn decode_tunnelled<'a>(
    defrag: &'a mut defrag::Defragmenter,
    packet: &Packet<'a>,
    (parsed, outer_ip): (ip::Ip<'a>, &'a [u8]),
    carrier: &'a mut Carrier,
    udp: bool,
) -> Decoded<'a> {
    let mut inner_ip = None;
    let unwrapped = unwrap_tunnels(parsed, &mut *carrier, &mut inner_ip);
    match unwrapped {
        Ok(ip::Ip::Udp(_)) if udp && !carrier.is_direct() => {
            let carrier: &'a Carrier = carrier;
            // The datagram a tunnel carried, or one sent on a carrier of the link (MPLS).
            match udp::datagram(inner_ip.unwrap_or(outer_ip)) {
                Some(d) => Decoded::Udp(UdpDatagram {
                    carrier: Some(carrier),
                    ..d
                }),
                None => Decoded::Other,
            }
        }
        Ok(ip::Ip::Tcp {
            src,
            dst,
            transport,
            wire_len,
        }) => with_carrier(
            tcp_in_packet(packet, src, dst, transport, wire_len),
            carrier,
        ),
        Ok(ip::Ip::Fragment {
            src,
            dst,
            fragment,
            whole: true,
        }) => reassemble(defrag, packet, src, dst, fragment, carrier),
        Ok(ip::Ip::Icmp { from, message, v6 }) => icmp_error(from, message, v6),
        Ok(ip::Ip::Malformed(reason)) | Err(NotTcp::Malformed(reason)) => {
            Decoded::Malformed(reason)
        }
        Ok(_) | Err(NotTcp::Other) => Decoded::Other,
    }
}

/// Adds a fragment; decodes the datagram it completes.
fn reassemble<'a>(
    defrag: &'a mut defrag::Defragmenter,
    packet: &Packet<'a>,
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    fragment: defrag::Fragment<'a>,
    carrier: &'a mut Carrier,
) -> Decoded<'a> {
    let is_v6 = matches!(fragment.key, defrag::FragKey::V6 { .. });
    let next_header = match defrag.add(packet.ts, fragment) {
        defrag::Outcome::Incomplete => return Decoded::Other,
        defrag::Outcome::Rejected(reason) => return Decoded::Malformed(reason),
        defrag::Outcome::Complete { next_header } => next_header,
    };
    // Done mutating: the segment borrows the reassembled datagram.
    let defrag: &'a defrag::Defragmenter = defrag;
    let datagram = defrag.completed();
    let (protocol, transport) = if is_v6 {
        match ip::walk_v6_extensions(next_header, datagram, false) {
            ip::V6Chain::Tcp(at) => (ip::PROTO_TCP, datagram.get(at..)),
            ip::V6Chain::Tunnel(at, protocol) => (protocol, datagram.get(at..)),
            ip::V6Chain::Malformed(reason) => return Decoded::Malformed(reason),
            ip::V6Chain::Other | ip::V6Chain::Icmp(_) | ip::V6Chain::Fragment(..) => {
                return Decoded::Other
            }
        }
    } else {
        (next_header, Some(datagram))
    };
    let transport = transport.unwrap_or_default();
    if protocol == ip::PROTO_TCP {
        return with_carrier(ip::tcp(src, dst, transport, transport.len()), carrier);
    }
    // A tunnel packet the outer IP layer fragmented (a tunnel MTU left at 1500): its inner
    // packet is whole now. Fragments inside it are not followed (they would need a second
    // reassembly buffer).
    match unwrap_tunnels(
        ip::carried(is_v6, protocol, transport),
        &mut *carrier,
        &mut None,
    ) {
        Ok(ip::Ip::Tcp {
            src,
            dst,
            transport,
            wire_len,
        }) => with_carrier(
            ip::tcp(src, dst, transport, wire_len.min(transport.len())),
            carrier,
        ),
        Ok(ip::Ip::Malformed(reason)) | Err(NotTcp::Malformed(reason)) => {
            Decoded::Malformed(reason)
        }
        Ok(_) | Err(NotTcp::Other) => Decoded::Other,
    }
}

/// Why [`unwrap_tunnels`] found no IP packet to hand on.
enum NotTcp {
    Other,
    Malformed(String),
}

/// Peels tunnels from `parsed` on until a packet that is not one (TCP, UDP that is no tunnel,
/// a fragment, anything else). `inner_ip` is set to the innermost IP packet a tunnel carried.
fn unwrap_tunnels<'a>(
    mut parsed: ip::Ip<'a>,
    carrier: &mut Carrier,
    inner_ip: &mut Option<&'a [u8]>,
) -> Result<ip::Ip<'a>, NotTcp> {
    for _ in 0..=MAX_NESTED_TUNNELS {
        let network = match parsed {
            ip::Ip::Udp(transport) => match tunnel::udp(transport, carrier) {
                Some(inner) => inner,
                None => return Ok(ip::Ip::Udp(transport)),
            },
            ip::Ip::Gre(data) => tunnel::gre(data, carrier),
            ip::Ip::Tunnel { kind, inner } => {
                carrier.push(kind, None);
                inner
            }
            parsed => return Ok(parsed),
        };
        parsed = match network {
            link::Network::Ipv4(data) => {
                *inner_ip = Some(data);
                ip::ipv4(data)
            }
            link::Network::Ipv6(data) => {
                *inner_ip = Some(data);
                ip::ipv6(data)
            }
            link::Network::NotIp | link::Network::Unsupported => return Err(NotTcp::Other),
            link::Network::Malformed(reason) => return Err(NotTcp::Malformed(reason)),
        };
    }
    Err(NotTcp::Malformed(format!(
        "more than {MAX_NESTED_TUNNELS} nested tunnels"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(src: &str, dst: &str) -> TcpSegment<'static> {
        TcpSegment {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            seq: 0,
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 0,
            mss: 0,
            payload: &[],
            wire_payload_len: 0,
            carrier: None,
        }
    }

    // Hand-built addresses: the property is about the hash, not about any capture.
    #[test]
    fn shard_is_symmetric_and_in_range() {
        for (a, b) in [
            ("127.1.0.2:54832", "127.2.0.1:4431"),
            ("[2001:db8::1]:443", "[2001:db8::2]:50000"),
            ("10.0.0.1:1", "10.0.0.1:1"),
        ] {
            for shards in [0, 1, 2, 3, 8] {
                let s = seg(a, b).shard(shards);
                assert_eq!(s, seg(b, a).shard(shards));
                assert!(s < shards.max(1));
            }
        }
    }

    #[test]
    fn shard_spreads_client_ports() {
        let mut counts = [0usize; 4];
        for port in 40_000..44_000u16 {
            let s = seg(&format!("127.1.0.2:{port}"), "127.2.0.1:4431");
            counts[s.shard(4)] += 1;
        }
        // 1000 each when perfectly even; allow 10 %.
        assert!(
            counts.iter().all(|&c| (900..=1100).contains(&c)),
            "{counts:?}"
        );
    }
}
