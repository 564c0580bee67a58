"""rlvr-envs: Gymnasium environments for Reinforcement Learning from Verifiable Rewards."""

from .verdict import Seconds, Status, Verdict

__version__ = "0.1.0"

__all__ = ["Seconds", "Status", "Verdict", "__version__"]
