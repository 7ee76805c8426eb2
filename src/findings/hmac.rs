//! Rules on HMAC-signed requests: the signature's length against the algorithm its name
//! promises, signatures and key ids in the query string, timestamps far from the capture
//! time, and 401/403 answers to signed requests with what to check, in order.

use super::{finding, Finding, FindingKind, Severity};
use crate::http::hmac::{expected_len, Verification};
use crate::http::{Carried, HmacRecord};
use crate::record::{ConnectionRecord, HttpRecord};

/// A request timestamp further than this from the capture time is refused by the usual
/// replay protection (AWS, ServiceNow and most HMAC APIs allow 5 minutes).
pub const MAX_SKEW_SECS: i64 = 300;

fn request_text(h: &HttpRecord) -> String {
    format!(
        "{} {}",
        h.method.as_deref().unwrap_or("?"),
        h.path.as_deref().unwrap_or("?")
    )
}

fn rejected(h: &HttpRecord) -> bool {
    matches!(h.status, Some(401) | Some(403))
}

/// `request in packet N[, HTTP S in packet M]`.
fn packets(h: &HttpRecord) -> String {
    let req = match h.request_packet {
        Some(p) => format!("request in packet {p}"),
        None => "request not seen".to_string(),
    };
    match (h.status, h.response_packet) {
        (Some(s), Some(p)) => format!("{req}, HTTP {s} in packet {p}"),
        _ => format!("{req}, no response seen"),
    }
}

fn where_(c: Carried) -> &'static str {
    match c {
        Carried::Header => "header",
        Carried::Query => "query parameter",
    }
}

/// The length a signature has against what its algorithm gives, when both are known and
/// differ.
fn length_mismatch(s: &HmacRecord) -> Option<(u32, u32, &str)> {
    let alg = s.algorithm.as_deref()?;
    let want = expected_len(alg)?;
    let got = s.signature_bytes?;
    (got != want).then_some((got, want, alg))
}

fn skewed(s: &HmacRecord) -> Option<i64> {
    s.timestamp_skew_s.filter(|d| d.abs() > MAX_SKEW_SECS)
}

/// `4 min 10 s`, `2 h 3 min`, `3 d 4 h`.
fn span(secs: i64) -> String {
    let s = secs.unsigned_abs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min {} s", s / 60, s % 60),
        7200..=172_799 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// `hmac-length-mismatch`, `hmac-in-query`, `hmac-clock-skew`, `hmac-rejected`: each once per
/// connection, for its first request that shows it.
pub(super) fn hmac_rules(r: &ConnectionRecord, out: &mut Vec<Finding>) {
    let signed = || r.http.iter().filter_map(|h| Some((h, h.hmac.as_ref()?)));
    // A rejected request is the one to explain; else the first that shows the problem.
    let pick = |f: &dyn Fn(&HmacRecord) -> bool| {
        signed()
            .filter(|(_, s)| f(s))
            .max_by_key(|(h, _)| (rejected(h), std::cmp::Reverse(h.request_packet)))
    };
    if let Some((h, s)) = pick(&|s| length_mismatch(s).is_some()) {
        if let Some((got, want, alg)) = length_mismatch(s) {
            let guess = match got {
                20 => " (an HMAC-SHA1's length)",
                32 => " (an HMAC-SHA256's length)",
                48 => " (an HMAC-SHA384's length)",
                64 => " (an HMAC-SHA512's length)",
                _ => "",
            };
            out.push(finding(
                FindingKind::HmacLengthMismatch,
                if rejected(h) { Severity::Error } else { Severity::Warning },
                format!(
                    "The request {} to {} carries a {got}-byte signature{guess} in {} {}, whose name promises {alg} ({want} bytes).",
                    request_text(h),
                    r.server,
                    where_(s.location),
                    s.name
                ),
                format!(
                    "{}; {} {}: {} decoded to {got} bytes, {alg} gives {want} (value not shown).",
                    packets(h),
                    where_(s.location),
                    s.name,
                    s.encoding.as_deref().unwrap_or("?")
                ),
            ));
        }
    }
    if let Some((h, s)) =
        pick(&|s| s.location == Carried::Query || s.key_id_location == Some(Carried::Query))
    {
        let mut what = Vec::new();
        if s.location == Carried::Query {
            what.push(format!("signature ({})", s.name));
        }
        if let (Some(Carried::Query), Some(k)) = (s.key_id_location, &s.key_id_name) {
            what.push(format!("key id ({k})"));
        }
        let what = what.join(" and ");
        out.push(finding(
            FindingKind::HmacInQuery,
            Severity::Warning,
            format!(
                "The request {} to {} sends its HMAC {what} in the query string, which every proxy and server access log keeps.",
                request_text(h),
                r.server
            ),
            format!("{}; query {what} (values not shown).", packets(h)),
        ));
    }
    if let Some((h, s)) = pick(&|s| skewed(s).is_some()) {
        if let Some(skew) = skewed(s) {
            let side = if skew > 0 { "ahead of" } else { "behind" };
            out.push(finding(
                FindingKind::HmacClockSkew,
                if rejected(h) { Severity::Error } else { Severity::Warning },
                format!(
                    "The signed request {} to {} is stamped {} {side} the capture time (more than {} min off): replay protection refuses it.",
                    request_text(h),
                    r.server,
                    span(skew),
                    MAX_SKEW_SECS / 60
                ),
                format!(
                    "{}; timestamp {}: {skew:+} s outside the connection's capture times (value not shown).",
                    packets(h),
                    s.timestamp_name.as_deref().unwrap_or("?")
                ),
            ));
        }
    }
    if let Some((h, s)) = signed().find(|(h, _)| rejected(h)) {
        out.push(rejected_finding(r, h, s));
    }
}

/// `hmac-rejected`, with the checks ordered by what the capture already shows.
fn rejected_finding(r: &ConnectionRecord, h: &HttpRecord, s: &HmacRecord) -> Finding {
    let mut checks: Vec<String> = Vec::new();
    if let Some((got, want, alg)) = length_mismatch(s) {
        checks.push(format!(
            "the algorithm: a {got}-byte signature under a name promising {alg} ({want} bytes)"
        ));
    }
    if let Some(skew) = skewed(s) {
        checks.push(format!(
            "the client's clock: the timestamp is {skew:+} s off the capture time"
        ));
    }
    match s.verification {
        Some(Verification::Matched(form)) => checks.push(format!(
            "the canonical form: with the given secret the client signed over {}; if the API documents another form, that is the mismatch, else the server holds another secret for this key id",
            form.name()
        )),
        Some(Verification::NoFormMatched) => checks.push(
            "the secret and the canonical form: no usual form (body; timestamp+body; method+path+timestamp+body; SigV4) gives this signature with the given secret".to_string(),
        ),
        Some(v @ (Verification::BodyTooLarge | Verification::BodyNotRead)) => checks.push(format!(
            "the secret and the canonical form (method, path, query, timestamp, body, byte for byte): the capture does not give the whole body, so the signature was not recomputed ({v})"
        )),
        Some(Verification::NoSecretForKeyId) => checks.push(
            "the key id: no --hmac-secret was given for the one this request names".to_string(),
        ),
        None => {}
    }
    let key = match (&s.key_id_name, s.key_id_location) {
        (Some(k), Some(c)) => format!("the key id the request names ({} {k})", where_(c)),
        _ => "the key id: the request names none, so the server must infer it".to_string(),
    };
    checks.push(key);
    if s.verification.is_none() {
        checks.push(
            "the secret and the canonical form (what is signed: method, path, query, timestamp, body, byte for byte); tlscap --hmac-secret KEYID=SECRET names the form the signature was computed over".to_string(),
        );
    }
    if length_mismatch(s).is_none() {
        checks.push(format!(
            "the algorithm ({}) and encoding ({})",
            s.algorithm.as_deref().unwrap_or("not named"),
            s.encoding.as_deref().unwrap_or("unreadable")
        ));
    }
    if skewed(s).is_none() {
        checks.push(match s.timestamp_skew_s {
            Some(d) => format!("the timestamp ({d:+} s off the capture time: within the window)"),
            None => "the timestamp: the request carries none the server could check".to_string(),
        });
    }
    let list = checks
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}) {c}", i + 1))
        .collect::<Vec<_>>()
        .join("; ");
    let code = h.status.unwrap_or(0);
    let verdict = match s.verification {
        Some(v) => format!("; recomputed with the given secret: {v}"),
        None => String::new(),
    };
    finding(
        FindingKind::HmacRejected,
        Severity::Error,
        format!(
            "{} answered the HMAC-signed request {} with HTTP {code}.",
            r.server,
            request_text(h)
        ),
        format!(
            "{}; signature in {} {} ({}, {} bytes){verdict}.",
            packets(h),
            where_(s.location),
            s.name,
            s.algorithm.as_deref().unwrap_or("algorithm not named"),
            s.signature_bytes
                .map_or_else(|| "?".to_string(), |b| b.to_string())
        ),
    )
    .with_fix(format!("Check in order: {list}."))
}
