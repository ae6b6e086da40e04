"""proc-title-template: the process title ps, top and /proc/PID/cmdline
show, as Redis 7.0 sets it (server.c redisSetProcTitle).

The template's variables: ``{title}`` (the name the server was started as,
or the background child's name: ``nodensync-rdb-bgsave`` for a snapshot,
also one for replicas, ``nodensync-aof-rewrite``), ``{listen-addr}``
(the first bind address or ``*``, and the port; ``unixsocket:PATH`` with no
TCP port), ``{server-mode}`` (``[cluster]`` or nothing), ``{config-file}``
(``-`` without one), ``{port}``, ``{tls-port}``, ``{unixsocket}``; ``{{`` is
a literal ``{``.  The result is trimmed of spaces.  A template with an
unknown variable, an unclosed ``{`` or an empty result is refused.  The
title is set at start and on every CONFIG SET of the template, with the
setproctitle package (the technique Redis's own setproctitle.c uses:
the argv area is rewritten, so the title may not exceed the command line
and environment the process started with).
"""
import logging
import os
import sys

from .. import config as cfg

log = logging.getLogger("nodensync")

try:
    import setproctitle as _spt
except ImportError:            # (requirements.txt names it; a bare install still runs)
    _spt = None

DEFAULT = "{title} {listen-addr} {server-mode}"
CHILD_TITLES = {"rdb": "nodensync-rdb-bgsave", "aof": "nodensync-aof-rewrite"}


def expand(template, variables):
    """Redis's sdstemplate: ``template`` with each ``{name}`` replaced by
    ``variables(name)`` (None: unknown); None when the template is bad."""
    out = []
    i, n = 0, len(template)
    while i < n:
        start = template.find("{", i)
        if start < 0:
            out.append(template[i:])
            break
        out.append(template[i:start])
        if start + 1 >= n:
            return None                       # '{' at the end
        if template[start + 1] == "{":
            out.append("{")
            i = start + 2
            continue
        end = template.find("}", start + 1)
        if end < 0:
            return None
        value = variables(template[start + 1:end])
        if value is None:
            return None
        out.append(value)
        i = end + 1
    return "".join(out).strip(" ")


# What the check of a template expands each variable to: as Redis checks
# it, with an empty title; the others as they always are (never empty) or
# may be (empty).
_CHECK = {"title": "", "listen-addr": "*:0", "server-mode": "", "config-file": "-", "port": "0",
          "tls-port": "0", "unixsocket": ""}


def _validate(template):
    result = expand(template, _CHECK.get)
    if not result:
        raise ValueError("template format is invalid or contains unknown variables")


cfg.declare("procTitleTemplate", "str", DEFAULT, "The process title ps and top show: "
            "{title} (the program, or the background child's name), {listen-addr}, "
            "{server-mode}, {config-file}, {port}, {tls-port}, {unixsocket}; '{{' is a "
            "literal '{'.", redis="proc-title-template", mutable=True, validate=_validate,
            group="general")


def program_name():
    """The name the server was started as: the console script's path, or
    ``nodensync`` for ``python -m nodensync``."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if not argv0 or os.path.basename(argv0) in ("__main__.py", "-m", "-c"):
        return "nodensync"
    return argv0


class ProcTitle:
    def __init__(self, node):
        self.node = node
        self.started = False      # set once the listeners are bound (as Redis)

    def variables(self, title):
        node = self.node
        conf = node.config

        def get(name):
            if name == "title":
                return title
            port = getattr(node, "tcp_port", None)
            if port is None:
                port = conf["listenAddr"][1]
            tls_port = conf["tlsPort"]
            if name == "listen-addr":
                if port or tls_port:
                    bind = conf["bind"]
                    return "%s:%d" % (bind[0] if bind else "*", port or tls_port)
                return "unixsocket:%s" % conf["unixsocket"]
            if name == "server-mode":
                return "[cluster]" if getattr(node, "cluster", None) is not None else ""
            if name == "config-file":
                return conf.path or "-"
            if name == "port":
                return "%d" % port
            if name == "tls-port":
                return "%d" % tls_port
            if name == "unixsocket":
                return conf["unixsocket"]
            return None
        return get

    def apply(self, title=None):
        if _spt is None:
            return
        text = expand(self.node.config["procTitleTemplate"],
                      self.variables(title or program_name()))
        if text:
            _spt.setproctitle(text)

    def on_change(self, _value):
        if self.started:
            self.apply()

    def on_start(self):
        self.started = True
        self.apply()

    def in_child(self, kind):
        self.apply(CHILD_TITLES.get(kind, "nodensync-child"))


def attach(node):
    state = ProcTitle(node)
    node.proc_title = state
    node.config.on_change("procTitleTemplate", state.on_change)
    node.start_hooks.append(state.on_start)
