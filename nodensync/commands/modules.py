"""MODULE: NodeNsync loads no Redis modules (they are C shared objects built
against Redis's own process), so it answers as a Redis 7.0 server whose
``enable-module-command`` is ``no`` (its default) and that has none loaded:
MODULE LIST is empty and LOAD/LOADEX/UNLOAD are refused with Redis's text.
Clients probe MODULE LIST to find out which extensions a server has."""
from ..errors import CommandError
from ..protocol.resp import status_lines
from .registry import command, container, ADMIN, NOSCRIPT, LOADING, STALE, NO_ASYNC_LOADING

G = "server"
_NOT_ALLOWED = ("ERR MODULE command not allowed. If the enable-module-command option is set "
                "to \"local\", you can run it from a local connection, otherwise you need to "
                "set this option in the configuration file, and then restart the server.")
_HELP = [
    "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and "
    "optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
    "HELP",
    "    Prints this help.",
]

container("module", group=G, since="4.0.0",
          summary="A container for module commands").complexity = "Depends on subcommand."


def _refuse(ctx, *args):
    raise CommandError(_NOT_ALLOWED)


def _refuser():
    # One handler object per subcommand: @command records its spec on it.
    return lambda ctx, *args: _refuse(ctx, *args)


command("module|load", arity=-3, flags=ADMIN | NOSCRIPT | NO_ASYNC_LOADING, group=G,
        since="4.0.0", syntax="path [arg [arg ...]]", complexity="O(1)",
        summary="Load a module")(_refuser())
command("module|loadex", arity=-3, flags=ADMIN | NOSCRIPT | NO_ASYNC_LOADING, group=G,
        since="7.0.0", syntax="path [CONFIG name value [value ...]] [ARGS args [args ...]]",
        complexity="O(1)", summary="Load a module with extended parameters")(_refuser())
command("module|unload", arity=3, flags=ADMIN | NOSCRIPT | NO_ASYNC_LOADING, group=G,
        since="4.0.0", syntax="name", complexity="O(1)", summary="Unload a module")(_refuser())


@command("module|list", arity=2, flags=ADMIN | NOSCRIPT, group=G, since="4.0.0", syntax="",
         complexity="O(N) where N is the number of loaded modules.")
def module_list(ctx):
    """List all modules loaded by the server"""
    return []


@command("module|help", arity=2, flags=LOADING | STALE, group=G, since="5.0.0", syntax="",
         complexity="O(1)")
def module_help(ctx):
    """Show helpful text about the different subcommands"""
    return status_lines(_HELP)
