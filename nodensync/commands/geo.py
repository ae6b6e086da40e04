"""Geospatial commands, as Redis 7.0's geo.c / geohash.c / geohash_helper.c.

A geo set is an ordinary sorted set whose scores are 52-bit interleaved
geohashes (26 bits of latitude in the even bits, 26 of longitude in the odd
ones, over Redis's latitude range of +-85.05112878 degrees).  GEOADD is
ZADD with such scores; searches visit the same geohash box and (up to)
eight neighbours Redis visits, in the same order, and keep the members
within the exact distance, so results and their unsorted order match.
Floating-point steps follow the C code operation by operation (Python's
math module calls the same libm), so coordinates and distances are
bit-identical.
"""
import math

from .. import errors
from ..errors import CommandError
from ..protocol.resp import Raw, NULL_ARRAY
from ..server.blocking import signal_key_ready
from ..storage.zset import ZSet
from .registry import command, WRITE, READONLY, DENYOOM
from .strings import _opt, parse_int
from .util import parse_float
from .zsets import zadd

G = "geo"
_LAT_MIN, _LAT_MAX = -85.05112878, 85.05112878
_LONG_MIN, _LONG_MAX = -180.0, 180.0
_STEP_MAX = 26
_EARTH_RADIUS = 6372797.560856
_MERCATOR_MAX = 20037726.37
_D_R = math.pi / 180.0
_UNITS = {b"M": 1.0, b"KM": 1000.0, b"FT": 0.3048, b"MI": 1609.34}
_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA
_U64 = 0xFFFFFFFFFFFFFFFF


# -- geohash ------------------------------------------------------------------------

def _spread(v):
    """The 32 bits of v in the even bit positions of a 64-bit word."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & _EVEN


def _squash(v):
    """Inverse of _spread: the even bits of v packed into 32 bits."""
    v &= _EVEN
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0x00000000FFFFFFFF


def _encode(lon, lat, step, lat_min=_LAT_MIN, lat_max=_LAT_MAX):
    """geohashEncode: interleaved bits of (lat, lon) at ``step`` bits each,
    or None outside the range."""
    if not (_LONG_MIN <= lon <= _LONG_MAX and _LAT_MIN <= lat <= _LAT_MAX):
        return None
    if not (lat_min <= lat <= lat_max):
        return None
    lat_offset = (lat - lat_min) / (lat_max - lat_min) * (1 << step)
    long_offset = (lon - _LONG_MIN) / (_LONG_MAX - _LONG_MIN) * (1 << step)
    return _spread(int(lat_offset)) | (_spread(int(long_offset)) << 1)


def _decode_area(bits, step):
    """geohashDecode: ((lon_min, lon_max), (lat_min, lat_max)) of a box."""
    ilato = _squash(bits)
    ilono = _squash(bits >> 1)
    lat_scale = _LAT_MAX - _LAT_MIN
    long_scale = _LONG_MAX - _LONG_MIN
    div = float(1 << step)
    return ((_LONG_MIN + (ilono * 1.0 / div) * long_scale,
             _LONG_MIN + ((ilono + 1) * 1.0 / div) * long_scale),
            (_LAT_MIN + (ilato * 1.0 / div) * lat_scale,
             _LAT_MIN + ((ilato + 1) * 1.0 / div) * lat_scale))


_TWO63 = 2.0 ** 63


def _score_bits(score):
    """Redis's ``(uint64_t)score`` as x86-64 code computes it, for any
    double a sorted set holds (ZADD can store scores no GEOADD makes):
    truncation, two's complement for negatives, and the "integer
    indefinite" 2**63 of cvttsd2si where the value does not fit (an
    infinity, anything past 2**64 or below -2**63), with the top bit
    flipped back for values at or above 2**63."""
    if score < _TWO63:
        return (1 << 63) if score < -_TWO63 else int(score) & _U64
    rest = score - _TWO63
    return ((1 << 63) if rest >= _TWO63 else int(rest)) ^ (1 << 63)


def _decode_score(score):
    """(lon, lat) at the centre of the step-26 box of a score."""
    (lo_min, lo_max), (la_min, la_max) = _decode_area(_score_bits(score), _STEP_MAX)
    lon = min(max((lo_min + lo_max) / 2, _LONG_MIN), _LONG_MAX)
    lat = min(max((la_min + la_max) / 2, _LAT_MIN), _LAT_MAX)
    return lon, lat


def _lat_distance(lat1, lat2):
    return _EARTH_RADIUS * abs(lat2 * _D_R - lat1 * _D_R)


def _distance(lon1, lat1, lon2, lat2):
    """geohashGetDistance: haversine on Redis's earth radius."""
    lon1r, lon2r = lon1 * _D_R, lon2 * _D_R
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return _lat_distance(lat1, lat2)
    lat1r, lat2r = lat1 * _D_R, lat2 * _D_R
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * _EARTH_RADIUS * math.asin(math.sqrt(a))


def _move(bits, step, axis_mask, other_mask, d):
    """geohash_move_x / geohash_move_y: the neighbouring box along one axis."""
    x = bits & axis_mask
    y = bits & other_mask
    zz = (other_mask >> (64 - step * 2))
    if d > 0:
        x = (x + (zz + 1)) & _U64
    else:
        x = ((x | zz) - (zz + 1)) & _U64
    x &= (axis_mask >> (64 - step * 2))
    return x | y


def _neighbours(bits, step):
    """geohashNeighbors, in membersOfAllNeighbors' order after the box
    itself: north, south, east, west, NE, NW, SE, SW."""
    def mv(dx, dy):
        b = bits
        if dx:
            b = _move(b, step, _ODD, _EVEN, dx)
        if dy:
            b = _move(b, step, _EVEN, _ODD, dy)
        return b
    return {"n": mv(0, 1), "s": mv(0, -1), "e": mv(1, 0), "w": mv(-1, 0),
            "ne": mv(1, 1), "nw": mv(-1, 1), "se": mv(1, -1), "sw": mv(-1, -1)}


def _steps_for_radius(meters, lat):
    if meters == 0:
        return 26
    step = 1
    while meters < _MERCATOR_MAX:
        meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), 26)


class _Shape:
    """A search area: a circle (radius) or a box (width, height), in the
    unit whose size in meters is ``conversion``, centred at (lon, lat)."""

    def __init__(self):
        self.lon = self.lat = 0.0
        self.radius = self.width = self.height = None
        self.conversion = 1.0

    def bounds(self):
        """geohashBoundingBox: (min_lon, min_lat, max_lon, max_lat)."""
        circle = self.radius is not None
        height = self.conversion * (self.radius if circle else self.height / 2)
        width = self.conversion * (self.radius if circle else self.width / 2)
        lat_delta = height / _EARTH_RADIUS / _D_R
        top = width / _EARTH_RADIUS / math.cos((self.lat + lat_delta) * _D_R) / _D_R
        bottom = width / _EARTH_RADIUS / math.cos((self.lat - lat_delta) * _D_R) / _D_R
        delta = bottom if self.lat < 0 else top
        return self.lon - delta, self.lat - lat_delta, self.lon + delta, self.lat + lat_delta

    def contains(self, lon, lat):
        """geoWithinShape: the distance in meters from the centre, or None."""
        if self.radius is not None:
            d = _distance(self.lon, self.lat, lon, lat)
            return None if d > self.radius * self.conversion else d
        if _lat_distance(lat, self.lat) > self.height * self.conversion / 2:
            return None
        if _distance(lon, lat, self.lon, lat) > self.width * self.conversion / 2:
            return None
        return _distance(self.lon, self.lat, lon, lat)


def _search_boxes(shape):
    """geohashCalculateAreasByShapeWGS84: [(bits, step)] of the boxes to
    scan, in Redis's order, useless neighbours and repeats dropped."""
    min_lon, min_lat, max_lon, max_lat = shape.bounds()
    if shape.radius is not None:
        meters = shape.radius
    else:
        meters = math.sqrt((shape.width / 2) * (shape.width / 2)
                           + (shape.height / 2) * (shape.height / 2))
    meters *= shape.conversion
    steps = _steps_for_radius(meters, shape.lat)
    bits = _encode(shape.lon, shape.lat, steps)
    nb = _neighbours(bits, steps)
    n_area, s_area = _decode_area(nb["n"], steps), _decode_area(nb["s"], steps)
    e_area, w_area = _decode_area(nb["e"], steps), _decode_area(nb["w"], steps)
    if steps > 1 and (n_area[1][1] < max_lat or s_area[1][0] > min_lat
                      or e_area[0][1] < max_lon or w_area[0][0] > min_lon):
        steps -= 1
        bits = _encode(shape.lon, shape.lat, steps)
        nb = _neighbours(bits, steps)
    (a_lon_min, a_lon_max), (a_lat_min, a_lat_max) = _decode_area(bits, steps)
    if steps >= 2:
        drop = set()
        if a_lat_min < min_lat:
            drop |= {"s", "sw", "se"}
        if a_lat_max > max_lat:
            drop |= {"n", "ne", "nw"}
        if a_lon_min < min_lon:
            drop |= {"w", "sw", "nw"}
        if a_lon_max > max_lon:
            drop |= {"e", "se", "ne"}
        for name in drop:
            nb[name] = None
    boxes = []
    for b in [bits] + [nb[k] for k in ("n", "s", "e", "w", "ne", "nw", "se", "sw")]:
        # A huge radius makes neighbours repeat: Redis skips a box equal to
        # the last one it scanned -- unless that was the centre box.
        if b is None or (len(boxes) > 1 and boxes[-1] == b):
            continue
        boxes.append(b)
    return [(b, steps) for b in boxes]


def _search(zs, shape, limit):
    """membersOfAllNeighbors: [(member, dist_m, score, lon, lat)] in scan
    order, stopping at ``limit`` matches (0: no limit)."""
    found = []
    for bits, step in _search_boxes(shape):
        if limit and len(found) >= limit:
            break
        shift = 52 - step * 2
        lo, hi = zs.score_bounds(float(bits << shift), False, float((bits + 1) << shift), True)
        for member, score in zs.slice(lo, hi):
            lon, lat = _decode_score(score)
            d = shape.contains(lon, lat)
            if d is None:
                continue
            found.append((member, d, score, lon, lat))
            if limit and len(found) >= limit:
                break
    return found


# -- argument parsing and reply formats ------------------------------------------------

def _lonlat(lon_arg, lat_arg):
    lon, lat = parse_float(lon_arg), parse_float(lat_arg)
    if not (_LONG_MIN <= lon <= _LONG_MAX and _LAT_MIN <= lat <= _LAT_MAX):
        raise CommandError("ERR invalid longitude,latitude pair %f,%f" % (lon, lat))
    return lon, lat


def _unit(arg):
    factor = _UNITS.get(_opt(arg))
    if factor is None:
        raise CommandError("ERR unsupported unit provided. please use M, KM, FT, MI")
    return factor


def _number(arg, message):
    return parse_float(arg, CommandError("ERR " + message))


def _distance_arg(arg, unit):
    d = _number(arg, "need numeric radius")
    if d < 0:
        raise CommandError("ERR radius cannot be negative")
    return d, _unit(unit)


def _member_lonlat(zs, member):
    score = None if zs is None else zs.score(member)
    if score is None:
        raise CommandError("ERR could not decode requested zset member")
    return _decode_score(score)


def _human(ctx, value):
    """addReplyHumanLongDouble: %.17Lf without trailing zeros; a RESP3
    double or a RESP2 bulk string."""
    text = (b"%.17f" % value).rstrip(b"0").rstrip(b".")
    if text == b"-0":
        text = b"0"
    return Raw(b",%s\r\n" % text) if ctx.resp3 else text


def _dist_text(d):
    return b"%.4f" % d


def _get_geo(db, key):
    value = db.get(key)
    if value is not None and type(value) is not ZSet:
        raise CommandError(errors.WRONGTYPE)
    return value


# -- commands ---------------------------------------------------------------------

@command("geoadd", arity=-5, flags=WRITE | DENYOOM, keys=(1, 1, 1), group=G,
         syntax="key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]",
         since="3.2.0", complexity="O(log(N)) for each item added, where N is the number of "
         "elements in the sorted set.")
def geoadd(ctx, key, *args):
    """Add one or more geospatial items in the geospatial index represented using a sorted set"""
    xx = nx = False
    i = 0
    while i < len(args):
        word = _opt(args[i])
        if word == b"NX":
            nx = True
        elif word == b"XX":
            xx = True
        elif word != b"CH":
            break
        i += 1
    rest = args[i:]
    if len(rest) % 3 or (xx and nx):
        raise CommandError(errors.SYNTAX)
    zargs = list(args[:i])
    for j in range(0, len(rest), 3):
        lon, lat = _lonlat(rest[j], rest[j + 1])
        zargs += [b"%d" % _encode(lon, lat, _STEP_MAX), rest[j + 2]]
    ctx.propagate_as = [[b"ZADD", key] + zargs]
    return zadd(ctx, key, *zargs)


@command("geopos", arity=-2, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key [member [member ...]]", since="3.2.0",
         complexity="O(N) where N is the number of members requested.")
def geopos(ctx, key, *members):
    """Returns longitude and latitude of members of a geospatial index"""
    return [NULL_ARRAY if p is None else [_human(ctx, p[0]), _human(ctx, p[1])]
            for p in _positions(ctx, key, members)]


def _positions(ctx, key, members):
    """(lon, lat) of each member of the geo set at key, None if absent."""
    zs = _get_geo(ctx.db, key)
    scores = [None if zs is None else zs.score(m) for m in members]
    return [None if s is None else _decode_score(s) for s in scores]


@command("geohash", arity=-2, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key [member [member ...]]", since="3.2.0",
         complexity="O(log(N)) for each member requested, where N is the number of elements "
         "in the sorted set.")
def geohash(ctx, key, *members):
    """Returns members of a geospatial index as standard geohash strings"""
    return [None if p is None else _geohash_text(*p) for p in _positions(ctx, key, members)]


def _geohash_text(lon, lat):
    """The 11-character standard geohash (latitude range +-90) of a point;
    the 11th character stands for bits Redis does not have (zero)."""
    bits = _encode(lon, lat, _STEP_MAX, -90.0, 90.0)
    return bytes(_ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F] if i < 10 else _ALPHABET[0]
                 for i in range(11))


@command("geodist", arity=-4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key member1 member2 [M | KM | FT | MI]", since="3.2.0",
         complexity="O(log(N))")
def geodist(ctx, key, m1, m2, *unit):
    """Returns the distance between two members of a geospatial index"""
    if len(unit) > 1:
        raise CommandError(errors.SYNTAX)
    factor = _unit(unit[0]) if unit else 1.0
    zs = _get_geo(ctx.db, key)
    if zs is None:
        return None
    s1, s2 = zs.score(m1), zs.score(m2)
    if s1 is None or s2 is None:
        return None
    lon1, lat1 = _decode_score(s1)
    lon2, lat2 = _decode_score(s2)
    return _dist_text(_distance(lon1, lat1, lon2, lat2) / factor)


# GEORADIUS flavours (georadiusGeneric's flags).
_BY_COORDS, _BY_MEMBER, _SEARCH, _SEARCHSTORE, _NOSTORE = 1, 2, 4, 8, 16
_FLAG_WORDS = {b"WITHDIST", b"WITHHASH", b"WITHCOORD", b"ANY"}


def _georadius(ctx, argv, flags, name):
    """georadiusGeneric; argv excludes the command name (``name``, for
    errors: Redis echoes it as typed, here it is upper case)."""
    db = ctx.db
    src = argv[1] if flags & _SEARCHSTORE else argv[0]
    zs = _get_geo(db, src)
    shape = _Shape()
    if flags & _BY_COORDS:
        base = 5
        shape.lon, shape.lat = _lonlat(argv[1], argv[2])
        shape.radius, shape.conversion = _distance_arg(argv[3], argv[4])
    elif flags & _BY_MEMBER:
        base = 4
        if zs is not None:
            shape.lon, shape.lat = _member_lonlat(zs, argv[1])
            shape.radius, shape.conversion = _distance_arg(argv[2], argv[3])
    else:
        base = 2 if flags & _SEARCHSTORE else 1
    words = set()                     # WITHDIST, WITHHASH, WITHCOORD, ANY
    frommember = fromloc = byradius = bybox = False
    sort = None
    count = 0
    store = None
    storedist = False
    opts = argv[base:]
    i, n = 0, len(opts)
    search = flags & (_SEARCH | _SEARCHSTORE)
    while i < n:
        word = _opt(opts[i])
        left = n - i - 1
        if word in _FLAG_WORDS:
            words.add(word)
        elif word in (b"ASC", b"DESC"):
            sort = word
        elif word == b"COUNT" and left >= 1:
            count = parse_int(opts[i + 1])
            if count <= 0:
                raise CommandError("ERR COUNT must be > 0")
            i += 1
        elif word in (b"STORE", b"STOREDIST") and left >= 1 and not flags & _NOSTORE \
                and not search:
            store, storedist = opts[i + 1], word == b"STOREDIST"
            i += 1
        elif word == b"STOREDIST" and flags & _SEARCHSTORE:
            storedist = True
        elif word == b"FROMMEMBER" and left >= 1 and search and not fromloc:
            if zs is not None:
                shape.lon, shape.lat = _member_lonlat(zs, opts[i + 1])
            frommember = True
            i += 1
        elif word == b"FROMLONLAT" and left >= 2 and search and not frommember:
            shape.lon, shape.lat = _lonlat(opts[i + 1], opts[i + 2])
            fromloc = True
            i += 2
        elif word == b"BYRADIUS" and left >= 2 and search and not bybox:
            shape.radius, shape.conversion = _distance_arg(opts[i + 1], opts[i + 2])
            byradius = True
            i += 2
        elif word == b"BYBOX" and left >= 3 and search and not byradius:
            shape.width = _number(opts[i + 1], "need numeric width")
            shape.height = _number(opts[i + 2], "need numeric height")
            if shape.width < 0 or shape.height < 0:
                raise CommandError("ERR height or width cannot be negative")
            shape.conversion = _unit(opts[i + 3])
            bybox = True
            i += 3
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if flags & _SEARCHSTORE:
        store = argv[0]
    withdist, withhash, withcoord = (w in words for w in (b"WITHDIST", b"WITHHASH", b"WITHCOORD"))
    any_ = b"ANY" in words
    if store is not None and (withdist or withhash or withcoord):
        raise CommandError("ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
                           % ("GEOSEARCHSTORE" if flags & _SEARCHSTORE
                              else "STORE option in GEORADIUS"))
    if search and not (frommember or fromloc):
        raise CommandError("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s"
                           % name)
    if search and not (byradius or bybox):
        raise CommandError("ERR exactly one of BYRADIUS and BYBOX can be specified for %s" % name)
    if any_ and not count:
        raise CommandError("ERR the ANY argument requires COUNT argument")
    if zs is None:
        if store is None:
            return []
        if db.delete(store):
            db.modified(store, "del", "g")
        return 0
    if count and sort is None and not any_:
        sort = b"ASC"
    found = _search(zs, shape, count if any_ else 0)
    if sort is not None:
        found.sort(key=lambda p: p[1], reverse=sort == b"DESC")
    if count:
        found = found[:count]
    conv = shape.conversion
    if store is None:
        out = []
        for member, d, score, lon, lat in found:
            if not (withdist or withhash or withcoord):
                out.append(member)
                continue
            item = [member]
            if withdist:
                item.append(_dist_text(d / conv))
            if withhash:
                item.append(int(score))
            if withcoord:
                item.append([_human(ctx, lon), _human(ctx, lat)])
            out.append(item)
        return out
    if found:
        result = ZSet.from_scores({m: (d / conv if storedist else score)
                                   for m, d, score, _, _ in found})
        db.set(store, result)
        db.modified(store, "geosearchstore" if search else "georadiusstore", "z",
                    dirty=len(found))
        signal_key_ready(db, store)
    elif db.delete(store):
        db.modified(store, "del", "g")
    return len(found)


def _georadius_keys(argv):
    """georadiusGetKeys: the source key and the last STORE/STOREDIST key."""
    keys = [1]
    i = 5
    while i < len(argv):
        if argv[i].upper() in (b"STORE", b"STOREDIST") and i + 1 < len(argv):
            store = i + 1
            i += 1
            keys[1:] = [store]
        i += 1
    return keys


_georadius_keys.legacy = (1, 1, 1)
_RADIUS_SYNTAX = ("[WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] "
                  "[STORE key] [STOREDIST key]")
_RADIUS_SYNTAX_RO = "[WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]"
_COMPLEXITY = ("O(N+log(M)) where N is the number of elements inside the bounding box of the "
               "circular area delimited by center and radius and M is the number of items "
               "inside the index.")


def _radius_command(name, arity, flags, mode, syntax, since, summary):
    """Declare one of GEORADIUS[BYMEMBER][_RO]: one handler per name."""
    def handler(ctx, *argv):
        return _georadius(ctx, argv, mode, name.upper())
    writes = not mode & _NOSTORE
    command(name, arity=arity, flags=flags, keys=_georadius_keys if writes else (1, 1, 1),
            group=G, syntax=syntax + (_RADIUS_SYNTAX if writes else _RADIUS_SYNTAX_RO),
            since=since, complexity=_COMPLEXITY, summary=summary)(handler)


_FROM_POINT = "key longitude latitude radius M | KM | FT | MI "
_FROM_MEMBER = "key member radius M | KM | FT | MI "
_RADIUS_SUMMARY = ("Query a sorted set representing a geospatial index to fetch members "
                   "matching a given maximum distance from a ")
_radius_command("georadius", -6, WRITE | DENYOOM, _BY_COORDS, _FROM_POINT, "3.2.0",
                _RADIUS_SUMMARY + "point")
_radius_command("georadius_ro", -6, READONLY, _BY_COORDS | _NOSTORE, _FROM_POINT, "3.2.10",
                "A read-only variant for GEORADIUS")
_radius_command("georadiusbymember", -5, WRITE | DENYOOM, _BY_MEMBER, _FROM_MEMBER, "3.2.0",
                _RADIUS_SUMMARY + "member")
_radius_command("georadiusbymember_ro", -5, READONLY, _BY_MEMBER | _NOSTORE, _FROM_MEMBER,
                "3.2.10", "A read-only variant for GEORADIUSBYMEMBER")


_SEARCH_SYNTAX = ("<FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius "
                  "M | KM | FT | MI | BYBOX width height M | KM | FT | MI> [ASC | DESC] "
                  "[COUNT count [ANY]]")
_SEARCH_COMPLEXITY = ("O(N+log(M)) where N is the number of elements in the grid-aligned "
                      "bounding box area around the shape provided as the filter and M is the "
                      "number of items inside the shape")


@command("geosearch", arity=-7, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key " + _SEARCH_SYNTAX + " [WITHCOORD] [WITHDIST] [WITHHASH]",
         since="6.2.0", complexity=_SEARCH_COMPLEXITY,
         summary="Query a sorted set representing a geospatial index to fetch members inside "
                 "an area of a box or a circle.")
def geosearch(ctx, *argv):
    """Members of a geo set inside a circle or a box."""
    return _georadius(ctx, argv, _SEARCH, "GEOSEARCH")


@command("geosearchstore", arity=-8, flags=WRITE | DENYOOM, keys=(1, 2, 1), group=G,
         syntax="destination source " + _SEARCH_SYNTAX + " [STOREDIST]",
         since="6.2.0", complexity=_SEARCH_COMPLEXITY,
         summary="Query a sorted set representing a geospatial index to fetch members inside "
                 "an area of a box or a circle, and store the result in another key.")
def geosearchstore(ctx, *argv):
    """GEOSEARCH into a sorted set."""
    return _georadius(ctx, argv, _SEARCH | _SEARCHSTORE, "GEOSEARCHSTORE")
