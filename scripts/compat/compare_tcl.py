"""Compare the outputs of Redis's test suite run against redis-server and
against NodeNsync (scripts/compat/redis_tcl_suite.sh): per unit, the tests
that passed on each, and those that pass on Redis but not on NodeNsync
(failed, or never reached because the unit stopped at an exception).
    usage: python3 compare_tcl.py OUT_DIR"""
import os
import re
import sys

_LINE = re.compile(r"^\[(ok|err|exception|skip|ignore)\]: (.*?)(?: \(\d+ ms\))?$")


def results(path):
    """{test name: status} and the exception text, if the unit stopped."""
    out, stopped = {}, None
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        m = _LINE.match(line)
        if not m:
            continue
        status, name = m.groups()
        if status == "exception":
            stopped = lines[i + 1] if i + 1 < len(lines) else name
            continue
        name = re.sub(r" in tests/unit/\S+$", "", name)
        out.setdefault(name, status)
    return out, stopped


def main(out_dir):
    total_redis = total_node = 0
    for fname in sorted(os.listdir(out_dir)):
        if not fname.startswith("redis_"):
            continue
        unit = fname[len("redis_"):-len(".txt")]
        node_path = os.path.join(out_dir, "node_" + unit + ".txt")
        if not os.path.exists(node_path):
            continue
        ref, _ = results(os.path.join(out_dir, fname))
        ours, stopped = results(node_path)
        passed_ref = {n for n, s in ref.items() if s == "ok"}
        passed_ours = {n for n, s in ours.items() if s == "ok"}
        total_redis += len(passed_ref)
        total_node += len(passed_ref & passed_ours)
        missing = sorted(passed_ref - passed_ours)
        print("%-28s redis %4d   nodensync %4d of them%s" % (
            unit, len(passed_ref), len(passed_ref & passed_ours),
            "   (stopped: %s)" % stopped.strip()[:100] if stopped else ""))
        for name in missing:
            print("    - %s%s" % (name, "" if name in ours else "   (not reached)"))
    print("total: redis-server passed %d, NodeNsync passed %d of those" % (total_redis, total_node))


if __name__ == "__main__":
    main(sys.argv[1])
