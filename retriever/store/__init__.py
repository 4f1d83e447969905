"""Qdrant storage of pages: one :class:`Store`, an embedded (qdrant-edge) or a server backend."""

from pagerag.retriever.store.base import LIVE, PENDING, point_id
from pagerag.retriever.store.facade import Store

__all__ = ["LIVE", "PENDING", "Store", "point_id"]
