#!/usr/bin/env python3
"""Suricata as an independent oracle for tlscap over the real-world corpus.

Usage: suricata_oracle.py TLSCAP_BINARY CORPUS_DIR [--jobs N] [--details FILE] [--only TEXT]

Suricata (offline, `-r FILE -k none`, only the rules in oracle.rules beside this script) logs
per TCP flow: the flags each side sent, the TLS transaction (SNI, version) and which TLS
records it framed (alerts, ChangeCipherSpec and application data from each side). Its flows
are matched to tlscap's connection records by 5-tuple and start time (captures with TLS over
TCP only, per MANIFEST). The oracle's notions:

- established: SYN from the client, SYN-ACK from the server, Suricata parsed the TLS
  handshake and saw it finish (up to TLS 1.2: ChangeCipherSpec both ways, or application data
  both ways; TLS 1.3: encrypted records from the server and the client's Finished, that is an
  encrypted record from the client other than one lone record of an alert's size), and no
  plaintext fatal alert;
- clean: established, with no alert record at all (plaintext or encrypted, close_notify
  included) and no TLS 1.3 record of an encrypted alert's size.

Measured: (a) tlscap error-level findings on clean connections (must be 0); (b) agreement on
SNI, version and outcome (oracle established vs tlscap outcome ok); (c) chain verdicts: Suricata
validates no certificate chain, so there is nothing to agree with there and the summary says so.

Prints one JSON summary on stdout; exits 1 when (a) is not 0, 2 on a usage or tool error.
"""
import argparse
import concurrent.futures
import datetime
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(HERE, "oracle.rules")
(SID_FATAL, SID_ALERT, SID_CAD1, SID_CAD2, SID_SAD, SID_T13_ALERT, SID_CCS_C,
 SID_CCS_S) = range(9000001, 9000009)
# A tlscap record and a Suricata flow with the same 5-tuple start within this many seconds.
START_SLACK_S = 1.0


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def addr(ip):
    """One spelling per address: Suricata writes IPv6 uncompressed, tlscap compressed."""
    return ipaddress.ip_address(ip).compressed


def endpoint(s):
    host, port = s.rsplit(":", 1)
    return addr(host.strip("[]")), int(port)


def manifest(corpus):
    """Captures with TLS over TCP (MANIFEST's ch_by_kind note counts ClientHellos by kind)."""
    out = []
    with open(os.path.join(corpus, "MANIFEST.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        path, notes = header.index("path"), header.index("notes")
        for line in f:
            cols = line.rstrip("\n").split("\t")
            kinds = re.search(r"ch_by_kind=([^;]*)", cols[notes])
            counts = dict(k.split(":") for k in kinds.group(1).split(",")) if kinds else {}
            if int(counts.get("tls", "0")) > 0:
                out.append(cols[path])
    return out


def version_name(v):
    """Suricata's version name in tlscap's words (drafts as tlscap prints them: hex)."""
    if v in (None, "UNDETERMINED"):
        return None
    named = {"SSLv2": "SSL 2.0", "SSLv3": "SSL 3.0", "TLSv1": "TLS 1.0", "TLS 1.1": "TLS 1.1",
             "TLS 1.2": "TLS 1.2", "TLS 1.3": "TLS 1.3"}
    if v in named:
        return named[v]
    draft = re.fullmatch(r"TLS 1\.3 draft-(\d+)(-fb)?", v)
    if draft:
        return "0x%02x%02x" % (0xfb if draft.group(2) else 0x7f, int(draft.group(1)))
    return v


def suricata_flows(path, workdir):
    """Suricata's TCP flows in one capture, each with its TLS view; None if Suricata failed."""
    os.makedirs(workdir, exist_ok=True)
    cmd = ["suricata", "-r", path, "-l", workdir, "-k", "none", "--runmode", "single",
           "-S", RULES]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    eve = os.path.join(workdir, "eve.json")
    if done.returncode != 0 or not os.path.exists(eve):
        return None
    flows, tls, marks = {}, {}, {}
    with open(eve, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            fid = e.get("flow_id")
            kind = e.get("event_type")
            if kind == "flow" and e.get("proto") == "TCP":
                flows[fid] = e
            elif kind == "tls":
                tls.setdefault(fid, e["tls"])
            elif kind == "alert":
                marks.setdefault(fid, set()).add(e["alert"]["signature_id"])
    out = []
    for fid, e in flows.items():
        t = e.get("tcp", {})
        m = marks.get(fid, set())
        tx = tls.get(fid)
        version = version_name(tx.get("version")) if tx else None
        ts_flags = int(t.get("tcp_flags_ts", "0"), 16)
        tc_flags = int(t.get("tcp_flags_tc", "0"), 16)
        tls13 = version == "TLS 1.3" or (version or "").startswith(("0x7f", "0xfb"))
        if tls13:
            # The client's Finished is its first encrypted record; a lone record of an
            # alert's size is its refusal instead.
            done = SID_SAD in m and (SID_CAD2 in m or (SID_CAD1 in m and SID_T13_ALERT not in m))
        else:
            done = {SID_CCS_C, SID_CCS_S} <= m or {SID_CAD1, SID_SAD} <= m
        established = bool(ts_flags & 0x02 and tc_flags & 0x12 == 0x12 and version and done
                           and SID_FATAL not in m)
        out.append({
            "client": (addr(e["src_ip"]), e["src_port"]),
            "server": (addr(e["dest_ip"]), e["dest_port"]),
            "start": ts(e["flow"]["start"]),
            "tls": tx is not None,
            "sni": tx.get("sni") if tx else None,
            "version": version,
            "established": established,
            "alert": bool(m & {SID_FATAL, SID_ALERT, SID_T13_ALERT}),
            "fatal": SID_FATAL in m,
            "handshake": [bool(ts_flags & 0x02), tc_flags & 0x12 == 0x12],
            "marks": sorted(m),
        })
    return out


def tlscap_records(binary, corpus):
    run = subprocess.run([binary, "-q", "--format", "json", corpus], capture_output=True,
                         check=False)
    if not run.stdout:
        sys.exit(f"tlscap produced no output (exit {run.returncode})")
    by_file = {}
    for line in run.stdout.decode("utf-8", errors="replace").splitlines():
        r = json.loads(line)
        if r.get("type") != "connection" or r.get("transport", "tcp") != "tcp":
            continue
        rel = os.path.relpath(r["file"], corpus)
        by_file.setdefault(rel, []).append(r)
    return by_file


def match(flow, records):
    """The tlscap record of this flow: same endpoints either way round, nearest start."""
    a, b = flow["client"], flow["server"]
    best = None
    for r in records:
        c, s = endpoint(r["client"]), endpoint(r["server"])
        if {c, s} != {a, b}:
            continue
        d = abs(ts(r["start"]) - flow["start"])
        if d <= START_SLACK_S and (best is None or d < best[0]):
            best = (d, r)
    return best[1] if best else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tlscap")
    ap.add_argument("corpus")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--details", help="write one JSON line per compared flow here")
    ap.add_argument("--only", help="only the captures whose path contains this")
    args = ap.parse_args()
    corpus = os.path.abspath(args.corpus)
    files = [f for f in manifest(corpus) if not args.only or args.only in f]
    records = tlscap_records(args.tlscap, corpus)
    with tempfile.TemporaryDirectory(prefix="tlscap-oracle-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            views = dict(zip(files, pool.map(
                lambda p: suricata_flows(os.path.join(corpus, p[1]), os.path.join(tmp, str(p[0]))),
                enumerate(files))))
    n = {"captures": len(files), "suricata_failed": 0, "tls_flows": 0, "unmatched": 0,
         "established": 0, "clean": 0, "errors_on_clean": 0,
         "sni_compared": 0, "sni_agree": 0, "version_compared": 0, "version_agree": 0,
         "outcome_compared": 0, "outcome_agree": 0,
         "established_not_ok": 0, "ok_not_established": 0}
    details, false_errors, failed = [], [], []
    for rel in files:
        flows = views[rel]
        if flows is None:
            n["suricata_failed"] += 1
            failed.append(rel)
            continue
        recs = records.get(rel, [])
        for fl in flows:
            if not fl["tls"]:
                continue
            n["tls_flows"] += 1
            r = match(fl, recs)
            if r is None:
                n["unmatched"] += 1
                details.append({"file": rel, "flow": fl, "record": None})
                continue
            errors = [f["id"] for f in r["findings"] if f["severity"] == "error"]
            clean = fl["established"] and not fl["alert"]
            n["established"] += fl["established"]
            n["clean"] += clean
            if clean and errors:
                n["errors_on_clean"] += 1
                false_errors.append({"file": rel, "index": r["index"], "errors": errors})
            if fl["sni"] is not None or r["sni"] is not None:
                n["sni_compared"] += 1
                n["sni_agree"] += fl["sni"] == r["sni"]
            if fl["version"] is not None:
                n["version_compared"] += 1
                n["version_agree"] += fl["version"] == r["version"]
            ok = r["outcome"] == "ok"
            n["outcome_compared"] += 1
            n["outcome_agree"] += ok == fl["established"]
            n["established_not_ok"] += fl["established"] and not ok
            n["ok_not_established"] += ok and not fl["established"]
            details.append({"file": rel, "index": r["index"], "oracle": fl,
                            "tlscap": {"sni": r["sni"], "version": r["version"],
                                       "outcome": r["outcome"], "cause": r.get("cause"),
                                       "errors": errors}})
    if args.details:
        with open(args.details, "w", encoding="utf-8") as f:
            for d in details:
                f.write(json.dumps(d, default=list) + "\n")
    n["chain_verdicts"] = "not compared: Suricata validates no certificate chain"
    n["suricata_failed_files"] = failed
    n["false_errors"] = false_errors
    print(json.dumps(n, indent=1))
    return 1 if false_errors else 0


if __name__ == "__main__":
    sys.exit(main())
