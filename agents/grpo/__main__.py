"""``python -m agents.grpo``: the offline default run."""

import os

from .config import default_run_config
from .loop import train

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
train(default_run_config())
