"""A traced, frozen copy of a model's batch-1 forward pass (queries), built at first use.

At batch 1 a small encoder spends a good part of its time in Python and per-op
dispatch; ``torch.jit.trace`` + ``torch.jit.freeze`` of the same module removes most
of it and gives the same numbers (all-MiniLM-L6-v2 query: 19 -> 12 ms, e5-small
32 -> 24 ms here; docs/bench/embed.md). The trace has no attention mask, so it serves
unpadded single sequences only, of any length. If tracing fails (another
transformers version) the eager module is used: slower, never wrong.
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import Any


class FrozenForward:
    """Calls ``module(x)``, through a traced and frozen copy once the first call has made one.

    Args:
        module: a ``torch.nn.Module`` in eval mode taking one tensor and returning one.

    Example:
        >>> fwd = FrozenForward(last_hidden_module)  # doctest: +SKIP
        >>> fwd(input_ids).shape  # doctest: +SKIP
        torch.Size([1, 7, 384])
    """

    def __init__(self, module: Any) -> None:
        self._module = module
        self._frozen: Any = None
        self._lock = threading.Lock()

    def __call__(self, x: Any) -> Any:
        """The module's output for ``x`` (call it under ``torch.inference_mode()``)."""
        return self._compiled(x)(x)

    def _compiled(self, example: Any) -> Any:
        if self._frozen is not None:
            return self._frozen
        with self._lock:
            if self._frozen is None:
                self._frozen = _trace(self._module, example)
            return self._frozen


def _trace(module: Any, example: Any) -> Any:
    import torch
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity(logging.ERROR)  # tracing reads attributes that log advisories
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python-level shape checks
            traced = torch.jit.trace(module, example, check_trace=False)  # type: ignore[no-untyped-call]
            return torch.jit.freeze(traced)
    except (RuntimeError, TypeError, ValueError):
        return module
    finally:
        hf_logging.set_verbosity(verbosity)


def last_hidden(model: Any, argument: str) -> Any:
    """``model(**{argument: x}).last_hidden_state`` as a module of its own (what the tracer takes).

    Args:
        model: a transformers encoder (``BertModel`` and the like).
        argument: ``"input_ids"`` or ``"inputs_embeds"``.
    """
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model(**{argument: x}).last_hidden_state  # type: ignore[no-any-return]

    module = LastHidden()
    module.train(False)
    return module
