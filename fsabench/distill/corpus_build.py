"""`distill corpus` as one library call: imports, teacher generation and filtering into a corpus folder."""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Any, Callable

from fsabench.errors import from_validation
from fsabench.options import CorpusOptions

Progress = Callable[[int, int], None]


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def load_filters(path: Path):
    """A YAML of quality filters (the recipe's corpus.filters keys), validated."""
    from pydantic import ValidationError

    from fsabench.distill.filters import FilterSpec
    from fsabench.yamlfile import read_yaml

    try:
        return FilterSpec.model_validate(read_yaml(path, "filters file")[0] or {})
    except ValidationError as exc:
        raise from_validation(str(path), exc, "see docs/distill.md for the filter keys") from None


def build_corpus(options: CorpusOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Estimate (dry run) or build the corpus. Returns the estimate, or {"out", "imported"?, "generation"?,
    "report"}; `generation.failed` > 0 means some teacher requests failed (re-run to retry them)."""
    from fsabench.distill.corpus import RESPONSES, done_keys, finalize, import_corpus
    from fsabench.distill.filters import FilterSpec
    from fsabench.distill.reviews import Skipped, iter_reviews, parse_fields
    from fsabench.distill.teacher import estimate, generate, load_prompts, teacher_name_of

    out_dir = options.output
    mapping = parse_fields(options.fields)
    templates = load_prompts(_names(options.prompts))
    filters = load_filters(options.filters) if options.filters else FilterSpec()
    skipped = Skipped()

    def review_stream():
        return chain.from_iterable(iter_reviews(path, mapping, limit=options.limit, skipped=skipped)
                                   for path in options.reviews)

    if options.dry_run:
        return estimate(review_stream(), templates, options.assign, done_keys(out_dir / RESPONSES),
                        options.max_new_tokens, options.teacher, options.price)
    payload: dict[str, Any] = {"out": str(out_dir)}
    if options.imports:
        payload["imported"] = import_corpus(list(options.imports), out_dir)
    if options.teacher:
        from fsabench.models import load_model
        from fsabench.models.cache import maybe_cached

        kwargs = {k: v for k, v in options.model.adapter_kwargs().items() if k != "seed"}
        adapter = maybe_cached(load_model(options.teacher, **kwargs), options.cache_dir, options.cache)
        stats = generate(adapter, review_stream(), templates, out_dir,
                         options.teacher_name or teacher_name_of(options.teacher), options.assign,
                         options.max_new_tokens, options.temperature, options.max_cost, progress=progress)
        stats.skipped_reviews, stats.skipped_where = skipped.missing_text, skipped.where
        payload["generation"] = stats.as_dict()
    payload["report"] = finalize(out_dir, filters, options.valid_fraction)
    return payload
