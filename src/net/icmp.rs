//! ICMP and ICMPv6 errors that quote a TCP or UDP packet: "destination unreachable", "packet
//! too big" ("fragmentation needed") and "time exceeded". The quoted packet's addresses and
//! ports name the connection the error is about; etherparse reads the ICMP header.
//!
//! Only errors are read: echo, redirect, neighbour discovery and the rest say nothing about
//! why a connection failed.

use super::ip::{walk_v6_extensions, V6Chain, PROTO_TCP, PROTO_UDP};
use etherparse::{
    icmpv4::{DestUnreachableHeader as V4Unreachable, TimeExceededCode as V4TimeExceeded},
    icmpv6::{DestUnreachableCode as V6Unreachable, TimeExceededCode as V6TimeExceeded},
    Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Icmpv6Type, Ipv4HeaderSlice, Ipv6HeaderSlice,
};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};

/// What an ICMP error says of the packet it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IcmpKind {
    /// No route to the destination network (ICMP 3/0, 3/6; ICMPv6 1/0).
    NetUnreachable,
    /// The destination host does not answer on its link (ICMP 3/1, 3/7; ICMPv6 1/3).
    HostUnreachable,
    /// The destination host does not speak the transport protocol (ICMP 3/2).
    ProtocolUnreachable,
    /// Nothing listens on the destination port (ICMP 3/3; ICMPv6 1/4).
    PortUnreachable,
    /// A firewall or policy refused the packet (ICMP 3/9, 3/10, 3/13; ICMPv6 1/1, 1/5, 1/6).
    Prohibited,
    /// Another "destination unreachable" code (source route, precedence, scope).
    Unreachable,
    /// The packet is larger than the next link's MTU and may not be fragmented (ICMP 3/4
    /// "fragmentation needed"; ICMPv6 2 "packet too big").
    PacketTooBig,
    /// The TTL (hop limit) ran out on the way (ICMP 11/0; ICMPv6 3/0): a routing loop or a
    /// path longer than the sender allows.
    TtlExceeded,
    /// The destination could not reassemble the packet's fragments in time (ICMP 11/1;
    /// ICMPv6 3/1).
    ReassemblyTimeExceeded,
}

impl IcmpKind {
    /// The kebab-case name the JSON uses.
    pub fn name(self) -> &'static str {
        match self {
            IcmpKind::NetUnreachable => "net-unreachable",
            IcmpKind::HostUnreachable => "host-unreachable",
            IcmpKind::ProtocolUnreachable => "protocol-unreachable",
            IcmpKind::PortUnreachable => "port-unreachable",
            IcmpKind::Prohibited => "prohibited",
            IcmpKind::Unreachable => "unreachable",
            IcmpKind::PacketTooBig => "packet-too-big",
            IcmpKind::TtlExceeded => "ttl-exceeded",
            IcmpKind::ReassemblyTimeExceeded => "reassembly-time-exceeded",
        }
    }

    /// The packet was not delivered and will not be, whatever its size: every kind but
    /// "packet too big", which asks the sender to send smaller.
    pub fn undeliverable(self) -> bool {
        self != IcmpKind::PacketTooBig
    }
}

/// The transport of the packet an ICMP error quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotedTransport {
    /// TCP.
    Tcp,
    /// UDP (QUIC, DTLS).
    Udp,
}

/// One ICMP error about a TCP or UDP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// The ICMP message's sender: the destination host itself, or a router on the way.
    pub from: IpAddr,
    /// What it says.
    pub kind: IcmpKind,
    /// The MTU a "packet too big" names (0 in a "fragmentation needed" from a router that
    /// predates RFC 1191).
    pub mtu: Option<u32>,
    /// The quoted packet's transport.
    pub transport: QuotedTransport,
    /// The quoted packet's sender (address and port).
    pub src: SocketAddr,
    /// The quoted packet's destination.
    pub dst: SocketAddr,
    /// The quoted packet is a TCP SYN (without ACK): a connection attempt's first packet.
    /// False when the quote ends before the TCP flags (only 8 bytes are required).
    pub quotes_syn: bool,
}

/// The error an ICMPv4 message (`data`: the ICMP header on) from `from` carries; None for
/// other messages, or an error quoting neither TCP nor UDP.
pub(crate) fn icmpv4(from: IpAddr, data: &[u8]) -> Option<IcmpError> {
    let icmp = Icmpv4Slice::from_slice(data).ok()?;
    let (kind, mtu) = match icmp.icmp_type() {
        Icmpv4Type::DestinationUnreachable(code) => match code {
            V4Unreachable::Network | V4Unreachable::NetworkUnknown | V4Unreachable::TosNetwork => {
                (IcmpKind::NetUnreachable, None)
            }
            V4Unreachable::Host | V4Unreachable::HostUnknown | V4Unreachable::TosHost => {
                (IcmpKind::HostUnreachable, None)
            }
            V4Unreachable::Protocol => (IcmpKind::ProtocolUnreachable, None),
            V4Unreachable::Port => (IcmpKind::PortUnreachable, None),
            V4Unreachable::FragmentationNeeded { next_hop_mtu } => {
                (IcmpKind::PacketTooBig, Some(u32::from(next_hop_mtu)))
            }
            V4Unreachable::NetworkProhibited
            | V4Unreachable::HostProhibited
            | V4Unreachable::FilterProhibited => (IcmpKind::Prohibited, None),
            _ => (IcmpKind::Unreachable, None),
        },
        Icmpv4Type::TimeExceeded(V4TimeExceeded::TtlExceededInTransit) => {
            (IcmpKind::TtlExceeded, None)
        }
        Icmpv4Type::TimeExceeded(V4TimeExceeded::FragmentReassemblyTimeExceeded) => {
            (IcmpKind::ReassemblyTimeExceeded, None)
        }
        _ => return None,
    };
    about(from, (kind, mtu), icmp.payload(), false)
}

/// The error an ICMPv6 message (`data`: the ICMPv6 header on) from `from` carries.
pub(crate) fn icmpv6(from: IpAddr, data: &[u8]) -> Option<IcmpError> {
    let icmp = Icmpv6Slice::from_slice(data).ok()?;
    let (kind, mtu) = match icmp.icmp_type() {
        Icmpv6Type::DestinationUnreachable(code) => match code {
            V6Unreachable::NoRoute => (IcmpKind::NetUnreachable, None),
            V6Unreachable::Address => (IcmpKind::HostUnreachable, None),
            V6Unreachable::Port => (IcmpKind::PortUnreachable, None),
            V6Unreachable::Prohibited
            | V6Unreachable::SourceAddressFailedPolicy
            | V6Unreachable::RejectRoute => (IcmpKind::Prohibited, None),
            V6Unreachable::BeyondScope => (IcmpKind::Unreachable, None),
        },
        Icmpv6Type::PacketTooBig { mtu } => (IcmpKind::PacketTooBig, Some(mtu)),
        Icmpv6Type::TimeExceeded(V6TimeExceeded::HopLimitExceeded) => (IcmpKind::TtlExceeded, None),
        Icmpv6Type::TimeExceeded(V6TimeExceeded::FragmentReassemblyTimeExceeded) => {
            (IcmpKind::ReassemblyTimeExceeded, None)
        }
        _ => return None,
    };
    about(from, (kind, mtu), icmp.payload(), true)
}

/// The error `from` sent about the packet it quotes (`packet`, an IPv6 one when `v6`).
fn about(
    from: IpAddr,
    (kind, mtu): (IcmpKind, Option<u32>),
    packet: &[u8],
    v6: bool,
) -> Option<IcmpError> {
    let (transport, src, dst, quotes_syn) = quoted(packet, v6)?;
    Some(IcmpError {
        from,
        kind,
        mtu,
        transport,
        src,
        dst,
        quotes_syn,
    })
}

/// The transport and endpoints of the IP packet an error quotes (its header and at least the
/// first 8 bytes after it: the ports), and whether it is a TCP SYN. None when it is cut
/// before the ports, carries neither TCP nor UDP, or is a later fragment (no ports in it).
fn quoted(packet: &[u8], v6: bool) -> Option<(QuotedTransport, SocketAddr, SocketAddr, bool)> {
    let (protocol, src, dst, transport): (u8, IpAddr, IpAddr, &[u8]) = if v6 {
        let header = Ipv6HeaderSlice::from_slice(packet).ok()?;
        let rest = packet.get(40..)?;
        let (at, protocol) = match walk_v6_extensions(header.next_header().0, rest, true) {
            V6Chain::Tcp(at) => (at, PROTO_TCP),
            V6Chain::Tunnel(at, PROTO_UDP) => (at, PROTO_UDP),
            V6Chain::Fragment(at, 0, _, _, next) => (at, next),
            _ => return None,
        };
        (
            protocol,
            header.source_addr().into(),
            header.destination_addr().into(),
            rest.get(at..)?,
        )
    } else {
        let header = Ipv4HeaderSlice::from_slice(packet).ok()?;
        if header.fragments_offset().value() != 0 {
            return None;
        }
        (
            header.protocol().0,
            header.source_addr().into(),
            header.destination_addr().into(),
            packet.get(header.slice().len()..)?,
        )
    };
    let transport_kind = match protocol {
        PROTO_TCP => QuotedTransport::Tcp,
        PROTO_UDP => QuotedTransport::Udp,
        _ => return None,
    };
    let sport = u16::from_be_bytes([*transport.first()?, *transport.get(1)?]);
    let dport = u16::from_be_bytes([*transport.get(2)?, *transport.get(3)?]);
    // TCP flags: byte 13 of the header; SYN 0x02, ACK 0x10.
    let quotes_syn = transport_kind == QuotedTransport::Tcp
        && transport.get(13).is_some_and(|flags| flags & 0x12 == 0x02);
    Some((
        transport_kind,
        SocketAddr::new(src, sport),
        SocketAddr::new(dst, dport),
        quotes_syn,
    ))
}
