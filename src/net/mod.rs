//! Link, IP and TCP headers: packets → TCP segments.
//!
//! Parsing is zero-copy: a [`TcpSegment`] borrows its payload from the packet, or from the
//! [`NetDecoder`]'s defragmentation buffer when the packet completed an IP datagram.
//! Header parsing uses etherparse; link layers etherparse does not know (SLL2, BSD null, PPP,
//! PPPoE) are peeled here.

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
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload bytes the segment carried on the wire (more than `payload.len()` when the
    /// snaplen cut the packet).
    pub wire_payload_len: u32,
}

/// What a packet turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// A valid packet that is not TCP (UDP, ICMP, ARP, ...), or a fragment still waiting for the
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

mod defrag;
mod ip;
mod link;

/// Stateful packet decoder (state = IP fragments awaiting reassembly).
#[derive(Debug, Default)]
pub struct NetDecoder {
    defrag: defrag::Defragmenter,
}

impl NetDecoder {
    /// A decoder with the given fragment limits.
    pub fn new(limits: DefragLimits) -> Self {
        NetDecoder {
            defrag: defrag::Defragmenter::new(limits),
        }
    }

    /// Decodes one packet. The result may borrow from `packet` or from `self`.
    pub fn decode<'a>(&'a mut self, packet: &Packet<'a>) -> Decoded<'a> {
        let parsed = match link::peel(packet.link, packet.data) {
            link::Network::Ipv4(data) => ip::ipv4(data),
            link::Network::Ipv6(data) => ip::ipv6(data),
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
            } => ip::tcp(src, dst, transport, wire_len),
            ip::Ip::Other => Decoded::Other,
            ip::Ip::Malformed(reason) => Decoded::Malformed(reason),
            // A fragment the snaplen cut cannot complete a datagram.
            ip::Ip::Fragment { whole: false, .. } => Decoded::Other,
            ip::Ip::Fragment {
                src,
                dst,
                fragment,
                whole: true,
            } => {
                let is_v6 = matches!(fragment.key, defrag::FragKey::V6 { .. });
                let next_header = match self.defrag.add(packet.ts, fragment) {
                    defrag::Outcome::Incomplete => return Decoded::Other,
                    defrag::Outcome::Rejected(reason) => return Decoded::Malformed(reason),
                    defrag::Outcome::Complete { next_header } => next_header,
                };
                // Done mutating: the segment borrows the reassembled datagram.
                let this: &'a Self = self;
                let datagram = this.defrag.completed();
                if !is_v6 {
                    return ip::tcp(src, dst, datagram, datagram.len());
                }
                match ip::walk_v6_extensions(next_header, datagram, false) {
                    ip::V6Chain::Tcp(at) => {
                        let transport = datagram.get(at..).unwrap_or_default();
                        ip::tcp(src, dst, transport, transport.len())
                    }
                    ip::V6Chain::Malformed(reason) => Decoded::Malformed(reason),
                    // Tunnels inside reassembled datagrams are not followed (rare, and would need a
                    // second reassembly buffer).
                    ip::V6Chain::Other | ip::V6Chain::Fragment(..) | ip::V6Chain::Tunnel(..) => {
                        Decoded::Other
                    }
                }
            }
        }
    }
}
