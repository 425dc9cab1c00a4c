"""Provider batch APIs behind the response cache (issue 23): half the price, resumable, never paid twice.

    adapter.py   --batch / --batch-file / --batch-results as a model adapter over the cache
    ledger.py    write-ahead bookkeeping (jobs, items, claims) in the cache's SQLite file
    driver.py    one job's life: write input, upload, create, poll, collect
    openai.py    OpenAI Files + Batches client;  anthropic.py  Anthropic Message Batches client
    files.py     the OpenAI batch file format for offline engines (vllm run-batch)
    pricing.py   batch prices from litellm's bundled price map
"""

from __future__ import annotations

from typing import Any

from fsabench.errors import FsabenchError
from fsabench.models.batch.adapter import BatchAdapter, BatchPending, BatchSettings

__all__ = ["BatchAdapter", "BatchPending", "BatchSettings", "maybe_batch"]


def maybe_batch(adapter: Any, model: Any, max_cost: float | None) -> Any:
    """The adapter behind the batch path when ModelOptions ask for it (`batch`, `batch_file`,
    `batch_results`), else the adapter unchanged. Batch runs need the response cache: it is where results land."""
    if not (model.batch or model.batch_file or model.batch_results):
        return adapter
    from fsabench.models.cache import CachedAdapter

    name = adapter.name
    sends = name.startswith(("openai-compat:", "litellm:openai/", "litellm:anthropic/"))
    if not (sends or (not model.batch and name.startswith("litellm:"))):
        flag = "--batch" if model.batch else "--batch-file" if model.batch_file else "--batch-results"
        raise FsabenchError(f"{flag}: {name} has no batch API fsabench knows",
                            hint="use an openai-compat: endpoint that serves /v1/batches, litellm:openai/MODEL or "
                                 "litellm:anthropic/MODEL")
    if not isinstance(adapter, CachedAdapter):
        raise FsabenchError("--batch needs the response cache (batch results are filed there)",
                            hint="drop --no-cache, or fix the cache folder (--cache-dir)")
    settings = BatchSettings(poll=model.batch_poll, no_wait=model.no_wait, retry_failed=model.retry_failed,
                             file=model.batch_file, results=model.batch_results, max_cost=max_cost)
    return BatchAdapter(adapter, settings)
