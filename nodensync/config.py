"""Every setting, declared once.

A ``Setting`` carries its name, command-line flag(s), type, default, help,
whether ``CONFIG SET`` may change it at run time and the Redis name where
Redis has the same setting.  The same declarations build the configargparse
parser (flags, ``--config`` file, ``NODENSYNC_*`` environment variables),
answer ``CONFIG GET/SET/REWRITE`` and generate docs/settings.md.

Subsystems add their own settings with ``declare(...)`` at import time and
react to run-time changes with ``Config.on_change(name, fn)``.
"""
import fnmatch
import os
import re
import tempfile

import configargparse

from .storage.compact import canonical_int

SETTINGS = {}        # canonical name -> Setting
_BY_ALIAS = {}       # every lowercase name a user may type -> Setting


class ConfigError(ValueError):
    """A bad value: the message names the setting and the reason."""


# -- value types ------------------------------------------------------------
_MEM_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000 ** 2, "mb": 1024 ** 2,
              "g": 1000 ** 3, "gb": 1024 ** 3}


def parse_memory(text):
    """Redis memory units: 1k = 1000, 1kb = 1024, ... case-insensitive."""
    m = re.fullmatch(r"\s*(-?\d+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _MEM_UNITS:
        raise ValueError("argument must be a memory value")
    return int(m.group(1)) * _MEM_UNITS[m.group(2).lower()]


_U64 = 2 ** 64


def redis_int(text):
    """Redis's string2ll, as CONFIG SET parses a number: no sign but '-',
    no leading zero, no space, within 64 bits."""
    value = canonical_int(text.encode("utf-8", "surrogateescape"))
    if value is None:
        raise ValueError("argument couldn't be parsed into an integer")
    return value


def redis_memory(text):
    """Redis's memtoull: digits (an overflow saturates, as strtoull does)
    then an optional unit (1k = 1000, 1kb = 1024, case-insensitive); no
    sign.  The product wraps at 64 bits as it does in C."""
    digits = len(text) - len(text.lstrip("0123456789"))
    unit = _MEM_UNITS.get(text[digits:].lower())
    if text[:1] == "-" or unit is None or digits >= 128:
        raise ValueError("argument must be a memory value")
    return min(int(text[:digits] or "0"), _U64 - 1) * unit % _U64


def redis_bool(text):
    """Redis's yesnotoi: 'yes' or 'no', case-insensitive, nothing else."""
    t = text.lower()
    if t == "yes":
        return True
    if t == "no":
        return False
    raise ValueError("argument must be 'yes' or 'no'")


def parse_bool(text):
    t = text.strip().lower()
    if t in ("yes", "true", "1", "on"):
        return True
    if t in ("no", "false", "0", "off"):
        return False
    raise ValueError("argument must be 'yes' or 'no'")


def parse_listen(text):
    """``host:port``; ``:port`` means every interface."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        raise ValueError("expected host:port")
    host = host.strip("[]") or "0.0.0.0"
    try:
        port = int(port)
    except ValueError:
        raise ValueError("port must be a number") from None
    if not 0 <= port <= 65535:
        raise ValueError("port must be between 0 and 65535")
    return host, port


def format_listen(value):
    host, port = value
    return "%s:%d" % ("[%s]" % host if ":" in host else host, port)


class Setting:
    __slots__ = ("name", "flags", "kind", "default", "help", "mutable", "redis",
                 "minimum", "maximum", "choices", "parser", "formatter", "group",
                 "secret", "validate", "normalize", "protected", "hidden", "repeat")

    def __init__(self, name, kind, default, help, mutable=False, redis=None,
                 flags=None, minimum=None, maximum=None, choices=None,
                 parser=None, formatter=None, group="general", secret=False,
                 validate=None, normalize=None, protected=False, hidden=False, repeat=None):
        self.name = name
        self.kind = kind
        self.default = default
        self.help = help
        self.mutable = mutable
        self.redis = redis
        self.flags = flags or ["--" + name] + (["--" + redis] if redis and redis != name else [])
        self.minimum = minimum
        self.maximum = maximum
        self.choices = choices
        self.parser = parser
        self.formatter = formatter
        self.group = group
        self.secret = secret
        self.validate = validate
        self.normalize = normalize      # value -> stored value (Redis clamps some: hz)
        self.protected = protected      # CONFIG SET refuses it as Redis refuses a protected config
        self.hidden = hidden            # left out of CONFIG GET patterns (Redis's HIDDEN_CONFIG)
        # Redis reads several lines of this setting as one value (save,
        # client-output-buffer-limit, rename-command): the lines of a conf
        # file, or the flags repeated on the command line, are joined with
        # this separator (an empty value starts again, as `save ""`).
        self.repeat = repeat

    @property
    def public_name(self):
        """The name CONFIG GET shows: Redis's where there is one."""
        return self.redis or self.name

    def parse(self, text, strict=False):
        """Text -> value; ConfigError naming the setting on a bad value.
        ``strict``: CONFIG SET's parsing, exactly Redis's (string2ll,
        memtoull, yes/no); else the lenient one of flags, the conf file and
        the environment (spaces, 'true'/'1' ...)."""
        if not isinstance(text, str):
            text = text.decode("utf-8", "surrogateescape")
        try:
            if self.parser:
                value = self.parser(text)
            elif self.kind == "int":
                if strict:
                    value = redis_int(text)
                else:
                    try:
                        value = int(text.strip())
                    except ValueError:
                        raise ValueError("argument couldn't be parsed into an integer") from None
            elif self.kind == "float":
                value = float(text)
            elif self.kind == "memory":
                value = redis_memory(text) if strict else parse_memory(text)
            elif self.kind == "bool":
                value = redis_bool(text) if strict else parse_bool(text)
            elif self.kind == "enum":
                value = text.lower() if strict else text.strip().lower()
                if value not in self.choices:
                    raise ValueError("argument(s) must be one of the following: %s"
                                     % ", ".join(self.choices))
            else:
                value = text
            if self.minimum is not None and value < self.minimum:
                raise ValueError("argument must be between %s and %s inclusive"
                                 % (self.minimum, self.maximum if self.maximum is not None else "inf"))
            if self.maximum is not None and value > self.maximum:
                raise ValueError("argument must be between %s and %s inclusive"
                                 % (self.minimum if self.minimum is not None else "-inf", self.maximum))
            if self.validate:
                self.validate(value)
            if self.normalize:
                value = self.normalize(value)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        return value

    def format(self, value):
        if self.formatter:
            return self.formatter(value)
        if self.kind == "bool":
            return "yes" if value else "no"
        if value is None:
            return ""
        return str(value)


def declare(name, kind, default, help, **kw):
    s = Setting(name, kind, default, help, **kw)
    if name in SETTINGS:
        raise ValueError("setting %s declared twice" % name)
    SETTINGS[name] = s
    for alias in [name, s.redis] + [f.lstrip("-") for f in s.flags]:
        if alias:
            _BY_ALIAS[alias.lower()] = s
    return s


def find(name):
    return _BY_ALIAS.get(name.lower())


# -- the core settings; other modules declare their own ---------------------
declare("listenAddr", "listen", ("127.0.0.1", 6379),
        "Address to listen on, host:port (':6379' listens on every interface).",
        parser=parse_listen, formatter=format_listen, group="network")
declare("dataDir", "path", "./data", "Directory for snapshots, the AOF and the ACL file.",
        redis="dir", group="persistence", protected=True)
declare("databases", "int", 16, "Number of databases.", redis="databases", minimum=1, maximum=1024,
        group="general")
declare("maxclients", "int", 10000, "Maximum number of connected clients.", redis="maxclients",
        mutable=True, minimum=1, maximum=1000000, group="limits")
declare("timeout", "int", 0, "Close a client idle for this many seconds (0 = never).",
        redis="timeout", mutable=True, minimum=0, maximum=2 ** 31 - 1, group="limits")
declare("tcpKeepalive", "int", 300, "TCP keepalive interval in seconds (0 = off).",
        redis="tcp-keepalive", mutable=True, minimum=0, maximum=2 ** 31 - 1, group="network")
declare("tcpBacklog", "int", 511, "Listen backlog.", redis="tcp-backlog", minimum=0,
        maximum=65535, group="network")
declare("logLevel", "enum", "notice", "Log verbosity.", redis="loglevel", mutable=True,
        choices=["debug", "verbose", "notice", "warning"], group="logging")
declare("logFile", "path", "", "Log file ('' logs to standard error).", redis="logfile",
        group="logging")
declare("protoMaxBulkLen", "memory", 512 * 1024 ** 2, "Largest bulk string a client may send.",
        redis="proto-max-bulk-len", mutable=True, minimum=1024 ** 2, maximum=2 ** 63 - 1,
        group="limits")
declare("clientQueryBufferLimit", "memory", 1024 ** 3, "Largest query buffer of one client.",
        redis="client-query-buffer-limit", mutable=True, minimum=1024 ** 2,
        maximum=2 ** 63 - 1, group="limits")
declare("hz", "int", 10, "Background task frequency (active expiry cycles per second; "
        "Redis's bounds: any value is taken and clamped to 1..500).",
        redis="hz", mutable=True, minimum=0, maximum=2 ** 31 - 1, normalize=lambda v: min(max(v, 1), 500),
        group="general")


def _no_daemonize(value):
    if value:
        raise ValueError("NodeNsync does not daemonize: run it in the foreground under a "
                         "supervisor (systemd: see docs/operations.md)")


declare("daemonize", "bool", False, "Redis's daemonize, for its configuration files: only "
        "'no' is accepted (NodeNsync runs in the foreground, under systemd or another "
        "supervisor).", redis="daemonize", validate=_no_daemonize, group="general")
declare("alwaysShowLogo", "bool", False,
        "Print the start banner (with the PID and port) in the log once the listener "
        "is bound, even when not logging to a terminal; otherwise the banner is shown "
        "only when logging to a terminal, and a 'Running mode=..., port=...' line "
        "instead.", redis="always-show-logo", group="general")
declare("dynamicHz", "bool", True, "Raise the background task frequency above hz while "
        "many clients are connected (doubled for every 200 clients per cycle, at most 500), "
        "as Redis's dynamic-hz; INFO server shows it as hz, the setting as configured_hz.",
        redis="dynamic-hz", mutable=True, group="general")
declare("notifyKeyspaceEvents", "str", "", "Keyspace notification classes (Redis letters).",
        redis="notify-keyspace-events", mutable=True, group="general")
# Streams (storage/stream.py): when XADD starts a new node (Redis's listpack
# macro node), which decides what approximate trimming (MAXLEN ~) removes.
declare("streamNodeMaxBytes", "int", 4096, "Stream node size in bytes at which XADD starts a "
        "new node (0 = no limit); approximate trimming removes whole nodes.",
        redis="stream-node-max-bytes", mutable=True, minimum=0, maximum=2 ** 63 - 1,
        group="encoding", parser=redis_memory)
declare("streamNodeMaxEntries", "int", 100, "Stream entries per node at which XADD starts a "
        "new node (0 = no limit); approximate trimming removes whole nodes.",
        redis="stream-node-max-entries", mutable=True, minimum=0, maximum=2 ** 63 - 1,
        group="encoding", parser=redis_int)

# ACL (security/acl.py): what ``ACL SETUSER <user> off`` does to that user's
# live connections.  Declared here, with the core settings, so that the
# default conf file documents it (it departs from Redis by default).
declare("aclDisabledUserSessions", "enum", "close",
        "What disabling a user (ACL SETUSER <user> off, or reset) does to the connections "
        "already logged in as that user: close "
        "(the default: they are disconnected, so a disabled credential stops working at "
        "once) or keep (Redis's behaviour: only new logins are refused; existing "
        "connections keep working until they end or CLIENT KILL USER ends them). The "
        "default user's connections are kept either way, as Redis keeps them.",
        choices=["close", "keep"], mutable=True, group="security")


class Config:
    """The running node's settings: values, validation, change hooks, rewrite."""

    def __init__(self, values=None, path=None):
        self.values = {name: s.default for name, s in SETTINGS.items()}
        if values:
            self.values.update(values)
        self._tie_listen(values or {})
        self.path = path
        self._listeners = {}

    def __getitem__(self, name):
        return self.values[name]

    def _tie_listen(self, given):
        """``listenAddr`` (host:port) and Redis's ``port`` / ``bind`` name
        one listener: the ones given win (port and bind over listenAddr),
        the others follow."""
        if "listenAddr" not in self.values or "port" not in self.values:
            return      # (server/listener.py declares port and bind)
        host, port = self.values["listenAddr"]
        if "port" in given:
            port = self.values["port"]
        if "bind" in given:
            hosts = self.values["bind"]
            if hosts:
                first = hosts[0].lstrip("-")
                host = {"*": "0.0.0.0", "::*": "::"}.get(first, first.strip("[]"))
        else:
            self.values["bind"] = (host,)
        self.values["port"] = port
        self.values["listenAddr"] = (host, port)

    def on_change(self, name, fn):
        self._listeners.setdefault(name, []).append(fn)

    def get_matching(self, pattern):
        """CONFIG GET: (public name, text) for every setting matching the
        glob; a hidden setting only by its exact name (Redis's
        HIDDEN_CONFIG test aids)."""
        out = {}
        pat = pattern.lower()
        glob = any(ch in pat for ch in "*?[")
        for s in SETTINGS.values():
            if glob and s.hidden:
                continue
            names = {s.public_name.lower(), s.name.lower()}
            if any(fnmatch.fnmatchcase(n, pat) for n in names):
                out[s.public_name] = s.format(self.values[s.name])
        return out

    def set_many(self, pairs):
        """CONFIG SET: validate every pair first, then apply all or nothing."""
        parsed = []
        seen = set()
        for name, text in pairs:
            s = find(name)
            if s is None:
                raise ConfigError("Unknown option or number of arguments for CONFIG SET - '%s'" % name)
            failed = "CONFIG SET failed (possibly related to argument '%s') - " % name
            if s.protected:
                raise ConfigError(failed + "can't set protected config")
            if not s.mutable:
                if s.redis is None and self._unchanged(s, text):
                    # A NodeNsync-only setting (Redis has no rule for it) set
                    # to the value it has: a no-op, so CONFIG GET * then
                    # CONFIG SET of every pair back (config sync tools,
                    # Redis's own "CONFIG sanity" test) works.
                    seen.add(s.name)
                    continue
                raise ConfigError(failed + "can't set immutable config")
            if s.name in seen:
                raise ConfigError(failed + "duplicate parameter")
            seen.add(s.name)
            try:
                parsed.append((s, s.parse(text, strict=True)))
            except ConfigError as e:
                raise ConfigError(failed + str(e)) from None
        old = {s.name: self.values[s.name] for s, _ in parsed}
        try:
            for s, value in parsed:
                self.values[s.name] = value
                for fn in self._listeners.get(s.name, ()):
                    fn(value)
        except Exception as e:
            for name, value in old.items():
                self.values[name] = value
                for fn in self._listeners.get(name, ()):
                    try:
                        fn(value)
                    except Exception:
                        pass
            raise ConfigError("CONFIG SET failed (possibly related to argument '%s') - %s"
                              % (s.public_name, e)) from None

    def _unchanged(self, s, text):
        try:
            return s.parse(text, strict=True) == self.values[s.name]
        except (ConfigError, ValueError):
            return False

    def rewrite(self, force=False):
        """CONFIG REWRITE: update the conf file in place, keeping comments and
        order; settings that differ from their default and are not in the
        file yet are appended (every setting with ``force``: DEBUG
        CONFIG-REWRITE-FORCE-ALL).  Written atomically."""
        if not self.path:
            raise ConfigError("The server is running without a config file")
        try:
            with open(self.path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        done = set()
        out = []
        for line in lines:
            m = re.match(r"\s*([A-Za-z][\w-]*)\s*(?:[:=]\s*|\s+)", line)
            s = find(m.group(1)) if m and not line.lstrip().startswith("#") else None
            if s is None or s.name == "config":
                out.append(line)
                continue
            if s.name in done:
                continue  # a repeated line for the same setting: keep one
            done.add(s.name)
            out.append("%s %s" % (m.group(1), _quote(s.format(self.values[s.name]))))
        for s in SETTINGS.values():
            if not force and s.name in ("port", "bind") and (
                    s.name == "port" or self.values["bind"] == (self.values["listenAddr"][0],)):
                continue    # listenAddr (appended instead) says it, and a flag can override it
            if s.name not in done and s.name != "config" and (
                    force or self.values[s.name] != s.default):
                out.append("%s %s" % (s.name, _quote(s.format(self.values[s.name]))))
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".nodensync.conf.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write("\n".join(out) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def _quote(text):
    if text == "":
        return "="    # "name =": configargparse reads '""' as "true"
    if re.search(r"[\s\"'#]", text):
        return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')
    return text


def _add_line(setting, so_far, text):
    """One more line of a repeatable setting (Setting.repeat) added to the
    value read so far; an empty line (``""``) starts again, as `save ""`.
    (configargparse gives a line's words as a list at times.)"""
    if not isinstance(text, str):
        text = " ".join(text)
    if text.strip() in ("", '""', "''"):
        return ""
    return so_far + setting.repeat + text if so_far else text


class _ConfFileParser(configargparse.DefaultConfigFileParser):
    """nodensync.conf's lines as configargparse reads them, except that the
    lines of a repeatable setting (Setting.repeat) add up, as in Redis,
    instead of the last one winning."""

    def parse(self, stream):
        items = {}
        first_key = {}            # setting -> the key its first line used
        for line in stream:
            parts = line.strip().split(None, 1)
            # `name ""` is an empty value (Redis's `save ""`, `logfile ""`),
            # where configargparse's own reading gives "true".
            empty = len(parts) == 2 and parts[1].strip() in ('""', "''")
            for key, value in super().parse([line]).items():
                if empty:
                    value = ""
                s = find(key)
                if s is None or s.repeat is None:
                    items[key] = value
                    continue
                key = first_key.setdefault(s.name, key)
                items[key] = _add_line(s, items.get(key, ""), value)
        return items


def build_parser():
    p = configargparse.ArgParser(
        config_file_parser_class=_ConfFileParser,
        prog="nodensync",
        description="NodeNsync: a Redis-compatible distributed key-value server.",
        default_config_files=[],
        auto_env_var_prefix=None,
        args_for_setting_config_path=["--config", "-c"],
        config_arg_help_message="Path of the configuration file (nodensync.conf).",
        ignore_unknown_config_file_keys=False,
    )
    for s in SETTINGS.values():
        kw = {"help": s.help + " [default: %s]" % (s.format(s.default) or "''"),
              "env_var": "NODENSYNC_" + re.sub(r"(?<!^)(?=[A-Z])", "_", s.name).upper().replace("-", "_"),
              "dest": s.name, "default": None, "metavar": s.kind.upper()}
        if s.kind == "bool":
            # --enableTLS alone means yes; --enableTLS no is accepted too.
            kw["nargs"] = "?"
            kw["const"] = "yes"
        if s.repeat is not None:
            kw["action"] = "append"     # (each flag one more line: see Setting.repeat)
        p.add_argument(*s.flags, **kw)
    return p


def load(argv=None):
    """Parse flags, the conf file and environment into a Config; raises
    ConfigError naming the setting on any bad value."""
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as e:
        if e.code in (0, None):
            raise
        raise ConfigError("invalid command line or configuration file") from None
    values = {}
    for s in SETTINGS.values():
        raw = getattr(ns, s.name)
        if raw is None:
            continue
        if isinstance(raw, list):  # configargparse gives lists for repeated keys
            if s.repeat is not None:
                joined = ""
                for part in raw:
                    joined = _add_line(s, joined, part)
                raw = joined
            else:
                raw = " ".join(raw)
        try:
            values[s.name] = s.parse(raw)
        except ConfigError as e:
            raise ConfigError("bad value %r for setting %s (%s): %s"
                              % (raw, s.name, " / ".join(s.flags), e)) from None
    return Config(values, path=getattr(ns, "config_file", None))


def settings_markdown():
    """docs/settings.md, generated from the declarations."""
    lines = ["# Settings reference", "",
             "Generated from `nodensync/config.py` by `python -m nodensync --gen-docs`.", "",
             "Every setting can be given as a command-line flag, as a line `name value` in the "
             "file passed with `--config`, or as an environment variable `NODENSYNC_NAME`. "
             "Settings marked *runtime* can be changed with `CONFIG SET`, which parses a "
             "value exactly as Redis 7.0 does: numbers as `string2ll` (no `+`, no leading "
             "zero, no space), memory values as `memtoull` (digits and an optional unit "
             "`b k kb m mb g gb`, no sign), booleans as `yes`/`no` only, and the same bounds "
             "and error texts. Flags, the file and the environment also take `true`/`false`, "
             "`1`/`0`, `on`/`off` and surrounding spaces.", "",
             "| setting | flags | Redis name | default | runtime | description |",
             "|---|---|---|---|---|---|"]
    for s in sorted(SETTINGS.values(), key=lambda s: (s.group, s.name)):
        lines.append("| `%s` | %s | %s | `%s` | %s | %s |" % (
            s.name, " ".join("`%s`" % f for f in s.flags), s.redis or "", s.format(s.default),
            "yes" if s.mutable else "no", s.help))
    return "\n".join(lines) + "\n"
