//! HMAC-signed requests: where the signature travels, the algorithm its name promises, its
//! decoded length, the names of the key id and timestamp that go with it, the timestamp's
//! distance from the capture time, and (with `--hmac-secret`) which canonical form the signature
//! was computed over.
//!
//! Signature, key id and timestamp values are read here and never leave this module: the
//! record holds names, lengths, a skew in seconds and the name of a canonical form.

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256, Sha384, Sha512};

/// Where a signature or key id travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Carried {
    /// In a request header (`Authorization` or a header of its own).
    Header,
    /// In the query string (lands in every proxy's and server's access log).
    Query,
}

/// How a request signed itself with an HMAC. Values are never included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HmacRecord {
    /// Where the signature travelled.
    pub location: Carried,
    /// The header or query parameter that carried it, as sent (`Authorization`,
    /// `x-sn-hmac-signature-256`, `X-Amz-Signature`).
    pub name: String,
    /// `sigv4` (AWS Signature Version 4), `http-signature` (`Authorization: Signature
    /// keyId=...`), `authorization-hmac` (`Authorization: HMAC...`), `signature-header` or
    /// `signature-param` (a header or parameter of its own).
    pub scheme: String,
    /// The algorithm the name (or scheme, or an `algorithm` parameter) promises:
    /// `hmac-sha1`, `hmac-sha256`, `hmac-sha384`, `hmac-sha512`; null when nothing promises one.
    pub algorithm: Option<String>,
    /// `hex`, `base64` or `base64url`; null when the value is neither.
    pub encoding: Option<String>,
    /// Decoded signature length in bytes (null when not decodable).
    pub signature_bytes: Option<u32>,
    /// The name of the key id the request carried (`Credential`, `keyId`, `x-sn-hmac-key-id`);
    /// null when none.
    pub key_id_name: Option<String>,
    /// Where the key id travelled.
    pub key_id_location: Option<Carried>,
    /// The name of the timestamp the request carried (`x-amz-date`, `X-Date`, `timestamp`).
    pub timestamp_name: Option<String>,
    /// How far the timestamp lies outside the connection's capture times, in seconds: before
    /// its first packet (negative: the client's clock is behind) or after its last (positive);
    /// 0 within them; null when there is no readable timestamp.
    pub timestamp_skew_s: Option<i64>,
    /// With `--hmac-secret`: `matched <form>`, `no form matched`, `no secret for this key id`,
    /// `not checked: body not read` (the capture ends before the body does) or `body larger
    /// than N bytes, not verified`; null without secrets or a readable signature.
    #[schemars(with = "Option<String>")]
    pub verification: Option<Verification>,
}

/// What a request was signed over (the canonical forms `--hmac-secret` tries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedForm {
    Body,
    TimestampBody,
    MethodPathTimestampBody,
    MethodPathQueryTimestampBody,
    TimestampNewlineBody,
    MethodPathTimestampBodyByLines,
    /// AWS SigV4's canonical request, hex-encoded.
    SigV4,
}

impl SignedForm {
    const ALL: [SignedForm; 7] = [
        SignedForm::Body,
        SignedForm::TimestampBody,
        SignedForm::MethodPathTimestampBody,
        SignedForm::MethodPathQueryTimestampBody,
        SignedForm::TimestampNewlineBody,
        SignedForm::MethodPathTimestampBodyByLines,
        SignedForm::SigV4,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SignedForm::Body => "body",
            SignedForm::TimestampBody => "timestamp+body",
            SignedForm::MethodPathTimestampBody => "method+path+timestamp+body",
            SignedForm::MethodPathQueryTimestampBody => "method+path?query+timestamp+body",
            SignedForm::TimestampNewlineBody => "timestamp\\nbody",
            SignedForm::MethodPathTimestampBodyByLines => "method\\npath\\ntimestamp\\nbody",
            SignedForm::SigV4 => "sigv4-canonical-request (hex)",
        }
    }

    fn has_timestamp(self) -> bool {
        !matches!(self, SignedForm::Body | SignedForm::SigV4)
    }
}

/// What recomputing a signature with `--hmac-secret` showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The signature is the HMAC of this form under a given secret.
    Matched(SignedForm),
    /// No usual form gives the signature with the secrets given.
    NoFormMatched,
    /// No secret was given for the key id the request names.
    NoSecretForKeyId,
    /// The capture ends before the body does.
    BodyNotRead,
    /// The body is larger than [`MAX_SIGNED_BODY`].
    BodyTooLarge,
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verification::Matched(form) => write!(f, "matched {}", form.name()),
            Verification::NoFormMatched => f.write_str("no form matched"),
            Verification::NoSecretForKeyId => f.write_str("no secret for this key id"),
            Verification::BodyNotRead => f.write_str("not checked: body not read"),
            Verification::BodyTooLarge => {
                write!(f, "body larger than {MAX_SIGNED_BODY} bytes, not verified")
            }
        }
    }
}

impl std::str::FromStr for Verification {
    type Err = String;

    fn from_str(s: &str) -> Result<Verification, String> {
        if let Some(form) = s.strip_prefix("matched ") {
            return SignedForm::ALL
                .into_iter()
                .find(|f| f.name() == form)
                .map(Verification::Matched)
                .ok_or_else(|| format!("unknown signed form {form:?}"));
        }
        [
            Verification::NoFormMatched,
            Verification::NoSecretForKeyId,
            Verification::BodyNotRead,
            Verification::BodyTooLarge,
        ]
        .into_iter()
        .find(|v| v.to_string() == s)
        .ok_or_else(|| format!("unknown verification {s:?}"))
    }
}

/// Written as its text everywhere (JSON and the spill alike: the field is rare).
impl Serialize for Verification {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Verification {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Verification, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Bytes of an HMAC of this algorithm.
pub fn expected_len(algorithm: &str) -> Option<u32> {
    match algorithm {
        "hmac-sha1" => Some(20),
        "hmac-sha256" => Some(32),
        "hmac-sha384" => Some(48),
        "hmac-sha512" => Some(64),
        _ => None,
    }
}

/// A secret given with `--hmac-secret` or `--hmac-secrets`: its Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct HmacKey {
    key_id: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(<redacted>)")
    }
}

/// A `KEYID=SECRET` that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HmacKeyError {
    /// No `=` between key id and secret.
    #[error("{0}expected KEYID=SECRET")]
    NoEquals(String),
    /// Nothing after `=`.
    #[error("{0}the secret is empty")]
    EmptySecret(String),
}

impl HmacKey {
    /// Parses `KEYID=SECRET` (an empty KEYID: the secret of requests that name no key id, or
    /// of any request when it is the only secret). `place` prefixes errors (`FILE:3: `).
    pub fn parse(text: &str, place: &str) -> Result<HmacKey, HmacKeyError> {
        let (id, secret) = text
            .split_once('=')
            .ok_or_else(|| HmacKeyError::NoEquals(place.to_string()))?;
        if secret.is_empty() {
            return Err(HmacKeyError::EmptySecret(place.to_string()));
        }
        Ok(HmacKey {
            key_id: id.trim().to_string(),
            secret: secret.as_bytes().to_vec(),
        })
    }

    /// Every `KEYID=SECRET` line of a secrets file (blank lines and `#` comments skipped).
    pub fn parse_file(text: &str, file: &str) -> Result<Vec<HmacKey>, HmacKeyError> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(i, l)| HmacKey::parse(l.trim_end_matches('\r'), &format!("{file}:{}: ", i + 1)))
            .collect()
    }
}

/// What the HTTP stage needs beyond the bytes to judge signed requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct HmacContext<'a> {
    /// Capture times (seconds since the epoch) of the connection's first and last packets: a
    /// request's own time lies between them.
    pub capture_window: Option<(i64, i64)>,
    /// Secrets to recompute signatures with.
    pub secrets: &'a [HmacKey],
}

/// A request as the signature check needs it; borrowed from the parsed message.
pub(super) struct SignedRequest<'a> {
    pub method: &'a str,
    /// The request target as sent (path and query, values not yet redacted).
    pub target: &'a str,
    pub headers: &'a [(&'a str, &'a [u8])],
    pub body: Body<'a>,
}

/// Longest request body kept to recompute a signature over: the application bytes the TLS
/// stage keeps per direction (64 KiB), so a longer body is never whole in them anyway.
pub const MAX_SIGNED_BODY: usize = 64 * 1024;

/// A request body as far as the capture gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body<'a> {
    /// All of it: Content-Length bytes, the de-chunked chunks, or an HTTP/2 stream's DATA
    /// frames up to END_STREAM.
    Whole(&'a [u8]),
    /// Longer than [`MAX_SIGNED_BODY`].
    TooLarge,
    /// The bytes end before the body does.
    NotSeen,
}

/// A value found, with its name and where it travelled.
struct Found<'a> {
    name: String,
    value: std::borrow::Cow<'a, str>,
    carried: Carried,
}

/// Query parameters of a target, percent-decoding left to the caller (signatures in base64
/// are often percent-encoded; [`decode`] undoes `%2B`, `%2F`, `%3D`).
fn query_pairs(target: &str) -> impl Iterator<Item = (&str, &str)> {
    target
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
}

/// A signature's name; `x-sn-hmac-key-id` and `x-sn-hmac-timestamp` name its companions.
fn is_signature_name(n: &str) -> bool {
    (n.contains("signature") || n.contains("hmac") || n == "sig" || n.ends_with("-sig"))
        && !n.contains("signedheaders")
        // RFC 9421's Signature-Input names what was signed, not the signature.
        && !n.ends_with("-input")
        && !is_key_id_name(n)
        && !is_timestamp_name(n)
}

fn is_key_id_name(n: &str) -> bool {
    [
        "key-id",
        "keyid",
        "key_id",
        "accesskey",
        "access-key",
        "access_key",
        "credential",
        "apikey",
        "api-key",
        "api_key",
    ]
    .iter()
    .any(|p| n.contains(p))
}

fn is_timestamp_name(n: &str) -> bool {
    n.contains("timestamp")
        || n == "ts"
        || n == "date"
        || (n.starts_with("x-") && n.ends_with("date"))
}

/// The algorithm a name, scheme or `algorithm` value promises.
fn algorithm_of(text: &str) -> Option<&'static str> {
    let t = text.to_ascii_lowercase();
    if t.contains("sha1") || t.ends_with("-1") {
        Some("hmac-sha1")
    } else if t.contains("512") {
        Some("hmac-sha512")
    } else if t.contains("384") {
        Some("hmac-sha384")
    } else if t.contains("256") {
        Some("hmac-sha256")
    } else {
        None
    }
}

/// The bytes of a signature value: hex when it is only hex digits (a random base64 value
/// almost always has another letter), else base64 or base64url (percent-encoded `+/=` too).
fn decode(value: &str) -> Option<(&'static str, Vec<u8>)> {
    let v = value.trim().trim_matches('"');
    if v.is_empty() {
        return None;
    }
    if v.len() % 2 == 0 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(v).ok().map(|b| ("hex", b));
    }
    let unescaped = v
        .replace("%2B", "+")
        .replace("%2b", "+")
        .replace("%2F", "/")
        .replace("%2f", "/")
        .replace("%3D", "=")
        .replace("%3d", "=");
    let std = base64::engine::general_purpose::STANDARD;
    if let Ok(b) = std.decode(&unescaped) {
        return Some(("base64", b));
    }
    let url = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    url.decode(&unescaped).ok().map(|b| ("base64url", b))
}

/// `k=v` parameters of an Authorization value after its scheme (`, `, `&` or spaces between
/// them; quotes dropped).
fn auth_params(rest: &str) -> Vec<(String, &str)> {
    rest.split([',', '&', ' '])
        .filter_map(|p| p.trim().split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"')))
        .collect()
}

/// A timestamp value as seconds since the epoch: epoch seconds or milliseconds, ISO 8601
/// basic (`20261206T074100Z`, SigV4), RFC 3339, or an HTTP date (RFC 2822 form).
fn parse_time(value: &str) -> Option<i64> {
    use time::format_description::well_known::{Rfc2822, Rfc3339};
    let v = value.trim().trim_matches('"');
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = v.parse().ok()?;
        return match v.len() {
            9 | 10 => Some(n),
            13 => Some(n / 1000),
            16 => Some(n / 1_000_000),
            _ => None,
        };
    }
    if let Ok(t) = time::OffsetDateTime::parse(v, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    if let Ok(t) = time::OffsetDateTime::parse(v, &Rfc2822) {
        return Some(t.unix_timestamp());
    }
    let basic = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(v, basic)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// The signature facts of a request; None when it carries no HMAC signature.
pub(super) fn inspect(req: &SignedRequest<'_>, ctx: &HmacContext<'_>) -> Option<HmacRecord> {
    let mut sig: Option<Found<'_>> = None;
    let mut scheme = "";
    let mut algorithm: Option<&'static str> = None;
    let mut key_id: Option<Found<'_>> = None;
    let mut stamp: Option<Found<'_>> = None;
    let mut signed_headers: Option<&str> = None;
    let mut scope: Option<String> = None;
    for (name, value) in req.headers {
        let n = name.to_ascii_lowercase();
        let Ok(v) = std::str::from_utf8(value) else {
            continue;
        };
        if n == "authorization" {
            let (word, rest) = v.trim().split_once(' ').unwrap_or((v.trim(), ""));
            let w = word.to_ascii_lowercase();
            let params = auth_params(rest);
            let param = |k: &str| {
                params
                    .iter()
                    .find(|(pk, _)| pk.eq_ignore_ascii_case(k))
                    .map(|(pk, pv)| (pk.clone(), *pv))
            };
            let kind = if w.starts_with("aws4-hmac") {
                "sigv4"
            } else if w == "signature" {
                "http-signature"
            } else if w.contains("hmac") {
                "authorization-hmac"
            } else {
                continue;
            };
            scheme = kind;
            algorithm = algorithm_of(&w).or(algorithm);
            if let Some((_, a)) = param("algorithm") {
                algorithm = algorithm_of(a).or(algorithm);
            }
            let (key, signature) = match param("signature") {
                Some((_, s)) => {
                    let key = param("credential")
                        .or_else(|| param("keyid"))
                        .or_else(|| param("username"))
                        .or_else(|| param("key"));
                    (key, s)
                }
                // `HMAC keyid:signature` (or the signature alone).
                None => match rest.trim().rsplit_once(':') {
                    Some((k, s)) => (Some(("keyid".to_string(), k)), s),
                    None => (None, rest.trim()),
                },
            };
            if let Some((k, kv)) = key {
                if k.eq_ignore_ascii_case("credential") {
                    // AKID/date/region/service/aws4_request: the id, and the scope SigV4 signs.
                    let (id, s) = kv.split_once('/').unwrap_or((kv, ""));
                    scope = Some(s.to_string());
                    key_id = Some(Found {
                        name: k,
                        value: id.into(),
                        carried: Carried::Header,
                    });
                } else {
                    key_id = Some(Found {
                        name: k,
                        value: kv.into(),
                        carried: Carried::Header,
                    });
                }
            }
            signed_headers = param("signedheaders").map(|(_, s)| s).or(signed_headers);
            sig = Some(Found {
                name: name.to_string(),
                value: signature.into(),
                carried: Carried::Header,
            });
        } else if is_signature_name(&n) && sig.is_none() {
            // RFC 9421: `sig1=:<base64>:`.
            let v = match v.split_once("=:") {
                Some((label, rest)) if !label.contains(' ') && rest.ends_with(':') => {
                    rest.trim_end_matches(':')
                }
                _ => v,
            };
            // `sha256=<hex>` (webhook style) names its algorithm in the value.
            let (prefix, bare) = match v.split_once('=') {
                Some((p, b)) if algorithm_of(p).is_some() && !b.is_empty() => (Some(p), b),
                _ => (None, v),
            };
            scheme = "signature-header";
            algorithm = algorithm_of(&n).or_else(|| prefix.and_then(algorithm_of));
            sig = Some(Found {
                name: name.to_string(),
                value: bare.into(),
                carried: Carried::Header,
            });
        } else if is_key_id_name(&n) && key_id.is_none() {
            key_id = Some(Found {
                name: name.to_string(),
                value: v.into(),
                carried: Carried::Header,
            });
        } else if is_timestamp_name(&n)
            // A dedicated timestamp wins over the generic Date header.
            && !stamp
                .as_ref()
                .is_some_and(|s| !s.name.eq_ignore_ascii_case("date"))
        {
            stamp = Some(Found {
                name: name.to_string(),
                value: v.into(),
                carried: Carried::Header,
            });
        }
    }
    for (k, v) in query_pairs(req.target) {
        let n = k.to_ascii_lowercase();
        if v.is_empty() {
            continue;
        }
        if is_signature_name(&n) && sig.is_none() {
            scheme = if n == "x-amz-signature" {
                "sigv4"
            } else {
                "signature-param"
            };
            algorithm = algorithm_of(&n).or(algorithm);
            sig = Some(Found {
                name: k.to_string(),
                value: v.into(),
                carried: Carried::Query,
            });
        } else if n == "x-amz-algorithm" {
            algorithm = algorithm_of(v).or(algorithm);
        } else if is_key_id_name(&n) && key_id.is_none() {
            let v = v.replace("%2F", "/").replace("%2f", "/");
            let (id, s) = v.split_once('/').map_or((v.as_str(), ""), |(a, b)| (a, b));
            if n == "x-amz-credential" {
                scope = Some(s.to_string());
            }
            key_id = Some(Found {
                name: k.to_string(),
                value: id.to_string().into(),
                carried: Carried::Query,
            });
        } else if n == "x-amz-signedheaders" {
            signed_headers = Some(v);
        } else if is_timestamp_name(&n) && stamp.is_none() {
            stamp = Some(Found {
                name: k.to_string(),
                value: v.into(),
                carried: Carried::Query,
            });
        }
    }
    let sig = sig?;
    let decoded = decode(&sig.value);
    let skew = stamp
        .as_ref()
        .and_then(|s| parse_time(&s.value))
        .zip(ctx.capture_window)
        .map(|(t, (first, last))| {
            // A request on a long kept-alive connection was sent some time after its first
            // packet: only a timestamp outside the connection's lifetime is off.
            if t < first {
                t.saturating_sub(first)
            } else {
                t.saturating_sub(last).max(0)
            }
        });
    let verification = match (&decoded, ctx.secrets.is_empty()) {
        (Some((_, bytes)), false) => Some(verify(
            req,
            &Facts {
                algorithm,
                signature: bytes,
                key_id: key_id.as_ref().map(|k| k.value.as_ref()),
                stamp: stamp.as_ref().map(|s| s.value.as_ref()),
                sig_param: (sig.carried == Carried::Query).then_some(sig.name.as_str()),
                sigv4: (scheme == "sigv4").then_some(SigV4 {
                    signed_headers,
                    scope: scope.as_deref(),
                }),
            },
            ctx.secrets,
        )),
        _ => None,
    };
    Some(HmacRecord {
        location: sig.carried,
        name: sig.name,
        scheme: scheme.to_string(),
        algorithm: algorithm.map(str::to_string),
        encoding: decoded.as_ref().map(|(e, _)| e.to_string()),
        signature_bytes: decoded
            .as_ref()
            .map(|(_, b)| u32::try_from(b.len()).unwrap_or(u32::MAX)),
        key_id_name: key_id.as_ref().map(|k| k.name.clone()),
        key_id_location: key_id.as_ref().map(|k| k.carried),
        timestamp_name: stamp.as_ref().map(|s| s.name.clone()),
        timestamp_skew_s: skew,
        verification,
    })
}

/// What SigV4 signs besides the request itself.
struct SigV4<'a> {
    signed_headers: Option<&'a str>,
    /// `date/region/service/aws4_request`.
    scope: Option<&'a str>,
}

/// The values a recomputation needs (never stored).
struct Facts<'a> {
    algorithm: Option<&'static str>,
    signature: &'a [u8],
    key_id: Option<&'a str>,
    stamp: Option<&'a str>,
    /// The query parameter that carried the signature (left out of what is signed).
    sig_param: Option<&'a str>,
    sigv4: Option<SigV4<'a>>,
}

fn mac(algorithm: &str, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    macro_rules! run {
        ($h:ty) => {{
            // HMAC accepts keys of any length: new_from_slice cannot fail.
            let Ok(mut m) = <Hmac<$h> as hmac::Mac>::new_from_slice(key) else {
                return Vec::new();
            };
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }};
    }
    match algorithm {
        "hmac-sha384" => run!(Sha384),
        "hmac-sha512" => run!(Sha512),
        "hmac-sha1" => run!(sha1::Sha1),
        _ => run!(Sha256),
    }
}

/// The request target without the signature parameter (what a query-signed request signed).
fn target_without(target: &str, param: Option<&str>) -> String {
    let (Some(p), Some((path, q))) = (param, target.split_once('?')) else {
        return target.to_string();
    };
    let kept: Vec<&str> = q
        .split('&')
        .filter(|kv| kv.split_once('=').map_or(*kv, |(k, _)| k) != p)
        .collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// Recomputes the signature over the usual canonical forms with every secret that may be the
/// request's, and names the form that matched.
fn verify(req: &SignedRequest<'_>, f: &Facts<'_>, secrets: &[HmacKey]) -> Verification {
    let named: Vec<&HmacKey> = secrets
        .iter()
        .filter(|k| f.key_id.is_some_and(|id| id == k.key_id))
        .collect();
    let keys: Vec<&HmacKey> = if !named.is_empty() {
        named
    } else if f.key_id.is_none() || secrets.len() == 1 {
        secrets
            .iter()
            .filter(|k| k.key_id.is_empty() || secrets.len() == 1)
            .collect()
    } else {
        Vec::new()
    };
    if keys.is_empty() {
        return Verification::NoSecretForKeyId;
    }
    let body = match req.body {
        Body::Whole(b) => b,
        Body::TooLarge => return Verification::BodyTooLarge,
        Body::NotSeen => return Verification::BodyNotRead,
    };
    let alg = f.algorithm.unwrap_or("hmac-sha256");
    let target = target_without(req.target, f.sig_param);
    let path = target.split('?').next().unwrap_or("");
    let ts = f.stamp.unwrap_or("").as_bytes();
    let m = req.method.as_bytes();
    let forms: [(SignedForm, Vec<&[u8]>); 6] = [
        (SignedForm::Body, vec![body]),
        (SignedForm::TimestampBody, vec![ts, body]),
        (
            SignedForm::MethodPathTimestampBody,
            vec![m, path.as_bytes(), ts, body],
        ),
        (
            SignedForm::MethodPathQueryTimestampBody,
            vec![m, target.as_bytes(), ts, body],
        ),
        (SignedForm::TimestampNewlineBody, vec![ts, b"\n", body]),
        (
            SignedForm::MethodPathTimestampBodyByLines,
            vec![m, b"\n", path.as_bytes(), b"\n", ts, b"\n", body],
        ),
    ];
    for key in &keys {
        if let Some(v4) = &f.sigv4 {
            if sigv4(req, v4, f.stamp, &key.secret).as_deref() == Some(f.signature) {
                return Verification::Matched(SignedForm::SigV4);
            }
            continue;
        }
        for (form, parts) in &forms {
            // Forms with a timestamp only when the request carried one.
            if ts.is_empty() && form.has_timestamp() {
                continue;
            }
            if mac(alg, &key.secret, parts) == f.signature {
                return Verification::Matched(*form);
            }
        }
    }
    Verification::NoFormMatched
}

/// AWS Signature Version 4 over the request as sent; None when a part it needs is missing.
fn sigv4(
    req: &SignedRequest<'_>,
    v4: &SigV4<'_>,
    stamp: Option<&str>,
    secret: &[u8],
) -> Option<Vec<u8>> {
    let scope = v4.scope?;
    let stamp = stamp?;
    let mut sp = scope.split('/');
    let (date, region, service) = (sp.next()?, sp.next()?, sp.next()?);
    let (path, query) = req.target.split_once('?').unwrap_or((req.target, ""));
    let mut q: Vec<(&str, &str)> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .filter(|(k, _)| !k.eq_ignore_ascii_case("X-Amz-Signature"))
        .collect();
    q.sort_unstable();
    let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let signed = v4.signed_headers?;
    let mut headers = String::new();
    for h in signed.split(';') {
        let value = req
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(h))
            .map(|(_, v)| {
                String::from_utf8_lossy(v)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        headers.push_str(&format!("{h}:{value}\n"));
    }
    let payload = req
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-content-sha256"))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| {
            let body = match req.body {
                Body::Whole(b) => b,
                Body::TooLarge | Body::NotSeen => &[],
            };
            hex::encode(Sha256::digest(body))
        });
    let canonical = format!(
        "{}\n{}\n{}\n{headers}\n{signed}\n{payload}",
        req.method,
        if path.is_empty() { "/" } else { path },
        query.join("&")
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut k = [b"AWS4".as_slice(), secret].concat();
    for part in [date, region, service, "aws4_request"] {
        k = mac("hmac-sha256", &k, &[part.as_bytes()]);
    }
    Some(mac("hmac-sha256", &k, &[to_sign.as_bytes()]))
}

#[cfg(test)]
mod tests {

    /// The spill stores a verification as its text: every value reads back as itself.
    #[test]
    fn verification_text_reads_back() {
        let mut all: Vec<Verification> = SignedForm::ALL
            .into_iter()
            .map(Verification::Matched)
            .collect();
        all.extend([
            Verification::NoFormMatched,
            Verification::NoSecretForKeyId,
            Verification::BodyNotRead,
            Verification::BodyTooLarge,
        ]);
        for v in all {
            assert_eq!(v.to_string().parse::<Verification>(), Ok(v));
            let spilled = postcard::to_allocvec(&v).unwrap();
            assert_eq!(postcard::from_bytes::<Verification>(&spilled).unwrap(), v);
        }
        assert_eq!(
            Verification::Matched(SignedForm::MethodPathTimestampBodyByLines).to_string(),
            "matched method\\npath\\ntimestamp\\nbody"
        );
        assert!("matched nothing".parse::<Verification>().is_err());
    }

    use super::*;

    fn req<'a>(
        method: &'a str,
        target: &'a str,
        headers: &'a [(&'a str, &'a [u8])],
        body: &'a [u8],
    ) -> SignedRequest<'a> {
        SignedRequest {
            method,
            target,
            headers,
            body: Body::Whole(body),
        }
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let k = HmacKey::parse("k1=hunter2", "").unwrap();
        assert_eq!(format!("{k:?}"), "HmacKey(<redacted>)");
        assert_eq!(
            HmacKey::parse("k1", "f:2: "),
            Err(HmacKeyError::NoEquals("f:2: ".into()))
        );
        assert_eq!(
            HmacKey::parse_file("# c\n\nk=s\nbad\n", "f")
                .unwrap_err()
                .to_string(),
            "f:4: expected KEYID=SECRET"
        );
    }

    /// AWS's published SigV4 example (IAM ListUsers, docs "Create a signed AWS API request"):
    /// secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, signature
    /// 5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7.
    #[test]
    fn sigv4_matches_the_aws_example() {
        let headers: [(&str, &[u8]); 3] = [
            (
                "Content-Type",
                b"application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("Host", b"iam.amazonaws.com"),
            ("X-Amz-Date", b"20150830T123600Z"),
        ];
        let r = req(
            "GET",
            "/?Action=ListUsers&Version=2010-05-08",
            &headers,
            b"",
        );
        let sig = sigv4(
            &r,
            &SigV4 {
                signed_headers: Some("content-type;host;x-amz-date"),
                scope: Some("20150830/us-east-1/iam/aws4_request"),
            },
            Some("20150830T123600Z"),
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        );
        assert_eq!(
            sig.map(hex::encode).as_deref(),
            Some("5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
        );
    }

    /// Hand-built SigV4 header, checked end to end with the secret.
    #[test]
    fn sigv4_header_is_read_and_verified() {
        let auth = b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
        let headers: [(&str, &[u8]); 4] = [
            (
                "Content-Type",
                b"application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("Host", b"iam.amazonaws.com"),
            ("X-Amz-Date", b"20150830T123600Z"),
            ("Authorization", auth),
        ];
        let r = req(
            "GET",
            "/?Action=ListUsers&Version=2010-05-08",
            &headers,
            b"",
        );
        let secrets =
            [HmacKey::parse("AKIDEXAMPLE=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "").unwrap()];
        let ctx = HmacContext {
            capture_window: Some((1_440_938_160 + 400, 1_440_938_160 + 401)),
            secrets: &secrets,
        };
        let h = inspect(&r, &ctx).unwrap();
        assert_eq!(h.scheme, "sigv4");
        assert_eq!(h.location, Carried::Header);
        assert_eq!(h.algorithm.as_deref(), Some("hmac-sha256"));
        assert_eq!(
            (h.encoding.as_deref(), h.signature_bytes),
            (Some("hex"), Some(32))
        );
        assert_eq!(h.key_id_name.as_deref(), Some("Credential"));
        assert_eq!(h.timestamp_name.as_deref(), Some("X-Amz-Date"));
        assert_eq!(h.timestamp_skew_s, Some(-400));
        assert_eq!(
            h.verification.map(|v| v.to_string()).as_deref(),
            Some("matched sigv4-canonical-request (hex)")
        );
        let json = serde_json::to_string(&h).unwrap();
        assert!(
            !json.contains("AKIDEXAMPLE") && !json.contains("5d672d79"),
            "{json}"
        );
    }

    /// Hand-built ServiceNow-style header with a 64-byte value under a `-256` name.
    #[test]
    fn sn_header_length_and_forms() {
        let body = b"{\"a\":1}";
        let key = HmacKey::parse("k1=s3cret", "").unwrap();
        let good = mac("hmac-sha256", b"s3cret", &[b"1700000000", body]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&good);
        let headers: [(&str, &[u8]); 3] = [
            ("x-sn-hmac-signature-256", b64.as_bytes()),
            ("x-sn-hmac-key-id", b"k1"),
            ("timestamp", b"1700000000"),
        ];
        let r = req("POST", "/api/x", &headers, body);
        let secrets = [key];
        let ctx = HmacContext {
            capture_window: Some((1_700_000_010, 1_700_000_011)),
            secrets: &secrets,
        };
        let h = inspect(&r, &ctx).unwrap();
        assert_eq!(h.algorithm.as_deref(), Some("hmac-sha256"));
        assert_eq!(
            (h.encoding.as_deref(), h.signature_bytes),
            (Some("base64"), Some(32))
        );
        assert_eq!(h.key_id_name.as_deref(), Some("x-sn-hmac-key-id"));
        assert_eq!(h.timestamp_skew_s, Some(-10));
        assert_eq!(
            h.verification.map(|v| v.to_string()).as_deref(),
            Some("matched timestamp+body")
        );
        let long = hex::encode([7u8; 64]);
        let headers: [(&str, &[u8]); 1] = [("x-sn-hmac-signature-256", long.as_bytes())];
        let h = inspect(&req("POST", "/api/x", &headers, body), &ctx).unwrap();
        assert_eq!(
            (h.encoding.as_deref(), h.signature_bytes),
            (Some("hex"), Some(64))
        );
        assert_eq!(
            h.verification.map(|v| v.to_string()).as_deref(),
            Some("no form matched")
        );
    }

    /// Hand-built: a request late on a kept-alive connection is not skewed; one stamped after
    /// the connection's last packet is.
    #[test]
    fn skew_is_measured_outside_the_connections_lifetime() {
        let headers: [(&str, &[u8]); 2] =
            [("x-signature", b"AAAA"), ("x-timestamp", b"1700000900")];
        let r = req("GET", "/", &headers, b"");
        let skew = |first, last| {
            let ctx = HmacContext {
                capture_window: Some((first, last)),
                secrets: &[],
            };
            inspect(&r, &ctx).unwrap().timestamp_skew_s
        };
        assert_eq!(skew(1_700_000_000, 1_700_003_600), Some(0));
        assert_eq!(skew(1_700_000_000, 1_700_000_500), Some(400));
        assert_eq!(skew(1_700_001_000, 1_700_003_600), Some(-100));
    }

    #[test]
    fn query_signature_and_other_forms() {
        let headers: [(&str, &[u8]); 1] = [("X-MBX-APIKEY", b"abc")];
        let r = req(
            "GET",
            "/api/v3/order?symbol=X&timestamp=1700000000123&signature=c2lnbmF0dXJlcw%3D%3D",
            &headers,
            b"",
        );
        let h = inspect(&r, &HmacContext::default()).unwrap();
        assert_eq!(h.location, Carried::Query);
        assert_eq!(h.name, "signature");
        assert_eq!(h.scheme, "signature-param");
        assert_eq!(h.key_id_location, Some(Carried::Header));
        assert_eq!(h.timestamp_name.as_deref(), Some("timestamp"));
        assert_eq!(h.signature_bytes, Some(10));
        assert_eq!(h.verification, None);
        let headers: [(&str, &[u8]); 2] = [
            ("Authorization", b"Signature keyId=\"k\",algorithm=\"hmac-sha512\",headers=\"date\",signature=\"AAAA\""),
            ("Date", b"Sun, 06 Dec 2026 07:41:26 GMT"),
        ];
        let ctx = HmacContext {
            capture_window: Some((1_796_542_880, 1_796_542_890)),
            secrets: &[],
        };
        let h = inspect(&req("GET", "/", &headers, b""), &ctx).unwrap();
        assert_eq!(h.scheme, "http-signature");
        assert_eq!(h.algorithm.as_deref(), Some("hmac-sha512"));
        assert_eq!(h.key_id_name.as_deref(), Some("keyId"));
        assert_eq!(h.timestamp_skew_s, Some(0));
        // RFC 9421 (hand-built): the signature, not its Signature-Input.
        let headers: [(&str, &[u8]); 2] = [
            (
                "Signature-Input",
                b"sig1=(\"@method\");keyid=\"k\";alg=\"hmac-sha256\"",
            ),
            ("Signature", b"sig1=:c2lnbmF0dXJlcw==:"),
        ];
        let h = inspect(&req("GET", "/", &headers, b""), &ctx).unwrap();
        assert_eq!(
            (h.name.as_str(), h.signature_bytes),
            ("Signature", Some(10))
        );
        let headers: [(&str, &[u8]); 1] = [("Authorization", b"Bearer abc")];
        assert_eq!(inspect(&req("GET", "/", &headers, b""), &ctx), None);
        assert_eq!(parse_time("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_time("2015-08-30T12:36:00Z"), Some(1_440_938_160));
        assert_eq!(parse_time("soon"), None);
    }
}
