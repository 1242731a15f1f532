"""Building, caching and opening TextWorld games (the ``[textworld]`` extra: ``textworld==1.7.0``, ``jericho``).

A generated game is named by a :class:`GameSpec` (challenge, its settings, seed) and built once, on
first use, into ``$TURNGYM_HOME/textworld-v1/games/<key>/``: ``game.z8`` and ``game.json`` (what
``tw-make`` writes) and ``meta.json`` (walkthrough, max score, opening text, build seconds).  A build
runs in a temporary folder that is renamed into place, so readers never see half a game and two
processes that build the same game at once keep one copy (within a process, TextWorld calls take
turns under :data:`ENGINE_LOCK`: TextWorld's generator and parser keep global state) (builds are deterministic from the seed:
the same spec gives byte-identical files).  A build takes ~1-2 s (~3-4 s for the first of a process,
which loads TextWorld's knowledge base); it also plays the walkthrough once, and a game it does not
win is never cached.

``intros/<sha256>.json`` maps a game's opening text to its walkthrough: the weak teacher
(:class:`envs.textworld.oracle.Detours`) sees only the conversation, and finds the walkthrough of the
game it is playing there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from envs.tasks import cache_root

DATA_VERSION = "textworld-v1"
CHALLENGES = {"coin": "tw-coin_collector", "treasure": "tw-treasure_hunter", "cooking": "tw-cooking"}
EXTRA_HINT = "pip install 'turngym[textworld]' (textworld==1.7.0, jericho==3.3.1)"


def textworld_unavailable() -> str | None:
    """Why TextWorld games cannot run here (None when they can): the reason the env refuses and tests skip."""
    try:
        import textworld  # noqa: F401
        from textworld.challenges import CHALLENGES as _known  # noqa: F401
    except ImportError as e:
        return f"textworld is not installed ({e}); {EXTRA_HINT}"
    return None


def require_textworld() -> None:
    reason = textworld_unavailable()
    if reason:
        raise ImportError(f"TextWorld-v0 needs the [textworld] extra: {reason}")


def data_root() -> Path:
    return cache_root() / DATA_VERSION


class GameSpec(BaseModel):
    """One generated game: a challenge (``coin``, ``treasure``, ``cooking``), its settings and a seed."""

    model_config = ConfigDict(frozen=True)

    challenge: str
    settings: dict[str, Any]
    seed: int

    def key(self) -> str:
        """A readable, unique folder name: ``coin-level3-s17``, ``cooking-cut-go6-open-recipe2-splittest-take2-s5``."""
        parts = [f"{k}{'' if v is True else v}" for k, v in sorted(self.settings.items()) if v not in (False, None)]
        return "-".join([self.challenge, *parts, f"s{self.seed}"]).replace("_", "")


# TextWorld keeps global state (its generator, and one shared parser that every game load uses), so a
# process makes one TextWorld call at a time: builds, game starts, steps and closes all hold this lock.
ENGINE_LOCK = threading.RLock()


def game_dir(spec: GameSpec) -> Path:
    return data_root() / "games" / spec.key()


def ensure_game(spec: GameSpec) -> tuple[Path, dict[str, Any]]:
    """The game file and metadata of ``spec``, building the game first if the cache lacks it."""
    folder = game_dir(spec)
    if not (folder / "meta.json").exists():
        with ENGINE_LOCK:
            if not (folder / "meta.json").exists():
                build_game(spec, folder)
    return folder / "game.z8", json.loads((folder / "meta.json").read_text())


def build_game(spec: GameSpec, folder: Path) -> float:
    """Generate, compile and check ``spec`` into ``folder`` atomically; returns the seconds taken."""
    require_textworld()
    if spec.challenge not in CHALLENGES:
        raise ValueError(f"challenge must be one of {sorted(CHALLENGES)}, got {spec.challenge!r}")
    start = time.perf_counter()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-build-", dir=folder.parent))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is not fully supported.*")  # Jericho, on TextWorld's own games
            meta = _generate(spec, tmp)
        meta["build_s"] = round(time.perf_counter() - start, 3)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        remember_intro(meta["intro"], meta["walkthrough"], spec.key())
        try:
            tmp.rename(folder)
        except OSError:  # another process finished the same (identical) game first
            if not (folder / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return time.perf_counter() - start


def _generate(spec: GameSpec, tmp: Path) -> dict[str, Any]:
    import textworld
    from textworld.challenges import CHALLENGES as TW_CHALLENGES
    from textworld.generator import compile_game
    from textworld.generator.game import GameOptions

    options = GameOptions()
    options.seeds = spec.seed
    options.path = str(tmp / "game.z8")
    options.file_ext = ".z8"
    options.force_recompile = True
    game = TW_CHALLENGES[CHALLENGES[spec.challenge]][1](dict(spec.settings), options)
    walkthrough = list(game.walkthrough or [])  # derived from the quest when the challenge sets none; saved in game.json
    compile_game(game, options)
    for leftover in tmp.glob("*.ni"):
        leftover.unlink()
    intro, wins = _play_walkthrough(textworld, tmp / "game.z8", walkthrough)
    if not wins:  # never cache a game the oracle cannot win
        raise RuntimeError(f"TextWorld built {spec.key()} but its walkthrough {walkthrough} does not win it")
    return {"key": spec.key(), "challenge": spec.challenge, "settings": spec.settings, "seed": spec.seed,
            "walkthrough": walkthrough, "max_score": game.max_score, "intro": intro, "textworld": textworld.__version__}


def _play_walkthrough(textworld: Any, path: Path, walkthrough: list[str]) -> tuple[str, bool]:
    env = textworld.start(str(path), request_infos=textworld.EnvInfos(won=True))
    try:
        state = env.reset()
        intro = clean_text(state.feedback)
        for command in walkthrough:
            state, _, done = env.step(command)
            if done:
                break
        return intro, bool(state.get("won"))
    finally:
        env.close()


# ----- opening text -> walkthrough (for the weak teacher) ------------------------------------
def _intro_path(intro: str) -> Path:
    return data_root() / "intros" / f"{hashlib.sha256(intro.encode()).hexdigest()[:32]}.json"


def remember_intro(intro: str, walkthrough: list[str], key: str) -> None:
    """Record ``walkthrough`` under the game's opening text (written atomically; the first writer wins)."""
    if not walkthrough:
        return
    path = _intro_path(intro)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".intro-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump({"walkthrough": walkthrough, "key": key}, f)
    os.replace(tmp, path)


def walkthrough_for(intro: str) -> list[str] | None:
    """The walkthrough of the cached game that opens with ``intro``, or None."""
    path = _intro_path(intro)
    return json.loads(path.read_text())["walkthrough"] if path.exists() else None


# ----- the game's text ------------------------------------------------------------------------
_ART = set(" _|\\/$<>")
_ENDGAME = re.compile(r"\n*Would you like to RESTART, RESTORE a saved game, QUIT or UNDO the last command\?.*", re.S)


def clean_text(text: str) -> str:
    """The game's text without TextWorld's ASCII-art banner, the interpreter's prompt and status line,
    the end-of-game menu, and runs of blank lines."""
    text = _ENDGAME.sub("", text or "")
    lines = [line.strip() for line in text.splitlines()]  # the end banner is centred with spaces
    lines = [line for line in lines if not (line.strip() and set(line) <= _ART) and not line.startswith(">")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
