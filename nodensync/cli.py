"""Entry point: ``nodensync`` / ``python -m nodensync``.

gevent's monkey patching runs first, before anything else is imported.
"""
from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

log = logging.getLogger("nodensync")

from . import crashlog  # noqa: E402  (declares crash-log-enabled)

_LOGO = """
        NodeNsync %(version)s (Redis %(redis)s compatible) %(bits)s bit

        Running in %(mode)s mode
        Port: %(port)d
        PID: %(pid)d

"""

_LEVELS = {"debug": logging.DEBUG, "verbose": logging.INFO, "notice": logging.INFO,
           "warning": logging.WARNING}
_MARKS = {logging.DEBUG: ".", logging.INFO: "*", logging.WARNING: "#", logging.ERROR: "#",
          logging.CRITICAL: "#"}


class RedisStyleFormatter(logging.Formatter):
    """``pid:M 26 Nov 2026 13:13:37.123 * message``, as Redis logs."""

    def format(self, record):
        t = time.localtime(record.created)
        stamp = time.strftime("%d %b %Y %H:%M:%S", t) + ".%03d" % record.msecs
        text = "%d:M %s %s %s" % (os.getpid(), stamp, _MARKS.get(record.levelno, "*"),
                                  record.getMessage())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup_logging(config):
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    path = config["logFile"]
    handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stderr)
    from .observability import make_formatter
    handler.setFormatter(make_formatter(config, RedisStyleFormatter()))
    root.addHandler(handler)
    root.setLevel(_LEVELS[config["logLevel"]])
    config.on_change("logLevel", lambda v: root.setLevel(_LEVELS[v]))


def reopen_logs():
    """SIGHUP: reopen the log file (logrotate moved it away)."""
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.FileHandler):
            h.acquire()
            try:
                if h.stream is not None:
                    h.stream.close()
                h.stream = h._open()
            finally:
                h.release()


def show_logo(node, port):
    """Redis's redisAsciiArt, once the listener is bound (before loading):
    the banner with the PID and port when ``always-show-logo`` is on or the
    log is a terminal, else Redis's 'Running mode=..., port=...' line."""
    mode = "cluster" if node.cluster is not None else "standalone"
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and h.stream is not None]
    tty = any(getattr(h.stream, "isatty", lambda: False)() for h in handlers)
    plain = node.config.values.get("logFormat") != "json"
    if plain and handlers and (node.config["alwaysShowLogo"] or tty):
        text = _LOGO % {"version": node.version, "redis": node.redis_version,
                        "bits": 64 if sys.maxsize > 2 ** 32 else 32, "mode": mode,
                        "port": port, "pid": os.getpid()}
        for h in handlers:
            h.acquire()
            try:
                h.stream.write(text)
                h.stream.flush()
            finally:
                h.release()
    else:
        log.info("Running mode=%s, port=%d.", mode, port)


def reload(node):
    """SIGHUP: reopen the log file, then run the subsystems' reload hooks
    (ACL file, TLS certificates ...)."""
    reopen_logs()
    crashlog.install()          # (faulthandler writes to the reopened file)
    log.info("Received SIGHUP, log file reopened, reloading.")
    for hook in list(node.reload_hooks):
        try:
            hook()
        except Exception:
            log.exception("reload hook failed")


def build_node(config):
    """Create the node and load every command module and subsystem."""
    from .node import Node
    from . import commands  # noqa: F401  (registers every command)
    from . import subsystems
    node = Node(config)
    subsystems.attach(node)
    return node


def main(argv=None):
    from . import config as cfg
    from . import commands  # noqa: F401  so every subsystem's settings are declared
    from . import subsystems  # noqa: F401
    args = list(sys.argv[1:] if argv is None else argv)
    if "--gen-docs" in args:
        from .docs import write_docs
        write_docs(os.getcwd())
        return 0
    try:
        config = cfg.load(args)
    except cfg.ConfigError as e:
        sys.stderr.write("nodensync: %s\n" % e)
        return 1
    setup_logging(config)
    try:
        os.makedirs(config["dataDir"], exist_ok=True)
    except OSError as e:
        log.error("Cannot create the data directory %s: %s", config["dataDir"], e)
        return 1
    node = build_node(config)
    crashlog.install(node)
    from .server.listener import Listener
    host, port = config["listenAddr"]
    try:
        listener = Listener(node, (host, port), hosts=config["bind"],
                            ssl_context=getattr(node, "main_ssl_context", None))
        listener.start()
    except OSError as e:
        log.error("Warning: Could not create server TCP listening socket %s:%d: %s",
                  " ".join(config["bind"]) or host, port, e.strerror or e)
        log.error("Failed listening on port %d (TCP), aborting.", port)   # (Redis's lines)
        return 1
    node.listener = listener
    node.tcp_port = listener.server_port
    if not port and not config["unixsocket"] and not config.values.get("tlsPort"):
        log.error("Configured to not listen anywhere, exiting.")     # (Redis's line)
        listener.close()
        return 1
    if config["unixsocket"]:
        from .server.listener import UnixListener
        try:
            node.unix_listener = UnixListener(node, config["unixsocket"], config["unixsocketperm"])
            node.unix_listener.start()
        except OSError as e:
            log.error("Failed opening Unix socket: %s", e.strerror or e)     # (Redis's line)
            listener.close()
            return 1
    show_logo(node, listener.server_port)
    stopped = Event()
    exit_code = [0]
    from .shutdown import Shutdown, NOSAVE, SAVE
    ctl = node.shutdown_ctl = Shutdown(node, stopped, exit_code)
    ctl.install()          # SIGTERM, SIGINT: Redis's sequence (see shutdown.py), also while loading
    for hook in node.start_hooks:
        hook()
    # What exists now (modules, command table, settings, the loaded data)
    # lives as long as the process: frozen out of the cyclic collector's
    # view, a full collection visits only what was created since (about
    # 20 ms -> under 1 ms here; see storage/acyclic.py for the keyspace).
    gc.collect()
    gc.freeze()
    log.info("NodeNsync %s (Redis %s compatible) listening on %s:%d, pid %d",
             node.version, node.redis_version, host, listener.server_port, os.getpid())
    log.info("Ready to accept connections")     # (Redis's own line: what log watchers wait for)
    if node.unix_listener is not None:
        log.info("The server is now ready to accept connections at %s", config["unixsocket"])
    gevent.signal_handler(signal.SIGHUP, lambda: gevent.spawn(reload, node))
    node.request_shutdown = lambda save: gevent.spawn(
        ctl.prepare, NOSAVE if save is False else SAVE if save else 0)
    stopped.wait()
    logging.shutdown()
    return exit_code[0]


if __name__ == "__main__":
    sys.exit(main())
