//! Cipher suites judged by their registered names: what makes one weak. Shared by the
//! per-connection rules (`weak-cipher`) and the negotiation findings (`no-common-cipher`).

/// What makes the suite `id` weak (no encryption, export keys, RC4, DES...), judged from its
/// registered name; None for a sound or unknown suite (an unknown one is named by its hex id,
/// which contains none of the markers).
///
/// Judged once per suite for the whole process: searching each connection's cipher name for
/// eight markers costs ~1 % of a run.
pub(super) fn weak_cipher_use(id: u16) -> Option<&'static str> {
    static WEAK: std::sync::OnceLock<crate::FastMap<u16, &'static str>> =
        std::sync::OnceLock::new();
    WEAK.get_or_init(|| {
        tls_parser::CIPHERS
            .entries()
            .filter_map(|(id, cs)| Some((*id, weak_cipher_name(cs.name)?)))
            .collect()
    })
    .get(&id)
    .copied()
}

/// What the suite named `name` uses that makes it weak, if anything.
fn weak_cipher_name(name: &str) -> Option<&'static str> {
    let weak = [
        "_NULL_",
        "_anon_",
        "EXPORT",
        "_RC4_",
        "_DES_",
        "_3DES_",
        "_DES40_",
        "_DES_CBC_",
    ];
    let w = weak.iter().find(|w| name.contains(*w))?;
    Some(match *w {
        "_NULL_" => "no encryption",
        "_anon_" => "no server authentication",
        "EXPORT" => "export-grade keys",
        "_RC4_" => "the broken RC4 stream cipher",
        _ => "(3)DES, a 64-bit block cipher open to Sweet32",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Suite ids from the IANA registry, one per kind of weakness, and sound ones: the table
    /// built once per process judges each as its name does.
    #[test]
    fn weak_cipher_suites_are_judged_by_id() {
        for (id, expected) in [
            (0x003b, Some("no encryption")), // TLS_RSA_WITH_NULL_SHA256 (samples/weak-cipher-null.pcap)
            (0x0018, Some("no server authentication")), // TLS_DH_anon_WITH_RC4_128_MD5
            (0x0003, Some("export-grade keys")), // TLS_RSA_EXPORT_WITH_RC4_40_MD5
            (0x0005, Some("the broken RC4 stream cipher")), // TLS_RSA_WITH_RC4_128_SHA
            (
                0x000a,
                Some("(3)DES, a 64-bit block cipher open to Sweet32"),
            ), // TLS_RSA_WITH_3DES_EDE_CBC_SHA
            (0x1301, None),                  // TLS_AES_128_GCM_SHA256
            (0xc02f, None),                  // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
            (0xfefe, None),                  // unassigned
        ] {
            assert_eq!(weak_cipher_use(id), expected, "suite 0x{id:04x}");
            if let Some(cs) = tls_parser::TlsCipherSuite::from_id(id) {
                assert_eq!(weak_cipher_name(cs.name), expected, "{}", cs.name);
            }
        }
    }
}
