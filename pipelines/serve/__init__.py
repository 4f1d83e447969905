"""`pagerag serve` and `pagerag mcp`: one long-lived process owns the index; clients share it.

* :mod:`.app`: the HTTP API (FastAPI) over a :class:`~pagerag.pipelines.core.PageRAG`.
* :mod:`.jobs`: ingestion jobs that run inside the server while it answers queries.
* :mod:`.record`: the server's address, recorded in the index directory for the CLI to find.
* :mod:`.client`: the CLI's side: the same calls over HTTP.
* :mod:`.mcp`: the MCP tools, over stdio or mounted at ``/mcp``.
"""
