"""scripts/benchmark.py reads redis-benchmark's own report (throughput, p99,
p99.9): checked on a real run of redis-benchmark against NodeNsync."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
import benchmark  # noqa: E402


def test_report_of_a_real_run(node_server):
    bench = shutil.which("redis-benchmark")
    if bench is None:
        pytest.skip("redis-benchmark not installed")
    out = subprocess.run([bench, "-h", "127.0.0.1", "-p", str(node_server.port), "-n", "3000",
                          "-c", "5", "-r", "1000", "-t", "set,lpush,lrange_100,mset"],
                         capture_output=True, text=True, timeout=120).stdout
    res = benchmark.parse_report(out)
    # The LPUSH that fills the list for LRANGE is not taken for the LPUSH test
    # (it comes after it in the report).
    assert sorted(res) == ["lpush", "lrange_100", "mset", "set"]
    for name, (rps, p99, p999) in res.items():
        assert rps > 0, name
        assert 0 < p99 <= p999, name
    # Each figure is the one of its own section.
    sections = out.replace("\r", "\n").split("====== ")
    lpush = next(s for s in sections if s.startswith("LPUSH ======"))
    assert "throughput summary: %.2f requests" % res["lpush"][0] in lpush
