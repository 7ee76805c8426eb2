"""Compares tlscap's JSON lines with Parquet tables row for row, order-insensitively.

Used by tests/parquet.rs (the `--format parquet` directory) and tests/spark/run.sh (the Spark
job's dataset). A JSON row and a Parquet row are equal when every JSON field is a column with
the same value (an absent JSON field equals null); timestamps are compared as instants, maps as
sorted pairs. Parquet-only columns are the split addresses (`client_ip`, `client_port`, ...),
checked against the `ip:port` text, and any partition columns named with --extra.

    python3 rows.py JSON_DIR PARQUET_DIR [--extra COL]...

JSON_DIR holds TABLE.jsonl per table (e.g. connections.jsonl from `--view connections`);
PARQUET_DIR holds TABLE.parquet files or TABLE/ datasets. Exit status 1 on any difference.
"""

import collections
import datetime
import ipaddress
import json
import os
import sys

import pyarrow as pa
import pyarrow.dataset as ds

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
MICRO = datetime.timedelta(microseconds=1)


class Mismatch(Exception):
    pass


def micros(dt):
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return (dt - EPOCH) // MICRO


def from_json(v, t, where):
    """A JSON value in the canonical form of Arrow type t."""
    if v is None:
        return None
    if pa.types.is_timestamp(t):
        # tlscap writes "" (unreadable certificate) or "@SECONDS" where no RFC 3339 time
        # exists; the Parquet column holds null.
        if v == "" or v.startswith("@"):
            return None
        return micros(datetime.datetime.fromisoformat(v))
    if pa.types.is_map(t):
        return sorted([k, from_json(x, t.item_type, where)] for k, x in v.items())
    if pa.types.is_struct(t):
        names = {t.field(i).name for i in range(t.num_fields)}
        missing = sorted(set(v) - names)
        if missing:
            raise Mismatch(f"{where}: JSON fields with no Parquet column: {missing}")
        return {
            t.field(i).name: from_json(v.get(t.field(i).name), t.field(i).type, where + "." + t.field(i).name)
            for i in range(t.num_fields)
        }
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [from_json(x, t.value_type, where) for x in v]
    if pa.types.is_floating(t):
        return float(v)
    return v


def from_arrow(v, t):
    """A value read by pyarrow in the same canonical form."""
    if v is None:
        return None
    if pa.types.is_timestamp(t):
        return micros(v)
    if pa.types.is_map(t):
        return sorted([k, from_arrow(x, t.item_type)] for k, x in v)
    if pa.types.is_struct(t):
        return {t.field(i).name: from_arrow(v[t.field(i).name], t.field(i).type) for i in range(t.num_fields)}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [from_arrow(x, t.value_type) for x in v]
    if pa.types.is_dictionary(t):
        return v
    return v


def split(addr):
    """`ip:port` / `[v6]:port` as (ip, port)."""
    host, _, port = addr.rpartition(":")
    return str(ipaddress.ip_address(host.strip("[]"))), int(port)


def read_table(path):
    if os.path.isdir(path):
        return ds.dataset(path, format="parquet", partitioning="hive").to_table()
    return ds.dataset(path, format="parquet").to_table()


def compare_table(name, json_path, parquet_path, extra=()):
    """Number of equal rows; raises Mismatch on any difference."""
    table = read_table(parquet_path)
    schema = table.schema
    addr_cols = [c[:-3] for c in schema.names if c.endswith("_ip") and c[:-3] + "_port" in schema.names]
    derived = {c + s for c in addr_cols for s in ("_ip", "_port")} | set(extra)
    fields = [f for f in schema if f.name not in derived]
    row_type = pa.struct(fields)
    got = collections.Counter()
    for row in table.to_pylist():
        for c in addr_cols:
            want = split(row[c]) if row[c] is not None else (None, None)
            if (row[c + "_ip"], row[c + "_port"]) != want:
                raise Mismatch(f"{name}: {c}_ip/{c}_port {row[c + '_ip']}/{row[c + '_port']} for {row[c]}")
        got[json.dumps(from_arrow({f.name: row[f.name] for f in fields}, row_type), sort_keys=True)] += 1
    want = collections.Counter()
    with open(json_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            want[json.dumps(from_json(json.loads(line), row_type, f"{json_path}:{n}"), sort_keys=True)] += 1
    if got != want:
        only_json = list((want - got).elements())[:2]
        only_pq = list((got - want).elements())[:2]
        raise Mismatch(
            f"{name}: {sum(want.values())} JSON rows, {sum(got.values())} Parquet rows; "
            f"only in JSON: {only_json}; only in Parquet: {only_pq}"
        )
    return sum(got.values())


def main(argv):
    extra = [argv[i + 1] for i, a in enumerate(argv) if a == "--extra"]
    args = [a for i, a in enumerate(argv) if a != "--extra" and (i == 0 or argv[i - 1] != "--extra")]
    json_dir, parquet_dir = args
    ok = True
    for entry in sorted(os.listdir(json_dir)):
        if not entry.endswith(".jsonl"):
            continue
        name = entry[: -len(".jsonl")]
        pq_path = os.path.join(parquet_dir, name)
        if not os.path.exists(pq_path):
            pq_path += ".parquet"
        try:
            n = compare_table(name, os.path.join(json_dir, entry), pq_path, extra)
            print(f"{name}: {n} rows equal")
        except (Mismatch, OSError, ValueError) as e:
            print(f"MISMATCH {e}")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
