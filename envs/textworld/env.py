"""``turngym/TextWorld-v0``: play a TextWorld game (coin collector, treasure hunter, cooking) or your own.

One tool, ``command(text)``: the text goes to the game as typed, and the game's answer comes back
(TextWorld's banner, prompt and status line removed; capped like every observation).  Settings:

* ``difficulty``: one of :data:`envs.textworld.data.DIFFICULTIES` (default ``coin-1``); the turn
  budget is the difficulty's (``max_turns`` overrides it);
* ``admissible``: when True (the default) every observation ends with the commands the game accepts
  in that state (``Admissible commands: go east | inventory | look``), as ALFWorld agents are
  prompted; False gives the bare game text, where the policy must find valid commands itself;
* ``games``: a ``.z8`` file or a folder of them (``tw-make``'s with their ``.json``, or any Z-machine
  game Jericho plays) to play instead of the generated ones, all in the env's ``split``.

Outcome: the game's score divided by its maximum (1.0 if won when the game states no maximum),
when the game is won or lost (``terminated``); ``success`` when won.  A game Jericho does not fully
support reports neither score nor end: its end is read from Inform's banner (``*** You have won ***``).  A truncated episode scores 0, as
in every family; ``info["score"]`` holds the score reached.  There is no ``answer``.

Bad input (an empty, over-long, multi-line or non-text command, or an interpreter meta-command such
as ``restart``/``quit``/``save`` that would leave the game waiting for a yes/no) is a tool error: it
costs a turn and says why.  A game that stops answering (the interpreter raises) is an
infrastructure fault: :class:`tools.ToolInfrastructureError`, the episode is ``failed``.

Behaviour metrics (:meth:`TextWorldEnv.episode_metrics`, in every evaluation and training step):
every step's info says whether the turn ended in a state the episode had already been in
(``revisit``: a detour walked back, a command that changed nothing); ``revisits`` is their mean
number per episode and ``revisit_rate`` their share of all turns.

``state_key``: the game's exact state, not a count of calls: ``[task id, room, sorted inventory,
score, digest of every world fact]`` (generated games; the facts cover doors, containers, cooked and
cut food); for a plain Z-machine game, Jericho's world-state hash, or (for games Jericho does not fully
support) what ``look`` and ``inventory`` answer, asked on a saved state and undone.  The same room and
inventory reached by two routes give one key; picking something up changes it.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path
from typing import Any

from envs.core import ToolEnv
from envs.tasks import Split, Task, TaskSet
from envs.textworld.data import DEFAULT_DIFFICULTY, USER_GAMES_MAX_TURNS, difficulty_spec, load_game_files, load_textworld_tasks
from envs.textworld.games import ENGINE_LOCK, GameSpec, clean_text, ensure_game, remember_intro, require_textworld
from tools import ToolError, tool
from tools.calls import ToolInfrastructureError
from tools.text import sendable

MAX_COMMAND_CHARS = 200
ADMISSIBLE_PREFIX = "Admissible commands: "
# Interpreter and debugging verbs that restart, save or quit the story (leaving it waiting for a
# yes/no) or reveal the solution; none is part of playing the game.
META_VERBS = frozenset({"restart", "quit", "q", "save", "restore", "undo", "oops", "script", "unscript", "transcript",
                        "noscript", "test", "purloin", "gonear", "abstract", "showme", "tree", "trace", "actions", "rules"})


INFORM_END = re.compile(r"^\*\*\* (.{1,60}) \*\*\*$", re.M)  # Inform's end banner: *** You have won ***


def _is_win(banner: str) -> bool:
    return banner.strip().lower() in ("the end", "you have won", "you win")


class TextWorldEnv(ToolEnv):
    family = "textworld"
    default_max_turns = 12

    def __init__(self, split: Split = "train", tasks: TaskSet | None = None, difficulty: str = DEFAULT_DIFFICULTY,
                 games: str | Path | None = None, admissible: bool = True, max_turns: int | None = None,
                 render_mode: str | None = None, max_observation_chars: int | None = None):
        level = difficulty_spec(difficulty)
        if tasks is None:
            tasks = load_game_files(games, split) if games is not None else load_textworld_tasks(difficulty)
        if max_turns is None:
            max_turns = USER_GAMES_MAX_TURNS if games is not None else level.max_turns
        self.difficulty, self.admissible, self.games = difficulty, bool(admissible), games
        self._game: Any = None
        super().__init__(tasks, split=split, max_turns=max_turns, render_mode=render_mode,
                         max_observation_chars=max_observation_chars)

    def system_prompt(self) -> str:
        # One line on purpose: a tiny model pays for every prompt token on every turn.
        listed = " The commands the game accepts are listed after each answer." if self.admissible else ""
        return f"Play the text game: command(text) sends one command, e.g. go east or take coin.{listed}"

    # ----- the game ---------------------------------------------------------------------------
    def start_task(self, task: Task) -> None:
        require_textworld()  # here, not in __init__: making an env starts (and needs) nothing, as in every family
        import textworld

        self._close_game()
        if "game" in task.data:
            path, meta = ensure_game(GameSpec(**task.data["game"]))
            self._meta = meta
        else:
            path, self._meta = Path(task.data["file"]), {}
        infos = textworld.EnvInfos(admissible_commands=self.admissible, score=True, max_score=True, won=True, lost=True,
                                   facts=True, location=True, extras=["walkthrough"])
        with ENGINE_LOCK, warnings.catch_warnings():
            if "game" in task.data or path.with_suffix(".json").exists():  # TextWorld tracks score and state itself
                warnings.filterwarnings("ignore", message=".*is not fully supported.*")
            self._game = textworld.start(str(path), request_infos=infos)
            self._state = self._game.reset()
        self._score = int(self._state.get("score") or 0)
        self._max_score = self._meta.get("max_score") or self._state.get("max_score") or 0
        self._walkthrough = list(self._meta.get("walkthrough") or self._state.get("extra.walkthrough") or [])
        self._intro = clean_text(self._state.feedback)
        if "file" in task.data:  # a user's game: let the weak teacher find its walkthrough too
            remember_intro(self._intro, self._walkthrough, task.id)

    def task_prompt(self, task: Task) -> str:
        return self._intro + self._listing()

    def end_task(self) -> None:
        self._close_game()

    def _close_game(self) -> None:
        if self._game is not None:
            try:
                with ENGINE_LOCK:
                    self._game.close()
            finally:
                self._game = None

    def _listing(self) -> str:
        commands = self._state.get("admissible_commands") if self.admissible else None
        return f"\n\n{ADMISSIBLE_PREFIX}{' | '.join(commands)}" if commands else ""

    def state_key(self) -> str:
        if self.task is None or self._game is None:
            return json.dumps([self.task.id if self.task else None])
        facts = self._state.get("facts")
        if facts is not None:
            args = [(f.name, [a.name for a in f.arguments]) for f in facts]
            room = next((a[1] for name, a in args if name == "at" and a[0] == "P"), None)
            inventory = sorted(a[0] for name, a in args if name == "in" and a[1:] == ["I"])
            digest = hashlib.sha1("\n".join(sorted(map(str, facts))).encode()).hexdigest()[:16]
            return json.dumps([self.task.id, room, inventory, self._score, digest])
        return json.dumps([self.task.id, str(self._state.get("location")), self._score, self._plain_digest()])

    def _plain_digest(self) -> str:
        """A plain Z-machine game's state: Jericho's world-state hash for the games it fully supports; for
        others (whose hash is constant) what ``look`` and ``inventory`` say, asked on a saved state and undone."""
        engine = getattr(self._game, "_jericho", None)
        if engine is None:
            return hashlib.sha1(self._state.feedback.encode()).hexdigest()
        with ENGINE_LOCK:
            if engine.is_fully_supported:
                return str(engine.get_world_state_hash())
            saved, seen = engine.get_state(), []
            for probe in ("look", "inventory"):
                seen.append(clean_text(engine.step(probe)[0]))
                engine.set_state(saved)
        return hashlib.sha1("\n".join(seen).encode()).hexdigest()

    # ----- the gym API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        self._visited = {info["state_key"]}
        info.update(walkthrough=list(self._walkthrough), max_score=self._max_score, score=self._score,
                    game=self._meta.get("key") or self.task.data.get("file"), difficulty=self.task.data.get("difficulty"))
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = super().step(action)
        info.update(score=self._score, max_score=self._max_score, revisit=info["state_key"] in self._visited)
        self._visited.add(info["state_key"])
        return obs, reward, terminated, truncated, info

    @staticmethod
    def episode_metrics(step_infos: list[list[dict[str, Any]]]) -> dict[str, float]:
        """``revisits``: turns per episode that ended in a state the episode had been in before;
        ``revisit_rate``: their share of all turns (what a detour-free walk drives to 0)."""
        flags = [[bool(info["revisit"]) for info in infos if "revisit" in info] for infos in step_infos
                 if any("revisit" in info for info in infos)]  # episodes recorded before the flag existed: left out
        turns = sum(map(len, flags))
        return {"revisits": sum(map(sum, flags)) / len(flags) if flags else float("nan"),
                "revisit_rate": sum(map(sum, flags)) / turns if turns else float("nan")}

    # ----- the tool -------------------------------------------------------------------------------
    def _refuse(self, reason: str) -> ToolError:
        return ToolError(f"{reason}. Send one game command as text, e.g. look.{self._listing()}")

    @tool
    def command(self, text: str) -> str:
        """Send one command to the game, e.g. go east, take coin, open door; returns what the game says."""
        if len(text) > MAX_COMMAND_CHARS:
            raise self._refuse(f"the command is {len(text):,} characters long; the game reads at most {MAX_COMMAND_CHARS}")
        text = sendable(text, "the command").strip()
        if not text:
            raise self._refuse("the command is empty")
        if any(ord(c) < 32 for c in text):
            raise self._refuse("the command holds a line break or control character; send one command on one line")
        verb = text.split()[0].lower()
        if verb in META_VERBS or verb.startswith("tw-"):
            raise self._refuse(f"{verb!r} controls the interpreter, not the game, and is not available here")
        try:
            with ENGINE_LOCK:
                self._state, score, done = self._game.step(text)
        except Exception as e:  # the interpreter died or lost the game: not the policy's doing
            raise ToolInfrastructureError(f"the TextWorld game stopped: {type(e).__name__}: {e}") from e
        self._score = int(score or 0)
        won, lost = bool(self._state.get("won")), bool(self._state.get("lost"))
        answer = clean_text(self._state.feedback)
        if not (won or lost or done) and self._state.get("facts") is None and (end := INFORM_END.search(answer)):
            # a game Jericho does not fully support reports no end: read Inform's own end banner
            won, lost = _is_win(end.group(1)), not _is_win(end.group(1))
        if won or lost or done:
            outcome = min(1.0, max(0.0, self._score / self._max_score)) if self._max_score else float(won)
            self.finish(outcome, won=won, lost=lost, score=self._score)
            self._result["success"] = won  # success is winning, whatever share of the score that took
            return answer
        return answer + self._listing()
