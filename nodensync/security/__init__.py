"""Security and protection: users and ACL (``acl.py``), password hashing
(``passwords.py``), session tokens (``tokens.py``), protected mode (here),
TLS (``tls.py``), rate limiting (``ratelimit.py``) and maxmemory with
eviction (``memory.py``).

``attach(node)`` installs ``node.acl`` (always: Redis always has the
default user) and the optional pieces; with the default settings nothing
here runs per command (the default user may do everything, so clients are
not ACL-restricted).  See docs/security.md.
"""
import ipaddress
import logging

from ..config import declare
from . import passwords
from . import tls, ratelimit, memory, client_eviction  # noqa: F401  (declare their settings)

log = logging.getLogger("nodensync.security")

G = "security"

# The algorithm used when hashing a new password.  Kept here (and updated by
# the setting's validator, which runs before requirepass is parsed) so that
# requirepass can be hashed while the settings are being parsed.
_ALGORITHM = ["scrypt"]


def _set_algorithm(value):
    _ALGORITHM[0] = value


def parse_requirepass(text):
    """requirepass is stored hashed: '' (no password), '#<entry>' as is, any
    other text is a plaintext password, hashed now (never kept)."""
    if text == "":
        return ""
    if text.startswith("#") and passwords.is_entry(text[1:]):
        return text
    entry = passwords.make_entry(text.encode("utf-8", "surrogateescape"), _ALGORITHM[0])
    return "#" + entry


def _parse_networks(text):
    nets = []
    for part in text.replace(",", " ").split():
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError("'%s' is not a network (use CIDR notation like 127.0.0.0/8)"
                             % part) from None
    return text


declare("aclPasswordHash", "enum", "scrypt",
        "How '>password' rules and requirepass are stored: scrypt (salted, slow; default), "
        "pbkdf2 (salted, slow) or sha256 (Redis's unsalted form, for ACL files shared with "
        "Redis).", choices=["scrypt", "pbkdf2", "sha256"], mutable=True, group=G,
        validate=_set_algorithm)
declare("requirepass", "str", "",
        "Password of the default user ('' = none). Stored hashed: CONFIG GET shows "
        "'#<hash>'; a value of that form is taken as an already hashed password.",
        redis="requirepass", mutable=True, secret=True, parser=parse_requirepass, group=G)
declare("aclFile", "path", "", "ACL file in Redis's format (user <name> <rules>...), "
        "loaded at start and by ACL LOAD, written by ACL SAVE.", redis="aclfile", group=G)
declare("aclUsers", "str", "",
        "Users defined in the configuration instead of an ACL file: ';'-separated "
        "'<name> <rules...>' entries, e.g. 'alice on >pw role:user; bob on #<sha256> "
        "role:readonly'.", group=G)
declare("acllogMaxLen", "int", 128, "Maximum number of ACL LOG entries.",
        redis="acllog-max-len", mutable=True, minimum=0, maximum=2 ** 63 - 1, group=G)
declare("aclPubsubDefault", "enum", "resetchannels",
        "Channel permissions of new users: resetchannels (none) or allchannels.",
        redis="acl-pubsub-default", choices=["allchannels", "resetchannels"], mutable=True,
        group=G)
declare("authFailThreshold", "int", 10,
        "Failed logins from one address before its attempts are delayed (0 = never delay).",
        mutable=True, minimum=0, maximum=1000000, group=G)
declare("authFailDelay", "int", 100,
        "First delay (ms) imposed on an address over the failure threshold; doubles with "
        "every further failure.", mutable=True, minimum=1, maximum=3600000, group=G)
declare("authFailMaxDelay", "int", 10000, "Largest delay (ms) between two login attempts "
        "of a throttled address.", mutable=True, minimum=1, maximum=3600000, group=G)
declare("protectedMode", "bool", True,
        "Protected mode: while the default user has no password, only clients from "
        "localNetworks are served; others get -DENIED and are disconnected.",
        redis="protected-mode", mutable=True, group=G)
declare("localNetworks", "str", "127.0.0.0/8 ::1/128",
        "Source networks protected mode treats as local (CIDR, space or comma separated).",
        mutable=True, parser=_parse_networks, group=G)

DENIED = (b"-DENIED Redis is running in protected mode because protected mode is enabled and "
          b"no password is set for the default user. In this mode connections are only "
          b"accepted from the loopback interface. If you want to connect from external "
          b"computers to Redis you may adopt one of the following solutions: 1) Just disable "
          b"protected mode sending the command 'CONFIG SET protected-mode no' from the "
          b"loopback interface by connecting to Redis from the same host the server is "
          b"running, however MAKE SURE Redis is not publicly accessible from internet if you "
          b"do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can "
          b"just disable the protected mode by editing the Redis configuration file, and "
          b"setting the protected mode option to 'no', and then restarting the server. 3) If "
          b"you started the server manually just for testing, restart it with the "
          b"'--protected-mode no' option. 4) Setup a an authentication password for the "
          b"default user. NOTE: You only need to do one of the above things in order for the "
          b"server to start accepting connections from the outside.\r\n")


class ProtectedMode:
    def __init__(self, node):
        self.node = node
        self.nets = []
        self.set_networks(node.config["localNetworks"])
        node.config.on_change("localNetworks", self.set_networks)

    def set_networks(self, text):
        self.nets = [ipaddress.ip_network(p, strict=False)
                     for p in text.replace(",", " ").split()]

    def is_local(self, address):
        if not isinstance(address, tuple):
            return True            # unix socket
        try:
            ip = ipaddress.ip_address(address[0].split("%", 1)[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.nets)

    def on_client_open(self, client):
        node = self.node
        if not node.config["protectedMode"] or not node.acl.default.nopass:
            return
        if self.is_local(client.address):
            return
        try:
            client.sock.sendall(DENIED)
        except OSError:
            pass
        client.close()


def _load_users(node, acl):
    cfg = node.config
    path = cfg["aclFile"]
    conf_users = cfg["aclUsers"].strip()
    if path and conf_users:
        log.warning("Configuring Redis with users defined in redis.conf and at the same setting "
                    "an ACL file path is invalid. This setup is very likely to lead to "
                    "configuration errors and security holes, please define either an ACL file "
                    "or declare users directly in your redis.conf, but not both.")
        raise SystemExit(1)
    if conf_users:
        lines = [b"user " + part.strip().encode("utf-8", "surrogateescape")
                 for part in conf_users.split(";") if part.strip()]
        users, err = acl.parse_user_lines(lines, "aclUsers")
        if err:
            log.warning("Critical error while loading ACLs (aclUsers): %s. Exiting.", err)
            raise SystemExit(1)
        if "default" not in users:
            users["default"] = acl.default.clone()
        acl.install_users(users)
    if path:
        err = acl.load_file(path)
        if err:
            log.warning("Aborting Redis startup because of ACL errors: %s", err)
            raise SystemExit(1)
    for user in acl.users.values():
        if not user.enabled and user is not acl.default:
            log.info("The user '%s' is disabled (there is no 'on' modifier in the user "
                     "description). Make sure this is not a configuration error.", user.name)


def attach(node):
    from .acl import ACL
    from .tokens import TokenStore
    cfg = node.config
    acl = ACL(node)
    acl.tokens = TokenStore(node)
    node.acl = acl
    _set_algorithm(cfg["aclPasswordHash"])
    if cfg["requirepass"]:
        acl.set_default_password(cfg["requirepass"][1:])
    _load_users(node, acl)

    node.client_open_hooks.append(acl.on_client_open)
    protected = ProtectedMode(node)
    node.client_open_hooks.append(protected.on_client_open)

    def on_requirepass(value):
        acl.set_default_password(value[1:] if value else "")

    def on_log_len(value):
        acl.log.max_len = value
        acl.log.trim()

    def on_throttle(_):
        t = acl.throttle
        t.threshold = cfg["authFailThreshold"]
        t.base = cfg["authFailDelay"] / 1000.0
        t.maximum = cfg["authFailMaxDelay"] / 1000.0

    def on_algorithm(value):
        acl.hash_algorithm = value
        _set_algorithm(value)

    cfg.on_change("requirepass", on_requirepass)
    cfg.on_change("acllogMaxLen", on_log_len)
    cfg.on_change("aclPubsubDefault",
                  lambda v: setattr(acl, "pubsub_default_all", v == "allchannels"))
    cfg.on_change("aclPasswordHash", on_algorithm)
    for name in ("authFailThreshold", "authFailDelay", "authFailMaxDelay"):
        cfg.on_change(name, on_throttle)

    hooks = getattr(node, "reload_hooks", None)
    if hooks is not None and cfg["aclFile"]:
        hooks.append(lambda: acl.reload_if_changed(cfg["aclFile"]))

    tls.attach(node)
    ratelimit.attach(node)
    memory.attach(node)
    client_eviction.attach(node)
