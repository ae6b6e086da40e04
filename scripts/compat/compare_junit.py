"""compare_junit.py ref.xml node.xml: of the tests that pass on redis-server, those that do not
pass on NodeNsync, with the first line of their failure (from pytest --junitxml files)."""
import sys
import xml.etree.ElementTree as ET


def load(path):
    out = {}
    for tc in ET.parse(path).iter("testcase"):
        name = tc.get("classname", "") + "::" + tc.get("name")
        status, msg = "passed", ""
        for child in tc:
            if child.tag in ("failure", "error", "skipped"):
                status = child.tag
                msg = (child.get("message") or "").splitlines()[0][:160] if child.get("message") else ""
                break
        out[name] = (status, msg)
    return out


ref, node = load(sys.argv[1]), load(sys.argv[2])
rp = {k for k, v in ref.items() if v[0] == "passed"}
np_ = {k for k, v in node.items() if v[0] == "passed"}
print(f"ran(ref)={len(ref)} passed_ref={len(rp)} passed_node={len(np_)} passed_both={len(rp & np_)}")
for k in sorted(rp - np_):
    print(node.get(k, ("missing", ""))[0], k, "|", node.get(k, ("", ""))[1])
extra = np_ - rp
if extra:
    print("passing on node only:", len(extra))
    for k in sorted(extra):
        print("  ", k, ref.get(k))
