"""``turngym/Lookup-v0``: a learnable key/code lookup env (see :mod:`envs.lookup.env`)."""
