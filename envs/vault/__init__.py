"""The Vault family: chains of rooms to a vault whose code arrives one digit per room (see :mod:`envs.vault.env`).

Built to test turn-level credit: every junction is a recoverable, state-specific decision (a
wrong door costs two turns), rooms revisited after a dead end share a ``state_key``, the code
arrives a digit at a time, and ``info["cost_to_go"]`` gives the true credit (the ``oracle-ctg``
credit method).  Ids (registered in ``envs/__init__.py`` by import path, so nothing here is imported
until an env is made; the task sets differ by chain length K; budgets are set per preset with
``max_turns``, default K + 1 + 2K):

* ``Vault2-v0``, ``Vault3-v0``, ``Vault6-v0``: K = 2, 3, 6 rooms;
* ``VaultKey3-v0``: K = 3 with a key to fetch from a side room first.

Baselines: ``decoy`` (:class:`envs.vault.oracle.Decoy`, ``decoy_rate`` 0.3): the weak teacher.
"""
