"""Evaluation built in: query sets, trec_eval metrics, runs, reports and comparisons.

The pieces, in the order ``pagerag eval`` uses them:

- :mod:`.queries`: load a JSON-lines query set; bad lines become problems with line numbers.
- :mod:`.runner`: ingest the documents folder, search every query in a mode, run the answer step.
- :mod:`.runfile`: what a run retrieved, saved as JSON so runs can be compared later.
- :mod:`.metrics`: nDCG@5, recall@1/5/10 and MRR@10 via trec_eval; answer F1 and exact-contains.
- :mod:`.summary`: per-query and mean metrics, latency, breakdowns, A/B comparison.
- :mod:`.report`: rich tables, JSON and Markdown.

Example:
    >>> from pagerag.pipelines.evaluation.queries import load_queries  # doctest: +SKIP
    >>> from pagerag.pipelines.evaluation.runner import run_mode
    >>> from pagerag.pipelines.evaluation.summary import summarise
    >>> run = run_mode(index, load_queries(Path("queries.jsonl")).queries, mode="hybrid")
    >>> summarise(run).metrics["ndcg@5"]
"""
