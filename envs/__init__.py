"""turngym environments: the ``ToolEnv`` contract, tasks and splits, and the registry.

Importing this package registers the built-in families with gymnasium.  Third-party envs (the
``turngym.envs`` entry-point group) load on ``import turngym`` or the first ``registered()``/``make()``.
"""

from envs.core import ToolEnv
from envs.registry import load_plugins, make, register, registered
from envs.spaces import MessagesSpace, TextSpace
from envs.tasks import SPLITS, JsonlTaskSet, ListTaskSet, Task, TaskSet

register(
    "SQL-v0",
    "envs.sql.env:SQLEnv",
    description="Answer questions over real SQLite databases (11 generated domains + Chinook)",
)
register("Search-v0", "envs.search.env:SearchEnv", description="Multi-hop QA by searching a generated fictional encyclopedia (BM25; test is an unseen world)")
register("Code-v0", "envs.code.env:CodeEnv", description="Write Python functions tested in a sandbox (162 generated tasks; test is HumanEval's 164)")
register("Lookup-v0", "envs.lookup.env:LookupEnv", description="Find a key's code with lookup (1-2 hops, or none), then answer; small enough to learn on a CPU")

__all__ = [
    "SPLITS", "JsonlTaskSet", "ListTaskSet", "MessagesSpace", "Task", "TaskSet", "TextSpace", "ToolEnv",
    "load_plugins", "make", "register", "registered",
]
