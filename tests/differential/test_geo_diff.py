"""Geospatial commands compared with a real redis-server, byte for byte:
coordinates, distances, geohashes and the (unsorted) order of search
results.  Found missing by redis-py's own suite (test_geo*, 27 tests)."""
import random

import pytest

PLACES = ["2.1909389952632", "41.433791470673", "place1",
          "2.1873744593677", "41.406342043777", "place2",
          "2.583333", "41.316667", "place3",
          "-122.27652", "37.805186", "oakland", "-122.2674626", "37.8062344", "berkeley",
          "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania",
          "0", "0", "origin", "179.9999", "85.05", "corner", "-180", "-85.05112878", "low"]


def test_geoadd_geopos_geohash_geodist(diff):
    diff.check("GEOADD", "g", *PLACES)
    diff.check("GEOADD", "g", *PLACES)
    diff.check("GEOADD", "g", "CH", "2.19", "41.43", "place1", "1", "1", "new")
    diff.check("GEOADD", "g", "XX", "CH", "2.2", "41.4", "place1", "1", "1", "nope")
    diff.check("GEOADD", "g", "NX", "2.3", "41.4", "place1", "1", "2", "nope")
    diff.check("GEOADD", "g", "NX", "XX", "1", "1", "x")
    diff.check("GEOADD", "g", "1", "1")
    diff.check("GEOADD", "g", "200", "1", "x")
    diff.check("GEOADD", "g", "1", "86", "x")
    diff.check("GEOADD", "g", "a", "1", "x")
    diff.check("GEOADD", "g", "nx", "ch", "ch")
    diff.check("ZRANGE", "g", "0", "-1", "WITHSCORES")
    diff.check("GEOPOS", "g", "place1", "missing", "Palermo", "origin", "corner", "low")
    diff.check("GEOPOS", "missing", "a", "b")
    diff.check("GEOPOS", "g")
    diff.check("GEOHASH", "g", "place1", "place2", "missing", "Palermo", "origin", "corner", "low")
    diff.check("GEOHASH", "missing", "a")
    for unit in [(), ("m",), ("KM",), ("ft",), ("mi",), ("yd",), ("km", "x")]:
        diff.check("GEODIST", "g", "place1", "place2", *unit)
    diff.check("GEODIST", "g", "Palermo", "Catania", "km")
    diff.check("GEODIST", "g", "place1", "missing")
    diff.check("GEODIST", "missing", "a", "b")
    diff.check("GEODIST", "g", "oakland", "berkeley")
    diff.check("GEODIST", "g", "origin", "origin")
    diff.check("SET", "s", "x")
    for cmd in [("GEOPOS", "s", "a"), ("GEOHASH", "s", "a"), ("GEODIST", "s", "a", "b"),
                ("GEOADD", "s", "1", "1", "a"), ("GEOSEARCH", "s", "FROMLONLAT", "1", "1",
                                                 "BYRADIUS", "1", "km")]:
        diff.check(*cmd)


def test_georadius_and_options(diff):
    diff.check("GEOADD", "g", *PLACES)
    base = ["GEORADIUS", "g", "2.191", "41.433", "1000", "km"]
    for opts in [(), ("ASC",), ("DESC",), ("WITHDIST",), ("WITHCOORD",), ("WITHHASH",),
                 ("WITHDIST", "WITHCOORD", "WITHHASH", "ASC"), ("COUNT", "2"),
                 ("COUNT", "2", "DESC"), ("COUNT", "1", "ANY"), ("ANY",), ("COUNT", "0"),
                 ("COUNT", "-1"), ("COUNT", "x"), ("BOGUS",), ("STORE",),
                 ("WITHDIST", "STORE", "dst")]:
        diff.check(*(base + list(opts)))
    diff.check("GEORADIUS", "g", "2.191", "41.433", "5", "km", "WITHDIST")
    diff.check("GEORADIUS", "g", "2.191", "41.433", "5000", "km")    # huge: repeated boxes
    diff.check("GEORADIUS", "g", "2.191", "41.433", "20000", "km", "ASC")
    diff.check("GEORADIUS", "g", "2.191", "41.433", "0", "m")
    diff.check("GEORADIUS", "g", "2.191", "41.433", "-1", "m")
    diff.check("GEORADIUS", "g", "2.191", "41.433", "x", "m")
    diff.check("GEORADIUS", "g", "2.191", "41.433", "1", "yd")
    diff.check("GEORADIUS", "g", "2.191", "95", "1", "m")
    diff.check("GEORADIUS", "g", "179.99", "85", "50", "km", "WITHCOORD")
    diff.check("GEORADIUS_RO", "g", "2.191", "41.433", "1000", "km", "WITHDIST", "ASC")
    diff.check("GEORADIUS_RO", "g", "2.191", "41.433", "1000", "km", "STORE", "x")
    diff.check("GEORADIUS", "missing", "2.191", "41.433", "1000", "km")
    diff.check("GEORADIUSBYMEMBER", "g", "place1", "100", "km", "WITHDIST", "WITHCOORD")
    diff.check("GEORADIUSBYMEMBER", "g", "Palermo", "200", "mi")
    diff.check("GEORADIUSBYMEMBER", "g", "missing", "100", "km")
    diff.check("GEORADIUSBYMEMBER", "missing", "x", "-5", "zz")
    diff.check("GEORADIUSBYMEMBER_RO", "g", "place3", "50", "km", "COUNT", "2")


def test_georadius_store(diff):
    diff.check("GEOADD", "g", *PLACES)
    diff.check("GEORADIUS", "g", "2.191", "41.433", "1000", "km", "STORE", "dst")
    diff.check("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    diff.check("GEORADIUS", "g", "2.191", "41.433", "1000", "km", "STOREDIST", "dst2")
    diff.check("ZRANGE", "dst2", "0", "-1", "WITHSCORES")
    diff.check("GEORADIUS", "g", "2.191", "41.433", "1000", "km", "STORE", "a", "STOREDIST",
               "dst3", "COUNT", "2")
    diff.check("ZRANGE", "dst3", "0", "-1", "WITHSCORES")
    diff.check("EXISTS", "a")
    diff.check("GEORADIUS", "g", "100", "0", "1", "m", "STORE", "dst")
    diff.check("EXISTS", "dst")
    diff.check("GEORADIUS", "missing", "1", "1", "1", "m", "STORE", "dst2")
    diff.check("EXISTS", "dst2")
    diff.check("GEORADIUSBYMEMBER", "g", "place1", "10", "km", "STOREDIST", "d4")
    diff.check("ZRANGE", "d4", "0", "-1", "WITHSCORES")
    for argv in [("GEORADIUS", "g", "1", "1", "1", "m", "STORE", "d"),
                 ("GEORADIUS", "g", "1", "1", "1", "m", "STORE", "d", "STOREDIST", "e"),
                 ("GEORADIUSBYMEMBER", "g", "m", "1", "m", "STOREDIST", "d"),
                 ("GEOSEARCHSTORE", "d", "g", "FROMMEMBER", "m", "BYRADIUS", "1", "m")]:
        diff.check("COMMAND", "GETKEYS", *argv)


def test_geosearch_and_store(diff):
    diff.check("GEOADD", "g", *PLACES)
    for opts in [("FROMLONLAT", "2.191", "41.433", "BYRADIUS", "1000", "km"),
                 ("FROMMEMBER", "place1", "BYRADIUS", "10", "km", "WITHDIST", "WITHHASH"),
                 ("FROMMEMBER", "place1", "BYBOX", "400", "400", "km", "ASC", "WITHCOORD"),
                 ("FROMLONLAT", "14", "38", "BYBOX", "300", "100", "km", "DESC", "WITHDIST"),
                 ("FROMLONLAT", "-122.27", "37.8", "BYBOX", "2", "2", "mi", "COUNT", "1"),
                 ("FROMLONLAT", "0", "0", "BYBOX", "0", "0", "m"),
                 ("FROMLONLAT", "2.191", "41.433", "BYRADIUS", "1000", "km", "COUNT", "2", "ANY"),
                 ("FROMMEMBER", "missing", "BYRADIUS", "10", "km"),
                 ("FROMLONLAT", "2", "41", "FROMMEMBER", "place1", "BYRADIUS", "10", "km"),
                 ("FROMLONLAT", "2", "41", "BYRADIUS", "10", "km", "BYBOX", "1", "1", "km"),
                 ("FROMLONLAT", "2", "41"), ("BYRADIUS", "10", "km"),
                 ("FROMLONLAT", "2", "41", "BYBOX", "-1", "1", "km"),
                 ("FROMLONLAT", "2", "41", "BYBOX", "x", "1", "km"),
                 ("FROMLONLAT", "2", "41", "BYBOX", "1", "y", "km"),
                 ("FROMLONLAT", "2", "41", "BYRADIUS", "10", "km", "STOREDIST"),
                 ("FROMLONLAT", "2", "41", "BYRADIUS", "10", "km", "STORE", "x"),
                 ("FROMLONLAT", "2", "41", "BYRADIUS", "10", "km", "ANY")]:
        diff.check("GEOSEARCH", "g", *opts)
    diff.check("GEOSEARCH", "missing", "FROMMEMBER", "x", "BYRADIUS", "1", "km")
    diff.check("GEOSEARCHSTORE", "dst", "g", "FROMLONLAT", "2.191", "41.433", "BYRADIUS",
               "1000", "km", "COUNT", "3")
    diff.check("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    diff.check("GEOSEARCHSTORE", "dst", "g", "FROMMEMBER", "place1", "BYBOX", "100", "100", "km",
               "STOREDIST", "ASC")
    diff.check("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    diff.check("GEOSEARCHSTORE", "dst", "g", "FROMMEMBER", "place1", "BYBOX", "100", "100", "km",
               "WITHDIST")
    diff.check("GEOSEARCHSTORE", "dst", "missing", "FROMMEMBER", "place1", "BYRADIUS", "1", "m")
    diff.check("EXISTS", "dst")


@pytest.mark.parametrize("seed", [1, 2])
def test_geo_random_points_against_redis(diff, seed):
    rng = random.Random(seed)
    args = []
    for i in range(300):
        args += ["%.6f" % rng.uniform(-10, 10), "%.6f" % rng.uniform(40, 50), "p%d" % i]
    diff.check("GEOADD", "g", *args)
    for _ in range(30):
        lon, lat = "%.4f" % rng.uniform(-12, 12), "%.4f" % rng.uniform(38, 52)
        radius = str(rng.choice([1, 10, 50, 200, 800, 3000]))
        diff.check("GEORADIUS", "g", lon, lat, radius, "km")
        diff.check("GEOSEARCH", "g", "FROMLONLAT", lon, lat, "BYBOX", radius, str(rng.randrange(1, 900)),
                   "km", "WITHDIST", "ASC")
        diff.check("GEOSEARCH", "g", "FROMMEMBER", "p%d" % rng.randrange(300), "BYRADIUS", radius,
                   "km", "COUNT", "5", "WITHCOORD", "WITHHASH")


def test_geo_reads_any_zset_score(diff):
    # Found by a random cross-type differential run: ZADD stores scores no
    # GEOADD makes (infinities, negatives, past 2**52 and 2**64).  Redis
    # casts the double to uint64_t; NodeNsync answered an internal error
    # for an infinity.
    scores = ["inf", "-inf", "-1", "-1.5", "1e300", "-1e300", "4503599627370496",
              "9223372036854775808", "18446744073709551616", "1.5", "0"]
    for i, score in enumerate(scores):
        diff.check("ZADD", "g", score, "m%d" % i)
    members = ["m%d" % i for i in range(len(scores))]
    diff.check("GEOPOS", "g", *members)
    diff.check("GEOHASH", "g", *members)
    for i in range(len(scores)):
        diff.check("GEODIST", "g", "m%d" % i, "m10", "km")
    diff.check("GEOSEARCH", "g", "FROMMEMBER", "m10", "BYRADIUS", "100", "km", "ASC",
               "WITHCOORD", "WITHHASH")
