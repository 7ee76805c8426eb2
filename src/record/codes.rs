//! Protocol codes the record keeps as numbers and writes as names: rules and filters compare
//! the version and the cipher suite as values, and only printers turn them into text
//! (`TLS 1.3`, `TLS_AES_128_GCM_SHA256`; `0x7f1c` for a code without a name).

use crate::tls::names;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// A code's serde: its name (`name()`, reversed by `from_name`) in JSON and other text
/// formats, the bare `$int` in storage.
macro_rules! name_in_text_code_in_storage {
    ($name:ident, $int:ty, $what:literal) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.name())
                } else {
                    self.0.serialize(s)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = Cow::<'de, str>::deserialize(d)?;
                    $name::from_name(&text).ok_or_else(|| {
                        de::Error::custom(format!(concat!("not a ", $what, ": {}"), text))
                    })
                } else {
                    <$int>::deserialize(d).map($name)
                }
            }
        }
    };
}

macro_rules! named_code {
    ($(#[$doc:meta])* $name:ident, $known:path, $by_name:path, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u16);

        impl Named for $name {
            fn name(self) -> Cow<'static, str> {
                $name::name(self)
            }
        }

        impl $name {
            /// The name people and the JSON contract use.
            pub fn name(self) -> Cow<'static, str> {
                match $known(self.0) {
                    Some(name) => Cow::Borrowed(name),
                    None => Cow::Owned(format!("0x{:04x}", self.0)),
                }
            }

            /// The code a name stands for (the reverse of [`Self::name`]).
            pub fn from_name(name: &str) -> Option<Self> {
                $by_name(name).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.name())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.name() == *other
            }
        }

        name_in_text_code_in_storage!($name, u16, $what);
    };
}

named_code!(
    /// A TLS/DTLS protocol version (`0x0304`: `TLS 1.3`).
    Version,
    names::known_version_name,
    names::version_by_name,
    "protocol version"
);

named_code!(
    /// A cipher suite (`0x1301`: `TLS_AES_128_GCM_SHA256`).
    CipherSuite,
    names::known_cipher_name,
    names::cipher_by_name,
    "cipher suite"
);

macro_rules! alert_code {
    ($(#[$doc:meta])* $name:ident, $text:path, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub u8);

        impl $name {
            /// The name people and the JSON contract use.
            pub fn name(self) -> String {
                $text(self.0)
            }

            /// The code a name stands for (the reverse of [`Self::name`]).
            pub fn from_name(name: &str) -> Option<Self> {
                (0..=u8::MAX).map($name).find(|c| c.name() == name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.name())
            }
        }

        name_in_text_code_in_storage!($name, u8, $what);
    };
}

alert_code!(
    /// A TLS alert level (`2`: `fatal`; `level_N` for another).
    AlertLevel,
    names::alert_level_name,
    "TLS alert level"
);

alert_code!(
    /// A TLS alert description (`48`: `unknown_ca`; `alert_N` for one without a name).
    AlertDescription,
    names::alert_name,
    "TLS alert description"
);

impl AlertLevel {
    pub const FATAL: AlertLevel = AlertLevel(2);
}

/// The descriptions rules name (RFC 8446, 6.2).
impl AlertDescription {
    pub const CLOSE_NOTIFY: AlertDescription = AlertDescription(0);
    pub const HANDSHAKE_FAILURE: AlertDescription = AlertDescription(40);
    pub const BAD_CERTIFICATE: AlertDescription = AlertDescription(42);
    pub const UNSUPPORTED_CERTIFICATE: AlertDescription = AlertDescription(43);
    pub const CERTIFICATE_REVOKED: AlertDescription = AlertDescription(44);
    pub const CERTIFICATE_EXPIRED: AlertDescription = AlertDescription(45);
    pub const CERTIFICATE_UNKNOWN: AlertDescription = AlertDescription(46);
    pub const ILLEGAL_PARAMETER: AlertDescription = AlertDescription(47);
    pub const UNKNOWN_CA: AlertDescription = AlertDescription(48);
    pub const ACCESS_DENIED: AlertDescription = AlertDescription(49);
    pub const DECODE_ERROR: AlertDescription = AlertDescription(50);
    pub const DECRYPT_ERROR: AlertDescription = AlertDescription(51);
    pub const PROTOCOL_VERSION: AlertDescription = AlertDescription(70);
    pub const INSUFFICIENT_SECURITY: AlertDescription = AlertDescription(71);
    pub const MISSING_EXTENSION: AlertDescription = AlertDescription(109);
    pub const UNSUPPORTED_EXTENSION: AlertDescription = AlertDescription(110);
    pub const UNRECOGNIZED_NAME: AlertDescription = AlertDescription(112);
    pub const CERTIFICATE_REQUIRED: AlertDescription = AlertDescription(116);
    pub const NO_APPLICATION_PROTOCOL: AlertDescription = AlertDescription(120);
}

/// The name of a code that was seen, `-` for one that was not (tables and reports).
pub fn name_or_dash(code: Option<impl Named>) -> Cow<'static, str> {
    code.map_or(Cow::Borrowed("-"), Named::name)
}

/// A code with a name: [`Version`], [`CipherSuite`].
pub trait Named: Copy {
    /// The name people and the JSON contract use.
    fn name(self) -> Cow<'static, str>;
}

impl Version {
    /// TLS 1.3.
    pub const TLS13: Version = Version(0x0304);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in [0x0304, 0xfefd, 0x0100, 0x7f1c] {
            let name = Version(v).name();
            assert_eq!(Version::from_name(&name), Some(Version(v)), "{name}");
        }
        assert_eq!(Version(0x7f1c).name(), "0x7f1c");
        assert_eq!(CipherSuite(0x1301).name(), "TLS_AES_128_GCM_SHA256");
        assert_eq!(
            CipherSuite::from_name("TLS_AES_128_GCM_SHA256"),
            Some(CipherSuite(0x1301))
        );
        assert_eq!(CipherSuite(0xfafa).name(), "0xfafa");
        assert_eq!(CipherSuite::from_name("0xfafa"), Some(CipherSuite(0xfafa)));
    }

    #[test]
    fn alert_codes_round_trip_by_name() {
        for code in 0..=u8::MAX {
            let d = AlertDescription(code);
            assert_eq!(AlertDescription::from_name(&d.to_string()), Some(d));
            let l = AlertLevel(code);
            assert_eq!(AlertLevel::from_name(&l.to_string()), Some(l));
        }
        assert_eq!(AlertDescription(48).to_string(), "unknown_ca");
        assert_eq!(AlertDescription(200).to_string(), "alert_200");
        assert_eq!(AlertLevel::FATAL.to_string(), "fatal");
        assert_eq!(
            sonic_rs::to_string(&AlertDescription(0)).unwrap(),
            "\"close_notify\""
        );
        let stored = postcard::to_allocvec(&AlertDescription(116)).unwrap();
        assert_eq!(stored, [116]);
    }

    /// Each constant is the code of the alert it is named after.
    #[test]
    fn alert_constants_name_their_alerts() {
        for (code, name) in [
            (AlertDescription::CLOSE_NOTIFY, "close_notify"),
            (AlertDescription::HANDSHAKE_FAILURE, "handshake_failure"),
            (AlertDescription::BAD_CERTIFICATE, "bad_certificate"),
            (
                AlertDescription::UNSUPPORTED_CERTIFICATE,
                "unsupported_certificate",
            ),
            (AlertDescription::CERTIFICATE_REVOKED, "certificate_revoked"),
            (AlertDescription::CERTIFICATE_EXPIRED, "certificate_expired"),
            (AlertDescription::CERTIFICATE_UNKNOWN, "certificate_unknown"),
            (AlertDescription::ILLEGAL_PARAMETER, "illegal_parameter"),
            (AlertDescription::UNKNOWN_CA, "unknown_ca"),
            (AlertDescription::ACCESS_DENIED, "access_denied"),
            (AlertDescription::DECODE_ERROR, "decode_error"),
            (AlertDescription::DECRYPT_ERROR, "decrypt_error"),
            (AlertDescription::PROTOCOL_VERSION, "protocol_version"),
            (
                AlertDescription::INSUFFICIENT_SECURITY,
                "insufficient_security",
            ),
            (AlertDescription::MISSING_EXTENSION, "missing_extension"),
            (
                AlertDescription::UNSUPPORTED_EXTENSION,
                "unsupported_extension",
            ),
            (AlertDescription::UNRECOGNIZED_NAME, "unrecognized_name"),
            (
                AlertDescription::CERTIFICATE_REQUIRED,
                "certificate_required",
            ),
            (
                AlertDescription::NO_APPLICATION_PROTOCOL,
                "no_application_protocol",
            ),
        ] {
            assert_eq!(code.name(), name);
        }
    }

    #[test]
    fn json_writes_the_name_storage_the_code() {
        let v = Version::TLS13;
        assert_eq!(sonic_rs::to_string(&v).unwrap(), "\"TLS 1.3\"");
        let stored = postcard::to_allocvec(&v).unwrap();
        assert_eq!(stored.len(), 2, "0x0304 as a varint");
        assert_eq!(postcard::from_bytes::<Version>(&stored).unwrap(), v);
    }
}
