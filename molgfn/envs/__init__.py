"""Environments: state spaces as pure functions of batched tensors."""

from .sequence import SequenceEnv

__all__ = ["SequenceEnv"]
