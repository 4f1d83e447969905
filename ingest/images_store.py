"""Page images kept in the index directory, content-addressed, with small thumbnails.

``index_dir/images/ab/abcdef....jpg`` (the SHA-256 of the encoded bytes names the
file) and ``....thumb.jpg`` beside it. Identical pages share one file; writes are
atomic (temporary file, then rename), so a killed process never leaves a torn image.
JPEG at quality 85: about 15x faster to encode than WebP at this size, and these
images are read by people and vision models, not re-encoded.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

THUMB_SIDE = 256
QUALITY = 85


class ImageStore:
    """Content-addressed page images under ``root``.

    Example:
        >>> store = ImageStore(Path(".pagerag/images"))  # doctest: +SKIP
        >>> key = store.put(image)  # doctest: +SKIP
        >>> store.path(key), store.thumb_path(key)  # doctest: +SKIP
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        """The page image for ``key``."""
        return self.root / key[:2] / f"{key}.jpg"

    def thumb_path(self, key: str) -> Path:
        """The thumbnail for ``key``."""
        return self.root / key[:2] / f"{key}.thumb.jpg"

    def put(self, image: Image.Image) -> str:
        """Save ``image`` (and its thumbnail) unless already there; returns its key."""
        data = _encode(image, QUALITY)
        key = hashlib.sha256(data).hexdigest()
        target = self.path(key)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(self.thumb_path(key), _encode(thumbnail(image), 80))
            _write_atomic(target, data)
        return key

    def keys(self) -> set[str]:
        """Keys of all stored page images."""
        if not self.root.exists():
            return set()
        return {p.name[:-4] for p in self.root.glob("??/*.jpg") if not p.name.endswith(".thumb.jpg")}

    def prune(self, keep: Iterable[str]) -> int:
        """Delete images (and thumbnails) whose keys are not in ``keep``; returns how many went."""
        wanted = set(keep)
        gone = 0
        for key in self.keys() - wanted:
            for p in (self.path(key), self.thumb_path(key)):
                p.unlink(missing_ok=True)
            gone += 1
        for tmp in self.root.glob("??/*.tmp*") if self.root.exists() else ():
            tmp.unlink(missing_ok=True)
        return gone


def thumbnail(image: Image.Image) -> Image.Image:
    """About :data:`THUMB_SIDE` pixels on the longest side (a box-filter reduce: fast, no resampling)."""
    factor = max(image.size) // THUMB_SIDE
    return image.reduce(factor) if factor > 1 else image


def _encode(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
    rgb.save(buf, format="JPEG", quality=quality, optimize=False)
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
