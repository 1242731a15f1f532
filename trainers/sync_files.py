"""Weight files a sync writes, and where: tied-embedding models as untied copies; push folders.

Where (:func:`push_root`): under ``/dev/shm`` (RAM; the servers must be on this machine), or under
``sync.shared_dir``, a folder every node mounts at the same path, for servers on other machines.
There each push goes to a fresh folder (:func:`publish`: written beside, then renamed into place, so
a reader on another machine never sees a half-written push or a file a network filesystem cached
under the same name), and older pushes are removed; a root left by a killed run of this host is
removed by the next run's :func:`gc_push_roots`.

vLLM 0.32's in-place ``reload_weights`` refreshes a tied model's embeddings but not its ``lm_head``
(the loop's sync check found SmolLM2 0.26-0.41 nats off after a push; served untied, 5e-5), so a
full-weight run serves an untied copy (:func:`untied_copy`) and pushes untied weights
(:func:`write_untied`); the learner's own model stays tied.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any


def push_root(prefix: str, shared_dir: str | os.PathLike | None = None) -> Path:
    """A fresh folder for a sync's pushes: under ``shared_dir`` (named after this host and process, for
    :func:`gc_push_roots`), else under ``/dev/shm`` when it exists, else the temp folder."""
    if shared_dir is not None:
        gc_push_roots(shared_dir)
        return Path(tempfile.mkdtemp(prefix=f"{prefix}{socket.gethostname()}-{os.getpid()}-", dir=shared_dir))
    root = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


def gc_push_roots(shared_dir: str | os.PathLike) -> list[Path]:
    """Remove the push folders under ``shared_dir`` whose creating process (on this host) is gone; returns them."""
    pattern = re.compile(rf"turngym-(?:sync|lora)-{re.escape(socket.gethostname())}-(\d+)-.+")
    removed = []
    for path in Path(shared_dir).iterdir():
        found = pattern.fullmatch(path.name)
        if found and path.is_dir() and not _pid_alive(int(found[1])):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def publish(root: Path, name: str, write: Any) -> Path:
    """``write(folder)`` into a hidden folder beside ``root / name``, then rename it into place and remove every
    other entry of ``root`` (older pushes, a failed push's leftovers)."""
    final, partial = root / name, root / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    write(partial)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    for old in root.iterdir():
        if old == final:
            continue
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    return final


def ties_embeddings(model_dir: str | os.PathLike) -> bool:
    """Whether a model folder's config ties the output layer to the input embeddings."""
    import json

    return bool(json.loads((Path(model_dir) / "config.json").read_text()).get("tie_word_embeddings", False))


def write_untied(model: Any, out: Path) -> Path:
    """``model``'s weights as safetensors with ``lm_head.weight`` stored on its own and a config that says
    ``tie_word_embeddings: false`` (replacing earlier weight files in ``out``)."""
    import json

    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.safetensors*"):
        old.unlink()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    embed = model.get_input_embeddings().weight.detach()
    state["lm_head.weight"] = embed.clone()  # its own storage: safetensors refuses shared tensors
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = model.config.to_dict()
    config["tie_word_embeddings"] = False
    (out / "config.json").write_text(json.dumps(config, indent=2))
    return out


def untied_copy(model_dir: Path, out: Path) -> Path:
    """An untied copy of a tied model folder (weights in their stored dtype, tokenizer files copied)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto")
    write_untied(model, out)
    del model
    for src in model_dir.iterdir():
        if src.is_file() and src.name != "config.json" and not src.name.endswith((".safetensors", ".bin", ".index.json")):
            shutil.copy2(src, out / src.name)
    return out
