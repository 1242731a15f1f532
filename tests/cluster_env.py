"""An I/O-bound env and a seeded token policy for the Ray rollout tests and bench/cluster.py.

Ray workers import this module (``EnvSpec.imports``), which registers ``SleepArith-v0``: the arith
env of tests/arith_env.py whose every step sleeps ``step_sleep`` seconds, and whose step on a task
listed in ``hang`` never returns (sleeps ``HANG`` seconds).  :class:`SeededTokenPolicy` plays the
sums token by token with a character tokenizer: its answer, token ids and logprobs follow from each
turn's sampling seed alone, so the same seeds give the same trajectories anywhere.
:class:`ScriptedServer` plays the same script in a real tokenizer's ids behind vLLM's HTTP API on
loopback (what a training run's ``VLLMPolicy`` and weight sync talk to), and :func:`local_cluster`
is the multi-node Ray cluster (``ray.cluster_utils.Cluster``) a test module shares.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agents.policy import Completion
from agents.tokens import ChatRenderer, TokenConversation
from envs import register, registered
from tests.arith_env import TASKS, ArithEnv, arith_plan
from tests.test_policy_protocol import EOS, CharTokenizer
from tools import call

HANG = 3600.0
ENV_ID = "turngym/SleepArith-v0"


class SleepArithEnv(ArithEnv):
    def __init__(self, split="train", max_turns=None, step_sleep: float = 0.05, hang: tuple[str, ...] = (), tasks=None, **kw):
        if tasks is not None and tasks is not TASKS:  # the training loop passes the tasks it draws from: these
            raise ValueError("SleepArith-v0 plays tests.arith_env.TASKS only")
        super().__init__(split=split, max_turns=max_turns, **kw)
        self.step_sleep, self.hang = step_sleep, tuple(hang)

    def step(self, action):
        time.sleep(HANG if self.task is not None and self.task.id in self.hang else self.step_sleep)
        return super().step(action)


if ENV_ID not in registered():
    register("SleepArith-v0", "tests.cluster_env:SleepArithEnv", tasks=TASKS, oracle=arith_plan,
             description="arith sums whose steps sleep (Ray rollout tests)")


class SeededTokenPolicy:
    """A token policy with no model: adds, then answers the sum, wrong when the turn seed says so."""

    name = "seeded-tokens"

    def __init__(self, wrong_every: int = 3):
        self.renderer = ChatRenderer(CharTokenizer())
        self.policy_version = 0
        self.wrong_every = wrong_every

    def start_conversation(self, messages):
        return TokenConversation(self.renderer, messages)

    async def generate_tokens(self, convs, sampling):
        out = []
        for conv in convs:
            a, b = map(int, re.search(r"What is (\d+) \+ (\d+)\?", self.renderer.decode(conv.prompt_ids)).groups())
            seed = sampling.seed or 0
            if not conv.turns:
                text = call("add", a=a, b=b)
            else:
                text = call("answer", value=a + b + (1 if seed % self.wrong_every == 0 else 0))
            ids = self.renderer.encode(text) + [EOS]
            logprobs = [-((seed * 7 + k) % 13) / 10 for k in range(len(ids))]
            out.append(Completion(text=text, token_ids=ids, logprobs=logprobs, finish_reason="stop",
                                  policy_version=self.policy_version))
        return out

    async def generate(self, requests, sampling):
        raise AssertionError("a token policy is driven through generate_tokens")

    async def score_answers(self, prefixes, answers):
        return [0.0 for _ in answers]


def _script(prompt: str, seed: int, wrong_every: int = 3) -> str:
    """SeededTokenPolicy's move on a rendered prompt: ``add`` first, then the sum (wrong when the seed says so)."""
    a, b = map(int, re.search(r"What is (\d+) \+ (\d+)\?", prompt).groups())
    if json.dumps({"a": a, "b": b}) not in prompt:  # the add call is not in the conversation yet
        return call("add", a=a, b=b)
    return call("answer", value=a + b + (1 if seed % wrong_every == 0 else 0))


class ScriptedServer:
    """vLLM's HTTP API on 127.0.0.1 (``/v1/models``, ``/v1/completions`` with ``return_token_ids``, and the
    weight-sync routes, which answer 200) with :func:`_script`'s moves in ``model_dir``'s tokens: every answer,
    token ids and logprobs follow from the prompt and the request's seed, whichever process asks.  ``calls``:
    the paths requested, in order."""

    def __init__(self, model_dir: Any, name: str = "scripted", max_model_len: int = 2048):
        from agents.tokens import load_renderer

        self.renderer, self.name, self.max_model_len = load_renderer(model_dir), name, max_model_len
        self.eos = int(self.renderer.tokenizer.eos_token_id)
        self.calls: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                path = self.path.split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                server.calls.append(path)
                reply = server.reply(path, body)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reply(self, path: str, body: dict) -> dict:
        if path == "/v1/models":
            return {"data": [{"id": self.name, "max_model_len": self.max_model_len}]}
        if path != "/v1/completions":
            return {}  # /pause, /collective_rpc (reload_weights), /reset_prefix_cache, /resume
        seed = int(body.get("seed") or 0)
        ids = self.renderer.encode(_script(self.renderer.decode(body["prompt"]), seed)) + [self.eos]
        ids, reason = (ids, "stop") if len(ids) <= body["max_tokens"] else (ids[:body["max_tokens"]], "length")
        logprobs = [-((seed * 7 + k) % 13) / 10 - 0.05 for k in range(len(ids))]
        return {"choices": [{"token_ids": ids, "logprobs": {"token_logprobs": logprobs}, "finish_reason": reason}]}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


STORE = 80 * 2**20  # a node's object store: Ray's minimum (75 MiB) and a little


@contextlib.contextmanager
def local_cluster(node_resources: dict[str, dict[str, float]], node_cpus: int = 2) -> Iterator[Any]:
    """A head with no CPUs (no worker lands there) plus one node of ``node_cpus`` CPUs per entry, each with
    those custom resources; this process is connected to it.  On exit: disconnected, shut down, and any
    Ray worker process it left (one of a removed node can outlive its raylet) killed."""
    import ray
    from ray.cluster_utils import Cluster

    before = ray_processes()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": STORE, "include_dashboard": False})
    try:
        for resources in node_resources.values():
            c.add_node(num_cpus=node_cpus, object_store_memory=STORE, resources=resources)
        ray.init(address=c.address, log_to_driver=False, configure_logging=False)
        c.wait_for_nodes()
        yield c
    finally:
        ray.shutdown()
        c.shutdown()
        end = time.monotonic() + 10.0
        while (ray_processes() - before) and time.monotonic() < end:
            time.sleep(0.5)
        for pid in ray_processes() - before:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def ray_processes() -> set[int]:
    """Pids of this machine's Ray worker processes (``ray::...`` in their command line)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read(5) == b"ray::":
                        out.add(int(entry))
            except OSError:
                pass
    return out
