//! UDP datagrams, for the transports that run over UDP (QUIC, DTLS).
//!
//! Only packets the TCP path classified as "not TCP" reach this parser, so captures without UDP
//! pay nothing for it. The IP layer is parsed again with etherparse's lax slices (which accept a
//! snaplen-cut packet); fragmented datagrams are not reassembled (QUIC sets DF).

use super::Carrier;
use etherparse::{IpNumber, LaxIpSlice, UdpSlice};
use std::net::SocketAddr;

/// One UDP datagram, borrowed from its packet.
#[derive(Debug, Clone, Copy)]
pub struct UdpDatagram<'a> {
    /// Sender address and port.
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload bytes the datagram carried on the wire (UDP length field minus 8; more than
    /// `payload.len()` when the snaplen cut the packet).
    pub wire_payload_len: u32,
    /// The tunnels the datagram came in (None: sent directly on the link).
    pub carrier: Option<&'a Carrier>,
}

/// IP-in-IP nesting followed before giving up.
const MAX_NESTING: usize = 4;

/// The UDP datagram in an IP packet (`ip` starts at the IPv4/IPv6 header), if it is one and is
/// not a fragment.
pub(crate) fn datagram(mut ip: &[u8]) -> Option<UdpDatagram<'_>> {
    for _ in 0..MAX_NESTING {
        let (slice, _ext_error) = LaxIpSlice::from_slice(ip).ok()?;
        let payload = slice.payload();
        if payload.fragmented {
            return None;
        }
        match payload.ip_number {
            IpNumber::UDP => {
                let udp = UdpSlice::from_slice_lax(payload.payload).ok()?;
                return Some(UdpDatagram {
                    src: SocketAddr::new(slice.source_addr(), udp.source_port()),
                    dst: SocketAddr::new(slice.destination_addr(), udp.destination_port()),
                    payload: udp.payload(),
                    wire_payload_len: u32::from(udp.length().saturating_sub(8)),
                    carrier: None,
                });
            }
            IpNumber::IPV4 | IpNumber::IPV6 => ip = payload.payload,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-built IPv4 + UDP header (an edge case, not a capture): a 4-byte payload.
    const V4_UDP: [u8; 32] = [
        0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, //
        0xc3, 0x50, 0x01, 0xbb, 0, 12, 0, 0, 0xde, 0xad, 0xbe, 0xef,
    ];

    #[test]
    fn reads_ports_and_payload() {
        let d = datagram(&V4_UDP).unwrap();
        assert_eq!(d.src.to_string(), "10.0.0.1:50000");
        assert_eq!(d.dst.to_string(), "10.0.0.2:443");
        assert_eq!(d.payload, &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(d.wire_payload_len, 4);
    }

    #[test]
    fn every_truncated_prefix_is_handled() {
        for n in 0..V4_UDP.len() {
            let _ = datagram(&V4_UDP[..n]);
        }
    }

    #[test]
    fn rejects_tcp() {
        let mut tcp = V4_UDP;
        tcp[9] = 6;
        assert!(datagram(&tcp).is_none());
    }
}
