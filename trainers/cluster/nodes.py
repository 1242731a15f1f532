"""Connecting to Ray, the cluster's nodes and their resources, and a task on every node.

* :func:`connect`: ``local`` starts a small Ray instance in this process (an object store of
  ``object_store_mb``); ``auto``, ``HOST:PORT`` and ``ray://HOST:PORT`` join a running cluster.  A
  process already connected (a test's cluster) is used as it is.
* :func:`nodes`: each alive node with its resources (``CPU``, ``memory``, custom ones like ``docker``).
* :func:`require_resources`: fail fast when no node advertises what the workers request.
* :func:`on_each_node`: one task pinned to every alive node (``NodeAffinitySchedulingStrategy``),
  with a deadline: :func:`gc_sandboxes` there removes the sandbox containers (label
  ``turngym.sandbox=1``) whose creating process is gone, as ``turngym sandbox gc`` does on one host.
"""

from __future__ import annotations

from typing import Any

OBJECT_STORE_MB = 200


class ClusterError(RuntimeError):
    """The cluster cannot run the rollouts asked of it (no node with a resource, a worker that cannot start)."""


def connect(address: str = "local", *, local_cpus: int | None = None, object_store_mb: int = OBJECT_STORE_MB) -> bool:
    """Connect this process to Ray; True when this call started it (the caller shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    if address == "local":
        ray.init(num_cpus=local_cpus, object_store_memory=object_store_mb * 2**20, include_dashboard=False,
                 configure_logging=False, log_to_driver=False)
        return True
    try:
        ray.init(address=address, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ClusterError(f"cannot connect to the Ray cluster at {address!r}: {e}") from None
    return True


def nodes() -> list[dict[str, Any]]:
    """Alive nodes: ``node_id``, ``address`` and ``resources`` (custom resources included)."""
    import ray

    return [{"node_id": n["NodeID"], "address": n.get("NodeManagerAddress", ""), "resources": dict(n.get("Resources", {}))}
            for n in ray.nodes() if n.get("Alive")]


def require_resources(request: dict[str, float]) -> None:
    """Raise :class:`ClusterError` when no alive node advertises enough of a requested custom resource."""
    have = [n["resources"] for n in nodes()]
    for key, amount in request.items():
        if not any(r.get(key, 0.0) >= amount for r in have):
            raise ClusterError(f"rollout workers request {{{key!r}: {amount:g}}} but no node advertises it; start nodes with "
                               f"ray start --resources='{{\"{key}\": N}}' (N workers per node), or set cluster.resources")


def on_each_node(fn: Any, *args: Any, timeout: float = 60.0) -> dict[str, Any]:
    """``fn(*args)`` once on every alive node; node id -> result, or the error's text (a deadline for all)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(num_cpus=0)(fn)
    refs = {n["node_id"]: task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["node_id"], soft=False)).remote(*args)
            for n in nodes()}
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)
    out: dict[str, Any] = {}
    for node_id, ref in refs.items():
        if ref not in ready:
            ray.cancel(ref, force=True)
            out[node_id] = f"no answer within {timeout:g}s"
            continue
        try:
            out[node_id] = ray.get(ref)
        except Exception as e:  # noqa: BLE001  (one node's failure is reported, not raised)
            out[node_id] = f"{type(e).__name__}: {e}"
    return out


def gc_sandboxes() -> str:
    """On this node: remove sandbox containers whose creating process is gone (``sandboxes.docker.gc``)."""
    try:
        from sandboxes.docker import gc

        return f"removed {len(gc())} sandbox container(s)"
    except Exception as e:  # noqa: BLE001  (no Docker here: nothing to collect)
        return f"skipped ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"


def where() -> dict[str, Any]:
    """This task's node: host name and pid (what ``turngym cluster check`` shows per node)."""
    import os

    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(), "host": os.uname().nodename, "pid": os.getpid()}
