#!/usr/bin/env bash
# The Spark job's test (tests/spark/check.py) in local mode: installs a Java runtime and
# PySpark (with pyarrow and pandas) when missing, then runs the job over samples/, a slice of
# ../shared/corpus and a corrupt capture, once plainly and once with a task killed, then over
# samples/ read from an FTP server on loopback (pyftpdlib, installed when missing) through
# Hadoop's FTPFileSystem.
# TLSCAP=path overrides the binary (default: the debug build, built if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null
  else
    echo "SKIP spark: no Java runtime and not root to install one" >&2
    exit 0
  fi
fi
if ! python3 -c "import pyspark, pyarrow, pandas" 2>/dev/null; then
  # pandas 3 is not supported by PySpark 4.x yet (it warns, and mapInArrow needs pandas).
  python3 -m pip install -q pyspark pyarrow "pandas<3" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages pyspark pyarrow "pandas<3"
fi
if ! python3 -c "import pyftpdlib" 2>/dev/null; then
  python3 -m pip install -q pyftpdlib 2>/dev/null \
    || python3 -m pip install -q --break-system-packages pyftpdlib
fi
TLSCAP=${TLSCAP:-target/debug/tlscap}
if [ ! -x "$TLSCAP" ]; then
  cargo build -q
fi
exec python3 tests/spark/check.py "$TLSCAP"
