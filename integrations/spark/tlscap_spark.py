"""tlscap on Apache Spark: every capture of an archive analysed by the tlscap binary as the map
step, the results written as a Parquet dataset partitioned by capture date.

    spark-submit --master 'local[2]' integrations/spark/tlscap_spark.py \\
        --tlscap target/release/tlscap --output out/ captures/ [-- TLSCAP_OPTIONS...]

Spark does placement, retries, speculation and scaling; this file only lists the captures, cuts
them into work units balanced by size, runs tlscap on each unit (`--format parquet`) and hands
Spark the Arrow batches tlscap wrote (`mapInArrow`): nothing is parsed twice. See README.md.
"""

import argparse
import heapq
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

# Tables tlscap writes per work unit that the dataset keeps, and the column giving their date.
TABLES = {
    "connections": "start",
    "findings": None,  # the date of the finding's connection
    "files": "first",
    "errors": None,
    "skipped": None,
}
DATED = ("connections", "findings", "files")
FAIL_ONCE_ENV = "TLSCAP_SPARK_FAIL_ONCE"
# Longest silence between two pieces of a connection in consecutive files, as tlscap's
# MAX_SPLIT_GAP_S (src/findings/edges.rs).
MAX_SPLIT_GAP_S = 600
STDERR_KEPT = 2000
COPY_TRIES = 3
# `scheme://user:password@` in a URL: never written to a table or a log.
USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def redact(text):
    """`text` with the userinfo (`user:password@`) of every URL in it removed."""
    return USERINFO.sub(r"\1", text)


def secrets_of(uris):
    """The passwords of the URLs' userinfo, as given and percent-decoded, to scrub from
    messages that quote them outside a URL."""
    out = set()
    for u in uris:
        pw = urllib.parse.urlsplit(u).password if "://" in u else None
        if pw:
            out |= {pw, urllib.parse.unquote(pw)}
    return sorted(out, key=len, reverse=True)


def scrub(text, secrets):
    text = redact(text)
    for s in secrets:
        text = text.replace(s, "***")
    return text


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="tlscap_spark",
        description="Run tlscap over captures on any Hadoop filesystem; write a Parquet dataset.",
        epilog="Options after `--` go to tlscap unchanged (e.g. -- --ca-file root.pem --sni '*.example.com').",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="capture file, directory or glob (file:, hdfs:, s3a:, abfs:, gs: ...)")
    p.add_argument("--output", "-o", required=True, help="dataset directory (any Hadoop filesystem)")
    p.add_argument("--tlscap", default="tlscap", help="the tlscap binary on the executors: a path, a name shipped with --files/--archives, or a name on PATH (default: tlscap)")
    p.add_argument("--continuous", action="store_true", help="each directory is one ring set (tcpdump -C/-G, dumpcap -b): its files form one work unit, read with tlscap --continuous")
    p.add_argument("--mode", default="overwrite", choices=["overwrite", "append", "error", "ignore"], help="Spark save mode (default overwrite)")
    p.add_argument("--max-tasks", type=int, default=0, help="most work units per job; more files are packed into this many size-balanced bins (default: 20000)")
    p.add_argument("--no-cross", action="store_true", help="skip the cross-capture aggregation")
    argv = list(argv)
    rest = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1 :]
    args = p.parse_args(argv)
    args.tlscap_args = rest
    return args


# ---------------------------------------------------------------------------------------------
# Driver: listing and work units


def list_captures(spark, inputs):
    """(path, size) of every file under the inputs, through the Hadoop FileSystem API (so any
    filesystem Spark is configured for). Entries whose name starts with `.` under an input are
    left out, as tlscap's own directory walk does."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    Path = jvm.org.apache.hadoop.fs.Path
    found = {}
    for inp in inputs:
        path = Path(inp)
        fs = path.getFileSystem(conf)
        statuses = fs.globStatus(path)
        if statuses is None or len(statuses) == 0:
            print(f"tlscap_spark: {redact(inp)}: no such file or directory", file=sys.stderr)
            continue
        for st in statuses:
            root = st.getPath().toString()
            if st.isDirectory():
                it = fs.listFiles(st.getPath(), True)
                while it.hasNext():
                    f = it.next()
                    name = f.getPath().toString()
                    rel = name[len(root) :].lstrip("/")
                    if any(part.startswith(".") for part in rel.split("/")):
                        continue
                    found[name] = f.getLen()
            else:
                found[root] = st.getLen()
    return sorted(found.items())


def stem(name):
    """`x.pcap` -> `x`, `x.pcap.gz` -> `x`: the name a key log beside the capture has."""
    for ext in (".gz", ".pcapng", ".pcap", ".cap"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name


def groups_of(files, continuous):
    """The tlscap runs, as (paths, quiet, bytes). A run reads a capture and the key log beside
    it (`x.pcap` + `x.keys`, as tlscap picks it up), or with `continuous` a directory's files
    (a ring set is read in one piece). `quiet` are key logs whose `skipped` row another run
    reports (one key log can serve `x.pcap` and `x.pcapng`)."""
    by_dir = {}
    for path, size in files:
        d, _, name = path.rpartition("/")
        by_dir.setdefault(d, {})[name] = size
    groups = []
    for d, entries in sorted(by_dir.items()):
        names = sorted(entries)
        if continuous:
            groups.append(([f"{d}/{n}" for n in names], [], sum(entries.values())))
            continue
        keylogs = {n for n in names if n.rsplit(".", 1)[-1] in ("keys", "keylog")}
        owned = set()
        for n in names:
            if n in keylogs:
                continue
            companion = next((f"{stem(n)}.{e}" for e in ("keys", "keylog") if f"{stem(n)}.{e}" in entries), None)
            paths, quiet = [f"{d}/{n}"], []
            if companion is not None:
                paths.append(f"{d}/{companion}")
                if companion in owned:
                    quiet.append(f"{d}/{companion}")
                owned.add(companion)
            groups.append((paths, quiet, sum(entries[p.rpartition("/")[2]] for p in paths)))
        for n in sorted(keylogs - owned):
            groups.append(([f"{d}/{n}"], [], entries[n]))
    return groups


def work_units(files, continuous, max_tasks):
    """Work units, largest first, as (groups, bytes): each group is one tlscap run (see
    [`groups_of`]). Past `max_tasks` groups, groups are packed into that many bins, each next
    group (largest first) into the lightest bin, so that tasks stay balanced."""
    groups = sorted(groups_of(files, continuous), key=lambda g: (-g[2], g[0]))
    if max_tasks and len(groups) > max_tasks:
        bins = [(0, i, []) for i in range(max_tasks)]
        heapq.heapify(bins)
        for paths, quiet, size in groups:
            load, i, members = heapq.heappop(bins)
            members.append({"paths": paths, "quiet": quiet})
            heapq.heappush(bins, (load + size, i, members))
        units = [(members, load) for load, _, members in bins if members]
    else:
        units = [([{"paths": paths, "quiet": quiet}], size) for paths, quiet, size in groups]
    units.sort(key=lambda u: -u[1])
    return units


# ---------------------------------------------------------------------------------------------
# Executor: one unit


def local_path(uri):
    """The local path of a `file:` URI (or a plain path), else None. Databricks mounts DBFS
    and Unity Catalog volumes on every node (`/dbfs`, `/Volumes`), so those are local too."""
    if uri.startswith("dbfs:/Volumes/"):
        return uri[len("dbfs:") :]
    if uri.startswith("dbfs:/"):
        return "/dbfs/" + uri[len("dbfs:/") :].lstrip("/")
    if uri.startswith("file:"):
        rest = uri[len("file:") :]
        while rest.startswith("//"):
            rest = rest[1:]
        return rest
    if "://" not in uri and ":" not in uri.split("/", 1)[0]:
        return uri
    return None


def spark_jars():
    """The directory of Spark's jars on this executor (hadoop-client and the filesystems the
    cluster ships), or None."""
    candidates = []
    if os.environ.get("SPARK_HOME"):
        candidates.append(os.path.join(os.environ["SPARK_HOME"], "jars"))
    # YARN localises Spark's jars into the container's directory.
    candidates.append(os.path.join(os.getcwd(), "__spark_libs__"))
    try:
        import pyspark

        candidates.append(os.path.join(os.path.dirname(pyspark.__file__), "jars"))
    except ImportError:
        pass
    return next((c for c in candidates if glob.glob(os.path.join(c, "hadoop-client-api-*.jar")) or glob.glob(os.path.join(c, "hadoop-common-*.jar"))), None)


class HadoopJvm:
    """A JVM holding Spark's Hadoop classes, reached through py4j (which PySpark carries),
    started on first use and stopped by `close`: a task keeps at most one, for all of its
    remote copies, and none outlives it. Copies go through the same FileSystem classes, and
    the same settings, as the driver's listing."""

    def __init__(self, work_root):
        self.work_root = work_root
        self.proc = None
        self.gateway = None
        self.conf_dir = None

    def jvm(self):
        if self.gateway is not None:
            return self.gateway.jvm
        from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway

        jars = spark_jars()
        if jars is None:
            raise OSError("no Spark jars on this executor (SPARK_HOME unset)")
        py4j_jar = sorted(glob.glob(os.path.join(jars, "py4j-*.jar")))
        # Hadoop insists on a core-site.xml: the cluster's (HADOOP_CONF_DIR) when there is
        # one, else an empty one placed last on the class path.
        self.conf_dir = tempfile.mkdtemp(prefix="tlscap-hadoop-conf-", dir=self.work_root)
        with open(os.path.join(self.conf_dir, "core-site.xml"), "w") as f:
            f.write('<?xml version="1.0"?>\n<configuration/>\n')
        classpath = [d for d in (os.environ.get("HADOOP_CONF_DIR"),) if d]
        classpath += [os.path.join(jars, "*"), os.path.join(os.getcwd(), "*"), self.conf_dir]
        java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
        port, self.proc = launch_gateway(
            jarpath=py4j_jar[0] if py4j_jar else "", classpath=os.pathsep.join(classpath),
            javaopts=["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"],
            die_on_exit=True, java_path=java, return_proc=True,
        )
        self.gateway = JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_convert=True))
        return self.gateway.jvm

    def close(self):
        if self.gateway is not None:
            try:
                self.gateway.close()
            except Exception:  # noqa: BLE001 - the JVM is killed below regardless
                pass
            self.gateway = None
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if self.conf_dir is not None:
            shutil.rmtree(self.conf_dir, ignore_errors=True)
            self.conf_dir = None


def hadoop_get(uri, dest, hadoop_conf, hadoop):
    """Streams `uri` to `dest` with Hadoop's FileSystem for its scheme."""
    jvm = hadoop.jvm()
    conf = jvm.org.apache.hadoop.conf.Configuration()
    for k, v in hadoop_conf.items():
        conf.set(k, v)
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "ftp" and parts.username is not None:
        # FTPFileSystem reads the login from its configuration as well as from the URL: moved
        # there, the password stays out of Hadoop's messages (which quote the path).
        host = parts.hostname
        conf.set(f"fs.ftp.user.{host}", urllib.parse.unquote(parts.username))
        conf.set(f"fs.ftp.password.{host}", urllib.parse.unquote(parts.password or ""))
        conf.set("fs.ftp.impl.disable.cache", "true")
        uri = redact(uri)
    Path = jvm.org.apache.hadoop.fs.Path
    src = Path(uri)
    # A remote server drops a connection now and then (an FTP server under many tasks resets
    # some): a few tries before the capture is an error row.
    for attempt in range(COPY_TRIES):
        try:
            src.getFileSystem(conf).copyToLocalFile(False, src, Path("file://" + os.path.abspath(dest)), True)
            return
        except Exception as e:  # noqa: BLE001 - py4j's errors carry the Java exception
            java = getattr(e, "java_exception", None)
            why = java.toString() if java is not None else str(e)
            if attempt + 1 == COPY_TRIES or "FileNotFoundException" in why:
                raise OSError(why) from None
            time.sleep(0.5 * (attempt + 1))


def fetch(uri, dest, hadoop_conf, hadoop):
    """Streams a remote capture to `dest`: with Hadoop's FileSystem classes (those the driver
    listed it with), else pyarrow's filesystems, else `hadoop fs -get`."""
    tried = []
    try:
        hadoop_get(uri, dest, hadoop_conf, hadoop)
        return
    except Exception as e:  # noqa: BLE001 - any failure falls back to the next client
        tried.append(f"Hadoop: {e}")
    try:
        import pyarrow.fs as pafs

        scheme = uri.split(":", 1)[0]
        alias = {"s3a": "s3", "s3n": "s3", "gs": "gs", "gcs": "gs", "abfs": "abfs", "abfss": "abfs"}
        fs, path = pafs.FileSystem.from_uri(alias.get(scheme, scheme) + uri[len(scheme) :])
        with fs.open_input_stream(path) as src, open(dest, "wb") as out:
            while True:
                chunk = src.read(8 << 20)
                if not chunk:
                    break
                out.write(chunk)
        return
    except Exception as e:  # noqa: BLE001
        tried.append(f"pyarrow: {e}")
    hadoop = shutil.which("hadoop")
    if hadoop is not None:
        done = subprocess.run([hadoop, "fs", "-get", "-f", uri, dest], capture_output=True, text=True)
        if done.returncode == 0:
            return
        tried.append(f"hadoop fs -get: {done.stderr.strip()[-STDERR_KEPT:]}")
    raise OSError("; ".join(tried))


def find_tlscap(name):
    """The binary on this executor: a path, a file shipped with --files or --archives, or PATH."""
    candidates = [name]
    try:
        from pyspark import SparkFiles

        candidates.append(os.path.join(SparkFiles.getRootDirectory(), os.path.basename(name)))
    except Exception:  # noqa: BLE001 - no SparkContext files in this process
        pass
    candidates.append(os.path.join(os.getcwd(), name))
    for c in candidates:
        if os.path.isfile(c):
            if not os.access(c, os.X_OK):
                # --files does not keep the executable bit.
                os.chmod(c, 0o755)
            return c
    return shutil.which(name)


def resolve_option_paths(args):
    """Option values naming files shipped with --files resolve to their executor copies."""
    try:
        from pyspark import SparkFiles

        root = SparkFiles.getRootDirectory()
    except Exception:  # noqa: BLE001
        return list(args)
    out = []
    for a in args:
        shipped = os.path.join(root, os.path.basename(a))
        if not a.startswith("-") and not os.path.exists(a) and os.path.isfile(shipped):
            a = shipped
        out.append(a)
    return out


def error_batch(pa, uri, reason):
    """An `errors` row for a unit tlscap could not report on itself."""
    return pa.RecordBatch.from_pydict(
        {"type": ["error"], "file": [uri], "reason": [reason]},
        schema=pa.schema(
            [pa.field("type", pa.string(), False), pa.field("file", pa.string(), False), pa.field("reason", pa.string(), False)]
        ),
    )


def ipc(pa, batch):
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as w:
        w.write_batch(batch)
    return sink.getvalue().to_pybytes()


def to_date(pa, pc, column):
    """UTC dates of a timestamp column."""
    return pc.cast(pc.cast(column, pa.timestamp("us")), pa.date32())


def rewrite_strings(pa, pc, arr, old, new):
    """`arr` with `old` replaced by `new` in every string, nested ones included."""
    t = arr.type
    if pa.types.is_string(t):
        return pc.replace_substring(arr, old, new)
    if pa.types.is_struct(t):
        children = [rewrite_strings(pa, pc, arr.field(i), old, new) for i in range(t.num_fields)]
        return pa.StructArray.from_arrays(children, fields=[t.field(i) for i in range(t.num_fields)], mask=arr.is_null())
    if pa.types.is_map(t):
        return pa.MapArray.from_arrays(
            arr.offsets, rewrite_strings(pa, pc, arr.keys, old, new), rewrite_strings(pa, pc, arr.items, old, new),
            type=t, mask=arr.is_null(),
        )
    if pa.types.is_list(t):
        return pa.ListArray.from_arrays(arr.offsets, rewrite_strings(pa, pc, arr.values, old, new), type=t, mask=arr.is_null())
    return arr


def rewrite_paths(pa, pc, batch, places):
    """Names the captures (and key logs beside them) as the inputs did rather than by the
    run's local copies: in `file`, error reasons and key log sources alike. `places`: (local
    directory, input directory) pairs."""
    cols = list(batch.columns)
    for local_dir, remote_dir in places:
        cols = [rewrite_strings(pa, pc, c, local_dir + "/", remote_dir + "/") for c in cols]
    return pa.RecordBatch.from_arrays(cols, schema=batch.schema)


def shown_dir(uri):
    """A directory as records name it: its local path, or its URL less any login."""
    local = local_path(uri)
    return redact(uri) if local is None else local


def run_unit(paths, quiet, settings, work_root, hadoop=None):
    """Runs tlscap on one group of files; yields (table, Arrow IPC bytes). `hadoop`: the
    task's [`HadoopJvm`] for remote copies (else one of its own, stopped on return)."""
    if hadoop is None:
        hadoop = HadoopJvm(work_root)
        try:
            yield from run_unit(paths, quiet, settings, work_root, hadoop)
        finally:
            hadoop.close()
        return
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    shown = [redact(local_path(p) or p) for p in paths]
    label = shown[0] if len(shown) == 1 else shown[0].rsplit("/", 1)[0] + "/"
    fail_once = os.environ.get(FAIL_ONCE_ENV)
    if fail_once and any(fail_once in p for p in paths):
        from pyspark import TaskContext

        ctx = TaskContext.get()
        if ctx is not None and ctx.attemptNumber() == 0:
            # Fault injection for the tests: the worker dies as a lost executor would.
            os._exit(17)
    work = tempfile.mkdtemp(prefix="tlscap-", dir=work_root)
    try:
        in_dir = os.path.join(work, "in")
        out_dir = os.path.join(work, "out")
        os.mkdir(in_dir)
        dirs = list(dict.fromkeys(p.rsplit("/", 1)[0] for p in paths))
        # A unit spanning directories (the files of a split capture) gets a directory per
        # input directory, so that names cannot collide and each maps back to its own.
        local_dirs = {dirs[0]: in_dir} if len(dirs) == 1 else {d: os.path.join(in_dir, str(i)) for i, d in enumerate(dirs)}
        for d in local_dirs.values():
            os.makedirs(d, exist_ok=True)
        # Records name the capture as the input did, less any login in its URL.
        places = [(local_dirs[d], shown_dir(d)) for d in dirs]
        try:
            for p in paths:
                dest = os.path.join(local_dirs[p.rsplit("/", 1)[0]], p.rsplit("/", 1)[1])
                local = local_path(p)
                if local is not None:
                    os.symlink(os.path.abspath(local), dest)
                else:
                    fetch(p, dest, settings.get("hadoop_conf", {}), hadoop)
        except OSError as e:
            reason = scrub(f"cannot copy the capture to the executor: {e}", secrets_of(paths))
            yield "errors", ipc(pa, error_batch(pa, label, reason))
            return
        binary = find_tlscap(settings["tlscap"])
        if binary is None:
            yield "errors", ipc(pa, error_batch(pa, label, f"tlscap binary {settings['tlscap']!r} not found on the executor"))
            return
        # A task holds one capture (or ring set) in a directory of its own, away from any
        # tlscap.toml beside the originals: settings come from the job's arguments only.
        cmd = [binary, "--quiet", "--format", "parquet", "-o", out_dir, "--threads", str(settings["threads"]), "--no-auto-keylog", "--no-settings"]
        if settings["auto_keylog"]:
            cmd.remove("--no-auto-keylog")
        if settings["continuous"]:
            cmd.append("--continuous")
        cmd += resolve_option_paths(settings["tlscap_args"])
        cmd += [local_dirs[d] for d in dirs]
        done = subprocess.run(cmd, capture_output=True, text=True)
        # 0: fine, 1: some input unreadable (reported in errors.parquet), 3: --fail-on matched.
        if done.returncode not in (0, 1, 3) or not os.path.isfile(os.path.join(out_dir, "connections.parquet")):
            why = f"signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
            reason = scrub(f"tlscap failed ({why}): {done.stderr.strip()[-STDERR_KEPT:]}", secrets_of(paths))
            yield "errors", ipc(pa, error_batch(pa, label, reason))
            return
        quiet_names = [shown_dir(q.rsplit("/", 1)[0]) + "/" + q.rsplit("/", 1)[1] for q in quiet]
        own_dirs = [in_dir] + [d for pair in places for d in pair]
        dates = {}
        conns = pq.read_table(os.path.join(out_dir, "connections.parquet"), columns=["file", "index", "start"])
        for f, i, d in zip(conns["file"].to_pylist(), conns["index"].to_pylist(), to_date(pa, pc, conns["start"]).to_pylist()):
            dates[(f, i)] = d
        for table, date_col in TABLES.items():
            pf = pq.ParquetFile(os.path.join(out_dir, table + ".parquet"))
            emitted = False
            for batch in pf.iter_batches(batch_size=16384):
                if table in DATED:
                    if date_col is not None:
                        d = to_date(pa, pc, batch.column(batch.schema.get_field_index(date_col)))
                    else:
                        keys = zip(batch.column(batch.schema.get_field_index("file")).to_pylist(), batch.column(batch.schema.get_field_index("index")).to_pylist())
                        d = pa.array([dates.get(k) for k in keys], pa.date32())
                    batch = pa.RecordBatch.from_arrays(list(batch.columns) + [d], schema=batch.schema.append(pa.field("date", pa.date32())))
                batch = rewrite_paths(pa, pc, batch, places)
                if table == "errors":
                    # The directory made for the run is no input of the user's: tlscap's
                    # "no capture files in this directory" about it is not reported.
                    batch = batch.filter(pc.invert(pc.is_in(batch.column(batch.schema.get_field_index("file")), pa.array(own_dirs))))
                if table == "skipped" and quiet:
                    batch = batch.filter(pc.invert(pc.is_in(batch.column(batch.schema.get_field_index("file")), pa.array(quiet_names))))
                if batch.num_rows == 0 and emitted:
                    continue
                yield table, ipc(pa, batch)
                emitted = True
            if not emitted:
                # An empty table still carries its schema.
                schema = pf.schema_arrow
                if table in DATED:
                    schema = schema.append(pa.field("date", pa.date32()))
                yield table, ipc(pa, pa.RecordBatch.from_pylist([], schema=schema))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def unit_mapper(settings):
    """The mapInArrow function: work units in, (table, ipc, key) envelopes out; `key` names
    the run (its group's first path)."""

    def mapper(batches):
        import pyarrow as pa

        work_root = os.environ.get("SPARK_LOCAL_DIRS", tempfile.gettempdir()).split(",")[0]
        os.makedirs(work_root, exist_ok=True)
        hadoop = HadoopJvm(work_root)
        try:
            for batch in batches:
                for paths in batch.column(0).to_pylist():
                    tables, payloads, keys = [], [], []
                    for group in paths:
                        for table, payload in run_unit(group["paths"], group["quiet"], settings, work_root, hadoop):
                            tables.append(table)
                            payloads.append(payload)
                            keys.append(group["paths"][0])
                    yield pa.RecordBatch.from_pydict({"table": tables, "ipc": payloads, "key": keys}, schema=pa.schema([("table", pa.string()), ("ipc", pa.binary()), ("key", pa.string())]))
        finally:
            hadoop.close()

    return mapper


def table_decoder(target_schema):
    """The mapInArrow function of one table: envelopes in, its rows out."""

    def decode(batches):
        import pyarrow as pa

        for batch in batches:
            for payload in batch.column(batch.schema.get_field_index("ipc")).to_pylist():
                for b in pa.ipc.open_stream(payload):
                    if b.num_rows:
                        yield from pa.Table.from_batches([b]).select(target_schema.names).cast(target_schema).to_batches()

    return decode


def utc(pa, t):
    """`t` with its timestamps in the session's time zone (UTC), as Spark hands Arrow data over."""
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(utc(pa, t.field(i).type)) for i in range(t.num_fields)])
    if pa.types.is_map(t):
        return pa.map_(t.key_field, t.item_field.with_type(utc(pa, t.item_type)))
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(utc(pa, t.value_type)))
    return t


# ---------------------------------------------------------------------------------------------
# Driver: the job


CROSS_SQL = """
WITH requested AS (
  SELECT server, file, min(index) AS index, min_by(sni, index) AS sni
  FROM connections WHERE cert_requested GROUP BY server, file
),
candidates AS (
  SELECT c.file, c.index, c.server, c.sni, c.outcome, c.date,
         r.file AS requested_file, r.index AS requested_index, r.sni AS requested_sni,
         row_number() OVER (PARTITION BY c.file, c.index ORDER BY r.file, r.index) AS n
  FROM connections c JOIN requested r ON c.server = r.server AND c.file <> r.file
  WHERE c.cert_requested = false
)
SELECT
  CASE WHEN sni IS NULL AND requested_sni IS NOT NULL THEN 'sni-gated-client-auth'
       ELSE 'client-cert-not-requested' END AS id,
  CASE WHEN outcome = 'failed' THEN 'error' ELSE 'warning' END AS severity,
  file, index, server, sni, requested_file, requested_index, requested_sni,
  concat(server, ' completed the handshake without asking for a client certificate, although ',
         'the same server asked for one on connection #', requested_index, ' in ', requested_file,
         CASE WHEN requested_sni IS NOT NULL THEN concat(' (SNI ', requested_sni, ')') ELSE '' END,
         CASE WHEN sni IS NULL AND requested_sni IS NOT NULL
              THEN ': it asks only when the ClientHello carries SNI, and this one had none.' ELSE '.' END)
    AS message,
  date
FROM candidates WHERE n = 1
"""

# Pairs of files that may hold two pieces of one TCP connection, as tlscap alone would join
# them (`split-across-files`, src/findings/edges.rs): the same two ends, a piece still open at
# its file's end, then one picked up mid-stream in a file that starts after the first ended,
# at most MAX_SPLIT_GAP_S later. A superset (no check of why a piece stopped): the second
# pass runs tlscap itself on them, which decides. Times are compared with a millisecond of
# slack since `start + duration_s` is a float.
SPLIT_CANDIDATES_SQL = """
WITH open_end AS (
  SELECT file, least(client, server) AS lo, greatest(client, server) AS hi,
         unix_micros(start) + CAST(duration_s * 1e6 AS BIGINT) AS end_us
  FROM split_connections WHERE tcp IS NOT NULL AND tcp.`close` IS NULL
),
midstream AS (
  SELECT file, least(client, server) AS lo, greatest(client, server) AS hi,
         unix_micros(start) AS start_us
  FROM split_connections WHERE tcp IS NOT NULL AND tcp.midstream
)
SELECT DISTINCT a.file AS before, b.file AS after
FROM open_end a
JOIN midstream b ON a.lo = b.lo AND a.hi = b.hi AND a.file <> b.file
JOIN split_files fa ON fa.file = a.file
JOIN split_files fb ON fb.file = b.file
WHERE a.end_us <= b.start_us + 1000
  AND b.start_us - a.end_us <= {gap} * 1000000 + 1000
  AND fa.last <= fb.first
""".format(gap=MAX_SPLIT_GAP_S)

SERVER_TOTALS_SQL = """
SELECT server, first(server_ip) AS server_ip, first(server_port) AS server_port, sni,
       count(*) AS connections,
       count_if(outcome = 'failed') AS failed,
       count_if(outcome = 'ok') AS ok,
       count(DISTINCT file) AS captures,
       min(start) AS first_seen, max(start) AS last_seen,
       array_sort(collect_set(cause)) AS causes
FROM connections GROUP BY server, sni
"""


def decoded(envelope, table):
    """The rows of `table` in the envelopes, as a DataFrame (None: no run wrote it)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    rows = envelope.filter(envelope.table == table)
    first = rows.select("ipc").limit(1).collect()
    if not first:
        return None
    arrow_schema = pa.ipc.open_stream(first[0][0]).schema
    target = pa.schema([f.with_type(utc(pa, f.type)) for f in arrow_schema])
    return rows.mapInArrow(table_decoder(target), from_arrow_schema(target))


def split_components(spark, envelope, groups):
    """The groups whose captures continue each other (a TCP connection cut at one file's end
    goes on at the next one's start), as lists of 2 or more groups: each must be read by one
    tlscap run for it to join the pieces as it does alone."""
    conns, files = decoded(envelope, "connections"), decoded(envelope, "files")
    if conns is None or files is None:
        return []
    conns.select("file", "client", "server", "start", "duration_s", "tcp").createOrReplaceTempView("split_connections")
    files.select("file", "first", "last").createOrReplaceTempView("split_files")
    pairs = spark.sql(SPLIT_CANDIDATES_SQL).collect()
    if not pairs:
        return []
    # Records name a capture by its local path or its URL less any login.
    group_of = {}
    for i, g in enumerate(groups):
        for p in g["paths"]:
            group_of.setdefault(shown_dir(p.rsplit("/", 1)[0]) + "/" + p.rsplit("/", 1)[1], i)
    parent = list(range(len(groups)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for before, after in pairs:
        a, b = group_of.get(before), group_of.get(after)
        if a is not None and b is not None:
            parent[root(a)] = root(b)
    members = {}
    for i in range(len(groups)):
        members.setdefault(root(i), []).append(groups[i])
    return sorted((m for m in members.values() if len(m) > 1), key=lambda m: m[0]["paths"][0])


def merged(component):
    """One group reading all of a component's files and key logs; a key log stays quiet
    (another run reports it) only if no group of the component owns it."""
    paths = list(dict.fromkeys(p for g in component for p in g["paths"]))
    owned = {p for g in component for p in g["paths"] if p not in g["quiet"]}
    quiet = list(dict.fromkeys(q for g in component for q in g["quiet"] if q not in owned))
    return {"paths": paths, "quiet": quiet}


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from pyspark.sql import SparkSession
    from pyspark.sql.types import ArrayType, BinaryType, StringType, StructField, StructType
    from pyspark import StorageLevel

    spark = (
        SparkSession.builder.appName("tlscap")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .getOrCreate()
    )
    sc = spark.sparkContext
    sc.setLogLevel(os.environ.get("TLSCAP_SPARK_LOG_LEVEL", "WARN"))
    try:
        files = list_captures(spark, args.inputs)
    except Exception as e:  # noqa: BLE001 - a Java exception through py4j
        java = getattr(e, "java_exception", None)
        why = java.toString() if java is not None else str(e)
        print(f"tlscap_spark: cannot list the inputs: {scrub(why, secrets_of(args.inputs))}", file=sys.stderr)
        spark.stop()
        return 2
    if not files:
        print("tlscap_spark: no input files", file=sys.stderr)
        return 2
    max_tasks = args.max_tasks or 20000
    units = work_units(files, args.continuous, max_tasks)
    # Relative names in tlscap's options stay as given (tlscap quotes them in its findings):
    # tasks run in the driver's directory in local mode, or find them among --files.
    tlscap_args = list(args.tlscap_args)
    tlscap = args.tlscap
    if os.path.sep in tlscap and os.path.isfile(tlscap):
        tlscap = os.path.abspath(tlscap)
    settings = {
        "tlscap": tlscap,
        "tlscap_args": tlscap_args,
        "continuous": args.continuous,
        "threads": int(sc.getConf().get("spark.task.cpus", "1")),
        "auto_keylog": True,
        # The job's Hadoop settings (`--conf spark.hadoop.KEY=VALUE`), for the executors' copies.
        "hadoop_conf": {k[len("spark.hadoop.") :]: v for k, v in sc.getConf().getAll() if k.startswith("spark.hadoop.")},
    }
    # One partition per unit, largest first: Spark hands tasks out in partition order, so the
    # big captures start first and the small ones fill in around them.
    unit_rows = [(groups,) for groups, _ in units]
    rdd = sc.parallelize(list(enumerate(unit_rows)), len(unit_rows)).partitionBy(len(unit_rows), lambda k: k).values()
    group = StructType([StructField("paths", ArrayType(StringType())), StructField("quiet", ArrayType(StringType()))])
    units_df = spark.createDataFrame(rdd, StructType([StructField("groups", ArrayType(group))]))
    envelope_schema = StructType([StructField("table", StringType()), StructField("ipc", BinaryType()), StructField("key", StringType())])
    envelope = units_df.mapInArrow(unit_mapper(settings), envelope_schema).persist(StorageLevel.MEMORY_AND_DISK)
    # Second pass: captures that continue each other (split across files) read together by
    # one run each, whose rows replace those of their runs one by one. A ring set read with
    # --continuous is one run already.
    replaced = []
    components = [] if args.continuous else split_components(spark, envelope, [g for groups, _ in units for g in groups])
    if components:
        joined = [([merged(c)],) for c in components]
        rdd2 = sc.parallelize(list(enumerate(joined)), len(joined)).partitionBy(len(joined), lambda k: k).values()
        second = spark.createDataFrame(rdd2, StructType([StructField("groups", ArrayType(group))]))
        replaced = [g["paths"][0] for c in components for g in c]
        envelope2 = second.mapInArrow(unit_mapper(settings), envelope_schema).persist(StorageLevel.MEMORY_AND_DISK)
        envelopes = envelope.filter(~envelope.key.isin(replaced)).unionByName(envelope2)
        print(f"tlscap_spark: {len(replaced)} captures split across files, read again in {len(components)} runs", file=sys.stderr)
    else:
        envelope2 = None
        envelopes = envelope

    out = args.output.rstrip("/")
    written = {}
    # Decoding is cheap next to tlscap's runs: a few tasks over the cached envelopes rather
    # than one per work unit.
    cached = envelopes.coalesce(max(1, min(len(unit_rows), sc.defaultParallelism)))
    for table in TABLES:
        df = decoded(cached, table)
        if df is None:
            continue
        writer = df.write.mode(args.mode)
        if table in DATED:
            writer = writer.partitionBy("date")
        writer.parquet(f"{out}/{table}")
        written[table] = spark.read.parquet(f"{out}/{table}")
    if not args.no_cross and "connections" in written:
        written["connections"].createOrReplaceTempView("connections")
        spark.sql(CROSS_SQL).write.mode(args.mode).partitionBy("date").parquet(f"{out}/cross_capture_findings")
        spark.sql(SERVER_TOTALS_SQL).write.mode(args.mode).parquet(f"{out}/server_totals")
    envelope.unpersist()
    if envelope2 is not None:
        envelope2.unpersist()
    counts = {t: df.count() for t, df in written.items()}
    print("tlscap_spark: " + ", ".join(f"{t} {n}" for t, n in counts.items()) + f" -> {out}", file=sys.stderr)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
