#!/usr/bin/env python3
"""Start NodeNsync the way Redis's test framework starts `src/redis-server`.

Redis's tests/support/server.tcl runs ``src/redis-server CONFIG_FILE [--name
value ...]`` with stdout and stderr sent to files, waits for " PID: <pid>"
(a line of Redis's ASCII logo) and then for "Ready to accept" in stdout,
pings the port from the config, and at the end sends SIGTERM to that PID.
Installed as `src/redis-server` of a copy of Redis's source tree
(scripts/compat/redis_tcl_spawned.sh), this script reads that config file
and the extra arguments, turns every directive NodeNsync knows (by its Redis
name: dir, appendonly, save, maxmemory, port, bind ...) into NodeNsync's
setting (no `bind`: Redis's default `* -::*`), prints the PID line and then *execs* NodeNsync
in place of itself, so the PID the framework holds is the server's.
Directives NodeNsync has no setting for are reported on stderr and left out
(the tests that depend on them then fail, which is what the comparison
shows).  Logs go to stdout unless the config names a log file, as Redis.

    usage: redis_server_shim.py CONFIG_FILE [--directive arg ...]
    NODENSYNC_TREE: the NodeNsync tree to run (default: this script's tree)
"""
import os
import sys

ROOT = os.environ.get("NODENSYNC_TREE") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from nodensync import commands, config as cfg, crashlog, subsystems  # noqa: E402,F401 (declare every setting; not cli: it monkey-patches)
from nodensync.protocol.request import split_args  # noqa: E402


def directives(path, extra):
    """[name, arg...] per line of the config file (Redis's sdssplitargs
    quoting), then per ``--name arg ...`` group of the command line."""
    found = []
    if path and path != "-":
        with open(path, "rb") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith(b"#"):
                    args = split_args(line)
                    if args:
                        found.append([a.decode("utf-8", "surrogateescape") for a in args])
    # redis-server's grouping of the command line: `--name` starts an option
    # unless the option before it has no argument yet (then it is that
    # argument: `--replicaof --127.0.0.1 abc`); `"--name value"` in one
    # argument is split; a bare `--save` followed by an option (or last)
    # means `save ""`.
    handled = True
    for i, a in enumerate(extra):
        if handled and a.startswith("--"):
            words = [w.decode("utf-8", "surrogateescape")
                     for w in split_args(a[2:].encode("utf-8", "surrogateescape"))] or [""]
            found.append(words)
            handled = len(words) > 1
            if not handled and words[0].lower() == "save" and (
                    i == len(extra) - 1 or extra[i + 1].startswith("--")):
                words.append("")
                handled = True
        elif found:
            found[-1].append(a)
            handled = True
    return found


def arity_error(found):
    """redis-server's error for an option of the command line without an
    argument (save and bind may have none), a port with more than one, a
    replicaof without two, as its fatal config error names it; None if
    none.  (Only the command line is checked: the framework's config files
    are what they were before.)"""
    for d in found:
        name = d[0].lower()
        if (len(d) == 1 and name not in ("save", "bind")) or (name == "port" and len(d) != 2) or (
                name in ("replicaof", "slaveof") and len(d) != 3):
            shown = d[0] + "".join(' "%s"' % a for a in d[1:])
            return ("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                    ">>> '%s'\nwrong number of arguments\n" % shown)
    return None


# NodeNsync settings whose default is not Redis's behaviour: the shim runs
# Redis's suite, so it asks for Redis's.
REDIS_BEHAVIOUR = [("aclDisabledUserSessions", "keep")]


def translate(found):
    """NodeNsync's settings for the directives, as [(flag, value)], and
    the directives left out."""
    port, bind = "6379", "* -::*"
    argv, ignored, logfile, saves, users = [], [], "", None, []
    for d in found:
        name, args = d[0].lower(), d[1:]
        if name == "port" and args:
            port = args[0]
        elif name == "bind":
            bind = " ".join(args)
        elif name == "save":
            # Redis: the first save line replaces the built-in points, the
            # next ones add theirs, an empty one clears them.
            if not args or args == [""]:
                saves = []
            else:
                saves = (saves or []) + args
        elif name == "logfile":
            logfile = args[0] if args else ""
        elif name == "user" and args:
            # Redis's `user <name> <rules...>` lines: NodeNsync's aclUsers
            # (';'-separated entries), checked as Redis checks them at start.
            users.append(" ".join(args))
        else:
            s = cfg.find(name)
            if s is None:
                ignored.append(" ".join(d))
                continue
            argv.append((s.name, " ".join(args)))
    if saves is not None:
        argv.append(("save", " ".join(saves)))
    if users:
        argv.append(("aclUsers", "; ".join(users)))
    # Redis changes its working directory to `dir` while reading its config,
    # so a relative aclfile is relative to `dir`; NodeNsync does not chdir.
    data_dir = next((v for n, v in argv if n == "dataDir"), "")
    argv = [(n, os.path.join(data_dir, v) if n == "aclFile" and v and data_dir
             and not os.path.isabs(v) else v) for n, v in argv]
    argv += [("port", port), ("bind", bind), ("logFile", logfile or "/dev/stdout")]
    # Redis's behaviour where NodeNsync's default departs from it on purpose
    # (docs/security.md section 10), unless the config names the setting.
    for name, value in REDIS_BEHAVIOUR:
        if not any(n == name for n, _ in argv):
            argv.append((name, value))
    return argv, ignored


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    # As redis-server: the first argument is the config file unless it is
    # an option (`redis-server --port 7000 --user ...`).
    path, extra = ((None, sys.argv[1:]) if sys.argv[1].startswith("-")
                   else (sys.argv[1], sys.argv[2:]))
    found = directives(path, extra)
    err = arity_error(directives(None, extra))
    if err:
        sys.stderr.write(err)
        return 1
    settings, ignored = translate(found)
    for d in ignored:
        sys.stderr.write("redis_server_shim: no NodeNsync setting for '%s', left out\n" % d)
    # Written as NodeNsync's own conf file (next to the framework's), so
    # CONFIG REWRITE has a file to write back to, as Redis's tests expect.
    # A restart from the same framework config and arguments (restart_server)
    # starts from that file as it stands, with what CONFIG REWRITE saved in
    # it (replicaof, repl-backlog-size ...), as redis-server would.
    if path is None:
        # No config file (as redis-server, nothing for CONFIG REWRITE):
        # every setting as a flag.
        flags = ["--%s=%s" % (n, v) for n, v in settings]   # a value may start with '-'
        if not any(name == "alwaysShowLogo" and value == "yes" for name, value in settings):
            sys.stdout.write("                 PID: %d\n" % os.getpid())
            sys.stdout.flush()
        env = dict(os.environ, PYTHONPATH=ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "nodensync"] + flags, env)
    conf = path + ".nodensync.conf"
    source = repr((open(path, "rb").read() if os.path.isfile(path) else b"",
                   extra)).encode("utf-8", "surrogateescape")
    stamp = conf + ".source"
    try:
        with open(stamp, "rb") as f:
            same = f.read() == source and os.path.exists(conf)
    except OSError:
        same = False
    # A value with a line break cannot be a line of the conf file: a flag can.
    multiline = [(n, v) for n, v in settings if "\n" in v or "\r" in v]
    extra = [x for n, v in multiline for x in ("--" + n, v)]
    if not same:
        with open(conf, "w") as f:
            for name, value in settings:
                if (name, value) not in multiline:
                    f.write("%s = %s\n" % (name, value))
        with open(stamp, "wb") as f:
            f.write(source)
    # The framework waits for " PID: <pid>" in stdout, the line of Redis's
    # logo, which Redis prints once its listening sockets are bound; with
    # always-show-logo NodeNsync prints its banner at that point too (so a
    # test that connects at once finds the port open), else it is printed
    # here, before the start.
    if not any(name == "alwaysShowLogo" and value == "yes" for name, value in settings):
        sys.stdout.write("                 PID: %d\n" % os.getpid())
        sys.stdout.flush()
    env = dict(os.environ, PYTHONPATH=ROOT)
    os.execve(sys.executable, [sys.executable, "-m", "nodensync", "--config", conf] + extra, env)


if __name__ == "__main__":
    sys.exit(main())
