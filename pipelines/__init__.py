"""Composition: index a folder, ask, evaluate, the CLI and the LLM backends.

The two calls most users need::

    from pagerag.pipelines import index_folder, ask
    index_folder("docs/", index=".pagerag")
    print(ask("What was the total revenue in 2023?", index=".pagerag").text)
"""

from pagerag.pipelines.api import ask, index_folder
from pagerag.pipelines.core import PageRAG

__all__ = ["PageRAG", "ask", "index_folder"]
