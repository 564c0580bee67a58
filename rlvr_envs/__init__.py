"""rlvr-envs: Gymnasium environments for Reinforcement Learning from Verifiable Rewards.

Importing the package registers the built-in environments under the ``rlvr`` namespace, so
``gymnasium.make("rlvr/GSM8K-v1")`` works. It imports neither torch nor transformers.
"""

from .env import TextEnv
from .envs import register_builtins
from .prompts import MATH_TEMPLATE, PromptRenderer
from .registry import EnvInfo, env_info, list_envs, make_dataset_env, register, register_dataset_env
from .spaces import ChatMessages, UnicodeText
from .tasks import DatasetSource, ProceduralSource, Task, TaskSource
from .verdict import Seconds, Status, Verdict
from .verifiers import get_verifier, register_verifier

__version__ = "0.1.0"

register_builtins()

__all__ = [
    "MATH_TEMPLATE",
    "ChatMessages",
    "DatasetSource",
    "EnvInfo",
    "ProceduralSource",
    "PromptRenderer",
    "Seconds",
    "Status",
    "Task",
    "TaskSource",
    "TextEnv",
    "UnicodeText",
    "Verdict",
    "__version__",
    "env_info",
    "get_verifier",
    "list_envs",
    "make_dataset_env",
    "register",
    "register_dataset_env",
    "register_verifier",
]
