"""turngym: a gym for training LLM agents that use tools over many turns.

``import turngym`` registers every env (third-party ones too), so ``gymnasium.make("turngym/SQL-v0")`` works after it.
"""

from envs import Task, TaskSet, ToolEnv, load_plugins, make, register, registered
from envs.registry import removed as _removed
from tools import tool

__version__ = "0.1.0"
load_plugins()  # after turngym is whole, so a plugin may import it

__all__ = ["Task", "TaskSet", "ToolEnv", "make", "register", "registered", "tool"]


def __getattr__(name: str):  # a removed name (register_oracle) fails naming its replacement
    return _removed(__name__, name)
