"""turngym environments: the ``ToolEnv`` contract, tasks and splits, and the registry.

Importing this package registers the built-in families with gymnasium and loads third-party
envs from the ``turngym.envs`` entry-point group.
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
load_plugins()

__all__ = [
    "SPLITS", "JsonlTaskSet", "ListTaskSet", "MessagesSpace", "Task", "TaskSet", "TextSpace", "ToolEnv",
    "load_plugins", "make", "register", "registered",
]
