"""Generated reference documentation: ``python -m nodensync --gen-docs``
writes docs/settings.md (from the setting declarations) and docs/commands.md
(from the command registry) under the current directory.  Both are built
only from the declarations, so they cannot drift from the code."""
import os

from . import config as cfg


def _md(text):
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _usage(spec):
    words = ("%s %s" % (spec.parent.name, spec.name)) if spec.parent else spec.name
    return ("%s %s" % (words.upper(), spec.syntax or "")).strip()


def commands_markdown():
    """docs/commands.md: every command and subcommand, grouped."""
    from . import commands  # noqa: F401  (registers every command)
    from . import subsystems  # noqa: F401
    from .commands import registry
    specs = []
    for spec in registry.all_specs():
        if spec.handler is not None or not spec.subcommands:
            specs.append(spec)
        if spec.subcommands:
            specs.extend(spec.subcommands.values())
    groups = {}
    for spec in specs:
        groups.setdefault(spec.group, []).append(spec)
    n_commands = len(registry.COMMANDS)
    lines = ["# Command reference", "",
             "Generated from the command registry by `python -m nodensync --gen-docs`; "
             "do not edit by hand.", "",
             "%d commands (%d entries with subcommands). Arity follows Redis: a positive "
             "number is the exact argument count, a negative one the minimum, the command "
             "name (and a subcommand's container) included." % (n_commands, len(specs)), ""]
    lines.append("Groups: " + ", ".join("[%s](#%s)" % (g, g.replace("_", "-"))
                                       for g in sorted(groups)))
    lines.append("")
    for group in sorted(groups):
        lines += ["## %s" % group, "",
                  "| command | syntax | summary | since | arity | flags | ACL categories |",
                  "|---|---|---|---|---|---|---|"]
        for spec in sorted(groups[group], key=lambda s: s.fullname):
            lines.append("| `%s` | `%s` | %s | %s | %d | %s | %s |" % (
                _md(spec.fullname.upper()), _md(_usage(spec)), _md(spec.summary), spec.since,
                spec.arity, " ".join(spec.flag_names()) or "-",
                " ".join("@" + c for c in spec.categories) or "-"))
        lines.append("")
    return "\n".join(lines)


def write_docs(root):
    """Write docs/settings.md and docs/commands.md under ``root``."""
    from . import commands  # noqa: F401
    from . import subsystems  # noqa: F401  (their settings are declared on import)
    out_dir = os.path.join(root, "docs")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, text in (("settings.md", cfg.settings_markdown()),
                       ("commands.md", commands_markdown())):
        path = os.path.join(out_dir, name)
        with open(path, "w") as f:
            f.write(text)
        written.append(path)
    for path in written:
        print("wrote %s" % path)
    return written
