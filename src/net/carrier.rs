//! The [`Carrier`] of a packet: the tunnels and encapsulations peeled to reach it.

use std::fmt;

/// Layers a [`Carrier`] names; deeper nesting is still decoded, its extra layers shown as `...`.
const MAX_LAYERS: usize = 6;

/// What kind of encapsulation a carrier layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CarrierKind {
    /// VXLAN (RFC 7348); id = VNI.
    #[default]
    Vxlan,
    /// GENEVE (RFC 8926); id = VNI.
    Geneve,
    /// GRE (RFC 2784/2890); id = key when present.
    Gre,
    /// PPTP's enhanced GRE (RFC 2637); id = call id.
    Pptp,
    /// Cisco ERSPAN type I, II or III inside GRE; id = session id (types II and III).
    Erspan,
    /// One MPLS label (RFC 3032); id = label. Consecutive labels print as one stack.
    Mpls,
    /// IPv4 inside IPv4 (RFC 2003).
    IpIp,
    /// IPv6 inside IPv4 (RFC 4213).
    SixIn4,
    /// IPv4 inside IPv6 (RFC 2473).
    FourIn6,
    /// IPv6 inside IPv6 (RFC 2473).
    SixIn6,
    /// GTP-U (3GPP TS 29.281); id = TEID.
    GtpU,
    /// CAPWAP data channel (RFC 5415).
    Capwap,
}

impl CarrierKind {
    fn name(self) -> &'static str {
        match self {
            CarrierKind::Vxlan => "vxlan",
            CarrierKind::Geneve => "geneve",
            CarrierKind::Gre => "gre",
            CarrierKind::Pptp => "pptp",
            CarrierKind::Erspan => "erspan",
            CarrierKind::Mpls => "mpls",
            CarrierKind::IpIp => "ipip",
            CarrierKind::SixIn4 => "6in4",
            CarrierKind::FourIn6 => "4in6",
            CarrierKind::SixIn6 => "6in6",
            CarrierKind::GtpU => "gtp-u",
            CarrierKind::Capwap => "capwap",
        }
    }
}

/// Every [`Carrier::flow_scope`] is below this (26 bits: a flow key packs it with other bits).
pub const FLOW_SCOPE_LIMIT: u32 = 1 << 26;
/// A VNI is 24 bits.
const VNI_MASK: u32 = 0x00ff_ffff;
/// Set in a scope that names a VNI (so VNI 0 differs from no VNI).
const VNI_SCOPE: u32 = 1 << 25;
/// Set in a scope whose VNI is GENEVE's (VXLAN's VNI 42 is another network).
const GENEVE_SCOPE: u32 = 1 << 24;

/// The [`Carrier::flow_scope`] of a packet's carrier (0 when sent directly).
#[inline]
pub fn flow_scope(carrier: Option<&Carrier>) -> u32 {
    carrier.map_or(0, Carrier::flow_scope)
}

/// 8 bytes (an `Option<u32>` id would make it 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Layer {
    kind: CarrierKind,
    has_id: bool,
    id: u32,
}

/// The encapsulations a packet was found in, outermost first; empty for a packet sent
/// directly on the capture's link (VLAN tags, PPPoE and the link layer itself are not carriers).
/// Plain data so that it can travel with every segment without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Carrier {
    layers: [Layer; MAX_LAYERS],
    len: u8,
    /// More layers than `layers` holds were peeled.
    overflow: bool,
}

impl Carrier {
    /// No encapsulation.
    pub fn is_direct(&self) -> bool {
        self.len == 0
    }

    /// Back to direct (the layers are left as they are: `len` bounds what is read).
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    pub(crate) fn push(&mut self, kind: CarrierKind, id: Option<u32>) {
        match self.layers.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = Layer {
                    kind,
                    has_id: id.is_some(),
                    id: id.unwrap_or_default(),
                };
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// What tells apart flows that share their inner addresses and ports in different
    /// tenants' overlays: the innermost VXLAN or GENEVE VNI, as a number below
    /// [`FLOW_SCOPE_LIMIT`] (0: none, traffic sent directly or only in other carriers). Both
    /// directions of a flow must carry the identifier, or its halves would part; so only VNIs
    /// (one per virtual network, whichever way a packet goes) are used. Not used: GTP-U TEIDs
    /// (each end chooses the TEID it receives on, so uplink and downlink differ), MPLS labels
    /// (per hop and per direction), GRE keys (RFC 2890 and Linux's `ikey`/`okey` allow one per
    /// direction; PPTP's call id is the peer's) and ERSPAN session ids (one mirror session per
    /// monitored direction is common).
    #[inline]
    pub fn flow_scope(&self) -> u32 {
        self.layers[..usize::from(self.len)]
            .iter()
            .rev()
            .find_map(|l| match (l.kind, l.has_id) {
                (CarrierKind::Vxlan, true) => Some(VNI_SCOPE | (l.id & VNI_MASK)),
                (CarrierKind::Geneve, true) => Some(VNI_SCOPE | GENEVE_SCOPE | (l.id & VNI_MASK)),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// The layers as (kind, id), outermost first.
    pub fn layers(&self) -> impl Iterator<Item = (CarrierKind, Option<u32>)> + '_ {
        self.layers[..usize::from(self.len)]
            .iter()
            .map(|l| (l.kind, l.has_id.then_some(l.id)))
    }
}

/// `vxlan:42`, `gre`, `mpls:16,17`, `gtp-u:0x1f4`, nested ones joined by `/` outermost first
/// (`gre/mpls:100`).
impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut prev: Option<CarrierKind> = None;
        for layer in &self.layers[..usize::from(self.len)] {
            let continues_stack =
                layer.kind == CarrierKind::Mpls && prev == Some(CarrierKind::Mpls);
            if continues_stack {
                f.write_str(",")?;
            } else {
                if prev.is_some() {
                    f.write_str("/")?;
                }
                f.write_str(layer.kind.name())?;
                if layer.has_id {
                    f.write_str(":")?;
                }
            }
            match (layer.kind, layer.has_id.then_some(layer.id)) {
                // TEIDs are opaque handles that tools show in hex.
                (CarrierKind::GtpU, Some(id)) => write!(f, "{id:#x}")?,
                (_, Some(id)) => write!(f, "{id}")?,
                (_, None) => {}
            }
            prev = Some(layer.kind);
        }
        if self.overflow {
            f.write_str("/...")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-built carriers: the property is about which identifiers key a flow.
    #[test]
    fn only_vnis_scope_a_flow() {
        let mut c = Carrier::default();
        assert_eq!(c.flow_scope(), 0);
        c.push(CarrierKind::GtpU, Some(0x0e2c_1dc7));
        c.push(CarrierKind::Mpls, Some(16));
        assert_eq!(c.flow_scope(), 0);
        c.clear();
        c.push(CarrierKind::Vxlan, Some(0));
        let vni0 = c.flow_scope();
        assert_ne!(vni0, 0);
        c.clear();
        c.push(CarrierKind::Geneve, Some(0));
        assert_ne!(c.flow_scope(), vni0);
        // The innermost VNI counts.
        c.clear();
        c.push(CarrierKind::Vxlan, Some(7));
        c.push(CarrierKind::Vxlan, Some(0xff_ffff));
        c.push(CarrierKind::Gre, Some(5));
        assert_eq!(c.flow_scope(), VNI_SCOPE | 0xff_ffff);
        assert!(c.flow_scope() < FLOW_SCOPE_LIMIT);
    }
}
