"""Cluster commands: CLUSTER <subcommand>, READONLY, READWRITE, ASKING,
MIGRATE and RESTORE-ASKING.

The machinery lives in ``nodensync/cluster`` (``node.cluster``); these
handlers check arguments with Redis 7.0's texts, read the committed
configuration (``node.cluster.view``) and propose changes through Raft
(``node.cluster.raft.propose``).  Changes to the configuration (ADDSLOTS,
SETSLOT, REPLICATE, FORGET, FAILOVER ...) reply once committed by a majority
of the control plane; MEET answers at once and joins in the background, as
Redis does.

``CLUSTER NSYNC ...`` is NodeNsync's internal node-to-node protocol (join,
failover handshake, Pub/Sub forwarding); it is an admin command.
"""
import logging
import time

import gevent

from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, Status, Verbatim, status_lines
from ..storage import rdb
from ..storage.snapshot import encoding_limits
from .registry import (command, container, ADMIN, STALE, LOADING, FAST, WRITE, DENYOOM,
                       NO_ASYNC_LOADING, NOSCRIPT, ASKING)
from .util import parse_int

log = logging.getLogger("nodensync.cluster")

G = "cluster"
DISABLED = "ERR This instance has cluster support disabled"
ADM = ADMIN | STALE | NO_ASYNC_LOADING

container("cluster", group=G, since="3.0.0", summary="A container for cluster commands")


def _cluster(ctx):
    c = ctx.node.cluster
    if c is None:
        raise CommandError(DISABLED)
    return c


def _propose(c, op, *args, timeout=5.0):
    from ..cluster.raft import RaftError
    try:
        res = c.raft.propose(op, *args, timeout=timeout)
    except RaftError as e:
        raise CommandError(str(e)) from None
    if isinstance(res, str) and res.startswith("ERR"):
        raise CommandError(res)
    return res


def _node_or_error(view, arg, fmt="ERR Unknown node %s"):
    nid = arg.decode("utf-8", "replace")
    rec = view.nodes.get(nid)
    if rec is None:
        raise CommandError(fmt % nid)
    return rec


def _subcommand_syntax_error(default):
    """Redis's addReplySubcommandSyntaxError, naming the subcommand as the
    client typed it (read from the dispatching frame's argv)."""
    import sys
    name = default
    f = sys._getframe(2)
    for _ in range(8):
        if f is None:
            break
        argv = f.f_locals.get("argv")
        if type(argv) is list and len(argv) > 1 and type(argv[1]) is bytes:
            name = argv[1].decode("utf-8", "replace")[:128]
            break
        f = f.f_back
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%s'. "
                        "Try CLUSTER HELP." % name)


def _slot(arg):
    from ..cluster.slots import parse_slot
    return parse_slot(arg)


# -- HELP ------------------------------------------------------------------------------
_HELP = [
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
]


@command("cluster|help", arity=2, flags=LOADING | STALE, group=G, since="5.0.0", syntax="")
def cluster_help(ctx):
    """Show helpful text about the different subcommands."""
    _cluster(ctx)
    return status_lines(_HELP)


# -- introspection -----------------------------------------------------------------------
@command("cluster|myid", arity=2, flags=STALE, group=G, since="3.0.0", syntax="")
def cluster_myid(ctx):
    """Return the node id."""
    return _cluster(ctx).my_id.encode()


@command("cluster|myshardid", arity=2, flags=STALE, group=G, since="7.2.0", syntax="")
def cluster_myshardid(ctx):
    """Return the node's shard id (the id of the shard's current master)."""
    c = _cluster(ctx)
    me = c.view.me
    if me is None:
        return c.my_id.encode()
    return (me.master or me.id).encode()


def _slot_states(c, v):
    ok = pfail = fail = 0
    health = c.health
    for nid, count in v.slot_counts.items():
        rec = v.nodes.get(nid)
        if rec is None:
            continue
        if rec.fail:
            fail += count
        elif nid != v.my_id and health.pfail(nid):
            pfail += count
        else:
            ok += count
    return ok, pfail, fail


def cluster_info_fields(c):
    v = c.view
    ok, pfail, fail = _slot_states(c, v)
    me = v.me
    size = sum(1 for nid, n in v.slot_counts.items() if n and nid in v.nodes)
    st = c.raft.status()
    pings, pongs = c.health.pings_sent, c.health.pongs_received
    fields = [
        ("cluster_state", "ok" if c.ok else "fail"),
        ("cluster_slots_assigned", v.assigned),
        ("cluster_slots_ok", ok),
        ("cluster_slots_pfail", pfail),
        ("cluster_slots_fail", fail),
        ("cluster_known_nodes", len(v.nodes)),
        ("cluster_size", size),
        ("cluster_current_epoch", v.current_epoch),
        ("cluster_my_epoch", me.epoch if me is not None else 0),
    ]
    if pings:
        fields.append(("cluster_stats_messages_ping_sent", pings))
    fields.append(("cluster_stats_messages_sent", pings))
    if pongs:
        fields.append(("cluster_stats_messages_pong_received", pongs))
    fields.append(("cluster_stats_messages_received", pongs))
    fields.append(("total_cluster_links_buffer_limit_exceeded", 0))
    # NodeNsync's control plane (after Redis's fields).
    fields += [
        ("cluster_raft_state", st.get("state", "none")),
        # The leader's node id, not its bus address: clients split every line of
        # CLUSTER INFO at ':' (redis-py: dict(line.split(':'))), so no value may hold one.
        ("cluster_raft_leader", _raft_leader_id(v, st.get("leader", ""))),
        ("cluster_raft_term", st.get("term", 0)),
        ("cluster_raft_commit_index", st.get("commit_index", 0)),
        ("cluster_raft_voters", st.get("voters", 0)),
        ("cluster_state_reason", c.state_reason),
        ("cluster_failovers_committed", c.failover.failovers),
    ]
    return fields


def _raft_leader_id(view, addr):
    for rec in view.nodes.values():
        if "%s:%d" % (rec.ip, rec.bus) == addr:
            return rec.id
    return ""


@command("cluster|info", arity=2, flags=STALE, group=G, since="3.0.0", syntax="")
def cluster_info(ctx):
    """Provides info about Redis Cluster node state."""
    c = _cluster(ctx)
    return Verbatim("".join("%s:%s\r\n" % kv for kv in cluster_info_fields(c)))


@command("cluster|nodes", arity=2, flags=STALE, group=G, since="3.0.0", syntax="")
def cluster_nodes(ctx):
    """Get Cluster config for the node."""
    from ..cluster.topology import nodes_text
    c = _cluster(ctx)
    return Verbatim(nodes_text(c.view, c.health))


@command("cluster|replicas", arity=3, flags=ADMIN | STALE, group=G, since="5.0.0",
         syntax="node-id")
def cluster_replicas(ctx, node_id):
    """List replica nodes of the specified master node."""
    return _replicas(ctx, node_id)


@command("cluster|slaves", arity=3, flags=ADMIN | STALE, group=G, since="3.0.0",
         syntax="node-id")
def cluster_slaves(ctx, node_id):
    """List replica nodes of the specified master node."""
    return _replicas(ctx, node_id)


def _replicas(ctx, node_id):
    from ..cluster.topology import node_line
    c = _cluster(ctx)
    v = c.view
    rec = _node_or_error(v, node_id)
    if not rec.is_master:
        raise CommandError("ERR The specified node is not a master")
    return [node_line(v, r, c.health).encode() for r in v.replicas_of(rec.id)]


def _node_entry(rec):
    return [rec.ip.encode(), rec.port, rec.id.encode(), {}]


@command("cluster|slots", arity=2, flags=STALE, group=G, since="3.0.0", syntax="")
def cluster_slots(ctx):
    """Get array of Cluster slot to node mappings."""
    c = _cluster(ctx)
    v = c.view
    out = []
    for start, end, master in v.master_ranges():
        if master is None:
            continue
        entry = [start, end, _node_entry(master)]
        for r in v.replicas_of(master.id):
            if not r.fail:
                entry.append(_node_entry(r))
        out.append(entry)
    return out


def _offset_of(c, rec):
    if rec.id == c.my_id:
        from ..cluster.failover import local_offset
        return local_offset(c.node)
    p = c.health.peers.get(rec.id)
    return getattr(p, "offset", 0) if p is not None else 0


def _shard_node(c, rec):
    offset = _offset_of(c, rec)
    d = {b"id": rec.id.encode(), b"port": rec.port, b"ip": rec.ip.encode(),
         b"endpoint": rec.ip.encode()}
    if rec.hostname:
        d[b"hostname"] = rec.hostname.encode()
    d[b"role"] = b"master" if rec.is_master else b"replica"
    d[b"replication-offset"] = offset
    if rec.fail:
        health = b"fail"
    elif not rec.is_master and offset == 0:
        health = b"loading"
    else:
        health = b"online"
    d[b"health"] = health
    return d


@command("cluster|shards", arity=2, flags=STALE, group=G, since="7.0.0", syntax="")
def cluster_shards(ctx):
    """Get array of cluster slots to node mappings."""
    c = _cluster(ctx)
    v = c.view
    masters = [n for n in v.ordered() if n.is_master]
    ranges = {m.id: v.slot_ranges_of(m.id) for m in masters}
    masters.sort(key=lambda m: (not ranges[m.id], ranges[m.id][0][0] if ranges[m.id] else 0))
    out = []
    for m in masters:
        slots = []
        for a, b in ranges[m.id]:
            slots += [a, b]
        nodes = [_shard_node(c, m)] + [_shard_node(c, r) for r in v.replicas_of(m.id)]
        out.append({b"slots": slots, b"nodes": nodes})
    return out


@command("cluster|keyslot", arity=3, flags=STALE, group=G, since="3.0.0", syntax="key")
def cluster_keyslot(ctx, key):
    """Returns the hash slot of the specified key."""
    from ..cluster.slots import key_slot
    _cluster(ctx)
    return key_slot(key)


@command("cluster|countkeysinslot", arity=3, flags=STALE, group=G, since="3.0.0",
         syntax="slot")
def cluster_countkeysinslot(ctx, slot_arg):
    """Return the number of local keys in the specified hash slot."""
    c = _cluster(ctx)
    slot = parse_int(slot_arg)
    if not 0 <= slot < 16384:
        raise CommandError("ERR Invalid slot")
    return len(c.keys_in_slot(slot))


@command("cluster|getkeysinslot", arity=4, flags=STALE, group=G, since="3.0.0",
         syntax="slot count")
def cluster_getkeysinslot(ctx, slot_arg, count_arg):
    """Return local key names in the specified hash slot."""
    c = _cluster(ctx)
    slot = parse_int(slot_arg)
    count = parse_int(count_arg)
    if not 0 <= slot < 16384 or count < 0:
        raise CommandError("ERR Invalid slot or number of keys")
    return c.keys_in_slot(slot)[:count]


@command("cluster|count-failure-reports", arity=3, flags=ADMIN | STALE, group=G,
         since="3.0.0", syntax="node-id")
def cluster_count_failure_reports(ctx, node_id):
    """Return the number of failure reports active for a given node."""
    c = _cluster(ctx)
    rec = _node_or_error(c.view, node_id)
    return 1 if rec.id != c.my_id and c.health.pfail(rec.id) else 0


@command("cluster|links", arity=2, flags=STALE, group=G, since="7.0.0", syntax="")
def cluster_links(ctx):
    """Returns a list of all TCP links to and from peer nodes in cluster."""
    c = _cluster(ctx)
    out = []
    h = c.health
    for nid in sorted((set(h.peers) | set(h.inbound)) & set(c.view.nodes)):
        p = h.peers.get(nid)
        if p is not None and p.connected:
            out.append({b"direction": b"to", b"node": nid.encode(), b"create-time": p.link_ms,
                        b"events": b"r", b"send-buffer-allocated": 0, b"send-buffer-used": 0})
        link = h.inbound.get(nid)
        if link is not None:
            out.append({b"direction": b"from", b"node": nid.encode(), b"create-time": link[1],
                        b"events": b"r", b"send-buffer-allocated": 0, b"send-buffer-used": 0})
    return out


@command("cluster|saveconfig", arity=2, flags=ADM, group=G, since="3.0.0", syntax="")
def cluster_saveconfig(ctx):
    """Forces the node to save cluster state on disk."""
    _cluster(ctx).identity.save()
    return OK


# -- slots ---------------------------------------------------------------------------------
def _parse_slot_list(args):
    seen = set()
    out = []
    for a in args:
        s = _slot(a)
        if s in seen:
            raise CommandError("ERR Slot %d specified multiple times" % s)
        seen.add(s)
        out.append(s)
    return out


def _parse_slot_ranges(name, args):
    if len(args) % 2:
        raise errors.wrong_arity("cluster|" + name)
    seen = set()
    out = []
    for i in range(0, len(args), 2):
        a, b = _slot(args[i]), _slot(args[i + 1])
        if a > b:
            raise CommandError("ERR start slot number %d is greater than end slot number %d"
                               % (a, b))
        for s in range(a, b + 1):
            if s in seen:
                raise CommandError("ERR Slot %d specified multiple times" % s)
            seen.add(s)
            out.append(s)
    return out


def _add_slots(ctx, slots):
    c = _cluster(ctx)
    owner = c.view.owner
    for s in slots:
        if owner[s] is not None:
            raise CommandError("ERR Slot %d is already busy" % s)
    _propose(c, "add_slots", c.my_id, slots)
    return OK


def _del_slots(ctx, slots):
    c = _cluster(ctx)
    owner = c.view.owner
    for s in slots:
        if owner[s] is None:
            raise CommandError("ERR Slot %d is already unassigned" % s)
    _propose(c, "del_slots", slots)
    return OK


@command("cluster|addslots", arity=-3, flags=ADM, group=G, since="3.0.0",
         syntax="slot [slot ...]")
def cluster_addslots(ctx, *args):
    """Assign new hash slots to receiving node."""
    _cluster(ctx)
    return _add_slots(ctx, _parse_slot_list(args))


@command("cluster|addslotsrange", arity=-4, flags=ADM, group=G, since="7.0.0",
         syntax="start-slot end-slot [start-slot end-slot ...]")
def cluster_addslotsrange(ctx, *args):
    """Assign new hash slots to receiving node."""
    _cluster(ctx)
    return _add_slots(ctx, _parse_slot_ranges("addslotsrange", args))


@command("cluster|delslots", arity=-3, flags=ADM, group=G, since="3.0.0",
         syntax="slot [slot ...]")
def cluster_delslots(ctx, *args):
    """Set hash slots as unbound in receiving node."""
    _cluster(ctx)
    return _del_slots(ctx, _parse_slot_list(args))


@command("cluster|delslotsrange", arity=-4, flags=ADM, group=G, since="7.0.0",
         syntax="start-slot end-slot [start-slot end-slot ...]")
def cluster_delslotsrange(ctx, *args):
    """Set hash slots as unbound in receiving node."""
    _cluster(ctx)
    return _del_slots(ctx, _parse_slot_ranges("delslotsrange", args))


@command("cluster|flushslots", arity=2, flags=ADM, group=G, since="3.0.0", syntax="")
def cluster_flushslots(ctx):
    """Delete a node's own slots information."""
    c = _cluster(ctx)
    if len(ctx.node.keyspace.dbs[0].data):
        raise CommandError("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
    _propose(c, "flush_slots", c.my_id)
    return OK


@command("cluster|setslot", arity=-4, flags=ADM, group=G, since="3.0.0",
         syntax="slot <IMPORTING node-id | MIGRATING node-id | NODE node-id | STABLE>")
def cluster_setslot(ctx, slot_arg, action, *rest):
    """Bind a hash slot to a specific node."""
    c = _cluster(ctx)
    v = c.view
    me = v.me
    if me is not None and not me.is_master:
        raise CommandError("ERR Please use SETSLOT only with masters.")
    slot = _slot(slot_arg)
    a = action.lower()
    if a == b"migrating" and len(rest) == 1:
        if v.owner[slot] is not me or me is None:
            raise CommandError("ERR I'm not the owner of hash slot %d" % slot)
        dst = _node_or_error(v, rest[0], "ERR I don't know about node %s")
        if not dst.is_master:
            raise CommandError("ERR Target node is not a master")
        _propose(c, "set_migrating", slot, c.my_id, dst.id)
    elif a == b"importing" and len(rest) == 1:
        if me is not None and v.owner[slot] is me:
            raise CommandError("ERR I'm already the owner of hash slot %d" % slot)
        src = _node_or_error(v, rest[0], "ERR I don't know about node %s")
        if not src.is_master:
            raise CommandError("ERR Target node is not a master")
        _propose(c, "set_importing", slot, c.my_id, src.id)
    elif a == b"stable" and not rest:
        _propose(c, "set_stable", slot, c.my_id)
    elif a == b"node" and len(rest) == 1:
        n = _node_or_error(v, rest[0])
        if not n.is_master:
            raise CommandError("ERR Target node is not a master")
        if me is not None and v.owner[slot] is me and n is not me and c.keys_in_slot(slot):
            raise CommandError("ERR Can't assign hashslot %d to a different node while I still "
                               "hold keys for this hash slot." % slot)
        _propose(c, "set_slot_node", slot, n.id, bool(c.config["clusterAllowReplicaMigration"]))
    else:
        raise CommandError("ERR Invalid CLUSTER SETSLOT action or number of arguments. "
                           "Try CLUSTER HELP")
    return OK


# -- membership and roles ----------------------------------------------------------------------
@command("cluster|meet", arity=-4, flags=ADM, group=G, since="3.0.0",
         syntax="ip port [cluster-bus-port]")
def cluster_meet(ctx, ip, port_arg, *rest):
    """Force a node cluster to handshake with another node."""
    import ipaddress
    c = _cluster(ctx)
    if len(rest) > 1:
        raise _subcommand_syntax_error("MEET")
    try:
        port = int(port_arg)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise CommandError("ERR Invalid TCP base port specified: %s"
                           % port_arg.decode("utf-8", "replace")) from None
    if rest:
        try:
            bus = int(rest[0])
            if not 0 < bus < 65536:
                raise ValueError
        except ValueError:
            raise CommandError("ERR Invalid TCP bus port specified: %s"
                               % rest[0].decode("utf-8", "replace")) from None
    host = ip.decode("utf-8", "replace")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise CommandError("ERR Invalid node address specified: %s:%s"
                           % (host, port_arg.decode("utf-8", "replace"))) from None
    gevent.spawn(c.meet, host, port)
    return OK


@command("cluster|replicate", arity=3, flags=ADM, group=G, since="3.0.0", syntax="node-id")
def cluster_replicate(ctx, node_id):
    """Reconfigure a node as a replica of the specified master node."""
    c = _cluster(ctx)
    v = c.view
    n = _node_or_error(v, node_id)
    if n.id == c.my_id:
        raise CommandError("ERR Can't replicate myself")
    if not n.is_master:
        raise CommandError("ERR I can only replicate a master, not a replica.")
    me = v.me
    if me is not None and me.is_master and (v.slot_counts.get(c.my_id) or
                                            len(ctx.node.keyspace.dbs[0].data)):
        raise CommandError("ERR To set a master the node must be empty and without assigned "
                           "slots.")
    _propose(c, "replicate", c.my_id, n.id)
    return OK


@command("cluster|forget", arity=3, flags=ADM, group=G, since="3.0.0", syntax="node-id")
def cluster_forget(ctx, node_id):
    """Remove a node from the nodes table."""
    c = _cluster(ctx)
    v = c.view
    n = _node_or_error(v, node_id)
    if n.id == c.my_id:
        raise CommandError("ERR I tried hard but I can't forget myself...")
    if v.me is not None and v.me.master == n.id:
        raise CommandError("ERR Can't forget my master!")
    _propose(c, "forget", n.id)
    return OK


@command("cluster|reset", arity=-2, flags=ADMIN | NOSCRIPT | STALE, group=G, since="3.0.0",
         syntax="[HARD | SOFT]")
def cluster_reset(ctx, *args):
    """Reset a Redis Cluster node."""
    c = _cluster(ctx)
    hard = False
    if len(args) > 1:
        raise _subcommand_syntax_error("RESET")
    if args:
        a = args[0].lower()
        if a == b"hard":
            hard = True
        elif a != b"soft":
            raise CommandError(errors.SYNTAX)
    me = c.view.me
    node = ctx.node
    if (me is None or me.is_master) and len(node.keyspace.dbs[0].data):
        raise CommandError("ERR CLUSTER RESET can't be called with master nodes containing keys")
    if me is not None and not me.is_master:
        for db in node.keyspace.dbs:
            db.flush()
        node.keyspace.dirty += 1
    c.replication.become_master()
    c.leave(hard)
    return OK


@command("cluster|failover", arity=-2, flags=ADM, group=G, since="3.0.0",
         syntax="[FORCE | TAKEOVER]",
         summary="Forces a replica to perform a manual failover of its master.")
def cluster_failover(ctx, *args):
    """Forces a replica to perform a manual failover of its master."""
    from ..cluster.failover import manual_failover
    c = _cluster(ctx)
    mode = None
    if len(args) == 1:
        a = args[0].lower()
        if a == b"force":
            mode = "force"
        elif a == b"takeover":
            mode = "takeover"
        else:
            raise CommandError(errors.SYNTAX)
    elif len(args) > 1:
        raise _subcommand_syntax_error("FAILOVER")
    manual_failover(c, mode)
    return OK


@command("cluster|bumpepoch", arity=2, flags=ADM, group=G, since="3.0.0", syntax="")
def cluster_bumpepoch(ctx):
    """Advance the cluster config epoch."""
    c = _cluster(ctx)
    res = _propose(c, "bump_epoch", c.my_id)
    return Status(b"%s %d" % (res[0].encode(), res[1]))


@command("cluster|set-config-epoch", arity=3, flags=ADM, group=G, since="3.0.0",
         syntax="config-epoch")
def cluster_set_config_epoch(ctx, epoch_arg):
    """Set the configuration epoch in a new node."""
    c = _cluster(ctx)
    epoch = parse_int(epoch_arg)
    if epoch < 0:
        raise CommandError("ERR Invalid config epoch specified: %d" % epoch)
    if len(c.view.nodes) > 1:
        raise CommandError("ERR The user can assign a config epoch only when the node does not "
                           "know any other node.")
    _propose(c, "set_config_epoch", c.my_id, epoch)
    return OK


# -- internal node-to-node protocol --------------------------------------------------------------
@command("cluster|nsync", arity=-3, flags=ADMIN | STALE | LOADING, group=G, since="7.0.0",
         syntax="<HELLO | FOUND | JOIN | PROMOTE | PAUSE | UNPAUSE | OFFSET | BARRIER | PUBLISH | "
                "SPUBLISH | STATUS | BEGINMOVES | FINISHMOVES> ...")
def cluster_nsync(ctx, op, *args):
    """NodeNsync's internal node-to-node protocol (not for clients)."""
    c = _cluster(ctx)
    o = op.lower()
    if o == b"hello":
        return c.hello_info()
    if o == b"offset":
        from ..cluster.failover import local_offset
        if len(args) == 1 and args[0].decode("latin-1") in c.view.nodes:
            c.health.inbound_link(args[0].decode("latin-1"), ctx)
        return local_offset(ctx.node)
    if o == b"publish" and len(args) == 2:
        return ctx.node.pubsub.publish(args[0], args[1])
    if o == b"spublish" and len(args) == 2:
        return ctx.node.pubsub.spublish(args[0], args[1])
    if o == b"join" and len(args) >= 2:
        voter = args[0] == b"1"
        self_addr = args[1].decode() if voter else None
        peers = [p.decode() for p in args[2:]]
        try:
            c.join(voter, self_addr, peers)
        except Exception as e:
            log.exception("joining the cluster failed")
            raise CommandError("ERR could not join: %s" % e) from None
        return OK
    if o == b"pause" and len(args) == 1:
        ms = parse_int(args[0])
        me = c.view.me
        if me is None or not me.is_master:
            raise CommandError("ERR not a master")
        c.router.pause_writes(ms / 1000.0)
        from ..cluster.failover import local_offset
        return local_offset(ctx.node)
    if o == b"unpause":
        c.router.unpause()
        return OK
    if o in (b"beginmoves", b"finishmoves") and len(args) >= 2:
        return _batched_moves(c, o == b"beginmoves", args[0], args[1:])
    if o == b"found":
        from ..cluster.raft import RaftError
        try:
            c.found()
        except RaftError as e:
            raise CommandError("ERR %s" % e) from None
        return OK
    if o == b"promote" and len(args) >= 1:
        try:
            c.promote(args[0].decode(), [p.decode() for p in args[1:]])
        except Exception as e:
            log.exception("becoming a voter failed")
            raise CommandError("ERR could not become a voter: %s" % e) from None
        return OK
    if o == b"barrier":
        from ..cluster.raft import RaftError
        try:
            c.raft.barrier(timeout=10.0)
        except RaftError as e:
            raise CommandError(str(e)) from None
        return OK
    if o == b"status":
        st = c.raft.status()
        return {k.encode(): (v.encode() if isinstance(v, str) else int(v) if isinstance(v, bool)
                             else v) for k, v in st.items()}
    raise CommandError(errors.SYNTAX)


def _batched_moves(c, begin, dst_arg, slot_args):
    """CLUSTER NSYNC BEGINMOVES|FINISHMOVES <dst-id> <slot|start-end> ...,
    sent to the source master: NodeNsync's batched form of SETSLOT
    IMPORTING + MIGRATING (begin) and SETSLOT NODE (finish) for many slots
    in one Raft commit each.  FINISHMOVES refuses while this node still
    holds keys of a slot."""
    v = c.view
    me = v.me
    dst = _node_or_error(v, dst_arg, "ERR I don't know about node %s")
    slots = []
    for a in slot_args:
        lo, sep, hi = a.partition(b"-")
        if sep:
            x, y = _slot(lo), _slot(hi)
            if x > y:
                raise CommandError("ERR start slot number %d is greater than end slot number %d"
                                   % (x, y))
            slots.extend(range(x, y + 1))
        else:
            slots.append(_slot(a))
    if begin:
        if me is None or not me.is_master:
            raise CommandError("ERR Please use SETSLOT only with masters.")
        _propose(c, "begin_moves", slots, c.my_id, dst.id, timeout=10.0)
    else:
        for s in slots:
            if v.owner[s] is me and c.keys_in_slot(s):
                raise CommandError("ERR Can't assign hashslot %d to a different node while I "
                                   "still hold keys for this hash slot." % s)
        _propose(c, "finish_moves", slots, dst.id,
                 bool(c.config["clusterAllowReplicaMigration"]), timeout=10.0)
    # The destination must have applied the change before keys (RESTORE-ASKING)
    # or redirected clients reach it: wait for it to pass a barrier.
    if dst.id != c.my_id:
        from ..cluster.router import PeerClient, PeerError
        peer = PeerClient(dst.ip, dst.port, timeout=10.0, auth=c.auth())
        try:
            r = peer.call(b"CLUSTER", b"NSYNC", b"BARRIER")
        except PeerError as e:
            raise CommandError("ERR the destination did not confirm the change: %s" % e) from None
        finally:
            peer.close()
        if r != b"OK":
            raise CommandError("ERR the destination did not confirm the change: %s" % r)
    return OK


# -- READONLY / READWRITE / ASKING ----------------------------------------------------------------
@command("readonly", arity=1, flags=LOADING | STALE | FAST, group="connection", since="3.0.0",
         syntax="")
def readonly(ctx):
    """Enables read queries for a connection to a cluster replica node."""
    _cluster(ctx)
    ctx.readonly_cluster = True
    return OK


@command("readwrite", arity=1, flags=LOADING | STALE | FAST, group="connection",
         since="3.0.0", syntax="")
def readwrite(ctx):
    """Disables read queries for a connection to a cluster replica node."""
    _cluster(ctx)
    ctx.readonly_cluster = False
    return OK


@command("asking", arity=1, flags=FAST, group="connection", since="3.0.0", syntax="")
def asking(ctx):
    """Sent by cluster clients after an -ASK redirect."""
    _cluster(ctx)
    ctx.asking = True
    return OK


# -- MIGRATE ------------------------------------------------------------------------------------------
def _migrate_keys(argv):
    """Key positions of MIGRATE, as Redis's migrateGetKeys finds them (for
    cluster routing, ACL key checks and COMMAND GETKEYS): argv[3], or the
    arguments after KEYS -- none when argv[3] is not empty then (the
    command refuses that); AUTH and AUTH2 skip their arguments."""
    j = 6
    while j < len(argv):
        word = argv[j].lower()
        if word == b"keys":
            return [] if argv[3] else list(range(j + 1, len(argv)))
        j += {b"auth": 1, b"auth2": 2}.get(word, 0) + 1
    return [3]


_SOCKETS = {}          # (host, port) -> (PeerClient, last db, last use)
_SOCKET_IDLE = 10.0


def _get_socket(host, port, timeout):
    from ..cluster.router import PeerClient
    _close_idle_sockets()
    entry = _SOCKETS.pop((host, port), None)
    if entry is not None:
        return entry[0], entry[1]
    peer = PeerClient(host, port, timeout=timeout)
    try:
        peer.connect()
    except OSError:
        raise CommandError("IOERR error or timeout connecting to the client") from None
    return peer, -1


def _put_socket(host, port, peer, dbid):
    old = _SOCKETS.pop((host, port), None)
    if old is not None:
        old[0].close()
    _SOCKETS[(host, port)] = (peer, dbid, time.monotonic())
    # Closed once idle for _SOCKET_IDLE seconds, as Redis's cron does
    # (migrateCloseTimedoutSockets), even if no MIGRATE comes again.
    gevent.spawn_later(_SOCKET_IDLE + 0.5, _close_idle_sockets)


def _close_idle_sockets():
    now = time.monotonic()
    for key, (peer, _db, used) in list(_SOCKETS.items()):
        if now - used > _SOCKET_IDLE:
            _SOCKETS.pop(key, None)
            peer.close()


def migrate_cached_sockets():
    """INFO's migrate_cached_sockets: connections MIGRATE keeps open."""
    _close_idle_sockets()
    return len(_SOCKETS)


@command("migrate", arity=-6, flags=WRITE, keys=_migrate_keys, group="generic", since="2.6.0",
         syntax="host port <key | \"\"> destination-db timeout [COPY] [REPLACE] "
                "[AUTH password | AUTH2 username password] [KEYS key [key ...]]",
         categories=("dangerous",),
         summary="Atomically transfer a key from a Redis instance to another one.",
         complexity="This command actually executes a DUMP+DEL in the source instance, and a "
                    "RESTORE in the target instance. See the pages of these commands for time "
                    "complexity. Also an O(N) data transfer between the two instances is "
                    "performed.")
def migrate(ctx, host_arg, port_arg, key, db_arg, timeout_arg, *opts):
    """Atomically transfer a key from a Redis instance to another one."""
    copy = replace = False
    user = password = None
    keys = [key]
    j = 0
    n = len(opts)
    while j < n:
        o = opts[j].lower()
        more = n - j - 1
        if o == b"copy":
            copy = True
        elif o == b"replace":
            replace = True
        elif o == b"auth":
            if not more:
                raise CommandError(errors.SYNTAX)
            j += 1
            password = opts[j]
        elif o == b"auth2":
            if more < 2:
                raise CommandError(errors.SYNTAX)
            user, password = opts[j + 1], opts[j + 2]
            j += 2
        elif o == b"keys":
            if key:
                raise CommandError("ERR When using MIGRATE KEYS option, the key argument must "
                                   "be set to the empty string")
            keys = list(opts[j + 1:])
            break
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    timeout = parse_int(timeout_arg)
    dbid = parse_int(db_arg)
    if timeout <= 0:
        timeout = 1000
    db = ctx.db
    present = []
    for k in keys:
        if db.get(k) is not None:
            present.append(k)
    if not present:
        return Status(b"NOKEY")
    host = host_arg.decode("utf-8", "replace")
    try:
        port = int(port_arg)
    except ValueError:
        port = 0
    cluster = ctx.node.cluster
    router = cluster.router if cluster is not None else None
    events = {}
    if router is not None:
        from gevent.event import Event
        for k in present:
            if k not in router.inflight:
                events[k] = router.inflight[k] = Event()
    try:
        return _migrate(ctx, host, port, present, dbid, timeout / 1000.0, copy, replace,
                        user, password, cluster is not None)
    finally:
        for k, ev in events.items():
            if router.inflight.get(k) is ev:
                del router.inflight[k]
            ev.set()


def _migrate(ctx, host, port, keys, dbid, timeout, copy, replace, user, password, in_cluster):
    import hiredis
    from ..protocol.resp import encode_command
    node = ctx.node
    conf = node.config
    db = ctx.db
    limits = encoding_limits(conf)
    may_retry = True
    while True:
        peer, last_db = _get_socket(host, port, timeout)
        cmds = []
        if password is not None:
            cmds.append([b"AUTH", password] if user is None else [b"AUTH", user, password])
        select = last_db != dbid
        if select:
            cmds.append([b"SELECT", b"%d" % dbid])
        sent = []
        now = int(time.time() * 1000)
        for k in keys:
            value = db.get(k)
            if value is None:
                continue
            expireat = db.get_expire(k)
            ttl = 0
            if expireat != -1:
                ttl = expireat - now
                if ttl < 0:
                    continue
                if ttl < 1:
                    ttl = 1
            try:
                payload = rdb.dump_payload(value, compress=conf["rdbCompression"], limits=limits)
            except rdb.UnsupportedValue:
                raise CommandError("ERR DUMP is not supported for values of this type") from None
            argv = [b"RESTORE-ASKING" if in_cluster else b"RESTORE", k, b"%d" % ttl, payload]
            if replace:
                argv.append(b"REPLACE")
            cmds.append(argv)
            sent.append(k)
        data = b"".join(encode_command(a) for a in cmds)
        # A timeout is never retried (Redis: errno != ETIMEDOUT): the target
        # may still run what was sent.
        try:
            peer.sock.settimeout(timeout)
            peer.sock.sendall(data)
        except OSError as e:
            peer.close()
            if may_retry and not isinstance(e, TimeoutError):
                may_retry = False
                continue
            raise CommandError("IOERR error or timeout writing to target instance") from None
        replies = []
        socket_error = timed_out = False
        try:
            for _ in range(len(cmds)):
                replies.append(peer.read())
        except (OSError, ConnectionError, hiredis.ProtocolError) as e:
            socket_error = True
            timed_out = isinstance(e, TimeoutError)
        pre = (1 if password is not None else 0) + (1 if select else 0)
        if socket_error and len(replies) <= pre and may_retry and not timed_out:
            peer.close()
            may_retry = False
            continue
        error = None
        deleted = []
        pre_error = None
        for r in replies[:pre]:
            if isinstance(r, hiredis.ReplyError) and pre_error is None:
                pre_error = r
        for i, r in enumerate(replies):
            if i < pre:
                continue
            bad = pre_error if pre_error is not None else r
            if isinstance(bad, hiredis.ReplyError):
                if error is None:
                    error = "ERR Target instance replied with error: %s" % bad
                continue
            if not copy:
                k = sent[i - pre]
                if db.delete(k):
                    db.modified(k, "del", klass="g")
                    deleted.append(k)
        if deleted:
            ctx.propagate_as = [[b"DEL"] + deleted]
        if socket_error:
            peer.close()
            if error is None:
                raise CommandError("IOERR error or timeout reading to target instance")
            raise CommandError(error)
        _put_socket(host, port, peer, dbid if error is None else -1)
        if error is not None:
            raise CommandError(error)
        return OK


@command("restore-asking", arity=-4, flags=WRITE | DENYOOM | ASKING, keys=(1, 1, 1), group="generic",
         since="3.0.0", categories=("dangerous",),
         syntax="key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] "
                "[FREQ frequency]")
def restore_asking(ctx, key, ttl, payload, *opts):
    """An internal command for migrating keys in a cluster."""
    from .persistence import restore
    return restore(ctx, key, ttl, payload, *opts)


# COMMAND INFO shows MIGRATE's legacy key range as Redis does (3 3 1); the
# actual positions come from _migrate_keys (the key, or those after KEYS).
migrate.spec.first_key, migrate.spec.last_key, migrate.spec.key_step = 3, 3, 1
