//! Record building: a finished connection's handshake and TCP facts become its
//! [`ConnectionRecord`], with certificate display fields and fingerprints cached across the
//! connections of a file. Findings are added later, by the rules.

use super::{
    AlertDescription, AlertLevel, AlertRecord, CipherSuite, ConnectionRecord, ConnectionStatus,
    HttpRecord, MssRecord, TcpRecord, Version,
};
use crate::certs::CertInfo;
use crate::flow::Direction;
use crate::flow::TcpSummary;
use crate::text::AddrText;
use crate::tls::{proxy, HandshakeSummary};
use std::sync::Arc;

/// A chain's DER (to confirm a cache hit) and its shared display fields.
type CachedChain = (Vec<Vec<u8>>, Arc<[CertInfo]>);

/// Entries per certificate cache before it starts over: a capture of many distinct
/// certificates must not grow it without limit.
const MAX_CACHED: usize = 1024;

/// Bytes of the two certificate caches before each starts over (half each), unless
/// [`RecordBuilder::with_cache_bytes`] says otherwise, counted as twice the DER kept (the DER
/// and display fields about as large): 1024 certificates of 250 KB would be half a GiB.
pub const DEFAULT_CACHE_BYTES: usize = 16 << 20;

/// Builds the records of one capture's connections.
#[derive(Debug)]
pub struct RecordBuilder {
    file: String,
    /// Display fields per certificate and per chain, keyed by [`crate::certs::der_key`] and
    /// checked against the DER on a hit. Chains are shared (`Arc`) by every record that sent
    /// them.
    certs: crate::FastMap<u64, (Vec<u8>, CertInfo)>,
    chains: crate::FastMap<u64, CachedChain>,
    /// Bytes counted into `certs` and `chains` (see [`DEFAULT_CACHE_BYTES`]).
    certs_bytes: usize,
    chains_bytes: usize,
    /// What `certs` and `chains` hold at most, each.
    max_cached_bytes: usize,
    fingerprints: crate::tls::fingerprint::FingerprintCache,
}

impl RecordBuilder {
    /// A builder for the records of capture `file` (as records name it).
    pub fn new(file: String) -> Self {
        RecordBuilder {
            file,
            certs: Default::default(),
            chains: Default::default(),
            certs_bytes: 0,
            chains_bytes: 0,
            max_cached_bytes: DEFAULT_CACHE_BYTES / 2,
            fingerprints: Default::default(),
        }
    }

    /// The same builder with certificate caches that hold `bytes` in all.
    pub fn with_cache_bytes(mut self, bytes: usize) -> Self {
        self.max_cached_bytes = bytes / 2;
        self
    }

    /// Display fields of a chain, shared with earlier connections that sent the same one.
    fn chain_infos(&mut self, certs: &[Vec<u8>]) -> Arc<[CertInfo]> {
        let key = crate::certs::der_key(certs.iter().map(Vec::as_slice));
        if let Some((ders, infos)) = self.chains.get(&key) {
            if ders.as_slice() == certs {
                return infos.clone();
            }
        }
        let infos: Arc<[CertInfo]> = certs.iter().map(|der| self.cert_info(der)).collect();
        let bytes = 2 * certs.iter().map(Vec::len).sum::<usize>();
        if self.chains.len() >= MAX_CACHED || self.chains_bytes + bytes > self.max_cached_bytes {
            self.chains.clear();
            self.chains_bytes = 0;
        }
        self.chains_bytes += bytes;
        self.chains.insert(key, (certs.to_vec(), infos.clone()));
        infos
    }

    fn cert_info(&mut self, der: &[u8]) -> CertInfo {
        let key = crate::certs::der_key(std::iter::once(der));
        if let Some((cached, info)) = self.certs.get(&key) {
            if cached.as_slice() == der {
                return info.clone();
            }
        }
        let info = crate::certs::summarize(der).unwrap_or_else(|e| CertInfo {
            subject: format!("<{e}>"),
            ..Default::default()
        });
        let bytes = 2 * der.len();
        if self.certs.len() >= MAX_CACHED || self.certs_bytes + bytes > self.max_cached_bytes {
            self.certs.clear();
            self.certs_bytes = 0;
        }
        self.certs_bytes += bytes;
        self.certs.insert(key, (der.to_vec(), info.clone()));
        info
    }

    /// The record of a connection: its facts, no findings yet (status `incomplete` and outcome
    /// `unknown` until the rules have run).
    pub fn build(
        &mut self,
        hs: &HandshakeSummary,
        tcp: &TcpSummary,
        http: Vec<HttpRecord>,
    ) -> ConnectionRecord {
        let ch = hs.client_hello.as_ref();
        let sh = hs.server_hello.as_ref();
        let versions_offered = match ch {
            Some(ch) if !ch.supported_versions.is_empty() => ch
                .supported_versions
                .iter()
                .filter(|v| !is_grease(**v))
                .map(|v| Version(*v))
                .collect(),
            Some(ch) => vec![Version(ch.legacy_version)],
            None => Vec::new(),
        };
        let (ja3, ja4) = ch.map(|ch| self.fingerprints.get(ch)).unzip();
        let server_chain = hs
            .server_certificate
            .as_ref()
            .map(|c| self.chain_infos(&c.certs));
        let client_chain = hs
            .client_certificate
            .as_ref()
            .map(|c| self.chain_infos(&c.certs));
        let alerts = hs
            .alerts
            .iter()
            .map(|a| AlertRecord {
                from: a.from,
                level: (!a.encrypted).then_some(AlertLevel(a.level)),
                description: (!a.encrypted).then_some(AlertDescription(a.description)),
                encrypted: a.encrypted,
                packet: a.meta.packet,
            })
            .collect();
        let client_bytes = hs.preamble[Direction::ToServer.idx()]
            .as_ref()
            .or(hs.non_tls[Direction::ToServer.idx()].as_ref());
        let proxied = client_bytes.and_then(|(_, bytes)| proxy::parse(bytes));
        let proxy_peer = proxied.as_ref().map(|p| match p.kind {
            proxy::ProxyKind::ProxyProtocol(_) => AddrText::of(tcp.client).as_str().to_owned(),
            _ => AddrText::of(tcp.server).as_str().to_owned(),
        });
        ConnectionRecord {
            record_type: crate::record::ConnectionType::Connection,
            file: self.file.clone(),
            index: tcp.index,
            first_packet: tcp.first.packet,
            start: tcp.first.ts,
            // Packets out of time order (interfaces merged, a clock stepped back) can put the
            // last one before the first: a duration is never negative.
            duration_s: round6(tcp.last.ts.seconds_since(tcp.first.ts).max(0.0)),
            client: tcp.client,
            server: tcp.server,
            carrier: (!tcp.carrier.is_direct()).then(|| tcp.carrier.to_string()),
            proxy_kind: proxied.as_ref().map(|p| p.kind),
            proxy: proxy_peer,
            original_client: proxied.as_ref().and_then(|p| p.original_client),
            target: proxied.and_then(|p| p.target),
            sni: ch.and_then(|c| c.sni.clone()),
            alpn_offered: ch.map(|c| c.alpn.clone()).unwrap_or_default(),
            alpn: sh.and_then(|s| s.alpn.clone()),
            versions_offered,
            version: sh.map(|s| Version(s.version)),
            cipher: sh.map(|s| CipherSuite(s.cipher)),
            resumed: hs.resumed(),
            // A resumed handshake never carries a CertificateRequest (TLS 1.2 abbreviated
            // handshake; TLS 1.3 PSK, RFC 8446 §4.3.2).
            hello_retry: hs.hello_retry_request.is_some(),
            cert_requested: hs
                .cert_requested()
                .or(if hs.resumed() { Some(false) } else { None }),
            // No CertificateRequest in a visible handshake: the client cannot have sent one.
            client_cert_sent: hs.client_cert_sent().or(
                if hs.cert_requested() == Some(false) || hs.resumed() {
                    Some(false)
                } else {
                    None
                },
            ),
            server_chain,
            client_chain,
            ocsp_stapled: hs.ocsp_response.is_some(),
            alerts,
            tcp: TcpRecord {
                syn: tcp.syn,
                syn_ack: tcp.syn_ack > 0,
                established: tcp.established,
                client_bytes: tcp.client_bytes,
                server_bytes: tcp.server_bytes,
                closed_by: tcp.closed_by,
                close: tcp.close,
                gaps: tcp.gaps,
                packets: tcp.packets,
                // Retransmitted SYNs count too, as in Wireshark's tcp.analysis.retransmission.
                retransmissions: tcp.retransmissions
                    + tcp.syn.saturating_sub(1)
                    + tcp.syn_ack.saturating_sub(1),
                midstream: tcp.midstream,
                out_of_order: tcp.out_of_order,
                mss: MssRecord {
                    client: tcp.mss[crate::flow::Direction::ToServer.idx()],
                    server: tcp.mss[crate::flow::Direction::ToClient.idx()],
                },
            },
            ja3,
            ja4,
            status: ConnectionStatus::Incomplete,
            outcome: Default::default(),
            failed_at: None,
            cause: None,
            chain_status: None,
            findings: Vec::new(),
            decryption: hs.decryption.as_ref().map(decryption_record),
            http,
            transport: Default::default(),
            quic: None,
            dtls: None,
            icmp: Vec::new(),
        }
    }
}

fn decryption_record(d: &crate::tls::Decryption) -> super::DecryptionRecord {
    use crate::tls::DecryptionStatus;
    let (status, reason) = match &d.status {
        DecryptionStatus::Ok => ("ok", None),
        DecryptionStatus::NoKey => ("no-key", None),
        DecryptionStatus::Failed(r) => ("failed", Some(r.clone())),
    };
    super::DecryptionRecord {
        status: status.to_string(),
        reason,
        key_source: d.key_source.clone(),
    }
}

/// GREASE values (RFC 8701): 0x?A?A with both bytes equal.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
