//! Tunnels and encapsulations: the packet inside, and the [`Carrier`] that names what was peeled.
//!
//! UDP tunnels are recognised by port (VXLAN 4789, GENEVE 6081, GTP-U 2152, CAPWAP data 5247)
//! and then confirmed by their header's fixed bits, so a UDP flow that merely uses such a port
//! stays a UDP flow. GRE (with ERSPAN I/II/III and PPTP's enhanced GRE), MPLS label stacks and
//! 802.11 data frames (bare or under radiotap) are peeled here too; IP-in-IP is named here and
//! peeled by the IP layer.

use super::carrier::{Carrier, CarrierKind};
use super::link::{
    self, be16, be24, be32, mpls, short, wlan_frame, Network, ETHERTYPE_MPLS,
    ETHERTYPE_MPLS_MULTICAST,
};

const PORT_VXLAN: u16 = 4789;
const PORT_GENEVE: u16 = 6081;
const PORT_GTP_U: u16 = 2152;
const PORT_CAPWAP_DATA: u16 = 5247;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
/// Transparent Ethernet bridging (an Ethernet frame inside GRE or GENEVE).
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_ERSPAN_2: u16 = 0x88BE;
const ETHERTYPE_ERSPAN_3: u16 = 0x22EB;
const ETHERTYPE_PPP: u16 = 0x880B;

/// The packet inside a UDP datagram (`transport` = UDP header and payload) when its ports and
/// header say it is a tunnel; `None` for any other UDP datagram.
pub(crate) fn udp<'a>(transport: &'a [u8], carrier: &mut Carrier) -> Option<Network<'a>> {
    let (src_port, dst_port, length) = (
        be16(transport, 0)?,
        be16(transport, 2)?,
        usize::from(be16(transport, 4)?),
    );
    let is = |port: u16| src_port == port || dst_port == port;
    if !(is(PORT_VXLAN) || is(PORT_GENEVE) || is(PORT_GTP_U) || is(PORT_CAPWAP_DATA)) {
        return None;
    }
    // The UDP length bounds the payload (link padding may follow); 0 is jumbo / offload.
    let end = if length >= 8 {
        length.min(transport.len())
    } else {
        transport.len()
    };
    let payload = transport.get(8..end)?;
    if dst_port == PORT_VXLAN || (src_port == PORT_VXLAN && dst_port != PORT_GENEVE) {
        vxlan(payload, carrier)
    } else if is(PORT_GENEVE) {
        geneve(payload, carrier)
    } else if is(PORT_GTP_U) {
        gtp_u(payload, carrier)
    } else {
        capwap(payload, carrier)
    }
}

/// VXLAN: flags(1, I bit 0x08 set) reserved(3) VNI(3) reserved(1), then an Ethernet frame.
fn vxlan<'a>(data: &'a [u8], carrier: &mut Carrier) -> Option<Network<'a>> {
    let flags = *data.first()?;
    let vni = be24(data, 4)?;
    if flags & 0x08 == 0 || data.len() < 8 + 14 {
        return None;
    }
    carrier.push(CarrierKind::Vxlan, Some(vni));
    Some(link::ethernet(&data[8..], carrier))
}

/// GENEVE: ver(2 bits, 0) option length(6 bits, in words), flags(1), protocol(2), VNI(3),
/// reserved(1), options.
fn geneve<'a>(data: &'a [u8], carrier: &mut Carrier) -> Option<Network<'a>> {
    let first = *data.first()?;
    let protocol = be16(data, 2)?;
    let vni = be24(data, 4)?;
    if first >> 6 != 0 {
        return None;
    }
    let inner = data.get(8 + usize::from(first & 0x3F) * 4..)?;
    let net = match protocol {
        ETHERTYPE_TEB => {
            carrier.push(CarrierKind::Geneve, Some(vni));
            return Some(link::ethernet(inner, carrier));
        }
        ETHERTYPE_IPV4 => Network::Ipv4(inner),
        ETHERTYPE_IPV6 => Network::Ipv6(inner),
        _ => return None,
    };
    carrier.push(CarrierKind::Geneve, Some(vni));
    Some(net)
}

/// GTP-U G-PDU: flags(1: version 1, PT 1, E/S/PN), type(1, 0xFF), length(2), TEID(4), then
/// sequence/N-PDU/next-extension (4) when any of E/S/PN is set, then extension headers.
fn gtp_u<'a>(data: &'a [u8], carrier: &mut Carrier) -> Option<Network<'a>> {
    let (flags, msg_type) = (*data.first()?, *data.get(1)?);
    let length = usize::from(be16(data, 2)?);
    let teid = be32(data, 4)?;
    // Version 1 with PT set; other message types (echo, error indication) carry no packet.
    if flags >> 5 != 1 || flags & 0x10 == 0 || msg_type != 0xFF {
        return None;
    }
    let body = data.get(8..)?;
    let body = body.get(..length).unwrap_or(body);
    let mut pos = 0usize;
    if flags & 0x07 != 0 {
        let mut next = *body.get(3)?;
        pos = 4;
        // Each extension: length in 4-byte units (never 0), content, next type (last byte).
        for _ in 0..16 {
            if next == 0 {
                break;
            }
            let units = usize::from(*body.get(pos)?);
            if units == 0 {
                return Some(Network::Malformed(
                    "GTP-U extension header of length 0".into(),
                ));
            }
            pos += units * 4;
            next = *body.get(pos - 1)?;
        }
        if next != 0 {
            return Some(Network::Malformed("GTP-U extension chain too long".into()));
        }
    }
    let inner = body.get(pos..)?;
    let net = match inner.first()? >> 4 {
        4 => Network::Ipv4(inner),
        6 => Network::Ipv6(inner),
        _ => return None,
    };
    carrier.push(CarrierKind::GtpU, Some(teid));
    Some(net)
}

/// CAPWAP data: preamble(1: version 0, type 0 = clear text) then HLEN(5) RID(5) WBID(5)
/// T F L W M K flags(3), fragment id and offset; the payload starts HLEN words in. T = 1 with
/// WBID 1 is a native 802.11 frame, T = 0 an Ethernet frame.
fn capwap<'a>(data: &'a [u8], carrier: &mut Carrier) -> Option<Network<'a>> {
    let word = be32(data, 0)?;
    if word >> 24 != 0 {
        // A DTLS-protected channel (type 1) or another version.
        return None;
    }
    let hlen = usize::from(((word >> 19) & 0x1F) as u8) * 4;
    let wbid = (word >> 9) & 0x1F;
    let native = (word >> 8) & 1 == 1;
    let fragment = (word >> 7) & 1 == 1;
    if hlen < 8 {
        return None;
    }
    let inner = data.get(hlen..)?;
    carrier.push(CarrierKind::Capwap, None);
    if fragment {
        // Fragments are not reassembled: the frame is counted as non-IP.
        return Some(Network::NotIp);
    }
    Some(match (native, wbid) {
        (false, _) => link::ethernet(inner, carrier),
        (true, 1) => {
            // Cisco access points send the frame control field byte-swapped (Wireshark swaps
            // it by default for CAPWAP): a version other than 0 tells.
            let swapped = matches!(inner, [a, b, ..] if a & 0x3 != 0 && b & 0x3 == 0);
            wlan_frame(inner, swapped, carrier)
        }
        (true, _) => Network::NotIp,
    })
}

/// The packet inside GRE (`data` = the GRE header and payload; IP protocol 47).
pub(crate) fn gre<'a>(data: &'a [u8], carrier: &mut Carrier) -> Network<'a> {
    let (Some(flags), Some(protocol)) = (be16(data, 0), be16(data, 2)) else {
        return short("GRE header", 4, data.len());
    };
    let (checksum, routing, key, seq) = (
        flags & 0x8000 != 0,
        flags & 0x4000 != 0,
        flags & 0x2000 != 0,
        flags & 0x1000 != 0,
    );
    match flags & 0x0007 {
        0 => {}
        1 => return pptp(data, flags, protocol, carrier),
        _ => return Network::NotIp,
    }
    if routing {
        // Source routing (RFC 1701, deprecated): not seen in practice, not followed.
        return Network::NotIp;
    }
    let mut pos = 4;
    if checksum {
        pos += 4;
    }
    let key_value = if key {
        let k = be32(data, pos);
        pos += 4;
        k
    } else {
        None
    };
    if seq {
        pos += 4;
    }
    let Some(payload) = data.get(pos..) else {
        return short("GRE header", pos, data.len());
    };
    match protocol {
        ETHERTYPE_IPV4
        | ETHERTYPE_IPV6
        | ETHERTYPE_TEB
        | ETHERTYPE_MPLS
        | ETHERTYPE_MPLS_MULTICAST => {
            carrier.push(CarrierKind::Gre, key_value);
            match protocol {
                ETHERTYPE_IPV4 => Network::Ipv4(payload),
                ETHERTYPE_IPV6 => Network::Ipv6(payload),
                ETHERTYPE_TEB => link::ethernet(payload, carrier),
                _ => mpls(payload, carrier),
            }
        }
        // Type I has no ERSPAN header (and no GRE sequence number).
        ETHERTYPE_ERSPAN_2 if !seq => {
            carrier.push(CarrierKind::Erspan, None);
            link::ethernet(payload, carrier)
        }
        ETHERTYPE_ERSPAN_2 => erspan2(payload, carrier),
        ETHERTYPE_ERSPAN_3 => erspan3(payload, carrier),
        _ => Network::NotIp,
    }
}

/// PPTP's enhanced GRE (version 1): key = payload length(2) call id(2), optional sequence and
/// acknowledgement numbers, then a PPP frame.
fn pptp<'a>(data: &'a [u8], flags: u16, protocol: u16, carrier: &mut Carrier) -> Network<'a> {
    if protocol != ETHERTYPE_PPP || flags & 0x2000 == 0 {
        return Network::NotIp;
    }
    let Some(call_id) = be16(data, 6) else {
        return short("enhanced GRE header", 8, data.len());
    };
    let mut pos = 8;
    if flags & 0x1000 != 0 {
        pos += 4;
    }
    if flags & 0x0080 != 0 {
        pos += 4;
    }
    let Some(payload) = data.get(pos..) else {
        return short("enhanced GRE header", pos, data.len());
    };
    if payload.is_empty() {
        // An acknowledgement alone.
        return Network::NotIp;
    }
    carrier.push(CarrierKind::Pptp, Some(u32::from(call_id)));
    link::ppp(payload)
}

/// ERSPAN type II: ver(4 bits, 1) VLAN(12) COS/En/T(4) session id(10) reserved/index(4).
fn erspan2<'a>(data: &'a [u8], carrier: &mut Carrier) -> Network<'a> {
    let (Some(&first), Some(session), Some(frame)) = (data.first(), be16(data, 2), data.get(8..))
    else {
        return short("ERSPAN type II header", 8, data.len());
    };
    if first >> 4 != 1 {
        return Network::Malformed(format!("ERSPAN type II header with version {}", first >> 4));
    }
    carrier.push(CarrierKind::Erspan, Some(u32::from(session & 0x3FF)));
    link::ethernet(frame, carrier)
}

/// ERSPAN type III: ver(4 bits, 2) VLAN COS BSO T session id(10), timestamp(4), SGT(2),
/// P FT(5) HW-id D Gra O(1), then an 8-byte platform sub-header when O is set.
fn erspan3<'a>(data: &'a [u8], carrier: &mut Carrier) -> Network<'a> {
    let (Some(&first), Some(session), Some(bits)) = (data.first(), be16(data, 2), be16(data, 10))
    else {
        return short("ERSPAN type III header", 12, data.len());
    };
    if first >> 4 != 2 {
        return Network::Malformed(format!(
            "ERSPAN type III header with version {}",
            first >> 4
        ));
    }
    let frame_type = (bits >> 10) & 0x1F;
    let header = if bits & 1 == 1 { 20 } else { 12 };
    let Some(frame) = data.get(header..) else {
        return short("ERSPAN type III header", header, data.len());
    };
    carrier.push(CarrierKind::Erspan, Some(u32::from(session & 0x3FF)));
    match frame_type {
        0 => link::ethernet(frame, carrier),
        // Frame type 2: an IP packet without its link header.
        2 => match frame.first().map(|b| b >> 4) {
            Some(4) => Network::Ipv4(frame),
            Some(6) => Network::Ipv6(frame),
            _ => Network::NotIp,
        },
        _ => Network::NotIp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::link::ieee80211;

    // Hand-built headers: each checks one framing rule the corpus captures do not exercise.

    fn name(carrier: &Carrier) -> String {
        carrier.to_string()
    }

    #[test]
    fn carrier_is_small() {
        assert_eq!(std::mem::size_of::<Carrier>(), 52);
    }

    #[test]
    fn carrier_names_join_mpls_stacks_and_nest_with_slashes() {
        let mut c = Carrier::default();
        assert!(c.is_direct());
        c.push(CarrierKind::Gre, None);
        c.push(CarrierKind::Mpls, Some(16));
        c.push(CarrierKind::Mpls, Some(17));
        assert_eq!(name(&c), "gre/mpls:16,17");
        let mut g = Carrier::default();
        g.push(CarrierKind::GtpU, Some(0x1f4));
        g.push(CarrierKind::SixIn4, None);
        assert_eq!(name(&g), "gtp-u:0x1f4/6in4");
        let mut deep = Carrier::default();
        for label in 0..8 {
            deep.push(CarrierKind::Mpls, Some(label));
        }
        assert_eq!(name(&deep), "mpls:0,1,2,3,4,5/...");
    }

    #[test]
    fn mpls_stack_then_ipv4_and_pseudowire_with_control_word() {
        let mut c = Carrier::default();
        let v4 = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40, 0x45, 0x00];
        assert_eq!(mpls(&v4, &mut c), Network::Ipv4(&[0x45, 0x00]));
        assert_eq!(name(&c), "mpls:16,17");
        let mut pw = vec![0x00, 0x06, 0x41, 0x40, 0, 0, 0, 0];
        pw.extend_from_slice(&[0u8; 12]);
        pw.extend_from_slice(&[0x86, 0xDD, 0x60]);
        let mut c = Carrier::default();
        assert_eq!(mpls(&pw, &mut c), Network::Ipv6(&[0x60]));
        assert_eq!(name(&c), "mpls:100");
        let mut c = Carrier::default();
        assert!(matches!(
            mpls(&[0, 0, 0x10, 0x40], &mut c),
            Network::Malformed(_)
        ));
    }

    #[test]
    fn gre_keyed_ipv4_and_erspan_types() {
        let mut c = Carrier::default();
        let keyed = [0x20, 0x00, 0x08, 0x00, 0, 0, 0, 7, 0x45];
        assert_eq!(gre(&keyed, &mut c), Network::Ipv4(&[0x45]));
        assert_eq!(name(&c), "gre:7");

        // ERSPAN II (GRE with a sequence number): version 1, session 0x2A.
        let mut frame = vec![0x10, 0x00, 0x88, 0xBE, 0, 0, 0, 1];
        frame.extend_from_slice(&[0x10, 0x00, 0x00, 0x2A, 0, 0, 0, 0]);
        frame.extend_from_slice(&[0u8; 12]);
        frame.extend_from_slice(&[0x08, 0x00, 0x45]);
        let mut c = Carrier::default();
        assert_eq!(gre(&frame, &mut c), Network::Ipv4(&[0x45]));
        assert_eq!(name(&c), "erspan:42");

        // ERSPAN III with the optional platform sub-header, frame type 0.
        let mut frame = vec![0x00, 0x00, 0x22, 0xEB];
        frame.extend_from_slice(&[0x20, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0, 0, 0x00, 0x01]);
        frame.extend_from_slice(&[0u8; 8]);
        frame.extend_from_slice(&[0u8; 12]);
        frame.extend_from_slice(&[0x86, 0xDD, 0x60]);
        let mut c = Carrier::default();
        assert_eq!(gre(&frame, &mut c), Network::Ipv6(&[0x60]));
        assert_eq!(name(&c), "erspan:5");
    }

    #[test]
    fn udp_on_a_tunnel_port_without_the_tunnel_header_stays_udp() {
        let mut c = Carrier::default();
        // To 4789 but the VXLAN I flag is clear.
        let mut datagram = vec![0xC0, 0x00, 0x12, 0xB5, 0x00, 0x30, 0, 0];
        datagram.extend_from_slice(&[0u8; 40]);
        assert_eq!(udp(&datagram, &mut c), None);
        // To 2152 but an echo request, not a G-PDU.
        let echo = [
            0x08, 0x68, 0x08, 0x68, 0, 16, 0, 0, 0x32, 0x01, 0, 4, 0, 0, 0, 0,
        ];
        assert_eq!(udp(&echo, &mut c), None);
        // Another port.
        assert_eq!(udp(&[0, 53, 0, 53, 0, 8, 0, 0], &mut c), None);
        assert!(c.is_direct());
    }

    #[test]
    fn gtp_u_skips_extension_headers() {
        // Flags 0x34 (version 1, PT, E), G-PDU, TEID 0x1f4, then seq/N-PDU/next = 0x85 and one
        // 4-byte PDU session container extension ending the chain.
        let mut d = vec![0x08, 0x68, 0x08, 0x68, 0, 0, 0, 0];
        d.extend_from_slice(&[0x34, 0xFF, 0x00, 0x0A, 0x00, 0x00, 0x01, 0xF4]);
        d.extend_from_slice(&[0, 0, 0, 0x85, 0x01, 0x10, 0x01, 0x00, 0x45, 0x00]);
        let mut c = Carrier::default();
        assert_eq!(udp(&d, &mut c), Some(Network::Ipv4(&[0x45, 0x00])));
        assert_eq!(name(&c), "gtp-u:0x1f4");
    }

    #[test]
    fn wlan_qos_data_with_snap_and_protected_frames() {
        let mut frame = vec![0x88, 0x01];
        frame.extend_from_slice(&[0u8; 22]);
        frame.extend_from_slice(&[0x00, 0x00]); // QoS control
        frame.extend_from_slice(&[0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00, 0x45]);
        let mut c = Carrier::default();
        assert_eq!(ieee80211(&frame, &mut c), Network::Ipv4(&[0x45]));
        assert!(c.is_direct());
        frame[1] |= 0x40;
        assert_eq!(ieee80211(&frame, &mut c), Network::NotIp);
    }
}
