"""turngym environments: the ``ToolEnv`` contract, tasks and splits, and the registry.

Importing this package registers the built-in families with gymnasium.  Third-party envs (the
``turngym.envs`` entry-point group) load on ``import turngym`` or the first ``registered()``/``make()``.
"""

from envs.core import ToolEnv
from envs.registry import Player, load_plugins, make, register, registered
from envs.registry import removed as _removed
from envs.spaces import MessagesSpace, TextSpace
from envs.tasks import SPLITS, JsonlTaskSet, ListTaskSet, Task, TaskSet
from tools import call

# Each family owns its task set (for sizes without building an env), its oracle and its baselines, and
# states how an agent writes its answer (``probe_template``: the answer tool call that IGPO's probes
# score).  Families whose probe answer is not written verbatim in a call declare none: SQL probes the
# gold *result* (submit_sql takes a query), Code's reference program would need JSON escaping inside
# submit(code=...), WebShop and the GUI envs end with clicks, not a stated answer.
register(
    "SQL-v0", "envs.sql.env:SQLEnv",
    description="Answer questions over real SQLite databases (11 generated domains + Chinook)",
    tasks="envs.sql.data:load_sql_tasks", oracle="envs.sql.oracle:plan",
)
register(
    "Search-v0", "envs.search.env:SearchEnv",
    description="Multi-hop QA by searching a generated fictional encyclopedia (BM25; test is an unseen world)",
    tasks="envs.search.data:load_search_tasks", oracle="envs.search.oracle:plan",
    baselines={"answer-only": "envs.search.oracle:AnswerOnly", "search-only": "envs.search.oracle:SearchOnly"},
    probe_template=call("answer", text="{answer}"),
)
register(
    "Code-v0", "envs.code.env:CodeEnv",
    description="Write Python functions tested in a sandbox (162 generated tasks; test is HumanEval's 164)",
    tasks="envs.code.data:load_code_tasks", oracle="envs.code.oracle:plan",
)
register(
    "Lookup-v0", "envs.lookup.env:LookupEnv",
    description="Find a key's code with lookup (1-2 hops, or none), then answer; small enough to learn on a CPU",
    tasks="envs.lookup.data:load_lookup_tasks", oracle="envs.lookup.oracle:plan",
    baselines={"hasty": "envs.lookup.oracle:Hasty"},
    probe_template=call("answer", value="{answer}"),
)
register(
    "WebShop-v0", "envs.webshop.env:WebShopEnv",
    description="Shop in a web shop served over HTTP for what an instruction asks (WebShop's reward; test is an unseen shop)",
    tasks="envs.webshop.data:load_webshop_tasks", oracle="envs.webshop.oracle:plan",
    baselines={"first-result": "envs.webshop.oracle:FirstResult", "random-action": "envs.webshop.oracle:RandomAction"},
)

register(
    "GUITrace-v0", "envs.gui.trace_env:GUITraceEnv",
    description="Offline GUI steps from recorded Chromium traces of 7 synthetic apps (GUI-R1 reward; test: held-out apps, themes, templates)",
    tasks="envs.gui.traces:load_trace_tasks", oracle="envs.gui.oracle:trace_plan", built="envs.gui.traces:traces_built",
    baselines={"near-miss": "envs.gui.teacher:NearMiss"},
)
register(
    "GUI-v0", "envs.gui.live_env:GUIEnv",
    description="Live GUI episodes in headless Chromium on 7 synthetic apps (success on app state; test: held-out apps, themes, templates)",
    tasks="envs.gui.tasks:load_live_tasks", oracle="envs.gui.oracle:live_plan",
)
register(
    "MiniWoB-v0", "envs.gui.miniwob_env:MiniWoBEnv",
    description="MiniWoB++ tasks (miniwob 1.1.0, Selenium Chromium) under the GUI tool-call actions (test: 6 held-out tasks)",
    tasks="envs.gui.miniwob_env:miniwob_tasks", oracle="envs.gui.oracle:miniwob_plan",
)

# TextWorld (envs/textworld/, the [textworld] extra): generated text games, or a user's own .z8 files.
register(
    "TextWorld-v0", "envs.textworld.env:TextWorldEnv",
    description="TextWorld games (coin collector, treasure hunter, cooking) built offline from seeds; test: unseen levels/recipes",
    tasks="envs.textworld.data:tasks_coin_1", oracle="envs.textworld.oracle:plan",
    baselines={"random-admissible": "envs.textworld.oracle:RandomAdmissible", "detours": "envs.textworld.oracle:Detours"},
)

# The Vault family (envs/vault/): chains of K rooms to a vault, built to test turn-level credit.
for _name, _rooms, _key in (("Vault2-v0", 2, False), ("Vault3-v0", 3, False), ("Vault6-v0", 6, False), ("VaultKey3-v0", 3, True)):
    register(
        _name, "envs.vault.env:VaultEnv", kwargs={"rooms": _rooms, "key": _key},
        description=f"Walk a chain of {_rooms} rooms{', key from a side room first' if _key else ''} to a vault, "
                    "one code digit per room; the sign names the right door",
        tasks=f"envs.vault.data:tasks_{_rooms}", oracle="envs.vault.oracle:plan",
        baselines={"decoy": "envs.vault.oracle:Decoy"}, probe_template=call("answer", code="{answer}"),
    )

__all__ = [
    "SPLITS", "JsonlTaskSet", "ListTaskSet", "MessagesSpace", "Player", "Task", "TaskSet", "TextSpace", "ToolEnv",
    "load_plugins", "make", "register", "registered",
]


def __getattr__(name: str):  # a removed name (register_oracle) fails naming its replacement
    return _removed(__name__, name)
