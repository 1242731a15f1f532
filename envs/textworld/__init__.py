"""The TextWorld family: real text games built offline with Microsoft's TextWorld (see :mod:`envs.textworld.env`).

``turngym/TextWorld-v0`` (registered in ``envs/__init__.py`` by import path, so nothing here is
imported until an env is made) plays TextWorld's challenges, coin collector, treasure hunter and
the cooking game, at graded difficulty (:data:`envs.textworld.data.DIFFICULTIES`), generated from
seeds and built once into the data home (:mod:`envs.textworld.games`), or a user's own ``.z8``
games (``games=PATH``).  It needs the ``[textworld]`` extra; without it the env refuses with an
error naming the extra, and the rest of turngym imports as before.

Players (:mod:`envs.textworld.oracle`): the oracle plays the game's walkthrough; baselines
``random-admissible`` and ``detours`` (the weak teacher: the walkthrough with recovered detours).
"""
