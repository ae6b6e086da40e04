"""The cluster's configuration -- the state Raft replicates -- and the
read-only views every node derives from it.

``Topology`` is plain data (dicts, lists, ints, strings) so it pickles into
pysyncobj's snapshots and every node applies the same operations in the
same order to the same result.  Its operations (``apply``) are
deterministic: they validate against the state only (never against the
clock, the keyspace or the network) and return ``None`` or a result on
success and an ``"ERR ..."`` string when refused, so a refused change is
refused identically everywhere and the proposer can report why.

State:

* ``nodes``: node id (40 hex chars) -> record dict ``{id, ip, port, bus,
  hostname, master, epoch, fail, voter, seq}``; ``master`` is None for a
  master, else the id of the master it replicates (a shard is one master
  and its replicas);
* ``slots``: 16384 entries, the id of the master serving each slot or None;
* ``migrating``: slot -> (source id, destination id) while a slot is being
  moved (Redis's MIGRATING on the source and IMPORTING on the destination
  are the two halves of one entry here: ``importing`` holds the
  destination's half, slot -> (importer id, source id));
* ``current_epoch`` and each master's config ``epoch`` (Redis's epochs: a
  failover or a slot move gives the new owner a new, greater epoch);
* ``leader``: (node id, term) of the last Raft leader that announced itself.

``View`` is what the data path reads: slot -> owner record, this node's
record, its master, the slots it migrates or imports.  It is rebuilt when
``Topology.version`` moves.
"""
import time
from collections import Counter

from .slots import SLOTS, ranges, format_ranges


class Topology:
    def __init__(self):
        self.nodes = {}
        self.slots = [None] * SLOTS
        self.migrating = {}
        self.importing = {}
        self.current_epoch = 0
        self.version = 0
        self.leader = (None, 0)
        self.seq = 0
        self.failovers = []            # last few (epoch, old, new, reason, proposer time)

    # -- helpers -------------------------------------------------------------
    def node(self, node_id):
        return self.nodes.get(node_id)

    def masters(self):
        return [n for n in self.nodes.values() if n["master"] is None]

    def replicas_of(self, master_id):
        return [n for n in self.nodes.values() if n["master"] == master_id]

    def slots_of(self, node_id):
        return [i for i, o in enumerate(self.slots) if o == node_id]

    def voters(self):
        return [n for n in self.nodes.values() if n["voter"]]

    def node_epoch(self, rec):
        """Redis's nodeEpoch: a replica shows its master's config epoch."""
        if rec["master"] is not None:
            m = self.nodes.get(rec["master"])
            return m["epoch"] if m is not None else rec["epoch"]
        return rec["epoch"]

    def _new_epoch(self):
        self.current_epoch += 1
        return self.current_epoch

    # -- operations ----------------------------------------------------------
    def apply(self, op, args):
        fn = getattr(self, "op_" + op, None)
        if fn is None:
            return "ERR unknown cluster operation '%s'" % op
        result = fn(*args)
        if not (isinstance(result, str) and result.startswith("ERR")):
            self.version += 1
        return result

    def op_leader(self, node_id, term):
        self.leader = (node_id, term)

    def op_add_node(self, node_id, ip, port, bus, hostname, max_voters, slot_list, epoch):
        """A node joins (CLUSTER MEET).  Slots it was given before joining
        (redis-cli --cluster create assigns slots first) come with it.
        Returns {'voter': bool, 'new': bool}."""
        rec = self.nodes.get(node_id)
        if rec is not None:
            rec.update(ip=ip, port=port, bus=bus, hostname=hostname)
            return {"voter": rec["voter"], "new": False}
        for s in slot_list:
            if self.slots[s] is not None and self.slots[s] != node_id:
                return "ERR Slot %d is already busy" % s
        for n in self.nodes.values():
            if (n["ip"], n["bus"]) == (ip, bus):
                return "ERR %s:%d is already the cluster bus address of node %s" % (ip, bus, n["id"])
        voter = len(self.voters()) < max_voters
        self.seq += 1
        self.nodes[node_id] = {"id": node_id, "ip": ip, "port": port, "bus": bus,
                               "hostname": hostname, "master": None, "epoch": 0,
                               "fail": False, "voter": voter, "seq": self.seq}
        for s in slot_list:
            self.slots[s] = node_id
        taken = {n["epoch"] for n in self.nodes.values() if n["id"] != node_id and n["epoch"]}
        if epoch and epoch not in taken:
            self.nodes[node_id]["epoch"] = epoch
            self.current_epoch = max(self.current_epoch, epoch)
        elif slot_list or epoch:
            # every master keeps a distinct config epoch
            self.nodes[node_id]["epoch"] = self._new_epoch()
        return {"voter": voter, "new": True}

    def op_update_addr(self, node_id, ip, port, bus, hostname):
        rec = self.nodes.get(node_id)
        if rec is None:
            return "ERR Unknown node %s" % node_id
        rec.update(ip=ip, port=port, bus=bus, hostname=hostname)

    def op_forget(self, node_id):
        rec = self.nodes.pop(node_id, None)
        if rec is None:
            return "ERR Unknown node %s" % node_id
        for i, o in enumerate(self.slots):
            if o == node_id:
                self.slots[i] = None
        for n in self.nodes.values():
            if n["master"] == node_id:
                n["master"] = None
        self._drop_migrations(node_id)
        return {"voter": rec["voter"], "bus": rec["bus"], "ip": rec["ip"]}

    def _drop_migrations(self, node_id):
        for slot, (a, b) in list(self.migrating.items()):
            if node_id in (a, b):
                del self.migrating[slot]
        for slot, (a, b) in list(self.importing.items()):
            if node_id in (a, b):
                del self.importing[slot]

    def _check_master(self, node_id):
        rec = self.nodes.get(node_id)
        if rec is None:
            return None, "ERR Unknown node %s" % node_id
        return rec, None

    def op_add_slots(self, node_id, slot_list):
        rec, err = self._check_master(node_id)
        if err:
            return err
        for s in slot_list:
            if self.slots[s] is not None:
                return "ERR Slot %d is already busy" % s
        if rec["master"] is not None:
            return "ERR Please use ADDSLOTS only with masters."
        for s in slot_list:
            self.slots[s] = node_id
            self.importing.pop(s, None)
        if not rec["epoch"]:
            rec["epoch"] = self._new_epoch()

    def op_del_slots(self, slot_list):
        for s in slot_list:
            if self.slots[s] is None:
                return "ERR Slot %d is already unassigned" % s
        for s in slot_list:
            self.slots[s] = None
            self.migrating.pop(s, None)
            self.importing.pop(s, None)

    def op_flush_slots(self, node_id):
        for i, o in enumerate(self.slots):
            if o == node_id:
                self.slots[i] = None
                self.migrating.pop(i, None)

    def op_replicate(self, node_id, master_id):
        rec = self.nodes.get(node_id)
        if rec is None:
            return "ERR Unknown node %s" % node_id
        m = self.nodes.get(master_id)
        if m is None:
            return "ERR Unknown node %s" % master_id
        if node_id == master_id:
            return "ERR Can't replicate myself"
        if m["master"] is not None:
            return "ERR I can only replicate a master, not a replica."
        if rec["master"] is None and node_id in self.slots:
            return "ERR To set a master the node must be empty and without assigned slots."
        rec["master"] = master_id
        for n in self.nodes.values():   # its own replicas follow it to the new master
            if n["master"] == node_id:
                n["master"] = master_id

    def op_set_migrating(self, slot, src, dst):
        if self.slots[slot] != src:
            return "ERR I'm not the owner of hash slot %d" % slot
        d = self.nodes.get(dst)
        if d is None:
            return "ERR I don't know about node %s" % dst
        if d["master"] is not None:
            return "ERR Target node is not a master"
        self.migrating[slot] = (src, dst)

    def op_set_importing(self, slot, importer, src):
        if self.slots[slot] == importer:
            return "ERR I'm already the owner of hash slot %d" % slot
        s = self.nodes.get(src)
        if s is None:
            return "ERR I don't know about node %s" % src
        if s["master"] is not None:
            return "ERR Target node is not a master"
        self.importing[slot] = (importer, src)

    def op_begin_moves(self, slot_list, src, dst):
        """Both halves of the migration of several slots, in one commit
        (NodeNsync's batched resharding: IMPORTING on ``dst`` and MIGRATING
        on ``src`` for every slot)."""
        d = self.nodes.get(dst)
        if d is None or self.nodes.get(src) is None:
            return "ERR I don't know about node %s" % (dst if d is None else src)
        if d["master"] is not None:
            return "ERR Target node is not a master"
        if src == dst:
            return "ERR source and destination are the same node"
        for slot in slot_list:
            if self.slots[slot] != src:
                return "ERR I'm not the owner of hash slot %d" % slot
        for slot in slot_list:
            self.migrating[slot] = (src, dst)
            self.importing[slot] = (dst, src)

    def op_finish_moves(self, slot_list, dst, replica_migration=True):
        """Assign every slot of a batch to ``dst`` (SETSLOT NODE for each)."""
        rec = self.nodes.get(dst)
        if rec is None:
            return "ERR Unknown node %s" % dst
        if rec["master"] is not None:
            return "ERR Target node is not a master"
        for slot in slot_list:
            err = self.op_set_slot_node(slot, dst, replica_migration)
            if err:
                return err

    def op_set_stable(self, slot, node_id):
        """SETSLOT STABLE on ``node_id``: clears that node's half."""
        m = self.migrating.get(slot)
        if m is not None and m[0] == node_id:
            del self.migrating[slot]
        i = self.importing.get(slot)
        if i is not None and i[0] == node_id:
            del self.importing[slot]

    def op_set_slot_node(self, slot, node_id, replica_migration=True):
        rec = self.nodes.get(node_id)
        if rec is None:
            return "ERR Unknown node %s" % node_id
        if rec["master"] is not None:
            return "ERR Target node is not a master"
        prev = self.slots[slot]
        if prev != node_id:
            self.slots[slot] = node_id
            # Redis bumps the importing node's epoch so its claim wins.
            rec["epoch"] = self._new_epoch()
            # A master left without slots becomes a replica of the node that
            # took its last one (cluster-allow-replica-migration).
            old = self.nodes.get(prev) if prev is not None else None
            if replica_migration and old is not None and prev not in self.slots:
                old["master"] = node_id
                for n in self.nodes.values():
                    if n["master"] == prev:
                        n["master"] = node_id
        self.migrating.pop(slot, None)
        self.importing.pop(slot, None)

    def op_failover(self, old_id, new_id, reason, when):
        """Promote ``new_id``, a replica of ``old_id``: it takes the shard's
        slots with a new epoch; the old master and the other replicas
        replicate it.  Open migrations follow the shard."""
        new = self.nodes.get(new_id)
        old = self.nodes.get(old_id)
        if new is None or old is None:
            return "ERR Unknown node %s" % (old_id if old is None else new_id)
        if new["master"] is None and old["master"] == new_id:
            return {"epoch": new["epoch"], "already": True}
        if new["master"] != old_id or old["master"] is not None:
            return "ERR %s is not a replica of master %s" % (new_id, old_id)
        epoch = self._new_epoch()
        new["master"] = None
        new["epoch"] = epoch
        new["fail"] = False
        for i, o in enumerate(self.slots):
            if o == old_id:
                self.slots[i] = new_id
        for n in self.nodes.values():
            if n["master"] == old_id:
                n["master"] = new_id
        old["master"] = new_id
        for table in (self.migrating, self.importing):
            for slot, (a, b) in list(table.items()):
                table[slot] = (new_id if a == old_id else a, new_id if b == old_id else b)
                if table[slot][0] == table[slot][1]:
                    del table[slot]
        self.failovers.append((epoch, old_id, new_id, reason, when))
        del self.failovers[:-16]
        return {"epoch": epoch, "already": False}

    def op_set_fail(self, node_id, flag):
        rec = self.nodes.get(node_id)
        if rec is None:
            return "ERR Unknown node %s" % node_id
        rec["fail"] = bool(flag)

    def op_bump_epoch(self, node_id):
        rec = self.nodes.get(node_id)
        if rec is None:
            return "ERR Unknown node %s" % node_id
        if rec["master"] is not None:
            rec = self.nodes.get(rec["master"], rec)
        mine = rec["epoch"]
        if mine == 0 or mine != self.current_epoch or any(
                n["epoch"] == mine for n in self.nodes.values() if n is not rec and n["master"] is None):
            rec["epoch"] = self._new_epoch()
            return ("BUMPED", rec["epoch"])
        return ("STILL", mine)

    def op_set_config_epoch(self, node_id, epoch):
        rec = self.nodes.get(node_id)
        if rec is None:
            return "ERR Unknown node %s" % node_id
        if rec["epoch"]:
            return "ERR Node config epoch is already non-zero"
        rec["epoch"] = epoch
        self.current_epoch = max(self.current_epoch, epoch)

    def op_set_voter(self, node_id, flag):
        rec = self.nodes.get(node_id)
        if rec is None:
            return "ERR Unknown node %s" % node_id
        rec["voter"] = bool(flag)


class NodeRec:
    """A node as the data path sees it (an immutable snapshot of a record)."""

    __slots__ = ("id", "ip", "port", "bus", "hostname", "master", "epoch", "fail", "voter",
                 "seq", "addr", "addr_bytes", "is_master")

    def __init__(self, d, epoch):
        self.id = d["id"]
        self.ip = d["ip"]
        self.port = d["port"]
        self.bus = d["bus"]
        self.hostname = d.get("hostname", "")
        self.master = d["master"]
        self.epoch = epoch
        self.fail = d["fail"]
        self.voter = d["voter"]
        self.seq = d.get("seq", 0)
        self.is_master = d["master"] is None
        self.addr = "%s:%d" % (self.ip, self.port)
        self.addr_bytes = self.addr.encode()


class View:
    """Derived, read-mostly picture for one node (``my_id``)."""

    def __init__(self, topo, my_id):
        self.version = topo.version
        self.my_id = my_id
        self.current_epoch = topo.current_epoch
        self.nodes = {nid: NodeRec(d, topo.node_epoch(d)) for nid, d in topo.nodes.items()}
        self.me = self.nodes.get(my_id)
        nodes = self.nodes
        # map() with dict.get runs in C: a view of 16384 slots costs well
        # under a millisecond (it is rebuilt after every committed change).
        self.owner = list(map(nodes.get, topo.slots))
        self.my_master = nodes.get(self.me.master) if self.me is not None and self.me.master else None
        self.migrating_to = {s: nodes[d] for s, (src, d) in topo.migrating.items()
                             if src == my_id and d in nodes}
        self.importing_from = {s: nodes[src] for s, (imp, src) in topo.importing.items()
                               if imp == my_id and src in nodes}
        counts = Counter(topo.slots)
        counts.pop(None, None)
        self.slot_counts = dict(counts)
        self.assigned = sum(self.slot_counts.values())
        self.failed_slots = sum(c for nid, c in self.slot_counts.items()
                                if nid in nodes and nodes[nid].fail)
        self.migrating = dict(topo.migrating)
        self.importing = dict(topo.importing)
        self.leader = topo.leader

    def ordered(self):
        """Nodes in join order (stable output for CLUSTER NODES)."""
        return sorted(self.nodes.values(), key=lambda n: (n.seq, n.id))

    def replicas_of(self, master_id):
        return [n for n in self.ordered() if n.master == master_id]

    def slot_ranges_of(self, node_id):
        return ranges(i for i, o in enumerate(self.owner) if o is not None and o.id == node_id)

    def master_ranges(self):
        """[(start, end, master rec)] sorted by start (CLUSTER SLOTS order)."""
        out = []
        start = None
        cur = None
        for i, o in enumerate(self.owner):
            if o is not cur:
                if cur is not None:
                    out.append((start, i - 1, cur))
                cur = o
                start = i
        if cur is not None:
            out.append((start, SLOTS - 1, cur))
        return out


# -- CLUSTER NODES -----------------------------------------------------------------
def node_flags(rec, my_id, pfail):
    flags = []
    if rec.id == my_id:
        flags.append("myself")
    flags.append("master" if rec.is_master else "slave")
    if pfail and not rec.fail:
        flags.append("fail?")
    if rec.fail:
        flags.append("fail")
    return ",".join(flags)


def node_line(view, rec, health, with_migrations=True):
    """One CLUSTER NODES line (without the trailing newline)."""
    me = rec.id == view.my_id
    now_ms = int(time.time()) * 1000
    if me:
        ping_sent, pong_recv, link = 0, now_ms, "connected"
        pfail = False
    else:
        ping_sent, pong_recv, link, pfail = health.node_state(rec.id)
    addr = "%s:%d@%d" % (rec.ip, rec.port, rec.bus)
    if rec.hostname:
        addr += "," + rec.hostname
    parts = [rec.id, addr, node_flags(rec, view.my_id, pfail), rec.master or "-",
             "%d" % ping_sent, "%d" % pong_recv, "%d" % rec.epoch, link]
    if rec.is_master:
        parts.extend(format_ranges(view.slot_ranges_of(rec.id)))
    if me and with_migrations:
        for slot in sorted(view.migrating_to):
            parts.append("[%d->-%s]" % (slot, view.migrating_to[slot].id))
        for slot in sorted(view.importing_from):
            parts.append("[%d-<-%s]" % (slot, view.importing_from[slot].id))
    return " ".join(parts)


def nodes_text(view, health):
    return "".join(node_line(view, rec, health) + "\n" for rec in view.ordered())
