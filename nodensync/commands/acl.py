"""ACL commands: WHOAMI, LIST, USERS, GETUSER, SETUSER, DELUSER, CAT, DRYRUN,
LOG, SAVE, LOAD, GENPASS, HELP (Redis 7.0.15's replies) and NodeNsync's
``ACL TOKEN CREATE [ttl] | LIST | REVOKE <id>`` session tokens.

The users, rules and checks live in ``security/acl.py``.
"""
import os
import time

from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, Raw, status_lines
from ..security import tokens as tokens_mod
from ..security.acl import current_argv, merge_selector_args
from .registry import command, container, ADMIN, NOSCRIPT, LOADING, STALE
from . import registry

G = "server"
_F = NOSCRIPT | LOADING | STALE

container("acl", group=G, since="6.0.0",
          summary="A container for Access List Control commands ")


def _acl(ctx):
    return ctx.node.acl


def _text(b):
    return b.decode("utf-8", "surrogateescape")


def _sub_syntax_error(default):
    """Redis's addReplySubcommandSyntaxError, quoting the subcommand as sent."""
    argv = current_argv()
    sub = _text(argv[1])[:128] if argv and len(argv) > 1 else default
    return errors.subcommand_syntax(sub, "acl")


def _ordered_set(items, resp3):
    """A RESP3 set whose order matters (Redis's user flags)."""
    out = [b"%s%d\r\n" % (b"~" if resp3 else b"*", len(items))]
    for i in items:
        i = i.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(i), i))
    return Raw(b"".join(out))


@command("acl|whoami", arity=2, flags=_F, group=G, since="6.0.0", syntax="")
def acl_whoami(ctx):
    """Return the name of the user associated to the current connection"""
    return ctx.user.encode("utf-8", "surrogateescape")


@command("acl|list", arity=2, flags=ADMIN | _F, group=G, since="6.0.0", syntax="")
def acl_list(ctx):
    """List the current ACL rules in ACL config file format"""
    return [line.encode("utf-8", "surrogateescape") for line in _acl(ctx).list_lines()]


@command("acl|users", arity=2, flags=ADMIN | _F, group=G, since="6.0.0", syntax="")
def acl_users(ctx):
    """List the username of all the configured ACL rules"""
    names = [n.encode("utf-8", "surrogateescape") for n in _acl(ctx).users]
    return sorted(names)


@command("acl|getuser", arity=3, flags=ADMIN | _F, group=G, since="6.0.0", syntax="username")
def acl_getuser(ctx, name):
    """Get the rules for a specific ACL user"""
    u = _acl(ctx).get_user(name)
    if u is None:
        return None
    reply = {
        b"flags": _ordered_set(u.flag_names(), ctx.resp3),
        b"passwords": [p.encode() for p in u.passwords],
    }
    reply.update(u.description_fields())
    reply[b"selectors"] = [sel.description_fields() for sel in u.selectors]
    return reply


def _merge_selector_args(rules):
    """Redis joins a selector split over several arguments; an opening
    parenthesis without its closing one is an error."""
    merged = merge_selector_args(rules)
    if merged is None:
        start = None
        for r in rules:          # the last selector opened is the unmatched one
            if r[:1] == b"(" and r[-1:] != b")":
                start = r
        raise CommandError("ERR Unmatched parenthesis in acl selector starting at '%s'."
                           % _text(start))
    return merged


def _bad_name(name):
    return any(c in b" \t\n\r\v\f\x00" for c in name)


@command("acl|setuser", arity=-3, flags=ADMIN | _F, group=G, since="6.0.0",
         syntax="username [rule [rule ...]]")
def acl_setuser(ctx, name, *rules):
    """Modify or create the rules for a specific ACL user"""
    if _bad_name(name):
        raise CommandError("ERR Usernames can't contain spaces or null characters")
    rules = _merge_selector_args(rules)
    _acl(ctx).set_user(_text(name), rules, requester=ctx)
    return OK


@command("acl|deluser", arity=-3, flags=ADMIN | _F, group=G, since="6.0.0",
         syntax="username [username ...]")
def acl_deluser(ctx, *names):
    """Remove the specified ACL users and the associated rules"""
    return _acl(ctx).delete_users([_text(n) for n in names], requester=ctx)


@command("acl|cat", arity=-2, flags=_F, group=G, since="6.0.0", syntax="[categoryname]")
def acl_cat(ctx, *args):
    """List the ACL categories or the commands inside a category"""
    if not args:
        return [c.encode() for c in registry.ALL_CATEGORIES]
    if len(args) > 1:
        raise _sub_syntax_error("cat")
    cat = args[0].decode("latin-1").lower()
    if cat not in registry.ALL_CATEGORIES:
        raise CommandError("ERR Unknown category '%s'" % _text(args[0])[:128])
    out = []
    for spec in registry.all_specs(include_subcommands=True):
        if cat in spec.categories:
            out.append(spec.fullname.encode())
    return out


@command("acl|dryrun", summary='Returns whether the user can execute the given command without executing the command.', arity=-4, flags=ADMIN | _F, group=G, since="7.0.0",
         syntax="username command [arg [arg ...]]")
def acl_dryrun(ctx, name, *argv):
    """Returns whether the user can execute the given command without executing the command."""
    acl = _acl(ctx)
    user = acl.get_user(name)
    if user is None:
        raise CommandError("ERR User '%s' not found" % _text(name))
    argv = list(argv)
    spec = registry.lookup(argv[0])
    if spec is not None and spec.subcommands is not None and len(argv) >= 2:
        spec = spec.subcommands.get(argv[1].lower().decode("utf-8", "replace"))
    if spec is None:
        raise CommandError("ERR Command '%s' not found" % _text(argv[0]))
    if not spec.check_arity(len(argv)):
        raise errors.wrong_arity(spec.fullname)
    reason = acl.dry_run(user, spec, argv)
    if reason is not None:
        return reason.encode("utf-8", "surrogateescape")
    return OK


@command("acl|log", arity=-2, flags=ADMIN | _F, group=G, since="6.0.0",
         syntax="[count | RESET]")
def acl_log(ctx, *args):
    """List latest events denied because of ACLs in place"""
    log = _acl(ctx).log
    count = 10
    if len(args) > 1:
        raise _sub_syntax_error("log")
    if args:
        if args[0].lower() == b"reset":
            log.reset()
            return OK
        try:
            count = int(args[0])
        except ValueError:
            raise CommandError(errors.NOT_INTEGER) from None
        if b"%d" % count != args[0] or not -(1 << 63) <= count < (1 << 63):
            raise CommandError(errors.NOT_INTEGER)
        count = max(count, 0)
    now = int(time.time() * 1000)
    out = []
    for e in list(log.entries)[:count]:
        out.append({
            b"count": e["count"],
            b"reason": e["reason"].encode(),
            b"context": e["context"].encode(),
            b"object": e["object"].encode("utf-8", "surrogateescape"),
            b"username": e["username"].encode("utf-8", "surrogateescape"),
            b"age-seconds": (now - e["ctime"]) / 1000.0,
            b"client-info": e["cinfo"].encode("utf-8", "surrogateescape"),
        })
    return out


_NO_FILE = ("ERR This Redis instance is not configured to use an ACL file. You may want to "
            "specify users via the ACL SETUSER command and then issue a CONFIG REWRITE "
            "(assuming you have a Redis configuration file set) in order to store users in "
            "the Redis configuration.")


def _acl_path(ctx):
    path = ctx.node.config["aclFile"]
    if not path:
        raise CommandError(_NO_FILE)
    return path


@command("acl|save", arity=2, flags=ADMIN | _F, group=G, since="6.0.0", syntax="")
def acl_save(ctx):
    """Save the current ACL rules in the configured ACL file"""
    if not _acl(ctx).save_file(_acl_path(ctx)):
        raise CommandError("ERR There was an error trying to save the ACLs. Please check the "
                           "server logs for more information")
    return OK


@command("acl|load", arity=2, flags=ADMIN | _F, group=G, since="6.0.0", syntax="")
def acl_load(ctx):
    """Reload the ACLs from the configured ACL file"""
    err = _acl(ctx).load_file(_acl_path(ctx), requester=ctx)
    if err:
        raise CommandError("ERR " + err)
    return OK


@command("acl|genpass", arity=-2, flags=_F, group=G, since="6.0.0", syntax="[bits]")
def acl_genpass(ctx, *args):
    """Generate a pseudorandom secure password to use for ACL users"""
    bits = 256
    if len(args) > 1:
        raise _sub_syntax_error("genpass")
    if args:
        try:
            bits = int(args[0])
        except ValueError:
            raise CommandError(errors.NOT_INTEGER) from None
        if b"%d" % bits != args[0] or not -(1 << 63) <= bits < (1 << 63):
            raise CommandError(errors.NOT_INTEGER)
    if bits <= 0 or bits > 4096:
        raise CommandError("ERR ACL GENPASS argument must be the number of bits for the output "
                           "password, a positive number up to 4096")
    chars = (bits + 3) // 4
    return os.urandom((chars + 1) // 2).hex()[:chars].encode()


_HELP = [
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
]


@command("acl|help", arity=2, flags=LOADING | STALE, group=G, since="6.0.0", syntax="")
def acl_help(ctx):
    """Show helpful text about the different subcommands"""
    return status_lines(_HELP)


# -- NodeNsync: session tokens ------------------------------------------------------------
def _is_admin(ctx):
    """May manage every token: the user may run ACL SETUSER."""
    user = _acl(ctx).user_of(ctx)
    spec = registry.COMMANDS["acl"].subcommands["setuser"]
    return user.check_all(spec, [b"acl", b"setuser"])[0] == 0


@command("acl|token", arity=-3, flags=_F, group=G, since="7.0.15",
         syntax="<CREATE [ttl-seconds] | LIST | REVOKE token-id>")
def acl_token(ctx, action, *args):
    """Create, list or revoke session tokens (NodeNsync)."""
    store = _acl(ctx).tokens
    a = action.lower()
    if a == b"create":
        if len(args) > 1:
            raise CommandError(errors.SYNTAX)
        ttl = tokens_mod.DEFAULT_TTL
        if args:
            try:
                ttl = int(args[0])
            except ValueError:
                raise CommandError(errors.NOT_INTEGER) from None
            if ttl <= 0 or ttl > tokens_mod.MAX_TTL:
                raise CommandError("ERR invalid expire time, must be between 1 and %d seconds"
                                   % tokens_mod.MAX_TTL)
        if not ctx.authenticated:
            raise CommandError(errors.NOAUTH)
        user = _acl(ctx).user_of(ctx)
        if user.nopass:
            raise CommandError("ERR tokens are only for users that need a password")
        try:
            return store.create(user.name, ttl)
        except OverflowError:
            raise CommandError("ERR too many session tokens") from None
    if a == b"list":
        if args:
            raise CommandError(errors.SYNTAX)
        only = None if _is_admin(ctx) else ctx.user
        now = time.time()
        return [{b"id": tok.id.encode(), b"user": tok.user.encode("utf-8", "surrogateescape"),
                 b"created-at": int(tok.created), b"expires-at": int(tok.expires),
                 b"ttl": max(0, int(tok.expires - now)), b"sessions": sessions}
                for tok, sessions in store.list(only)]
    if a == b"revoke":
        if len(args) != 1:
            raise CommandError(errors.SYNTAX)
        tid = args[0].split(b".", 1)[0].decode("latin-1")
        tok = store.get(tid)
        if tok is None or (tok.user != ctx.user and not _is_admin(ctx)):
            return 0
        return 1 if store.revoke(tid, requester=ctx) else 0
    raise CommandError(errors.SYNTAX)

