//! JA3 and JA4 client fingerprints (to be implemented).

use super::ClientHello;

/// JA3 (Salesforce): MD5 of `version,ciphers,extensions,groups,point_formats` without GREASE.
pub fn ja3(ch: &ClientHello) -> String {
    let _ = ch;
    todo!()
}

/// JA3 before hashing.
pub fn ja3_string(ch: &ClientHello) -> String {
    let _ = ch;
    todo!()
}

/// FoxIO JA4 for TLS over TCP, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub fn ja4(ch: &ClientHello) -> String {
    let _ = ch;
    todo!()
}
