"""The one error hierarchy of pagerag.

Every error the library raises on purpose is a :class:`PageragError`. It lives in
the lowest layer (``pagerag.ingest``) so that ``retriever`` and ``pipelines`` can
raise and catch the same classes without importing upwards.
"""

from __future__ import annotations


class PageragError(Exception):
    """Base class of all pagerag errors."""


class ConfigError(PageragError, ValueError):
    """A setting or argument that cannot work (bad model name, bad filter, ...)."""


class DocumentError(PageragError):
    """A document could not be turned into pages. ``path`` names the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UnsupportedFormat(DocumentError):
    """The file's type is not one pagerag reads (or its content is not what its suffix says)."""


class UnreadableDocument(DocumentError):
    """The file is corrupt, truncated, empty, unreadable or a conversion failed."""


class EncryptedDocument(UnreadableDocument):
    """The document needs a password that was not given (or the one given is wrong)."""


class ConversionFailed(UnreadableDocument):
    """An external converter (LibreOffice) crashed, failed or timed out."""


class ConverterMissing(ConversionFailed):
    """The external converter a format needs (LibreOffice) is not installed; the reason says how to get it."""


class IndexError_(PageragError):
    """Problems with the index directory or vector store."""


class CollectionMismatch(IndexError_):
    """The index was built with other models/vector settings than the ones requested."""


class IndexLocked(IndexError_):
    """Another process holds the embedded index (single writer)."""


class IndexClosed(IndexError_):
    """An index handle (``PageIndex``, ``PageRAG``, a retriever built on one) used after ``close()``."""


class ModelError(PageragError):
    """A model could not be loaded or run."""


class LLMError(PageragError):
    """The answer step's language model failed (connection, auth, protocol, timeout)."""


class MissingDependency(PageragError, ImportError):
    """A package is missing; the message is the exact command that installs it.

    ``extra`` names the optional extra that brings it; ``None`` for a core dependency
    (a broken install), which a plain ``pip install pagerag`` restores.

    Example:
        >>> raise MissingDependency("langchain-core", "langchain")  # doctest: +SKIP
    """

    def __init__(self, package: str, extra: str | None = None) -> None:
        target = f'"pagerag[{extra}]"' if extra else "pagerag"
        super().__init__(f"{package} is not installed: pip install {target}")
        self.package = package
        self.extra = extra
