"""COMMAND and HELP, generated from the registry (never hand-written)."""
from .. import errors
from ..errors import CommandError
from ..protocol.resp import Status
from . import registry
from .registry import command, container, LOADING, STALE, SENTINEL, WRITE, READONLY
from .util import glob_match

G = "server"


def _key_specs(spec):
    if spec.keys_fn is not None:
        return [{b"flags": [], b"begin_search": {b"type": b"unknown", b"spec": {}},
                 b"find_keys": {b"type": b"unknown", b"spec": {}}}]
    if not spec.first_key:
        return []
    if spec.flags & WRITE:
        flags = [b"RW", b"update"]
    elif spec.flags & READONLY:
        flags = [b"RO", b"access"]
    else:
        flags = [b"RW", b"access"]
    last = spec.last_key
    lastkey = last if last < 0 else last - spec.first_key
    return [{b"flags": flags,
             b"begin_search": {b"type": b"index", b"spec": {b"index": spec.first_key}},
             b"find_keys": {b"type": b"range",
                            b"spec": {b"lastkey": lastkey, b"keystep": spec.key_step, b"limit": 0}}}]


def command_info(spec):
    """One COMMAND / COMMAND INFO entry in Redis 7's format."""
    subs = [command_info(s) for s in spec.subcommands.values()] if spec.subcommands else []
    return [
        spec.fullname.encode(),
        spec.arity,
        set(n.encode() for n in spec.flag_names()),
        spec.first_key,
        spec.last_key,
        spec.key_step,
        set(("@" + c).encode() for c in spec.categories),
        [],
        _key_specs(spec),
        subs,
    ]


def command_docs(spec):
    doc = {b"summary": spec.summary.encode(), b"since": spec.since.encode(),
           b"group": spec.group.replace("_", "-").encode()}   # "sorted-set" as Redis
    if spec.complexity:
        doc[b"complexity"] = spec.complexity.encode()
    if spec.subcommands:
        doc[b"subcommands"] = {s.fullname.encode(): command_docs(s)
                               for s in spec.subcommands.values()}
    return doc


def container_help(name):
    """The HELP text of a container command (CONFIG HELP, CLIENT HELP ...)."""
    spec = registry.COMMANDS[name]
    lines = ["%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % name.upper()]
    for sub in sorted(spec.subcommands.values(), key=lambda s: (s.name == "help", s.name)):
        lines.append(("%s %s" % (sub.name.upper(), sub.syntax)).strip())
        lines.append("    %s" % (sub.summary.rstrip(".") + "."))
    return [Status(line.encode()) for line in lines]


container("command", group=G, since="2.8.13", summary="Get array of Redis command details.",
          flags=LOADING | STALE | SENTINEL)
registry.COMMANDS["command"].arity = -1


def _command_all(ctx, *args):
    if args:
        spec = registry.COMMANDS["command"]
        raise errors.unknown_subcommand(args[0], spec.name)
    return [command_info(s) for s in registry.all_specs()]


# COMMAND with no subcommand lists every command: give the container a handler.
registry.COMMANDS["command"].handler = _command_all


@command("command|count", arity=2, flags=LOADING | STALE, group=G, since="2.8.13", syntax="")
def command_count(ctx):
    """Get total number of Redis commands."""
    return len(registry.COMMANDS)


@command("command|info", arity=-2, flags=LOADING | STALE, group=G, since="2.8.13",
         syntax="[command-name [command-name ...]]")
def command_info_cmd(ctx, *names):
    """Get array of specific Redis command details, or all when no argument is given."""
    if not names:
        return [command_info(s) for s in registry.all_specs()]
    out = []
    for n in names:
        spec = _find(n)
        out.append(command_info(spec) if spec else None)
    return out


def _find(name):
    text = name.decode("utf-8", "replace").lower()
    if "|" in text:
        parent, sub = text.split("|", 1)
        p = registry.COMMANDS.get(parent)
        return p.subcommands.get(sub) if p and p.subcommands else None
    return registry.COMMANDS.get(text)


@command("command|docs", arity=-2, flags=LOADING | STALE, group=G, since="7.0.0",
         syntax="[command-name [command-name ...]]")
def command_docs_cmd(ctx, *names):
    """Get array of specific Redis command documentation."""
    specs = [_find(n) for n in names] if names else list(registry.all_specs())
    return {s.fullname.encode(): command_docs(s) for s in specs if s is not None}


@command("command|list", arity=-2, flags=LOADING | STALE, group=G, since="7.0.0",
         syntax="[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]")
def command_list(ctx, *args):
    """Get an array of Redis command names."""
    names = []
    for s in registry.all_specs():
        names.append(s.fullname)
        if s.subcommands:
            names.extend(sub.fullname for sub in s.subcommands.values())
    if args:
        if len(args) != 3 or args[0].lower() != b"filterby":
            raise CommandError(errors.SYNTAX)
        kind, value = args[1].lower(), args[2]
        if kind == b"module":
            names = []
        elif kind == b"aclcat":
            cat = value.decode("utf-8", "replace").lower()
            names = [n for n in names if cat in _find(n.encode()).categories]
        elif kind == b"pattern":
            names = [n for n in names if glob_match(value.lower(), n.encode())]
        else:
            raise CommandError(errors.SYNTAX)
    return [n.encode() for n in names]


def _getkeys(argv, fullname="command|getkeys"):
    if len(argv) < 2:
        # Redis declares arity -3 but requires a command and an argument.
        raise errors.wrong_arity(fullname)
    spec = registry.lookup(argv[0])
    if spec is None:
        raise CommandError("ERR Invalid command specified")
    if spec.subcommands and len(argv) > 1:
        spec = spec.subcommands.get(argv[1].lower().decode("utf-8", "replace"), spec)
    if not spec.check_arity(len(argv)):
        raise CommandError("ERR Invalid number of arguments specified for command")
    if not spec.first_key and spec.keys_fn is None:
        raise CommandError("ERR The command has no key arguments")
    pos = spec.key_positions(argv)
    if not pos:
        raise CommandError("ERR Invalid arguments specified for command")
    return spec, pos


@command("command|getkeys", arity=-3, flags=LOADING | STALE, group=G, since="2.8.13",
         syntax="command [arg [arg ...]]")
def command_getkeys(ctx, *argv):
    """Extract keys given a full Redis command."""
    spec, pos = _getkeys(argv)
    return [argv[i] for i in pos]


@command("command|getkeysandflags", arity=-3, flags=LOADING | STALE, group=G, since="7.0.0",
         syntax="command [arg [arg ...]]")
def command_getkeysandflags(ctx, *argv):
    """Extract keys and access flags given a full Redis command."""
    spec, pos = _getkeys(argv, "command|getkeysandflags")
    flags = _key_specs(spec)[0][b"flags"] if _key_specs(spec) else []
    return [[argv[i], set(flags)] for i in pos]


@command("command|help", arity=2, flags=LOADING | STALE, group=G, since="5.0.0", syntax="")
def command_help(ctx):
    """Show helpful text about the different subcommands."""
    return container_help("command")


@command("help", arity=-1, flags=LOADING | STALE, group=G, since="0.1.0",
         syntax="[command-name]", summary="List every command with its syntax and summary (NodeNsync).")
def help_(ctx, *names):
    specs = [_find(n) for n in names] if names else sorted(registry.all_specs(),
                                                             key=lambda s: s.name)
    lines = []
    for s in specs:
        if s is None:
            raise CommandError("ERR unknown command '%s'" % names[0].decode("utf-8", "replace"))
        if s.handler is not None or not s.subcommands:
            lines.append(Status(("%s -- %s" % (s.usage(), s.summary)).encode()))
        for sub in (s.subcommands or {}).values():
            lines.append(Status(("%s -- %s" % (sub.usage(), sub.summary)).encode()))
    return lines
