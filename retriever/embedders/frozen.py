"""A traced, frozen copy of a model's batch-1 forward pass (queries), built at first use.

At batch 1 a small encoder spends a good part of its time in Python and per-op
dispatch; ``torch.jit.trace`` + ``torch.jit.freeze`` of the same module removes most
of it and gives the same numbers (all-MiniLM-L6-v2 query: 19 -> 12 ms, e5-small
32 -> 24 ms here; docs/bench/embed.md). The trace has no attention mask, so it serves
unpadded single sequences only, of any length. If tracing fails the eager module
is used: slower, never wrong.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

_TRACING = threading.Lock()


class FrozenForward:
    """Calls ``module(x)``; from the second call on, through a traced and frozen copy.

    The first call runs eagerly: tracing costs about a second, which a one-shot
    ``pagerag search`` would not win back.

    Args:
        module: a ``torch.nn.Module`` in eval mode taking one tensor and returning one.
        eager_calls: calls served eagerly before the copy is made.

    Example:
        >>> fwd = FrozenForward(bert)  # doctest: +SKIP
        >>> fwd(input_ids).shape  # doctest: +SKIP
        torch.Size([1, 7, 384])
    """

    def __init__(self, module: Any, *, eager_calls: int = 1) -> None:
        self._module = module
        self._frozen: Any = None
        self._eager_left = eager_calls

    def __call__(self, x: Any) -> Any:
        """The module's output for ``x`` (call it under ``torch.inference_mode()``)."""
        if self._frozen is None and self._eager_left > 0:
            self._eager_left -= 1
            return self._module(x)
        return self._compiled(x)(x)

    def _compiled(self, example: Any) -> Any:
        if self._frozen is not None:
            return self._frozen
        with _TRACING:  # one trace at a time: warnings.catch_warnings is not thread-safe
            if self._frozen is None:
                self._frozen = _trace(self._module, example)
            return self._frozen


def _trace(module: Any, example: Any) -> Any:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python-level shape checks
            traced = torch.jit.trace(module, example, check_trace=False)  # type: ignore[no-untyped-call]
            return torch.jit.freeze(traced)
    except (RuntimeError, TypeError, ValueError):
        return module
