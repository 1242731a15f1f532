"""Checkpoints that survive SIGKILL: atomic step folders under ``RUN/checkpoints/``.

``save_checkpoint(run_dir, step, learner, extra)`` writes ``.tmp-step_N-<pid>/`` with

* ``model.pt`` (trainable weights: the full model, or the LoRA adapter), ``optimizer.pt``
  (optimizer, scheduler, the learner's step count), ``rng.pt`` (python / numpy / torch / CUDA RNG
  states), ``extra.json`` (the caller's dict: data cursor, policy version, metrics so far, config
  hash...), and last ``manifest.json`` (step, each file's size and sha256);

fsyncs every file and the folder, renames it to ``step_N``, fsyncs ``checkpoints/``, then
replaces the ``latest`` pointer file the same way (write a temp file, fsync, ``os.replace``,
fsync the folder).  A crash at any point leaves either the previous complete state or the new one.

``load_latest(run_dir, learner)`` tries the step ``latest`` names, then every ``step_N`` newest
first; the first whose manifest verifies (all files present, sizes and sha256 equal) is loaded
into the learner, the RNG states are restored, and its ``extra`` dict is returned with ``step``
(the checkpoint's step) and ``checkpoint`` (its folder) added.  None when no step verifies.
Leftover ``.tmp-*`` folders are never read; the next save removes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINTS = "checkpoints"
LATEST = "latest"
MANIFEST = "manifest.json"
FORMAT = 1
_STEP = re.compile(r"^step_(\d+)$")
log = logging.getLogger(__name__)


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as f:
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, keys, pos, has_gauss, cached = state["numpy"]
    random.setstate(_tuplify(state["python"]))
    np.random.set_state((version, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuplify(value: Any) -> Any:
    return tuple(_tuplify(v) for v in value) if isinstance(value, (list, tuple)) else value


def checkpoint_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / CHECKPOINTS


def save_checkpoint(run_dir: str | os.PathLike, step: int, learner, extra: dict[str, Any] | None = None,
                    *, keep: int | None = 3) -> Path:
    """Atomically write checkpoint ``step``; keep the newest ``keep`` complete steps (None: all)."""
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):  # a crashed save; never read
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    tmp = root / f".tmp-step_{step}-{os.getpid()}"
    tmp.mkdir()
    state = learner.state_dict()
    torch.save(state["model"], tmp / "model.pt")
    torch.save({k: v for k, v in state.items() if k != "model"}, tmp / "optimizer.pt")
    torch.save(rng_state(), tmp / "rng.pt")
    (tmp / "extra.json").write_text(json.dumps(extra or {}, indent=1, sort_keys=True), encoding="utf-8")
    files = {}
    for path in sorted(tmp.iterdir()):
        _fsync_file(path)
        files[path.name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    manifest = {"format": FORMAT, "step": int(step), "created": time.time(), "files": files}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    _fsync_file(tmp / MANIFEST)
    _fsync_dir(tmp)
    final = root / f"step_{step}"
    if final.exists():  # re-saving a step (after a resume): move the old one out of the way first
        old = root / f".tmp-old-step_{step}-{os.getpid()}"
        os.rename(final, old)
        shutil.rmtree(old, ignore_errors=True)
    os.rename(tmp, final)
    _fsync_dir(root)
    pointer = root / f".tmp-latest-{os.getpid()}"
    pointer.write_text(final.name + "\n", encoding="utf-8")
    _fsync_file(pointer)
    os.replace(pointer, root / LATEST)
    _fsync_dir(root)
    if keep is not None:
        for old in _steps(root)[keep:]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _steps(root: Path) -> list[Path]:
    """``step_N`` folders, newest first."""
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _STEP.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def verify(folder: Path) -> dict[str, Any] | None:
    """The manifest when every file it lists is present with its size and sha256, else None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        for name, meta in files.items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != meta["bytes"] or _sha256(path) != meta["sha256"]:
                return None
        if not {"model.pt", "optimizer.pt", "rng.pt", "extra.json"} <= set(files):
            return None
        return manifest
    except (OSError, ValueError, KeyError, TypeError):
        return None


def complete_steps(run_dir: str | os.PathLike) -> list[Path]:
    """Verified checkpoint folders, the ``latest`` one first, then newest first."""
    root = checkpoint_dir(run_dir)
    if not root.is_dir():
        return []
    order = _steps(root)
    try:
        named = root / (root / LATEST).read_text(encoding="utf-8").strip()
        if named in order:
            order.remove(named)
            order.insert(0, named)
    except OSError:
        pass
    good = []
    for p in order:
        if verify(p) is None:
            log.warning("checkpoint %s is incomplete or corrupted (manifest does not verify); skipped", p)
        else:
            good.append(p)
    return good


def load_latest(run_dir: str | os.PathLike, learner) -> dict[str, Any] | None:
    """Load the newest verified checkpoint into ``learner`` and restore RNG; its ``extra`` (+ step, checkpoint)."""
    for folder in complete_steps(run_dir):
        manifest = verify(folder)
        if manifest is None:  # changed since listed
            continue
        try:
            model_state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
            rest = torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=True)
            rng = torch.load(folder / "rng.pt", map_location="cpu", weights_only=True)
            extra = json.loads((folder / "extra.json").read_text(encoding="utf-8"))
        except Exception as e:  # noqa: BLE001  (a file that verifies but will not load: try the next step)
            log.warning("checkpoint %s verifies but does not load (%s); trying an older one", folder, e)
            continue
        learner.load_state_dict({"model": model_state, **rest})
        set_rng_state(rng)
        return {**extra, "step": manifest["step"], "checkpoint": str(folder)}
    return None
