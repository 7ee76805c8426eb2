//! Link layers → the IP packet inside.
//!
//! Ethernet (with stacked VLAN tags) and Linux SLL use etherparse's header slices; SLL2, BSD
//! null/loop, PPP and PPPoE are peeled here (etherparse does not know them). MPLS and 802.11
//! are peeled by [`super::tunnel`], which names what it peeled in the [`Carrier`].

use super::carrier::{Carrier, CarrierKind};

/// MPLS label stack entries beyond this are treated as hostile.
const MAX_MPLS_LABELS: usize = 16;
pub(super) const ETHERTYPE_MPLS: u16 = 0x8847;
pub(super) const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
use crate::capture::LinkType;
use etherparse::Ethernet2HeaderSlice;

/// What the link layer carried.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Network<'a> {
    /// An IPv4 packet (possibly with link padding after it).
    Ipv4(&'a [u8]),
    /// An IPv6 packet (possibly with link padding after it).
    Ipv6(&'a [u8]),
    /// A valid frame carrying something other than IP (ARP, LLDP, ...).
    NotIp,
    /// The link type is not one we peel.
    Unsupported,
    /// The frame is shorter than its link header.
    Malformed(String),
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
/// Pre-standard Q-in-Q tag some switches still emit.
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// 802.11 frames without and with a radiotap header.
const LINKTYPE_IEEE802_11: LinkType = LinkType(105);
const LINKTYPE_IEEE802_11_RADIOTAP: LinkType = LinkType(127);

/// Stacked VLAN tags beyond this are treated as hostile.
const MAX_VLAN_TAGS: usize = 8;

pub(super) fn short(what: &str, needed: usize, have: usize) -> Network<'static> {
    Network::Malformed(format!("{what} needs {needed} bytes, packet has {have}"))
}

pub(super) fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

/// Strips the link layer of `link` from `data`; encapsulations met on the way (MPLS) are
/// added to `carrier`.
pub(crate) fn peel<'a>(link: LinkType, data: &'a [u8], carrier: &mut Carrier) -> Network<'a> {
    match link {
        LinkType::ETHERNET => ethernet(data, carrier),
        LinkType::LINUX_SLL => {
            // pkttype(2) arphrd(2) addrlen(2) addr(8) protocol(2). Peeled by hand: etherparse
            // rejects ARPHRD types (loopback, none/tun, ppp) that carry IP in real captures.
            match (be16(data, 2), be16(data, 14), data.get(16..)) {
                (Some(arphrd), Some(protocol), Some(rest)) => {
                    sll_payload(arphrd, protocol, rest, carrier)
                }
                _ => short("Linux cooked (SLL) header", 16, data.len()),
            }
        }
        LinkType::LINUX_SLL2 => {
            // protocol(2) reserved(2) ifindex(4) arphrd(2) pkttype(1) addrlen(1) addr(8)
            match (be16(data, 0), be16(data, 8), data.get(20..)) {
                (Some(protocol), Some(arphrd), Some(rest)) => {
                    sll_payload(arphrd, protocol, rest, carrier)
                }
                _ => short("Linux cooked v2 (SLL2) header", 20, data.len()),
            }
        }
        LinkType::RAW | LinkType::RAW_OLD | LinkType::RAW_OLD14 => match data.first() {
            Some(b) if b >> 4 == 4 => Network::Ipv4(data),
            Some(b) if b >> 4 == 6 => Network::Ipv6(data),
            Some(b) => Network::Malformed(format!("raw IP packet with IP version {}", b >> 4)),
            None => short("raw IP packet", 1, 0),
        },
        LinkType::IPV4 => Network::Ipv4(data),
        LinkType::IPV6 => Network::Ipv6(data),
        LinkType::NULL => bsd_loopback(data, None),
        LinkType::LOOP => bsd_loopback(data, Some(true)),
        LinkType::PPP | LinkType::PPP_HDLC => ppp(data),
        LinkType::PPP_ETHER => pppoe_session(data),
        LINKTYPE_IEEE802_11 => ieee80211(data, carrier),
        LINKTYPE_IEEE802_11_RADIOTAP => radiotap(data, carrier),
        _ => Network::Unsupported,
    }
}

/// ARPHRD_NETLINK: the protocol field is a netlink family, not an Ethertype.
const ARPHRD_NETLINK: u16 = 824;

/// The payload of a Linux cooked header: the protocol field is an Ethertype except on netlink.
fn sll_payload<'a>(
    arphrd: u16,
    protocol: u16,
    rest: &'a [u8],
    carrier: &mut Carrier,
) -> Network<'a> {
    if arphrd == ARPHRD_NETLINK {
        return Network::NotIp;
    }
    by_ethertype(protocol, rest, carrier)
}

/// An Ethernet frame (on the link, or inside a tunnel).
pub(crate) fn ethernet<'a>(data: &'a [u8], carrier: &mut Carrier) -> Network<'a> {
    match Ethernet2HeaderSlice::from_slice(data) {
        Ok(header) => by_ethertype(
            header.ether_type().0,
            data.get(header.slice().len()..).unwrap_or_default(),
            carrier,
        ),
        Err(_) => short("Ethernet header", 14, data.len()),
    }
}

/// Dispatches on an Ethertype, peeling VLAN tags, PPPoE and MPLS on the way.
pub(crate) fn by_ethertype<'a>(
    ether_type: u16,
    rest: &'a [u8],
    carrier: &mut Carrier,
) -> Network<'a> {
    by_ethertype_at(ether_type, rest, 0, carrier)
}

fn by_ethertype_at<'a>(
    ether_type: u16,
    rest: &'a [u8],
    vlan_depth: usize,
    carrier: &mut Carrier,
) -> Network<'a> {
    match ether_type {
        ETHERTYPE_IPV4 => Network::Ipv4(rest),
        ETHERTYPE_IPV6 => Network::Ipv6(rest),
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
            if vlan_depth >= MAX_VLAN_TAGS {
                return Network::Malformed(format!("more than {MAX_VLAN_TAGS} VLAN tags"));
            }
            // TCI(2) then the inner Ethertype.
            match (be16(rest, 2), rest.get(4..)) {
                (Some(inner), Some(after)) => {
                    by_ethertype_at(inner, after, vlan_depth + 1, carrier)
                }
                _ => short("VLAN tag", 4, rest.len()),
            }
        }
        ETHERTYPE_PPPOE_SESSION => pppoe_session(rest),
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => mpls(rest, carrier),
        _ => Network::NotIp,
    }
}

/// BSD null / OpenBSD loop: a 4-byte address family. `big_endian = None` means "host order of
/// the capturing machine", which we do not know: the order giving a small value wins.
fn bsd_loopback(data: &[u8], big_endian: Option<bool>) -> Network<'_> {
    let Some(header) = data.get(..4) else {
        return short("loopback header", 4, data.len());
    };
    let bytes = [header[0], header[1], header[2], header[3]];
    let family = match big_endian {
        Some(true) => u32::from_be_bytes(bytes),
        _ => {
            let little = u32::from_le_bytes(bytes);
            if little <= 0xFFFF {
                little
            } else {
                u32::from_be_bytes(bytes)
            }
        }
    };
    let rest = data.get(4..).unwrap_or_default();
    match family {
        2 => Network::Ipv4(rest),
        // AF_INET6 on NetBSD/OpenBSD (24), FreeBSD (28), Darwin (30), Linux (10).
        24 | 28 | 30 | 10 => Network::Ipv6(rest),
        _ => Network::NotIp,
    }
}

/// PPP with optional HDLC address/control bytes (FF 03) and optional protocol compression.
pub(crate) fn ppp(data: &[u8]) -> Network<'_> {
    let rest = match data {
        [0xFF, 0x03, rest @ ..] => rest,
        _ => data,
    };
    ppp_protocol(rest)
}

/// The PPP protocol field (1 byte when compressed: odd first byte) and what follows.
fn ppp_protocol(data: &[u8]) -> Network<'_> {
    let (protocol, rest) = match data {
        [first, rest @ ..] if first & 1 == 1 => (u16::from(*first), rest),
        [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
        _ => return short("PPP protocol field", 2, data.len()),
    };
    match protocol {
        PPP_IPV4 => Network::Ipv4(rest),
        PPP_IPV6 => Network::Ipv6(rest),
        _ => Network::NotIp,
    }
}

/// PPPoE session header: ver/type(1) code(1) session(2) length(2), then PPP.
fn pppoe_session(data: &[u8]) -> Network<'_> {
    let (Some(length), Some(rest)) = (be16(data, 4), data.get(6..)) else {
        return short("PPPoE header", 6, data.len());
    };
    // The length field bounds the PPP frame (Ethernet padding may follow).
    let ppp_frame = rest.get(..usize::from(length)).unwrap_or(rest);
    ppp_protocol(ppp_frame)
}

pub(super) fn be24(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 3)?;
    Some(u32::from_be_bytes([0, b[0], b[1], b[2]]))
}

pub(super) fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// An MPLS label stack (4 bytes per entry, the last with the bottom-of-stack bit), then IPv4,
/// IPv6, or an Ethernet pseudowire (with or without its all-zero control word).
pub(super) fn mpls<'a>(data: &'a [u8], carrier: &mut Carrier) -> Network<'a> {
    let mut pos = 0;
    for _ in 0..MAX_MPLS_LABELS {
        let Some(entry) = be32(data, pos) else {
            return short("MPLS label stack entry", pos + 4, data.len());
        };
        carrier.push(CarrierKind::Mpls, Some(entry >> 12));
        pos += 4;
        if entry & 0x100 != 0 {
            let payload = &data[pos..];
            // No field says what follows the stack: the first nibble tells IP from a pseudowire.
            return match payload.first().map(|b| b >> 4) {
                Some(4) => Network::Ipv4(payload),
                Some(6) => Network::Ipv6(payload),
                Some(0) => ethernet(payload.get(4..).unwrap_or_default(), carrier),
                Some(_) => ethernet(payload, carrier),
                None => Network::NotIp,
            };
        }
    }
    Network::Malformed(format!("more than {MAX_MPLS_LABELS} MPLS labels"))
}

/// Radiotap: version(1, 0) pad(1) length(2, little-endian) then an 802.11 frame. A trailing
/// FCS needs no care: the IP length bounds the packet.
fn radiotap<'a>(data: &'a [u8], carrier: &mut Carrier) -> Network<'a> {
    let (Some(&version), Some(len)) = (
        data.first(),
        data.get(2..4)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]]))),
    ) else {
        return short("radiotap header", 4, data.len());
    };
    if version != 0 {
        return Network::Malformed(format!("radiotap header version {version}"));
    }
    match data.get(len..) {
        Some(frame) if len >= 8 => ieee80211(frame, carrier),
        _ => short("radiotap header", len.max(8), data.len()),
    }
}

/// An 802.11 data frame with an LLC/SNAP header; management, control, null-data, A-MSDU and
/// protected (encrypted) frames carry nothing this tool can read.
pub(super) fn ieee80211<'a>(data: &'a [u8], carrier: &mut Carrier) -> Network<'a> {
    wlan_frame(data, false, carrier)
}

pub(super) fn wlan_frame<'a>(
    data: &'a [u8],
    swapped_fc: bool,
    carrier: &mut Carrier,
) -> Network<'a> {
    let (Some(&fc0), Some(&fc1)) = (data.first(), data.get(1)) else {
        return short("802.11 header", 24, data.len());
    };
    let (fc0, fc1) = if swapped_fc { (fc1, fc0) } else { (fc0, fc1) };
    let (frame_type, subtype) = ((fc0 >> 2) & 0x3, fc0 >> 4);
    if fc0 & 0x3 != 0 || frame_type != 2 || subtype & 0x4 != 0 || fc1 & 0x40 != 0 {
        return Network::NotIp;
    }
    let qos = subtype & 0x8 != 0;
    let mut header = 24;
    if fc1 & 0x03 == 0x03 {
        header += 6;
    }
    if qos {
        // A-MSDU present: several subframes, each with its own header; not followed.
        if data.get(header).is_some_and(|b| b & 0x80 != 0) {
            return Network::NotIp;
        }
        header += 2;
        if fc1 & 0x80 != 0 {
            header += 4;
        }
    }
    let Some(body) = data.get(header..) else {
        return short("802.11 header", header, data.len());
    };
    match body {
        [0xAA, 0xAA, 0x03, _, _, _, hi, lo, rest @ ..] => {
            by_ethertype(u16::from_be_bytes([*hi, *lo]), rest, carrier)
        }
        _ => Network::NotIp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-built frames: each checks one framing edge case the corpus lacks.

    #[test]
    fn stacked_vlan_tags_are_peeled() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x88, 0xA8, 0x00, 0x0A, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        frame.extend_from_slice(&[0x45, 0x00]);
        assert_eq!(
            peel(LinkType::ETHERNET, &frame, &mut Carrier::default()),
            Network::Ipv4(&[0x45, 0x00])
        );
    }

    #[test]
    fn pppoe_in_ethernet_and_ppp_hdlc() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x00, 0x01, 0x00, 0x03, 0x00, 0x57]);
        frame.extend_from_slice(&[0x60, 0x00, 0xEE]); // 0xEE: padding beyond PPPoE length
        assert_eq!(
            peel(LinkType::ETHERNET, &frame, &mut Carrier::default()),
            Network::Ipv6(&[0x60])
        );
        assert_eq!(
            peel(
                LinkType::PPP_HDLC,
                &[0xFF, 0x03, 0x00, 0x21, 0x45],
                &mut Carrier::default()
            ),
            Network::Ipv4(&[0x45])
        );
        assert_eq!(
            peel(LinkType::PPP, &[0x21, 0x45], &mut Carrier::default()),
            Network::Ipv4(&[0x45])
        );
    }

    #[test]
    fn null_accepts_both_byte_orders_and_loop_is_network_order() {
        assert_eq!(
            peel(
                LinkType::NULL,
                &[0, 0, 0, 30, 0x60],
                &mut Carrier::default()
            ),
            Network::Ipv6(&[0x60])
        );
        assert_eq!(
            peel(LinkType::NULL, &[2, 0, 0, 0, 0x45], &mut Carrier::default()),
            Network::Ipv4(&[0x45])
        );
        assert_eq!(
            peel(LinkType::LOOP, &[0, 0, 0, 2, 0x45], &mut Carrier::default()),
            Network::Ipv4(&[0x45])
        );
        assert!(matches!(
            peel(LinkType::NULL, &[2, 0], &mut Carrier::default()),
            Network::Malformed(_)
        ));
    }

    #[test]
    fn unknown_link_is_unsupported() {
        assert_eq!(
            peel(LinkType(147), &[1, 2, 3], &mut Carrier::default()),
            Network::Unsupported
        );
    }
}
