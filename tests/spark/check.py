"""The Spark job against tlscap alone, on samples/, a slice of ../shared/corpus and a corrupt
capture (run by tests/spark/run.sh, which installs what it needs).

1. `local[2]`: every table equals tlscap's single-machine JSON output over the same inputs row
   for row (order-insensitive), except the connections the cross-capture table lists (their
   findings depend on other captures; tlscap over the directory names the other capture), and
   the corrupt capture is an error row while the job succeeds.
2. `local[2,2]` with a task killed once (TLSCAP_SPARK_FAIL_ONCE): Spark retries it and the
   dataset is the same.
3. samples/ served by a read-only FTP server on 127.0.0.1 (tests/spark/ftp_server.py) and read
   through Hadoop's FTPFileSystem, the login in the URL: the same rows as tlscap alone (paths
   mapped back), and the password in no log line, row or file. TLSCAP_SPARK_SKIP_FTP=1 skips it.

    python3 tests/spark/check.py TLSCAP_BINARY
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
JOB = os.path.join(ROOT, "integrations", "spark", "tlscap_spark.py")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(JOB))
import rows  # noqa: E402
CA = os.path.join(ROOT, "samples", "pki", "root.pem")
TABLES = ["connections", "findings", "files", "errors", "skipped"]
# A small capture that is always there: the task that reads it dies once.
KILLED = "cert-expired.pcap"


def inputs(work):
    v = [os.path.join(ROOT, "samples")]
    corpus = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
    if os.path.isfile(os.path.join(corpus, "MANIFEST.tsv")):
        v += [os.path.join(corpus, "ja4", "pcap"), os.path.join(corpus, "wireshark")]
    else:
        print("SKIP corpus slice: ../shared/corpus not found; samples/ only", flush=True)
    corrupt = os.path.join(work, "corrupt")
    os.mkdir(corrupt)
    # Hand-built: a pcap global header (LINKTYPE_ETHERNET) then a record header claiming 4 GiB.
    with open(os.path.join(corrupt, "truncated.pcap"), "wb") as f:
        f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
        f.write(bytes.fromhex("00000000" "00000000" "ffffffff" "ffffffff") + b"\x00" * 40)
    v.append(corrupt)
    return v


def reference(tlscap, ins, out):
    """tlscap alone: the JSON of every view over the same inputs, one TABLE.jsonl each."""
    os.mkdir(out)
    kinds = {"connections": "connection", "findings": "finding", "files": "file", "errors": "error", "skipped": "skipped"}
    lines = {t: [] for t in TABLES}
    for view in ["connections", "findings", "files"]:
        done = subprocess.run(
            # The job reads no settings file (its tasks see one capture each): neither does this.
            [tlscap, "--quiet", "--format", "json", "--view", view, "--no-settings", "--ca-file", CA] + ins,
            capture_output=True,
            text=True,
        )
        for line in done.stdout.splitlines():
            t = json.loads(line)["type"]
            for table, kind in kinds.items():
                if t == kind and (table not in ("errors", "skipped") or view == "connections"):
                    lines[table].append(line)
    for t in TABLES:
        with open(os.path.join(out, t + ".jsonl"), "w") as f:
            f.writelines(l + "\n" for l in lines[t])
    return {t: len(v) for t, v in lines.items()}


def spark_submit():
    """spark-submit on PATH, else the one inside the pyspark package pip installed."""
    found = shutil.which("spark-submit")
    if found:
        return found
    import pyspark

    return os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")


def spark(tlscap, ins, out, master, env=None, job_args=()):
    cmd = [
        spark_submit(), "--master", master, "--conf", "spark.ui.enabled=false",
        JOB, "--tlscap", tlscap, "--output", out, *job_args,
    ] + ins + ["--", "--ca-file", CA]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        print(done.stderr[-6000:])
        raise SystemExit(f"FAIL: the Spark job exited with {done.returncode}")
    return done.stdout + done.stderr


def table_rows(path):
    """Canonical rows of a dataset table (the `date` partition column dropped)."""
    t = rows.read_table(path)
    t = t.drop_columns([c for c in ("date",) if c in t.schema.names])
    fields = list(t.schema)
    import pyarrow as pa

    st = pa.struct(fields)
    return sorted(json.dumps(rows.from_arrow(r, st), sort_keys=True) for r in t.to_pylist())


def drop_rows(json_path, keep):
    """Rewrites a JSON lines table with only the rows `keep` accepts."""
    with open(json_path) as f:
        kept = [l for l in f if keep(json.loads(l))]
    with open(json_path, "w") as f:
        f.writelines(kept)


def failed_runs_are_error_rows(tlscap):
    """A unit whose tlscap dies, or whose binary is missing, is an `errors` row naming the
    capture (the task itself succeeds); checked on the task function, without Spark."""
    import pyarrow as pa

    import tlscap_spark

    capture = os.path.join(ROOT, "samples", KILLED)
    for binary, reason in [("/bin/false", "tlscap failed (exit code 1)"), ("no-such-tlscap", "not found on the executor")]:
        settings = {"tlscap": binary, "tlscap_args": [], "continuous": False, "threads": 1, "auto_keylog": True}
        got = [
            (table, b.to_pylist())
            for table, payload in tlscap_spark.run_unit(["file:" + capture], [], settings, tempfile.gettempdir())
            for b in pa.ipc.open_stream(payload)
        ]
        if len(got) != 1 or got[0][0] != "errors" or got[0][1][0]["file"] != capture or reason not in got[0][1][0]["reason"]:
            raise SystemExit(f"FAIL: {binary}: expected one error row for {capture}, got {got}")
    print("a failed tlscap run: one error row", flush=True)


def compare_with_alone(tlscap, ins, out, work, name, remote=None):
    """Every table of the dataset `out` against tlscap alone over the local inputs `ins`, row
    for row, except the connections the cross-capture table lists and the pieces of a rotated
    capture (see below). `remote`: (URL prefix, local directory) when the job read `ins`
    through a remote filesystem; its paths are mapped back before comparing."""
    ref = os.path.join(work, "ref-" + name)
    counts = reference(tlscap, ins, ref)
    print(f"{name}: tlscap alone:", counts, flush=True)
    mapped = {t: local_copy(os.path.join(out, t), work, f"{name}-{t}", remote) for t in TABLES + ["cross_capture_findings"]}
    cross = rows.read_table(mapped["cross_capture_findings"]).to_pylist()
    crossed = {(r["file"], r["index"]) for r in cross}
    crossed_files = {f for f, _ in crossed}
    print(f"{name}: cross-capture findings:", sorted((os.path.relpath(r["file"], ROOT), r["index"], r["id"]) for r in cross), flush=True)
    want_cross = {
        (os.path.join(ROOT, "samples/compare/sni-bad.pcap"), 0),
        (os.path.join(ROOT, "samples/sni-gated-client-auth.pcap"), 1),
    }
    if not want_cross <= crossed:
        raise SystemExit(f"FAIL: {name}: cross-capture table lacks {sorted(want_cross - crossed)}")
    # Pieces of a rotated capture: tlscap alone joins them across files (split-across-files);
    # the job reads files that continue each other in one run, so its rows say the same.
    ring = (os.path.join(ROOT, "samples/ring/ring.pcap1"), 0)
    for who, path in [("tlscap alone", os.path.join(ref, "connections.jsonl")), ("the job", mapped["connections"])]:
        if path.endswith(".jsonl"):
            with open(path) as f:
                conns = [json.loads(l) for l in f]
        else:
            conns = rows.read_table(path).to_pylist()
        split = sorted((os.path.relpath(r["file"], ROOT), r["index"]) for r in conns if any(x["id"] == "split-across-files" for x in r["findings"] or []))
        print(f"{name}: split across files in {who}:", split, flush=True)
        if (os.path.relpath(ring[0], ROOT), ring[1]) not in split:
            raise SystemExit(f"FAIL: {name}: samples/ring/ring.pcap1 #0 is not split across files in {who}")

    drop_rows(os.path.join(ref, "connections.jsonl"), lambda r: (r["file"], r["index"]) not in crossed)
    drop_rows(os.path.join(ref, "findings.jsonl"), lambda r: (r["file"], r["index"]) not in crossed)
    drop_rows(os.path.join(ref, "files.jsonl"), lambda r: r["file"] not in crossed_files)
    ok = True
    for t in TABLES:
        pq_path = mapped[t]
        if t in ("connections", "findings"):
            pq_path = filtered(pq_path, work, f"{name}-{t}", lambda r: (r["file"], r["index"]) not in crossed)
        if t == "files":
            pq_path = filtered(pq_path, work, f"{name}-{t}", lambda r: r["file"] not in crossed_files)
        try:
            n = rows.compare_table(t, os.path.join(ref, t + ".jsonl"), pq_path, extra=["date"])
            print(f"{name}: {t}: {n} rows equal to tlscap alone", flush=True)
        except rows.Mismatch as e:
            print(f"FAIL {name}: {e}")
            ok = False
    if not ok:
        raise SystemExit(1)


def served_by_ftp(tlscap, work):
    """The job over samples/ read through Hadoop's FTPFileSystem from a local FTP server (the
    login in the URL): the same rows as tlscap alone, and the password nowhere in the job's
    output, its log or the dataset."""
    password = secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "ftp_server.py"), ROOT],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "TLSCAP_FTP_PASSWORD": password},
    )
    try:
        port = int(server.stdout.readline())
        prefix = f"ftp://127.0.0.1:{port}"
        out = os.path.join(work, "out-ftp")
        started = time.monotonic()
        # Packed into 4 tasks: a task starts one JVM for its copies (about 2 s of cpu), which
        # one task per small file would pay each time (see BENCHMARKS.md).
        log = spark(tlscap, [f"ftp://tlscap:{password}@127.0.0.1:{port}/samples"], out, "local[2]", job_args=["--max-tasks", "4"])
        print(f"ftp: the job took {time.monotonic() - started:.1f} s", flush=True)
        leaks = ["the job's log"] if password in log else []
        for dirpath, _, names in os.walk(out):
            for n in names:
                with open(os.path.join(dirpath, n), "rb") as f:
                    if password.encode() in f.read():
                        leaks.append(os.path.join(dirpath, n))
        for t in TABLES + ["cross_capture_findings", "server_totals"]:
            if password in json.dumps(rows.read_table(os.path.join(out, t)).to_pylist(), default=str):
                leaks.append(f"table {t}")
        if leaks:
            raise SystemExit(f"FAIL: the FTP password is in {leaks}")
        files = rows.read_table(os.path.join(out, "files")).column("file").to_pylist()
        if not files or not all(f.startswith(prefix + "/samples/") for f in files):
            raise SystemExit(f"FAIL: files read over FTP are not named {prefix}/samples/...: {files[:3]}")
        compare_with_alone(tlscap, [os.path.join(ROOT, "samples")], out, work, "ftp", (prefix, ROOT))
        print("ftp: no password in the log, the rows or the files", flush=True)
        missing_copy_is_an_error_row(prefix, password)
    finally:
        server.terminate()
        server.wait()


def missing_copy_is_an_error_row(prefix, password):
    """A capture that cannot be copied to the executor is an `errors` row naming it without
    the login; checked on the task function, without Spark."""
    import pyarrow as pa

    import tlscap_spark

    url = f"{prefix.replace('ftp://', f'ftp://tlscap:{password}@')}/samples/no-such.pcap"
    settings = {"tlscap": "tlscap", "tlscap_args": [], "continuous": False, "threads": 1, "auto_keylog": True}
    got = [
        (table, r)
        for table, payload in tlscap_spark.run_unit([url], [], settings, tempfile.gettempdir())
        for b in pa.ipc.open_stream(payload)
        for r in b.to_pylist()
    ]
    want = f"{prefix}/samples/no-such.pcap"
    if len(got) != 1 or got[0][0] != "errors" or got[0][1]["file"] != want or "FileNotFoundException" not in got[0][1]["reason"]:
        raise SystemExit(f"FAIL: a missing remote capture: expected one error row for {want}, got {got}")
    if password in json.dumps(got):
        raise SystemExit("FAIL: the FTP password is in the error row of a missing remote capture")
    print("a remote capture that cannot be copied: one error row, no password", flush=True)


def main(tlscap):
    tlscap = os.path.abspath(tlscap)
    failed_runs_are_error_rows(tlscap)
    work = tempfile.mkdtemp(prefix="tlscap-spark-test-")
    try:
        ins = inputs(work)
        out1 = os.path.join(work, "out1")
        spark(tlscap, ins, out1, "local[2]")
        compare_with_alone(tlscap, ins, out1, work, "local")
        errors = rows.read_table(os.path.join(out1, "errors")).to_pylist()
        if not any(r["file"].endswith("corrupt/truncated.pcap") for r in errors):
            raise SystemExit(f"FAIL: no error row for the corrupt capture: {errors}")

        out2 = os.path.join(work, "out2")
        log = spark(tlscap, ins, out2, "local[2,2]", {"TLSCAP_SPARK_FAIL_ONCE": KILLED})
        if "Python worker exited unexpectedly" not in log and "Lost task" not in log:
            raise SystemExit("FAIL: the injected fault did not kill a task")
        for t in TABLES + ["cross_capture_findings", "server_totals"]:
            a, b = table_rows(os.path.join(out1, t)), table_rows(os.path.join(out2, t))
            if a != b:
                raise SystemExit(f"FAIL: {t} differs after a task was killed and retried ({len(a)} vs {len(b)} rows)")
        print("a task killed once: retried, every table unchanged", flush=True)
        if os.environ.get("TLSCAP_SPARK_SKIP_FTP"):
            print("SKIP ftp: TLSCAP_SPARK_SKIP_FTP is set", flush=True)
        else:
            served_by_ftp(tlscap, work)
        print("spark: ok")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def local_copy(path, work, name, remote):
    """The dataset table at `path` as one Parquet file, with `remote`'s URL prefix (if any)
    replaced by its local directory in every string, nested ones included."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    import tlscap_spark

    t = rows.read_table(path)
    if remote is not None:
        url, local = remote
        batches = [
            pa.RecordBatch.from_arrays([tlscap_spark.rewrite_strings(pa, pc, c, url + "/", local + "/") for c in b.columns], schema=b.schema)
            for b in t.to_batches()
        ]
        t = pa.Table.from_batches(batches, schema=t.schema)
    dest = os.path.join(work, f"mapped-{name}.parquet")
    pq.write_table(t, dest)
    return dest


def filtered(path, work, name, keep):
    """A copy of a dataset table with only the rows `keep` accepts (as one Parquet file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = rows.read_table(path)
    mask = pa.array([keep(r) for r in t.select(["file"] + (["index"] if "index" in t.schema.names else [])).to_pylist()])
    dest = os.path.join(work, f"filtered-{name}.parquet")
    pq.write_table(t.filter(mask), dest)
    return dest


if __name__ == "__main__":
    main(sys.argv[1])
