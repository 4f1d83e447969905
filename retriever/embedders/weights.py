"""Where a full-size model's weights are loaded from: a local folder, the local hub cache, or the hub.

transformers retries an unreachable hub for about 25 seconds before it gives up. A model
named by hub id is looked up in the local Hugging Face cache first; only when it is not
there, and one quick connection to the hub fails, does loading stop at once with a line
that says what to do.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

from pagerag.ingest.errors import ModelError

PROBE_TIMEOUT_S = 3.0


def local_weights(model_id: str, family: str) -> str:
    """What to pass to ``from_pretrained`` for ``model_id`` (hub id or local folder).

    Returns:
        The folder itself for a local path, the cached snapshot folder for a hub id that
        was downloaded before, else the hub id (the hub is reachable: it downloads).

    Raises:
        ModelError: a path that is not a folder, or a hub id that is neither cached nor
            reachable; the message says how to pass a local folder.

    Example:
        >>> local_weights("/no/such/folder", "jina-v4")
        Traceback (most recent call last):
        ...
        pagerag.ingest.errors.ModelError: jina-v4: /no/such/folder is not a folder with model weights
    """
    path = Path(model_id).expanduser()
    if path.is_dir():
        return str(path)
    if model_id.startswith(("/", ".", "~")) or model_id.count("/") > 1:
        raise ModelError(f"{family}: {model_id} is not a folder with model weights")
    cached = _cached_snapshot(model_id)
    if cached is not None:
        return cached
    if _hub_reachable():
        return model_id
    raise ModelError(
        f"{family}: weights of {model_id!r} not found locally and the Hugging Face hub cannot be reached; "
        f"download them, or pass a local folder ({family}:/path/to/model)"
    )


def _cached_snapshot(model_id: str) -> str | None:
    try:
        from huggingface_hub import snapshot_download

        return str(snapshot_download(model_id, local_files_only=True))
    except Exception:  # not cached (LocalEntryNotFoundError), a malformed id, no huggingface_hub
        return None


def _hub_reachable() -> bool:
    """One TCP connection to the hub's endpoint, or False at once when offline mode is set."""
    try:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return False
        url = urlparse(constants.ENDPOINT)
        host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return True
    except Exception:  # DNS failure, refused, timed out, or sockets blocked (tests)
        return False
