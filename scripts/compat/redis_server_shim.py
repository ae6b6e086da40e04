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
    quoting), then per option of the command line (see options())."""
    return [args for _num, _text, args in directive_lines(path, extra)]


def directive_lines(path, extra):
    """(line number, text, [name, arg...]) per directive of the config file
    and then of the command line, numbered as Redis numbers them (the
    options are appended to the file's lines)."""
    found = []
    num = 0
    if path and path != "-":
        with open(path, "rb") as f:
            for num, line in enumerate(f, 1):
                line = line.strip()
                if line and not line.startswith(b"#"):
                    args = split_args(line)
                    if args:
                        found.append((num, line.decode("utf-8", "surrogateescape"),
                                      [a.decode("utf-8", "surrogateescape") for a in args]))
    for i, text in enumerate(options(extra), num + 1):
        args = split_args(text.encode("utf-8", "surrogateescape"))
        if args:
            found.append((i, text, [a.decode("utf-8", "surrogateescape") for a in args]))
    return found


def _repr(arg):
    """Redis's sdscatrepr: the argument in double quotes, escaped."""
    out = ['"']
    for ch in arg.encode("utf-8", "surrogateescape"):
        c = chr(ch)
        if c in '\\"':
            out.append("\\" + c)
        elif c in "\n\r\t\a\b":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a",
                        "\b": "\\b"}[c])
        elif 32 <= ch < 127:
            out.append(c)
        else:
            out.append("\\x%02x" % ch)
    out.append('"')
    return "".join(out)


def options(argv):
    """The command line's options as config lines, as Redis's main() builds
    them: ``--name`` starts a line (``"--name value"`` in one argument
    too), the arguments after it are appended quoted; an argument starting
    with ``--`` right after a bare ``--name`` is its value; a bare
    ``--save`` followed by another option (or last) means ``save ""``."""
    lines = []
    handled_last = True
    for j, a in enumerate(argv):
        if handled_last and a.startswith("--"):
            lines.append(a[2:] + " ")
            if len(split_args(a.encode("utf-8", "surrogateescape")) or []) == 1:
                handled_last = False
                last = j == len(argv) - 1
                if a.lower() == "--save" and (last or argv[j + 1].startswith("--")):
                    lines[-1] += '""'
                    handled_last = not last
            else:
                handled_last = True
        else:
            if not lines:
                lines.append("")
            lines[-1] += _repr(a) + " "
            handled_last = True
    return lines


# Redis's configs that take several arguments (MULTI_ARG_CONFIG); every
# other standard config takes exactly one.
_MULTI_ARG = {"save", "client-output-buffer-limit", "oom-score-adj-values", "bind",
              "replicaof", "slaveof", "latency-tracking-info-percentiles",
              "shutdown-on-sigint", "shutdown-on-sigterm"}


def check(lines):
    """Redis's errors for a bad directive of a setting NodeNsync has (its
    own parser's message), as (line number, text, error); None if fine."""
    for num, text, args in lines:
        name = args[0].lower()
        s = cfg.find(name)
        if s is None or s.redis is None:
            continue
        values = args[1:]
        if name in ("replicaof", "slaveof"):
            if len(values) != 2:
                return num, text, "wrong number of arguments"
        elif name not in _MULTI_ARG and len(values) != 1:
            return num, text, "wrong number of arguments"
        if name == "save":
            continue            # (translate() sums the save lines up)
        try:
            s.parse(" ".join(values))
        except cfg.ConfigError as e:
            return num, text, str(e)
    return None


# NodeNsync settings whose default is not Redis's behaviour: the shim runs
# Redis's suite, so it asks for Redis's.
REDIS_BEHAVIOUR = [("aclDisabledUserSessions", "keep")]


def translate(found):
    """NodeNsync's settings for the directives, as [(flag, value)], and
    the directives left out."""
    port, bind = "6379", "* -::*"
    argv, ignored, logfile, saves, users, renames = [], [], "", None, [], []
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
        elif name == "rename-command":
            # One line per command in Redis; one ';'-separated setting here.
            renames.append(" ".join(a if a else '""' for a in args))
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
    if renames:
        argv.append(("renameCommand", "; ".join(renames)))
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


def _show_pid(settings):
    """The framework waits for " PID: <pid>" in stdout, the line of Redis's
    logo, which Redis prints once its listening sockets are bound; with
    always-show-logo NodeNsync prints its banner at that point too (so a
    test that connects at once finds the port open), else it is printed
    here, before the start."""
    if not any(name == "alwaysShowLogo" and value == "yes" for name, value in settings):
        sys.stdout.write("                 PID: %d\n" % os.getpid())
        sys.stdout.flush()


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    # As Redis: the first argument is the config file unless it is an option.
    if sys.argv[1].startswith("-"):
        path, extra = None, sys.argv[1:]
    else:
        path, extra = sys.argv[1], sys.argv[2:]
    lines = directive_lines(path, extra)
    bad = check(lines)
    if bad is not None:
        # Redis's loadServerConfigFromString error, and its exit code.
        sys.stderr.write("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                         "Reading the configuration file, at line %d\n>>> '%s'\n%s\n"
                         % (bad[0], bad[1].strip(" \t\r\n"), bad[2]))
        return 1
    settings, ignored = translate([args for _num, _text, args in lines])
    for d in ignored:
        sys.stderr.write("redis_server_shim: no NodeNsync setting for '%s', left out\n" % d)
    if path is None:
        # No config file (as redis-server, nothing for CONFIG REWRITE):
        # every setting as a flag.
        flags = ["--%s=%s" % (n, v) for n, v in settings]   # a value may start with '-'
        _show_pid(settings)
        env = dict(os.environ, PYTHONPATH=ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "nodensync"] + flags, env)
    # Written as NodeNsync's own conf file (next to the framework's), so
    # CONFIG REWRITE has a file to write back to, as Redis's tests expect.
    # A restart from the same framework config and arguments (restart_server)
    # starts from that file as it stands, with what CONFIG REWRITE saved in
    # it (replicaof, repl-backlog-size ...), as redis-server would.
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
    _show_pid(settings)
    env = dict(os.environ, PYTHONPATH=ROOT)
    os.execve(sys.executable, [sys.executable, "-m", "nodensync", "--config", conf] + extra, env)


if __name__ == "__main__":
    sys.exit(main())
