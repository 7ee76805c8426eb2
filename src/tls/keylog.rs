//! NSS key log files (`SSLKEYLOGFILE`): the per-connection secrets that let tlscap decrypt.
//!
//! Each line is `LABEL <client_random hex> <secret hex>`; `#` starts a comment. `CLIENT_RANDOM`
//! carries the TLS ≤ 1.2 master secret; the four TLS 1.3 traffic-secret labels carry the
//! handshake and first application secrets. Early-data and exporter secrets (and other labels
//! such as `RSA`) are recognised and ignored. Malformed lines are counted with their line
//! numbers, never fatal. The same text comes from pcapng Decryption Secrets Blocks.

/// Line numbers of malformed lines kept per key log (the count goes on beyond it).
const MAX_MALFORMED_KEPT: usize = 20;

/// The secrets logged for one client random.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS ≤ 1.2 master secret (`CLIENT_RANDOM`).
    pub master_secret: Option<Vec<u8>>,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<Vec<u8>>,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake: Option<Vec<u8>>,
    /// `CLIENT_TRAFFIC_SECRET_0`.
    pub client_traffic_0: Option<Vec<u8>>,
    /// `SERVER_TRAFFIC_SECRET_0`.
    pub server_traffic_0: Option<Vec<u8>>,
    /// Where these secrets came from (index into [`KeyLog::sources`]).
    pub source: usize,
}

/// A malformed key log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedLine {
    /// The key log it came from (as in [`KeyLog::sources`]).
    pub source: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Secrets by client random, from one or more key logs.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    entries: crate::FastMap<[u8; 32], Secrets>,
    /// Names of the key logs merged in (e.g. `--keylog x.keys`, `pcapng DSB`).
    pub sources: Vec<String>,
    /// Malformed lines (the first few per key log).
    pub malformed: Vec<MalformedLine>,
    /// Malformed lines in all.
    pub malformed_count: u64,
    /// Lines with a known label that tlscap does not use (early data, exporter, RSA).
    pub ignored_count: u64,
}

/// Which slot of [`Secrets`] a label fills.
enum Slot {
    Master,
    ClientHs,
    ServerHs,
    ClientApp,
    ServerApp,
    Ignored,
}

fn slot(label: &str) -> Option<Slot> {
    Some(match label {
        "CLIENT_RANDOM" => Slot::Master,
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Slot::ClientHs,
        "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Slot::ServerHs,
        "CLIENT_TRAFFIC_SECRET_0" => Slot::ClientApp,
        "SERVER_TRAFFIC_SECRET_0" => Slot::ServerApp,
        "CLIENT_EARLY_TRAFFIC_SECRET"
        | "EARLY_EXPORTER_SECRET"
        | "EARLY_EXPORTER_MASTER_SECRET"
        | "EXPORTER_SECRET"
        | "RSA"
        | "PMS_CLIENT_RANDOM"
        | "ECH_SECRET"
        | "ECH_CONFIG" => Slot::Ignored,
        _ => return None,
    })
}

impl KeyLog {
    /// An empty key log.
    pub fn new() -> Self {
        KeyLog::default()
    }

    /// Parses key log text; `source` names it in the output (e.g. `--keylog x.keys`).
    pub fn parse(text: &[u8], source: &str) -> KeyLog {
        let mut log = KeyLog {
            sources: vec![source.to_string()],
            ..KeyLog::default()
        };
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = String::from_utf8_lossy(raw);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Err(reason) = log.parse_line(line) {
                log.bad_line(source, i + 1, reason);
            }
        }
        log
    }

    fn bad_line(&mut self, source: &str, line: usize, reason: &'static str) {
        self.malformed_count += 1;
        if self.malformed.len() < MAX_MALFORMED_KEPT {
            self.malformed.push(MalformedLine {
                source: source.to_string(),
                line,
                reason,
            });
        }
    }

    fn parse_line(&mut self, line: &str) -> Result<(), &'static str> {
        let mut fields = line.split_ascii_whitespace();
        let (Some(label), Some(random), Some(secret), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err("expected three fields: LABEL CLIENT_RANDOM SECRET");
        };
        let slot = slot(label).ok_or("unknown label")?;
        if matches!(slot, Slot::Ignored) {
            self.ignored_count += 1;
            return Ok(());
        }
        let random = hex::decode(random).map_err(|_| "client random is not hex")?;
        let random: [u8; 32] = random
            .try_into()
            .map_err(|_| "client random is not 32 bytes")?;
        let secret = hex::decode(secret).map_err(|_| "secret is not hex")?;
        let ok_len = match slot {
            Slot::Master => secret.len() == 48,
            _ => matches!(secret.len(), 32 | 48),
        };
        if !ok_len {
            return Err("secret has the wrong length");
        }
        let e = self.entries.entry(random).or_default();
        let target = match slot {
            Slot::Master => &mut e.master_secret,
            Slot::ClientHs => &mut e.client_handshake,
            Slot::ServerHs => &mut e.server_handshake,
            Slot::ClientApp => &mut e.client_traffic_0,
            Slot::ServerApp => &mut e.server_traffic_0,
            Slot::Ignored => return Ok(()),
        };
        *target = Some(secret);
        Ok(())
    }

    /// Adds another key log's secrets; secrets already known for a client random are kept.
    pub fn merge(&mut self, other: KeyLog) {
        let base = self.sources.len();
        self.sources.extend(other.sources);
        self.malformed.extend(other.malformed);
        self.malformed
            .truncate(MAX_MALFORMED_KEPT * self.sources.len().max(1));
        self.malformed_count += other.malformed_count;
        self.ignored_count += other.ignored_count;
        for (random, mut s) in other.entries {
            s.source += base;
            match self.entries.get_mut(&random) {
                None => {
                    self.entries.insert(random, s);
                }
                Some(e) => {
                    let fill = |mine: &mut Option<Vec<u8>>, theirs: Option<Vec<u8>>| {
                        if mine.is_none() {
                            *mine = theirs;
                        }
                    };
                    fill(&mut e.master_secret, s.master_secret);
                    fill(&mut e.client_handshake, s.client_handshake);
                    fill(&mut e.server_handshake, s.server_handshake);
                    fill(&mut e.client_traffic_0, s.client_traffic_0);
                    fill(&mut e.server_traffic_0, s.server_traffic_0);
                }
            }
        }
    }

    /// The secrets for a client random.
    pub fn get(&self, client_random: &[u8]) -> Option<&Secrets> {
        let random: &[u8; 32] = client_random.try_into().ok()?;
        self.entries.get(random)
    }

    /// The name of the key log a set of secrets came from.
    pub fn source_of(&self, s: &Secrets) -> &str {
        self.sources.get(s.source).map(String::as_str).unwrap_or("")
    }

    /// Client randoms with at least one secret.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No secrets at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A key log that can grow while a capture is read (pcapng Decryption Secrets Blocks arrive
/// between packets); connections look it up when their ServerHello is seen.
#[derive(Debug, Default)]
pub struct KeySlot(std::sync::RwLock<std::sync::Arc<KeyLog>>);

impl KeySlot {
    /// A slot holding `log`.
    pub fn new(log: KeyLog) -> Self {
        KeySlot(std::sync::RwLock::new(std::sync::Arc::new(log)))
    }

    /// The current key log.
    pub fn get(&self) -> std::sync::Arc<KeyLog> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Adds secrets.
    pub fn merge(&self, more: KeyLog) {
        let mut g = match self.0.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut log = (**g).clone();
        log.merge(more);
        *g = std::sync::Arc::new(log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_and_counts_malformed_lines() {
        // Hand-built key log: one line per case (valid 1.2, valid 1.3, ignored, broken).
        let r = "2635fafc16c49a3e997ef714c303806dc8dbf634a2005b0e0186521c4ad6f9df";
        let ms = "aa".repeat(48);
        let s32 = "bb".repeat(32);
        let text = format!(
            "# comment\nCLIENT_RANDOM {r} {ms}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {r} {s32}\n\
             EXPORTER_SECRET {r} {s32}\nCLIENT_RANDOM {r}\nCLIENT_RANDOM zz {ms}\n\
             CLIENT_RANDOM {r} abcd\nBOGUS {r} {s32}\n"
        );
        let log = KeyLog::parse(text.as_bytes(), "t.keys");
        assert_eq!(log.len(), 1);
        let s = log.get(&hex::decode(r).unwrap()).unwrap();
        assert_eq!(s.master_secret.as_deref(), Some(&[0xaa; 48][..]));
        assert_eq!(s.server_handshake.as_deref(), Some(&[0xbb; 32][..]));
        assert_eq!(log.ignored_count, 1);
        assert_eq!(log.malformed_count, 4);
        let lines: Vec<usize> = log.malformed.iter().map(|m| m.line).collect();
        assert_eq!(lines, vec![5, 6, 7, 8]);
    }

    #[test]
    fn merge_keeps_sources() {
        let r = "11".repeat(32);
        let a = KeyLog::parse(
            format!("CLIENT_RANDOM {r} {}", "01".repeat(48)).as_bytes(),
            "a",
        );
        let mut b = KeyLog::parse(b"", "b");
        b.merge(a);
        let s = b.get(&[0x11; 32]).unwrap();
        assert_eq!(b.source_of(s), "a");
    }
}
