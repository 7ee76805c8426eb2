#!/usr/bin/env python3
"""Ground truth for the sample captures, computed from tshark's view of each file.

usage: groundtruth.py SAMPLES_DIR   -> writes SAMPLES_DIR/expected.json and SAMPLES_DIR/README.md

Every fact comes from tshark (two passes per capture: without the key log, which is what
tlscap sees by default, and with it when a <name>.keys file exists) or, for certificate
details, from `openssl x509` run on the certificate bytes tshark extracted. Scenario intent
(description, commands, expected status and finding ids) comes from meta/<name>.txt, which
make_samples.sh writes while it runs the scenario.
"""
import datetime
import ipaddress
import json
import os
import re
import subprocess
import sys
from collections import OrderedDict

FIELDS = [
    "frame.number", "frame.time_relative", "frame.time_epoch", "tcp.stream",
    "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
    "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "tcp.len",
    "tcp.analysis.retransmission", "tls.record.content_type", "tls.handshake.type",
    "tls.handshake.version", "tls.handshake.extensions.supported_version",
    "tls.handshake.ciphersuite", "tls.handshake.extensions_server_name", "tls.handshake.random",
    "tls.handshake.certificates_length", "tls.handshake.certificate",
    "tls.alert_message.level", "tls.alert_message.desc", "tls.handshake.extension.type",
    "tls.change_cipher_spec", "tls.handshake.ja3", "tls.handshake.extensions_alpn_str",
    "http.response.code", "ocsp.certStatus", "tcp.payload",
    "http.request.method", "http.request.uri", "http.host", "http.authorization",
    "http.request.line",
]
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
    22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure",
    41: "no_certificate", 42: "bad_certificate", 43: "unsupported_certificate",
    44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
    47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
    51: "decrypt_error", 60: "export_restriction", 70: "protocol_version",
    71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
    90: "user_canceled", 100: "no_renegotiation", 109: "missing_extension",
    110: "unsupported_extension", 111: "certificate_unobtainable", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
    115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
}
LEVELS = {1: "warning", 2: "fatal"}
HS_NAMES = {1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 8: "EncryptedExtensions",
            11: "Certificate", 12: "ServerKeyExchange", 13: "CertificateRequest",
            14: "ServerHelloDone", 15: "CertificateVerify", 16: "ClientKeyExchange",
            20: "Finished", 22: "CertificateStatus"}


def run(cmd, data=None):
    return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout


def cipher_names():
    """IANA names of every suite this OpenSSL knows, keyed by code point."""
    out = run(["openssl", "ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"]).decode()
    names = {}
    for line in out.splitlines():
        m = re.match(r"\s*0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (\S+)", line)
        if m:
            names[int(m.group(1) + m.group(2), 16)] = m.group(3)
    return names


CIPHERS = cipher_names()


def num(s):
    return int(s, 0) if s.startswith("0x") else int(s)


def lst(s):
    return [x for x in s.split("|") if x != ""] if s else []


def tshark_frames(path, keys):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
           "-E", "aggregator=|", "-o", "tcp.analyze_sequence_numbers:TRUE",
           "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tls.desegment_ssl_records:TRUE",
           "-o", "tls.desegment_ssl_application_data:TRUE"]
    if keys:
        cmd += ["-o", "tls.keylog_file:" + keys]
    for f in FIELDS:
        cmd += ["-e", f]
    out = run(cmd, None).decode()
    frames = []
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        frames.append(dict(zip(FIELDS, cols)))
    return frames


def cert_info(hexder):
    """Certificate summary (the same fields tlscap's CertInfo has), from openssl x509."""
    der = bytes.fromhex(hexder.replace(":", ""))
    base = ["openssl", "x509", "-inform", "DER", "-noout"]
    o = run(base + ["-subject", "-issuer", "-nameopt", "RFC2253,sep_comma_plus_space", "-startdate",
                    "-enddate", "-serial", "-fingerprint", "-sha256"], der).decode()
    kv = dict(line.split("=", 1) for line in o.splitlines() if "=" in line)
    text = run(base + ["-text"], der).decode()

    def date(s):
        d = datetime.datetime.strptime(s.replace("  ", " "), "%b %d %H:%M:%S %Y GMT")
        return d.strftime("%Y-%m-%dT%H:%M:%SZ")

    sig = re.search(r"Signature Algorithm: (\S+)", text).group(1)
    pk = re.search(r"Public Key Algorithm: (\S+)", text).group(1)
    bits = re.search(r"Public-Key: \((\d+) bit\)", text)
    key = {"rsaEncryption": "RSA", "id-ecPublicKey": "EC"}.get(pk, pk)
    if key == "EC":
        curve = re.search(r"NIST CURVE: (\S+)", text)
        key += " " + (curve.group(1) if curve else "?")
    elif bits:
        key += " " + bits.group(1)
    san_dns, san_ip = [], []
    m = re.search(r"X509v3 Subject Alternative Name: *\n\s*(.*)", text)
    if m:
        for item in m.group(1).split(", "):
            if item.startswith("DNS:"):
                san_dns.append(item[4:])
            elif item.startswith("IP Address:"):
                san_ip.append(str(ipaddress.ip_address(item[11:])))
    serial = kv["serial"].strip().lower()
    if len(serial) % 2:
        serial = "0" + serial
    return OrderedDict([
        ("subject", kv["subject"].strip()), ("issuer", kv["issuer"].strip()),
        ("san_dns", san_dns), ("san_ip", san_ip),
        ("not_before", date(kv["notBefore"].strip())), ("not_after", date(kv["notAfter"].strip())),
        ("serial", ":".join(serial[i:i + 2] for i in range(0, len(serial), 2))),
        ("sha256", kv["sha256 Fingerprint"].strip().replace(":", "").lower()),
        ("key", key), ("signature", sig),
    ])


def endpoint(ip, port):
    return ("[%s]:%s" % (ip, port)) if ":" in ip else ("%s:%s" % (ip, port))


# Query parameter names as tlscap classifies them (src/http/mod.rs): signatures (substrings),
# API keys (exact names), tokens (substring).
SIG_PARAMS = ("signature", "hmac", "sig")
KEY_PARAMS = ("api_key", "apikey", "api-key", "key", "x-api-key", "access_key", "subscription-key")


def redact_path_params(base):
    """`/a;jsessionid=X/b` -> `/a;jsessionid=<redacted>/b`, as tlscap prints path parameters."""
    out = []
    for segment in base.split("/"):
        first, *params = segment.split(";")
        for p in params:
            k, eq, v = p.partition("=")
            first += ";" + (k + "=<redacted>" if eq and v else ("" if p == "" else "<redacted>"))
        out.append(first)
    return "/".join(out)


def http_view(uri, authorization, api_key_header=False):
    """(path with query and path-parameter values redacted, auth kind) as tlscap must print them
    for a request."""
    kinds = ["api-key"] if api_key_header else []
    if authorization:
        scheme = authorization.split()[0].lower() if authorization.split() else ""
        kinds.append({"basic": "basic", "bearer": "bearer"}.get(scheme, scheme))
    base, sep, query = uri.partition("?")
    base = redact_path_params(base)
    if not sep:
        return base, "+".join(sorted(set(kinds))) or "none"
    parts = []
    for kv in query.split("&"):
        k, eq, v = kv.partition("=")
        if not eq:
            # a flag word is shown, anything else may be a bare token
            word = len(kv) <= 16 and all(c.isascii() and (c.isalpha() or c in "_-.") for c in kv)
            parts.append(kv if word else "<redacted>")
            continue
        if v == "":
            parts.append(kv)
            continue
        name = k.lower()
        if any(p in name for p in SIG_PARAMS):
            kinds.append("hmac-query")
        elif name in KEY_PARAMS:
            kinds.append("api-key")
        elif "token" in name:
            kinds.append("bearer")
        parts.append(k + "=<redacted>")
    return base + "?" + "&".join(parts), "+".join(sorted(set(kinds))) or "none"


def connections(frames, encrypted_view, http_detail=False):
    """Per-connection facts. encrypted_view=True: TLS 1.3 handshake contents count as unseen.
    http_detail: also list each HTTP request/response (only scenarios that ask for it, so the
    records of the other samples stay as they were)."""
    streams = OrderedDict()
    for f in frames:
        if f["tcp.stream"] == "":
            continue
        streams.setdefault(int(f["tcp.stream"]), []).append(f)
    conns = []
    for idx, fs in streams.items():
        def src(f):
            return endpoint(f["ip.src"] or f["ipv6.src"], f["tcp.srcport"])

        def dst(f):
            return endpoint(f["ip.dst"] or f["ipv6.dst"], f["tcp.dstport"])

        first = fs[0]
        syn0 = next((f for f in fs if f["tcp.flags.syn"] in ("1", "True") and f["tcp.flags.ack"] in ("0", "False")), None)
        client = src(syn0) if syn0 else src(first)
        server = dst(syn0) if syn0 else dst(first)

        def flag(f, n):
            return f["tcp.flags." + n] in ("1", "True")

        def hs(f):
            return [num(x) for x in lst(f["tls.handshake.type"])]

        ev = OrderedDict((k, []) for k in ["syn", "syn_ack", "client_hello", "server_hello",
                                           "hello_retry_request", "server_certificate",
                                           "certificate_status", "certificate_request",
                                           "client_certificate", "alert", "fin", "rst"])
        c = OrderedDict()
        c["index"] = idx
        c["first_packet"] = int(first["frame.number"])
        c["duration_s"] = round(float(fs[-1]["frame.time_relative"]) - float(first["frame.time_relative"]), 3)
        c["client"] = client
        c["server"] = server
        sni = None
        offered = []
        ja3 = None
        alpn_offered = []
        version = cipher = None
        hello_retry = False
        resumed_psk = False
        cert_req = False
        client_cert = None
        server_certs = None
        client_certs = None
        server_ccs = False
        server_hello_done = False
        ocsp = False
        ocsp_status = None
        alerts = []
        http = []
        http_reqs, http_resps = [], []
        tcp = OrderedDict([("syn", 0), ("syn_ack", False), ("established", False),
                           ("client_bytes", 0), ("server_bytes", 0), ("closed_by", None),
                           ("close", None), ("packets", len(fs)), ("retransmissions", 0),
                           ("midstream", syn0 is None)])
        server_plain = None
        server_hello_seen = False
        for f in fs:
            n = int(f["frame.number"])
            from_client = src(f) == client
            side = "client" if from_client else "server"
            syn, ack, fin, rst = flag(f, "syn"), flag(f, "ack"), flag(f, "fin"), flag(f, "reset")
            if syn and not ack and from_client:
                tcp["syn"] += 1
                ev["syn"].append(n)
            if syn and ack and not from_client:
                tcp["syn_ack"] = True
                ev["syn_ack"].append(n)
            if from_client and ack and not syn and tcp["syn_ack"]:
                tcp["established"] = True
            tlen = int(f["tcp.len"] or 0)
            tcp["client_bytes" if from_client else "server_bytes"] += tlen
            if f["tcp.analysis.retransmission"] != "":
                tcp["retransmissions"] += 1
            if (fin or rst) and tcp["close"] is None:
                tcp["closed_by"] = side
                tcp["close"] = "rst" if rst else "fin"
            if fin:
                ev["fin"].append(n)
            if rst:
                ev["rst"].append(n)
            types = hs(f)
            if 1 in types and from_client:
                ev["client_hello"].append(n)
                if sni is None and f["tls.handshake.extensions_server_name"]:
                    sni = lst(f["tls.handshake.extensions_server_name"])[0]
                if not offered:
                    sv = [num(x) for x in lst(f["tls.handshake.extensions.supported_version"])]
                    if sv:
                        offered = [VERSIONS.get(v, "0x%04x" % v) for v in sv if (v & 0x0f0f) != 0x0a0a]
                    else:
                        offered = [VERSIONS.get(num(lst(f["tls.handshake.version"])[0]), "?")]
                    ja3 = f["tls.handshake.ja3"] or None
                    alpn_offered = lst(f["tls.handshake.extensions_alpn_str"])
            if 2 in types and not from_client:
                rnd = lst(f["tls.handshake.random"])
                is_hrr = bool(rnd) and rnd[0].replace(":", "") == HRR_RANDOM
                if is_hrr:
                    hello_retry = True
                    ev["hello_retry_request"].append(n)
                else:
                    ev["server_hello"].append(n)
                    server_hello_seen = True
                sv = [num(x) for x in lst(f["tls.handshake.extensions.supported_version"])]
                v = sv[0] if sv else num(lst(f["tls.handshake.version"])[0])
                version = VERSIONS.get(v, "0x%04x" % v)
                cs = num(lst(f["tls.handshake.ciphersuite"])[0])
                cipher = CIPHERS.get(cs, "0x%04x" % cs)
                if 41 in [num(x) for x in lst(f["tls.handshake.extension.type"])]:
                    resumed_psk = True
            if 11 in types:
                certs = lst(f["tls.handshake.certificate"])
                lens = [num(x) for x in lst(f["tls.handshake.certificates_length"])]
                if from_client:
                    ev["client_certificate"].append(n)
                    client_cert = bool(lens and lens[0] > 0)
                    client_certs = [cert_info(h) for h in certs]
                else:
                    ev["server_certificate"].append(n)
                    server_certs = [cert_info(h) for h in certs]
            if 22 in types and not from_client:
                ev["certificate_status"].append(n)
                ocsp = True
            if f["ocsp.certStatus"]:
                ocsp_status = {0: "good", 1: "revoked", 2: "unknown"}.get(num(lst(f["ocsp.certStatus"])[0]))
            if 13 in types and not from_client:
                ev["certificate_request"].append(n)
                cert_req = True
            if 14 in types and not from_client:
                server_hello_done = True
            if f["tls.change_cipher_spec"] != "" and not from_client:
                server_ccs = True
            ctypes = [num(x) for x in lst(f["tls.record.content_type"])]
            levels = [num(x) for x in lst(f["tls.alert_message.level"])]
            descs = [num(x) for x in lst(f["tls.alert_message.desc"])]
            n_alert = ctypes.count(21)
            for i in range(max(n_alert, len(descs))):
                a = OrderedDict([("from", side),
                                 ("level", LEVELS.get(levels[i], "level_%d" % levels[i]) if i < len(levels) else None),
                                 ("description", ALERTS.get(descs[i], "alert_%d" % descs[i]) if i < len(descs) else None),
                                 ("packet", n)])
                alerts.append(a)
                ev["alert"].append(n)
            for code in lst(f["http.response.code"]):
                if not from_client:
                    http.append(int(code))
                    http_resps.append((n, int(code)))
            if from_client:
                methods, uris = lst(f["http.request.method"]), lst(f["http.request.uri"])
                hosts, auths = lst(f["http.host"]), lst(f["http.authorization"])
                # an X-Api-Key header (one request per packet in the samples that have one)
                api_key = any(line.lower().startswith("x-api-key:") for line in lst(f["http.request.line"]))
                for i, m in enumerate(methods):
                    http_reqs.append((n, m, uris[i] if i < len(uris) else None,
                                      hosts[i] if i < len(hosts) else None,
                                      auths[i] if i < len(auths) else None, api_key))
            if not from_client and server_plain is None and tlen > 0 and f["tcp.payload"]:
                # only the server's first payload, and only when it is not a TLS record
                raw = bytes.fromhex(f["tcp.payload"].replace(":", ""))
                line = raw.split(b"\r\n", 1)[0]
                if 0x14 <= raw[0] <= 0x18 or not all(32 <= b < 127 for b in line):
                    server_plain = ""
                else:
                    server_plain = line.decode("ascii")
        tls13 = version == "TLS 1.3"
        hidden = tls13 and encrypted_view
        if tls13:
            resumed = resumed_psk
        else:
            resumed = server_hello_seen and server_ccs and not server_hello_done and server_certs is None
        c["sni"] = sni
        c["alpn_offered"] = alpn_offered
        c["versions_offered"] = offered
        c["version"] = version
        c["cipher"] = cipher
        c["resumed"] = resumed
        c["hello_retry"] = hello_retry
        # A resumed TLS 1.3 handshake (pre_shared_key in the clear ServerHello) carries no
        # CertificateRequest (RFC 8446 4.3.2), so the answer is known without the keys.
        if resumed and tls13:
            c["cert_requested"] = False
        elif hidden or not server_hello_seen:
            c["cert_requested"] = None
        else:
            c["cert_requested"] = cert_req
        if resumed and tls13:
            c["client_cert_sent"] = False
        elif hidden:
            c["client_cert_sent"] = None
        else:
            c["client_cert_sent"] = bool(client_cert)
        c["server_cert_count"] = None if server_certs is None else len(server_certs)
        c["server_chain"] = server_certs
        c["client_chain"] = client_certs if client_cert else None
        c["ocsp_stapled"] = ocsp
        c["ocsp_cert_status"] = ocsp_status
        c["alerts"] = alerts
        c["http_status"] = http
        if http_detail:
            exchanges = []
            for i in range(max(len(http_reqs), len(http_resps))):
                e = OrderedDict()
                if i < len(http_reqs):
                    pkt, method, uri, host, authz, api_key = http_reqs[i]
                    path, auth = http_view(uri or "", authz, api_key)
                    e["method"] = method
                    e["uri"] = uri
                    e["path"] = path
                    e["host"] = host
                    e["auth"] = auth
                    e["request_packet"] = pkt
                else:
                    for k in ("method", "uri", "path", "host", "auth", "request_packet"):
                        e[k] = None
                e["status"] = http_resps[i][1] if i < len(http_resps) else None
                e["response_packet"] = http_resps[i][0] if i < len(http_resps) else None
                exchanges.append(e)
            c["http"] = exchanges
        c["server_plaintext_first_line"] = server_plain or None
        c["ja3"] = ja3
        c["tcp"] = tcp
        c["packets"] = OrderedDict((k, v) for k, v in ev.items())
        conns.append(c)
    return conns


def read_meta(path):
    meta = {"desc": "", "server": [], "client": []}
    if not os.path.exists(path):
        return meta
    for line in open(path, encoding="utf-8"):
        if ": " not in line and not line.rstrip().endswith(":"):
            continue
        k, _, v = line.rstrip("\n").partition(":")
        v = v[1:] if v.startswith(" ") else v
        if k in ("server", "client"):
            meta[k].append(v.strip())
        else:
            meta[k] = v.strip()
    return meta


def sample_for(path, d):
    """The scenario a capture belongs to, and its key log."""
    base = os.path.basename(path)
    name = re.sub(r"\.(pcap|pcapng|pcap\.gz)$", "", base)
    source = {"multi": "sni-gated-client-auth"}.get(name, name)
    keys = os.path.join(d, name + ".keys")
    return name, source, keys if os.path.exists(keys) and os.path.getsize(keys) > 0 else None


def main():
    d = os.path.abspath(sys.argv[1])
    files = sorted(f for f in os.listdir(d) if re.search(r"\.(pcap|pcapng|pcap\.gz)$", f))
    order = []
    meta_order = os.path.join(d, "meta", "ORDER")
    if os.path.exists(meta_order):
        order = [line.strip() for line in open(meta_order) if line.strip()]
    files.sort(key=lambda f: (order.index(sample_for(f, d)[1]) if sample_for(f, d)[1] in order else 999,
                              f.endswith((".gz", ".pcapng")), f))
    out = []
    for f in files:
        path = os.path.join(d, f)
        name, source, keys = sample_for(path, d)
        meta = read_meta(os.path.join(d, "meta", source + ".txt"))
        detail = meta.get("http_detail") == "yes"
        plain = connections(tshark_frames(path, None), encrypted_view=True, http_detail=detail)
        keyed = connections(tshark_frames(path, keys), encrypted_view=False, http_detail=detail) if keys else None
        for i, c in enumerate(plain):
            c["expected_status"] = meta.get("status.%d" % i)
            c["expected_findings"] = (meta.get("findings.%d" % i) or "").split()
            if keyed is not None and i < len(keyed):
                k = keyed[i]
                plain_alerts = {(a["packet"], a["description"]) for a in c["alerts"]}
                for a in k["alerts"]:
                    a["encrypted"] = (a["packet"], a["description"]) not in plain_alerts
                diff = OrderedDict()
                for key in ("cert_requested", "client_cert_sent", "server_cert_count", "server_chain",
                            "client_chain", "alerts", "http_status", "resumed", "packets", "http"):
                    if key in k and k[key] != c[key]:
                        diff[key] = k[key]
                c["with_keys"] = diff
        findings = []
        for c in plain:
            for x in c["expected_findings"]:
                if x not in findings:
                    findings.append(x)
        rec = OrderedDict([
            ("file", f), ("scenario", source), ("keylog", os.path.basename(keys) if keys else None),
            ("description", meta.get("desc", "")),
            ("server_command", meta["server"]), ("client_command", meta["client"]),
            ("connections", plain), ("expected_findings", findings),
        ])
        out.append(rec)
    with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    write_readme(d, out)


def fmt_alerts(alerts):
    if not alerts:
        return "none"
    parts = []
    for a in alerts:
        desc = a["description"] or "(encrypted)"
        lvl = a["level"] or "?"
        enc = " [encrypted record]" if a.get("encrypted") else ""
        parts.append("%s %s %s @%d%s" % (a["from"], lvl, desc, a["packet"], enc))
    return "; ".join(parts)


def fmt_packets(ev):
    return ", ".join("%s %s" % (k, ",".join(map(str, v))) for k, v in ev.items() if v) or "-"


def fmt_conn(c):
    t = c["tcp"]
    lines = []
    lines.append("- **connection %d** (first packet %d, %.3f s): client `%s` -> server `%s`"
                 % (c["index"], c["first_packet"], c["duration_s"], c["client"], c["server"]))
    lines.append("  - SNI: %s; versions offered: %s; negotiated: %s; cipher: %s%s%s"
                 % (c["sni"] or "none", ", ".join(c["versions_offered"]) or "-", c["version"] or "-",
                    c["cipher"] or "-", "; HelloRetryRequest" if c["hello_retry"] else "",
                    "; resumed" if c["resumed"] else ""))
    chain = c["server_chain"]
    wk = c.get("with_keys", {})
    if chain is None and "server_chain" in wk and wk["server_chain"]:
        chain_txt = "not visible without keys; with keys %d: %s" % (
            len(wk["server_chain"]), " | ".join(x["subject"] for x in wk["server_chain"]))
    elif chain is None:
        chain_txt = "none seen"
    else:
        chain_txt = "%d: %s" % (len(chain), " | ".join(
            "%s (issuer %s, %s, %s, %s..%s)" % (x["subject"], x["issuer"], x["key"], x["signature"],
                                                  x["not_before"][:10], x["not_after"][:10]) for x in chain))
    lines.append("  - server certificates: %s" % chain_txt)

    def kv(name):
        v = c[name]
        s = "null" if v is None else str(v).lower()
        if name in wk:
            s += " (with keys: %s)" % str(wk[name]).lower()
        return s
    lines.append("  - cert_requested: %s; client_cert_sent: %s; OCSP stapled: %s%s"
                 % (kv("cert_requested"), kv("client_cert_sent"), str(c["ocsp_stapled"]).lower(),
                    " (%s)" % c["ocsp_cert_status"] if c["ocsp_cert_status"] else ""))
    lines.append("  - alerts: %s%s" % (fmt_alerts(c["alerts"]),
                                       "; with keys: " + fmt_alerts(wk["alerts"]) if "alerts" in wk else ""))
    if c["http_status"] or wk.get("http_status"):
        lines.append("  - HTTP status: %s" % (c["http_status"] or "%s (with keys)" % wk["http_status"]))
    if "http" in c:
        ex, keyed = c["http"], False
        if not ex and wk.get("http"):
            ex, keyed = wk["http"], True
        for e in ex:
            lines.append("  - HTTP%s: `%s %s` host `%s`, auth `%s`, status %s (request @%s, response @%s); on the wire: `%s`"
                         % (" (with keys)" if keyed else "", e["method"], e["path"], e["host"], e["auth"],
                            e["status"], e["request_packet"], e["response_packet"], e["uri"]))
    if c["server_plaintext_first_line"]:
        lines.append("  - server answered in clear: `%s`" % c["server_plaintext_first_line"])
    lines.append("  - TCP: SYN x%d, SYN-ACK %s, established %s, bytes c->s %d / s->c %d, closed by %s with %s, %d packets, %d retransmissions"
                 % (t["syn"], "yes" if t["syn_ack"] else "no", "yes" if t["established"] else "no",
                    t["client_bytes"], t["server_bytes"], t["closed_by"] or "nobody",
                    (t["close"] or "-").upper(), t["packets"], t["retransmissions"]))
    lines.append("  - packets: %s" % fmt_packets(c["packets"]))
    if "packets" in wk:
        lines.append("  - packets with keys: %s" % fmt_packets(wk["packets"]))
    lines.append("  - expected status: `%s`; expected findings: %s"
                 % (c["expected_status"], ", ".join("`%s`" % x for x in c["expected_findings"]) or "none"))
    return "\n".join(lines)


def write_readme(d, recs):
    head = open(os.path.join(d, "tools", "README.head.md"), encoding="utf-8").read()
    parts = [head.rstrip() + "\n"]
    parts.append("## Summary\n")
    parts.append("| file | conns | version | SNI | alerts | expected findings |")
    parts.append("| --- | --- | --- | --- | --- | --- |")
    for r in recs:
        cs = r["connections"]
        parts.append("| `%s` | %d | %s | %s | %s | %s |" % (
            r["file"], len(cs), ", ".join(sorted({c["version"] or "-" for c in cs})),
            ", ".join(sorted({c["sni"] or "none" for c in cs})),
            "; ".join(fmt_alerts(c.get("with_keys", {}).get("alerts", c["alerts"])) for c in cs),
            ", ".join(r["expected_findings"]) or "none"))
    parts.append("")
    for r in recs:
        parts.append("## `%s`\n" % r["file"])
        if r["file"] != r["scenario"] + ".pcap":
            parts.append("Same scenario as `%s.pcap`, other container format (re-made each run, so the "
                         "packets are those of this file).\n" % r["scenario"])
        parts.append(r["description"] + "\n")
        parts.append("Made with (key log: `%s`):\n" % (r["keylog"] or "none"))
        parts.append("```")
        for s in r["server_command"]:
            parts.append("server: " + s)
        for s in r["client_command"]:
            parts.append("client: " + s)
        parts.append("```\n")
        parts.append("What tlscap must report:\n")
        for c in r["connections"]:
            parts.append(fmt_conn(c))
        parts.append("\nExpected findings (file): %s\n" % (", ".join("`%s`" % x for x in r["expected_findings"]) or "none"))
    with open(os.path.join(d, "README.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts))


if __name__ == "__main__":
    main()
