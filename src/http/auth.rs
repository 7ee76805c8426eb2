//! How a request authenticated: a set of methods read from its headers, its URL and the TLS
//! handshake. Rules ask the set; the text (`none`, `bearer`, `client-certificate+api-key`, …)
//! is only how it is written out.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One way a request carried credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A client certificate sent in the TLS handshake.
    ClientCertificate,
    /// An API key header or query parameter.
    ApiKey,
    /// HTTP Basic, or userinfo in the URL.
    Basic,
    /// A bearer token (header or query parameter).
    Bearer,
    /// An HMAC signature in a header.
    HmacHeader,
    /// An HMAC signature in the query string.
    HmacQuery,
}

impl AuthMethod {
    /// In the order the text lists them: the client certificate first, then by name.
    const ALL: [AuthMethod; 6] = [
        AuthMethod::ClientCertificate,
        AuthMethod::ApiKey,
        AuthMethod::Basic,
        AuthMethod::Bearer,
        AuthMethod::HmacHeader,
        AuthMethod::HmacQuery,
    ];

    /// The method's name in the output.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::ClientCertificate => "client-certificate",
            AuthMethod::ApiKey => "api-key",
            AuthMethod::Basic => "basic",
            AuthMethod::Bearer => "bearer",
            AuthMethod::HmacHeader => "hmac-header",
            AuthMethod::HmacQuery => "hmac-query",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The methods a request used (none, one or several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Auth(u8);

impl Auth {
    pub fn add(&mut self, m: AuthMethod) {
        self.0 |= m.bit();
    }

    pub fn without(self, m: AuthMethod) -> Auth {
        Auth(self.0 & !m.bit())
    }

    pub fn has(self, m: AuthMethod) -> bool {
        self.0 & m.bit() != 0
    }

    /// No credentials at all.
    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// Credentials in the request itself (headers or URL), not only a client certificate.
    pub fn in_request(self) -> bool {
        self.0 & !AuthMethod::ClientCertificate.bit() != 0
    }

    pub fn methods(self) -> impl Iterator<Item = AuthMethod> {
        AuthMethod::ALL.into_iter().filter(move |m| self.has(*m))
    }
}

/// `none`, or the methods joined with `+` (the client certificate first, then by name).
impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        for (i, m) in self.methods().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            f.write_str(m.name())?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Auth {
    type Err = String;

    fn from_str(s: &str) -> Result<Auth, String> {
        let mut auth = Auth::default();
        if s == "none" {
            return Ok(auth);
        }
        for part in s.split('+') {
            let m = AuthMethod::ALL
                .into_iter()
                .find(|m| m.name() == part)
                .ok_or_else(|| format!("unknown authentication method {part:?}"))?;
            auth.add(m);
        }
        Ok(auth)
    }
}

impl PartialEq<&str> for Auth {
    fn eq(&self, other: &&str) -> bool {
        other.parse::<Auth>().is_ok_and(|a| a == *self)
    }
}

/// Text in human-readable formats (JSON, and through it CSV and Parquet); the bits in the spill.
impl Serialize for Auth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_u8(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Auth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Auth, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            Ok(Auth(u8::deserialize(d)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lists_the_client_certificate_first_then_by_name() {
        let mut a = Auth::default();
        assert_eq!(a.to_string(), "none");
        a.add(AuthMethod::HmacQuery);
        a.add(AuthMethod::ApiKey);
        assert_eq!(a.to_string(), "api-key+hmac-query");
        a.add(AuthMethod::ClientCertificate);
        assert_eq!(a.to_string(), "client-certificate+api-key+hmac-query");
        assert_eq!("client-certificate+api-key+hmac-query".parse(), Ok(a));
        assert!(a.in_request());
        let mut cert = Auth::default();
        cert.add(AuthMethod::ClientCertificate);
        assert!(!cert.in_request() && !cert.is_none());
        assert!("token".parse::<Auth>().is_err());
    }
}
