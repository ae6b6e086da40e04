"""TLS: server contexts for the listeners, certificate reload, and
``client_context()`` for outgoing links (replication).

``--enableTLS --tlsCert F --tlsKey F``: the main port (listenAddr) speaks
TLS.  With ``--tlsPort P`` TLS is served on P beside the plain-text main
port (``--tlsPort`` alone also enables TLS there, as Redis's tls-port).

Client certificates (Redis's tls-auth-clients): ``yes`` requires one signed
by ``--tlsCACert``, ``optional`` verifies one if offered, ``no`` never asks;
``auto`` (the default) means ``yes`` when a CA is configured, else ``no``.

Reload: SIGHUP, or ``CONFIG SET`` of any TLS file setting, builds a new
context; new connections use it, established ones keep theirs.  A context
that cannot be built (unreadable or mismatched files) is refused and the
old one stays in service.
"""
import logging
import os
import ssl

from ..config import declare

log = logging.getLogger("nodensync.tls")

G = "tls"

declare("enableTLS", "bool", False,
        "Serve TLS: on the main port, or on tlsPort when it is set.", group=G)
declare("tlsPort", "int", 0, "Extra port serving TLS beside the main plain-text port (0 = none).",
        redis="tls-port", minimum=0, maximum=65535, group=G)
declare("tlsCert", "path", "", "Server certificate (PEM, may include the chain).",
        redis="tls-cert-file", mutable=True, group=G)
declare("tlsKey", "path", "", "Private key of the server certificate (PEM).",
        redis="tls-key-file", mutable=True, group=G)
declare("tlsKeyPass", "str", "", "Passphrase of tlsKey, if it is encrypted.",
        redis="tls-key-file-pass", mutable=True, secret=True, group=G)
declare("tlsCACert", "path", "", "CA certificate(s) used to verify client (and, for outgoing "
        "links, server) certificates.", redis="tls-ca-cert-file", mutable=True, group=G)
declare("tlsCACertDir", "path", "", "Directory of CA certificates (OpenSSL hashed names).",
        redis="tls-ca-cert-dir", mutable=True, group=G)
declare("tlsAuthClients", "enum", "auto",
        "Client certificates: yes (required), optional, no, or auto (yes when a CA is "
        "configured, else no).", redis="tls-auth-clients",
        choices=["no", "yes", "optional", "auto"], mutable=True, group=G)
declare("tlsProtocols", "str", "", "Allowed protocol versions, e.g. 'TLSv1.2 TLSv1.3' "
        "('' = TLSv1.2 and TLSv1.3).", redis="tls-protocols", mutable=True, group=G)
declare("tlsCiphers", "str", "", "OpenSSL cipher list for TLSv1.2 and below ('' = OpenSSL's "
        "default).", redis="tls-ciphers", mutable=True, group=G)
declare("tlsPreferServerCiphers", "bool", False, "Prefer the server's cipher order.",
        redis="tls-prefer-server-ciphers", mutable=True, group=G)
declare("tlsClientCert", "path", "", "Certificate for outgoing TLS links (default: tlsCert).",
        redis="tls-client-cert-file", mutable=True, group=G)
declare("tlsClientKey", "path", "", "Key for outgoing TLS links (default: tlsKey).",
        redis="tls-client-key-file", mutable=True, group=G)
declare("tlsReplication", "bool", False, "Use TLS for replication links (see "
        "security.tls.client_context()).", redis="tls-replication", mutable=True, group=G)

RELOAD_SETTINGS = ("tlsCert", "tlsKey", "tlsKeyPass", "tlsCACert", "tlsCACertDir",
                   "tlsAuthClients", "tlsProtocols", "tlsCiphers", "tlsPreferServerCiphers")
HANDSHAKE_TIMEOUT = 10.0
_VERSIONS = {"tlsv1": ssl.TLSVersion.TLSv1, "tlsv1.1": ssl.TLSVersion.TLSv1_1,
             "tlsv1.2": ssl.TLSVersion.TLSv1_2, "tlsv1.3": ssl.TLSVersion.TLSv1_3}
_CONFIG = [None]       # the running node's Config, for client_context()


class TLSConfigError(ValueError):
    pass


def enabled(cfg):
    return bool(cfg["enableTLS"] or cfg["tlsPort"])


def _apply_common(ctx, cfg):
    ctx.options |= getattr(ssl, "OP_NO_COMPRESSION", 0) | getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    protocols = cfg["tlsProtocols"].lower().split()
    if protocols:
        versions = []
        for p in protocols:
            if p not in _VERSIONS:
                raise TLSConfigError("invalid tls-protocols value '%s'" % p)
            versions.append(_VERSIONS[p])
        ctx.minimum_version = min(versions)
        ctx.maximum_version = max(versions)
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cfg["tlsCiphers"]:
        try:
            ctx.set_ciphers(cfg["tlsCiphers"])
        except ssl.SSLError as e:
            raise TLSConfigError("invalid tls-ciphers: %s" % e) from None
    if cfg["tlsPreferServerCiphers"]:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE


def _load_ca(ctx, cfg):
    cafile = cfg["tlsCACert"] or None
    capath = cfg["tlsCACertDir"] or None
    if cafile or capath:
        try:
            ctx.load_verify_locations(cafile=cafile, capath=capath)
        except (OSError, ssl.SSLError) as e:
            raise TLSConfigError("Failed to configure CA certificate(s) file/directory: %s"
                                 % e) from None
        return True
    return False


def auth_clients_mode(cfg):
    mode = cfg["tlsAuthClients"]
    if mode == "auto":
        return "yes" if (cfg["tlsCACert"] or cfg["tlsCACertDir"]) else "no"
    return mode


def server_context(cfg):
    """A server-side SSLContext from the settings; TLSConfigError if the
    files are missing, unreadable or do not match."""
    cert, key = cfg["tlsCert"], cfg["tlsKey"]
    if not cert or not key:
        raise TLSConfigError("TLS needs both tlsCert (tls-cert-file) and tlsKey (tls-key-file)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert, key, password=cfg["tlsKeyPass"] or None)
    except (OSError, ssl.SSLError) as e:
        raise TLSConfigError("Failed to load certificate %s / private key %s: %s"
                             % (cert, key, e)) from None
    has_ca = _load_ca(ctx, cfg)
    mode = auth_clients_mode(cfg)
    if mode == "yes":
        if not has_ca:
            raise TLSConfigError("Either tls-ca-cert-file or tls-ca-cert-dir must be specified "
                                 "when tls-auth-clients is enabled!")
        ctx.verify_mode = ssl.CERT_REQUIRED
    elif mode == "optional":
        ctx.verify_mode = ssl.CERT_OPTIONAL if has_ca else ssl.CERT_NONE
    else:
        ctx.verify_mode = ssl.CERT_NONE
    _apply_common(ctx, cfg)
    return ctx


def client_context(cfg=None):
    """An SSLContext for outgoing TLS connections (replication links):
    verifies the peer against tlsCACert when one is configured (no hostname
    check, as Redis), and presents tlsClientCert/tlsClientKey (default
    tlsCert/tlsKey) so servers requiring client certificates accept it."""
    cfg = cfg if cfg is not None else _CONFIG[0]
    if cfg is None:
        raise TLSConfigError("no configuration: call client_context(node.config)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if _load_ca(ctx, cfg):
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    cert = cfg["tlsClientCert"] or cfg["tlsCert"]
    key = cfg["tlsClientKey"] or cfg["tlsKey"]
    if cert and key:
        try:
            ctx.load_cert_chain(cert, key, password=cfg["tlsKeyPass"] or None)
        except (OSError, ssl.SSLError) as e:
            raise TLSConfigError("Failed to load client certificate %s / key %s: %s"
                                 % (cert, key, e)) from None
    _apply_common(ctx, cfg)
    return ctx


class TLS:
    """The node's TLS state: listeners serving TLS and their context."""

    def __init__(self, node):
        self.node = node
        self.context = None
        self.extra_listener = None

    def listeners(self):
        out = []
        main = self.node.listener
        if main is not None and getattr(main, "is_tls", False):
            out.append(main)
        if self.extra_listener is not None:
            out.append(self.extra_listener)
        return out

    def reload(self):
        """Build a new context and hand it to every TLS listener (new
        connections only).  Returns None or the error text."""
        try:
            ctx = server_context(self.node.config)
        except TLSConfigError as e:
            log.warning("TLS configuration not reloaded (keeping the previous one): %s", e)
            return str(e)
        self.context = ctx
        for listener in self.listeners():
            listener.wrap_socket = ctx.wrap_socket
        log.info("TLS configuration reloaded")
        return None

    def start_extra_listener(self):
        from ..server.listener import Listener
        node = self.node
        host = node.config["listenAddr"][0]
        port = node.config["tlsPort"]
        try:
            listener = Listener(node, (host, port), ssl_context=self.context)
            listener.start()
        except OSError as e:
            log.error("Could not listen on %s:%d (TLS): %s", host, port, e)
            if node.request_shutdown is not None:
                node.request_shutdown(False)
            return
        self.extra_listener = listener
        node.tls_port = listener.server_port
        log.info("TLS listening on %s:%d", host, listener.server_port)

    def stop(self, _save=None):
        if self.extra_listener is not None:
            try:
                self.extra_listener.close()
            except Exception:
                pass


def attach(node):
    cfg = node.config
    _CONFIG[0] = cfg
    node.tls_port = 0
    if not enabled(cfg):
        return
    state = TLS(node)
    node.tls = state
    try:
        state.context = server_context(cfg)
    except TLSConfigError as e:
        log.error("Failed to configure TLS: %s", e)
        raise SystemExit(1)
    if cfg["tlsPort"]:
        node.start_hooks.append(state.start_extra_listener)
        node.shutdown_hooks.append(state.stop)
    else:
        # The main listener (created by cli.main) speaks TLS.
        node.main_ssl_context = state.context
        node.tls_port = cfg["listenAddr"][1]
    hooks = getattr(node, "reload_hooks", None)
    if hooks is not None:
        hooks.append(state.reload)

    pending = [False]

    def on_change(_value):
        # Cert and key often change together in one CONFIG SET: try now, and
        # if the pair does not match yet, once more when the command is done.
        for name in ("tlsCert", "tlsKey", "tlsCACert"):
            path = cfg[name]
            if path and not os.access(path, os.R_OK):
                raise ValueError("Unable to update TLS configuration. Check server logs.")
        try:
            ctx = server_context(cfg)
        except TLSConfigError:
            if not pending[0]:
                pending[0] = True

                def later():
                    pending[0] = False
                    state.reload()
                import gevent
                gevent.spawn(later)
            return
        state.context = ctx
        for listener in state.listeners():
            listener.wrap_socket = ctx.wrap_socket

    for name in RELOAD_SETTINGS:
        cfg.on_change(name, on_change)
