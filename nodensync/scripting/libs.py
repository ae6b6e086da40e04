"""Libraries Redis scripts expect (cjson, bit, ...): built for one Lua state."""


def build(lua):
    """name -> Lua table of the libraries implemented here."""
    return {}
