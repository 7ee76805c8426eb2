//! Human names for protocol numbers (to be implemented).

/// `"SSL 3.0"`, `"TLS 1.0"` … `"TLS 1.3"`, or `0x....` for anything else.
pub fn version_name(v: u16) -> String {
    let _ = v;
    todo!()
}

/// IANA cipher suite name (e.g. `TLS_AES_128_GCM_SHA256`), or `0x....` when unknown.
pub fn cipher_name(id: u16) -> String {
    let _ = id;
    todo!()
}

/// RFC alert description name (e.g. `unknown_ca`), or `alert_NN`.
pub fn alert_name(code: u8) -> String {
    let _ = code;
    todo!()
}

/// `warning`, `fatal`, or `level_N`.
pub fn alert_level_name(level: u8) -> String {
    let _ = level;
    todo!()
}
