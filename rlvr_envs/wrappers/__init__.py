"""Thin wrappers that add behaviour to any rlvr-envs environment."""

from .token_level import CharTokenizer, HFTokenizerCodec, TokenLevel

__all__ = ["CharTokenizer", "HFTokenizerCodec", "TokenLevel"]
