"""Rollouts on Ray: worker actors that play episodes, and the driver-side queue that feeds them.

Nothing here imports Ray at module level except :mod:`trainers.cluster.dispatch` and
:mod:`trainers.cluster.backend`, which only ``trainers.backends.rollout_backend`` imports, and only when
``config.cluster`` is set (``cluster: null`` keeps the single-process path; ``import trainers.loop``
never imports Ray).

* :mod:`trainers.cluster.worker`: :class:`~trainers.cluster.worker.RolloutWorker`, an async Ray actor
  (``max_concurrency``) that builds its envs by id (``envs.make``) and plays today's
  ``agents.rollout.play_episode`` with a policy it builds from a picklable
  :class:`~trainers.cluster.worker.PolicySpec` (a ``VLLMPolicy`` on the server's URL in training; a
  scripted policy in checks and tests).  Env calls run in threads (its own executor, sized to the
  concurrency); the event loop never blocks.  Each dispatch carries the driver's ``policy_version``.
* :mod:`trainers.cluster.dispatch`: :class:`~trainers.cluster.dispatch.Dispatcher`, one shared queue
  handed out to whichever worker has a free slot, a deadline on every wait, retries with the same
  seed, dead workers replaced, exactly one trajectory per requested episode, in order.
* :mod:`trainers.cluster.backend`: :class:`~trainers.cluster.backend.ClusterRollout`, the
  :class:`trainers.backends.RolloutBackend` on top (vLLM server + weight sync on the driver).
* :mod:`trainers.cluster.nodes`: connecting, the nodes and their resources, a task per node
  (sandbox GC by label at start and exit).
* :mod:`trainers.cluster.inference`: vLLM servers started as Ray actors (``inference: {replicas}``) on
  nodes that advertise ``inference.resources``, each on its node's IP, with a watchdog so the server's
  processes never outlive the actor; a dead server stops the run (``ServerDied``), it is not restarted.
"""
