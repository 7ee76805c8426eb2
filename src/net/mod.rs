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

/// Stateful packet decoder (state = IP fragments awaiting reassembly).
#[derive(Debug, Default)]
pub struct NetDecoder {
    _limits: DefragLimits,
}

impl NetDecoder {
    /// A decoder with the given fragment limits.
    pub fn new(limits: DefragLimits) -> Self {
        NetDecoder { _limits: limits }
    }

    /// Decodes one packet. The result may borrow from `packet` or from `self`.
    pub fn decode<'a>(&'a mut self, packet: &Packet<'a>) -> Decoded<'a> {
        let _ = packet;
        todo!()
    }
}
