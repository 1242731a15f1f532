"""``turngym/Code-v0``: write a Python function, test it in a sandbox, submit it.

Tools: ``run_python(code)`` runs any code in the episode's sandbox and shows stdout, stderr and the
exit status (cut output is marked); ``run_tests(code)`` runs the task's visible examples and
reports each as passed or failed with expected and actual values; ``submit(code)`` scores the code
on the hidden tests and ends the episode.

Reward: the fraction of hidden tests passed (``info["tests_passed"] / info["tests_total"]``);
``success`` means all of them. Hidden tests are never shown: ``submit`` reports only the count.
Tests run through :mod:`envs.code.harness`, each in its own process with its own time limit, so
a failing, crashing or hanging test costs only itself; results travel on lines prefixed with a
fresh per-call nonce, so code that prints lookalike lines scores nothing. For the generated tasks
the harness returns the function's values and the comparison happens here, on the host. HumanEval
(``test`` split) counts one test per assert-bearing statement of ``check`` (see
:mod:`envs.code.humaneval`); the sandbox only runs the function on each test's recorded inputs,
and the test statements themselves run here, on the host (:mod:`envs.code.replay`).

Sandboxes: ``sandbox="docker"`` (default) or ``"local"`` (no isolation; only when asked by name)
come from a process-wide pool per backend (an env-owned service, :mod:`envs.code.pools`), started
by the first episode that needs one: constructing the env starts nothing. Every episode gets a
fresh sandbox, taken on its first tool call and given back as soon as the episode terminates or is
truncated (or on reset/close, or when an env is dropped unclosed).

Failures: when no sandbox can be had (engine down, image missing) or a sandbox dies while the
engine is unhealthy, the tool raises :class:`tools.calls.ToolInfrastructureError` and the rollout
marks the episode ``failed``. A sandbox that dies while the engine is healthy was broken by the
episode's own code (memory, processes, files): the episode ends with what it earned (0: nothing
was submitted, or the submit could not run), an observation that says so, and
``info["sandbox_broken"]``. The sandbox harness gets ``budget`` seconds of wall time in all (its
own deadline leaves a margin to report), and so does HumanEval's judge on the host after it, so a
stopped or hung process cannot overrun either.

``info`` adds, on reset, ``entry_point`` and ``visible_examples`` (how many); on every step
``visible_passed`` (best count of visible examples passed so far); at the end ``tests_passed``,
``tests_total`` and ``test_status`` (one status per hidden test) after a submit, and
``sandbox_broken`` (what the sandbox reported) when the episode's code broke its sandbox.
"""

from __future__ import annotations

import json
import secrets
import weakref
from pathlib import Path
from typing import Any

from envs.code import harness, replay
from envs.code.pools import pool_lease, pool_of
from envs.code.values import matches, show
from envs.core import ToolEnv
from envs.tasks import Split, Task, TaskSet
from sandboxes import BACKENDS, SandboxUnavailable
from tools import ToolError, tool
from tools.calls import ToolInfrastructureError

HARNESS_SOURCE = Path(harness.__file__).read_text()


BROKEN = ("the sandbox stopped working while running your code ({error}). Code that exhausts the sandbox's "
          "memory, processes or files can do this. The episode ends here")
HARNESS_MARGIN = 1.0  # seconds of a harness call's budget kept for collecting and reporting results


class SandboxBroken(ToolError):
    """The episode's own code broke its sandbox; the episode has ended (see the module docstring)."""


def _give_back(held: dict[str, Any]) -> None:
    """Return the episode's sandbox to its pool (held: "sb", "pool", "lease")."""
    sb = held.pop("sb", None)
    if sb is not None:
        held["pool"].release(sb)


def _let_go(held: dict[str, Any]) -> None:
    _give_back(held)
    lease = held.pop("lease", None)
    if lease is not None:
        lease.release()


class CodeEnv(ToolEnv):
    family = "code"
    default_max_turns = 8
    system_intro = (
        "You write Python functions. Try code with run_python(code), check a solution against the "
        "task's examples with run_tests(code), and finish with submit(code): complete code defining the "
        "function, scored on hidden tests. Code runs in a fresh sandbox with no network."
    )

    def __init__(
        self,
        split: Split = "train",
        tasks: TaskSet | None = None,
        max_turns: int | None = None,
        render_mode: str | None = None,
        sandbox: str = "docker",
        run_timeout: float = 10.0,
        test_timeout: float = 5.0,
        submit_budget: float = 60.0,
        max_output_chars: int = 3000,
        pool_size: int = 2,
    ):
        if tasks is None:
            from envs.code.data import load_code_tasks

            tasks = load_code_tasks()
        if min(run_timeout, test_timeout, submit_budget) <= 0 or max_output_chars < 100:
            raise ValueError("timeouts must be positive and max_output_chars >= 100")
        if sandbox not in BACKENDS:
            raise ValueError(f"sandbox must be one of {BACKENDS}, got {sandbox!r}")
        super().__init__(tasks, split=split, max_turns=max_turns, render_mode=render_mode)
        self.backend, self.pool_size = sandbox, pool_size
        self.run_timeout, self.test_timeout, self.submit_budget = run_timeout, test_timeout, submit_budget
        self.max_output_chars = max_output_chars
        self._held: dict[str, Any] = {}  # "lease" on the pool service, its "pool", this episode's "sb"
        self._finalizer = weakref.finalize(self, _let_go, self._held)  # an env dropped unclosed

    # ----- episode ------------------------------------------------------------------------
    def start_task(self, task: Task) -> None:
        self._release()
        self._visible_best = 0
        self._broken: str | None = None

    def end_task(self) -> None:
        self._release()

    @property
    def _sb(self):
        return self._held.get("sb")

    @_sb.setter
    def _sb(self, sb) -> None:
        if sb is None:
            self._held.pop("sb", None)
        else:
            self._held["sb"] = sb

    def _release(self) -> None:
        _give_back(self._held)

    @property
    def pool(self):
        """The shared sandbox pool, started on first use (raises ``SandboxUnavailable`` naming the fix)."""
        if "lease" not in self._held:
            self._held["lease"] = pool_lease(self.backend, size=self.pool_size)
        self._held["pool"] = pool_of(self._held["lease"])
        return self._held["pool"]

    def close(self) -> None:
        super().close()
        _let_go(self._held)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        info.update(entry_point=self.task.data["entry_point"], visible_examples=len(self.task.data.get("visible") or []))
        return obs, info

    def state_key(self) -> str:
        return json.dumps([self.task.id if self.task else None, getattr(self, "_visible_best", 0)])

    def step(self, action: Any):
        try:
            result = super().step(action)
        except ToolInfrastructureError:
            self._release()
            raise
        result[4]["visible_passed"] = self._visible_best
        if result[2] or result[3]:  # the episode is over: its sandbox goes back now
            self._release()
        return result

    # ----- tools --------------------------------------------------------------------------
    @tool
    def run_python(self, code: str) -> str:
        """Run Python code in the sandbox and show its stdout, stderr and exit status.

        Args:
            code: A complete Python program; print what you want to see.
        """
        try:
            r = self._run(code, self.run_timeout)
        except SandboxBroken as e:
            raise SandboxBroken(f"{e} with score 0 (nothing was submitted).") from None
        status = f"timed out after {self.run_timeout:g}s" if r.timed_out else f"exit code {r.exit_code}"
        parts = [status]
        err_room = min(len(r.stderr), self.max_output_chars // 2)  # the end of a traceback matters most
        out_room = self.max_output_chars - err_room
        if r.stdout:
            cut = len(r.stdout) > out_room or r.truncated
            parts.append("--- stdout ---\n" + r.stdout[:out_room] + ("\n[stdout truncated]" if cut else ""))
        if r.stderr:
            cut = len(r.stderr) > err_room
            parts.append("--- stderr ---\n" + ("[stderr truncated; its end follows]\n" if cut else "") + r.stderr[len(r.stderr) - err_room:])
        if len(parts) == 1:
            parts.append("(no output)")
        return "\n".join(parts)

    @tool
    def run_tests(self, code: str) -> str:
        """Run code against the task's visible examples and report which pass.

        Args:
            code: Complete Python code defining the function.
        """
        visible = self.task.data.get("visible") or []
        if not visible:
            raise ToolError("this task has no visible examples; test your function with run_python")
        try:
            results = self._harness(code, [{"kind": "call", "expr": c["call"]} for c in visible], budget=self.test_timeout * len(visible))
        except SandboxBroken as e:
            raise SandboxBroken(f"{e} with score 0 (nothing was submitted).") from None
        lines, passed = [], 0
        for case, r in zip(visible, results):
            if matches(case["expected"], r):
                passed += 1
                lines.append(f"PASS {case['call']} == {show(case['expected'])}")
            elif r.get("status") == "ok":
                got = show(r["value"]) if "value" in r else "(a large value that differs)"
                lines.append(f"FAIL {case['call']}: expected {show(case['expected'])}, got {got}")
            else:
                lines.append(f"{r.get('status', 'error').upper()} {case['call']}: expected {show(case['expected'])}; {r.get('error', '')}")
        self._visible_best = max(self._visible_best, passed)
        return f"{passed}/{len(visible)} examples passed.\n" + "\n".join(lines)

    @tool(ends_episode=True)
    def submit(self, code: str) -> str:
        """Submit your final code; it is scored on hidden tests. This ends the episode.

        Args:
            code: Complete Python code defining the function.
        """
        data = self.task.data
        if "hidden_stmts" in data:  # HumanEval: only the recorded inputs enter the sandbox
            cases = [{"kind": "calls", "calls": c} for c in data["hidden_calls"]]
        else:
            cases = [{"kind": "call", "expr": c["call"]} for c in data["hidden"]]
        refused = None
        try:
            results = self._harness(code, cases, budget=self.submit_budget)
        except ToolError as e:  # the sandbox or its workspace was made unusable by this episode's code: nothing passes
            results = [{"status": "error", "error": str(e)} for _ in cases]
            refused = str(e)
        if "hidden_stmts" in data:  # the verdicts are made here, on the host (envs.code.replay)
            passed = replay.judge(data["helpers"], data["entry_point"], data.get("test_prelude", ""), data["hidden_stmts"],
                                  replay.tables(data["hidden_calls"], results), timeout=self.test_timeout,
                                  budget=self.submit_budget)
        else:
            passed = [matches(c["expected"], r) for c, r in zip(data["hidden"], results)]
        status = ["pass" if ok else ("fail" if r.get("status") == "ok" else r.get("status", "error"))
                  for ok, r in zip(passed, results)]
        n = sum(passed)
        extra = {"sandbox_broken": self._broken} if self._broken else {}
        self.finish(n / len(cases), tests_passed=n, tests_total=len(cases), test_status=status, submitted_code=code, **extra)
        if refused:
            return f"Submitted, but the tests could not run ({refused}): {n}/{len(cases)} hidden tests passed."
        return f"Submitted: {n}/{len(cases)} hidden tests passed."

    # ----- sandbox plumbing ---------------------------------------------------------------
    def _sandbox(self):
        if self._sb is None:
            try:
                self._sb = self.pool.acquire()
            except SandboxUnavailable as e:  # engine down, image missing, pool closed: not the policy's doing
                raise ToolInfrastructureError(f"no sandbox for this episode: {e}") from e
        return self._sb

    def _run(self, code: str, timeout: float, **kwargs: Any):
        sb = self._sandbox()
        r = sb.run(code, timeout=min(timeout, sb.limits.max_timeout), **kwargs)
        if r.error is None:
            return r
        if not (getattr(sb, "broken", None) or getattr(sb, "closed", False)):
            raise ToolError(f"the sandbox refused the call: {r.error}")  # e.g. a full workspace; the sandbox still works
        self._release()  # a dead sandbox goes back to be discarded
        try:
            self._held["pool"].backend.check()
        except Exception as e:  # whatever the engine says, it is not the policy's doing
            raise ToolInfrastructureError(f"the sandbox died and the engine is not healthy ({e}); sandbox: {r.error}") from e
        self._broken = r.error
        self.finish(0.0, sandbox_broken=r.error)
        raise SandboxBroken(BROKEN.format(error=r.error))

    def _harness(self, code: str, cases: list[dict[str, Any]], budget: float) -> list[dict[str, Any]]:
        """Run ``cases`` against ``code`` in the sandbox; one result dict per case, in order."""
        data = self.task.data
        # The sandbox call's timeout is the whole budget: a harness that user code stopped (SIGSTOP)
        # or starved is killed then; its own deadline comes HARNESS_MARGIN earlier, to report.
        margin = min(HARNESS_MARGIN, budget / 4)
        job = {"code": code, "entry_point": data["entry_point"], "cases": cases, "setup": data.get("setup", []),
               "timeout": self.test_timeout, "budget": budget - margin}
        nonce, job_file = secrets.token_hex(16), f".tg_job_{secrets.token_hex(8)}.json"
        r = self._run(f"{HARNESS_SOURCE}\nmain({job_file!r})\n", budget, files={job_file: json.dumps({"jobs": [job]})}, stdin=nonce)
        results: dict[int, dict[str, Any]] = {}
        for line in r.stdout.splitlines():
            head, _, body = line.partition(" ")
            if head != nonce:
                continue
            try:
                record = json.loads(body)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("case"), int):
                results[record["case"]] = record
        lost = {"status": "crash", "error": "no result: the test run was cut short"}
        return [results.get(i, lost) for i in range(len(cases))]
