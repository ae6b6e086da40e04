"""oom-score-adj: the Linux OOM killer's preference for this process, as
Redis 7.0 sets it (server.c setOOMScoreAdj).

With ``oom-score-adj`` on, /proc/self/oom_score_adj is written with the
value of the process's class from ``oom-score-adj-values`` (master,
replica, background child: the RDB / AOF rewrite fork), added to the score
the process had when it was first turned on (``relative``, also ``yes``)
or as it is (``absolute``), clamped to -1000..1000.  Turning it off puts
that first score back; while off the file is never touched.  Linux only:
elsewhere (no /proc/self/oom_score_adj) turning it on fails as in Redis.
"""
import logging

from .. import config as cfg

log = logging.getLogger("nodensync")

PROC_FILE = "/proc/self/oom_score_adj"
MASTER, REPLICA, BGCHILD = 0, 1, 2
_MODES = {"no": "no", "yes": "relative", "relative": "relative", "absolute": "absolute"}


def parse_values(text):
    """Three integers (master, replica, background child), each within
    -2000..2000 (Redis's setConfigOOMScoreAdjValuesOption)."""
    parts = text.split()
    if len(parts) != 3:
        raise ValueError("wrong number of arguments")
    values = []
    for p in parts:
        try:
            v = int(p, 10)
        except ValueError:
            v = None
        if v is None or not -2000 <= v <= 2000 or p.strip() != p or p.startswith("+"):
            raise ValueError("Invalid oom-score-adj-values, elements must be between "
                             "-2000 and 2000.")
        values.append(v)
    if values[REPLICA] < values[MASTER] or values[BGCHILD] < values[REPLICA]:
        log.warning("The oom-score-adj-values configuration may not work for non-privileged "
                    "processes! Please consult the documentation.")
    return tuple(values)


cfg.declare("oomScoreAdj", "enum", "no", "Set the Linux OOM killer's score of the process "
            "(/proc/self/oom_score_adj) from oom-score-adj-values: 'relative' (or 'yes') "
            "adds the value to the score the process had, 'absolute' writes it as is, "
            "'no' leaves the score alone (and restores it when turned off).",
            redis="oom-score-adj", mutable=True, choices=["no", "yes", "relative", "absolute"],
            group="limits")
cfg.declare("oomScoreAdjValues", "str", (0, 200, 800), "oom_score_adj values for the master, "
            "a replica and a background child (RDB save, AOF rewrite), each -2000..2000.",
            redis="oom-score-adj-values", mutable=True, parser=parse_values,
            formatter=lambda v: " ".join(str(x) for x in v), group="limits")


class OOMScore:
    def __init__(self, node):
        self.node = node
        self.adjusted = False     # the file was written by us since it was turned on
        self.base = 0             # the score before that

    def process_class(self):
        return REPLICA if getattr(self.node, "is_replica_node", False) else MASTER

    def apply(self, process_class=None):
        """Write the score for ``process_class`` (None: this process's role);
        raises OSError when the file cannot be read or written."""
        conf = self.node.config
        mode = _MODES[conf["oomScoreAdj"]]
        if process_class is None:
            process_class = self.process_class()
        if mode != "no":
            if not self.adjusted:
                with open(PROC_FILE) as f:
                    base = int(f.read().strip() or 0)
                self.adjusted, self.base = True, base
            val = conf["oomScoreAdjValues"][process_class]
            if mode == "relative":
                val += self.base
            val = max(-1000, min(1000, val))
        elif self.adjusted:
            self.adjusted = False
            val = self.base
        else:
            return
        with open(PROC_FILE, "w") as f:
            f.write("%d\n" % val)

    def on_change(self, _value):
        try:
            self.apply()
        except OSError as e:
            log.warning("Unable to write oom_score_adj: %s", e)
            raise ValueError("Failed to set current oom_score_adj. Check server logs.") from None

    def on_role(self):
        try:
            self.apply()
        except OSError as e:
            log.warning("Unable to write oom_score_adj: %s", e)

    def in_child(self):
        try:
            self.apply(BGCHILD)
        except OSError:
            pass


def attach(node):
    state = OOMScore(node)
    node.oom_score = state
    node.config.on_change("oomScoreAdj", state.on_change)
    node.config.on_change("oomScoreAdjValues", state.on_change)
    node.role_hooks.append(state.on_role)
    node.child_hooks.append(state.in_child)
    if node.config["oomScoreAdj"] != "no":
        try:
            state.apply()
        except OSError as e:
            log.warning("Unable to write oom_score_adj: %s", e)
