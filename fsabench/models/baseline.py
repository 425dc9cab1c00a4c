"""Built-in baselines that need no download: `baseline:lexicon` (the default model, learned from
the task's train split), `baseline:gold` (answers the gold target; must score 100) and
`baseline:empty` (answers nothing). Also the test model for the whole pipeline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from fsabench.errors import FsabenchError, UnknownName
from fsabench.formats import join_pairs, join_tuples
from fsabench.models.base import Completion, Request, TaskContext
from fsabench.models.lexicon import CategoryLexicon, LabelLexicon, TermLexicon, TupleLexicon

KINDS = ("lexicon", "gold", "empty")
TUPLE_FIELDS = ("aspect", "opinion", "polarity")


class BaselineAdapter:
    prompt_style = "raw"

    def __init__(self, name: str, target: str, **_: Any) -> None:
        if target not in KINDS:
            raise UnknownName("baseline", target, KINDS)
        self.name, self.kind = name, target
        self.context: TaskContext | None = None
        self.model: TermLexicon | CategoryLexicon | LabelLexicon | TupleLexicon | None = None
        self.default = "positive"

    def identity(self) -> dict[str, Any]:
        return {"baseline": self.kind, "task": self.context.task_name if self.context else None}

    def settings(self) -> dict[str, Any]:
        return {}

    def parameter_count(self) -> int | None:
        return 0

    def prepare(self, context: TaskContext) -> None:
        """Remember the task; the lexicon baseline learns from its train split here."""
        self.context = context
        if self.kind != "lexicon":
            return
        if not context.train:
            raise FsabenchError(f"baseline:lexicon needs a train split for task {context.task_name}",
                                hint="add data.splits.train to the task, or use another model")
        arity = max((len(t) for e in context.train for t in e.gold), default=2)
        if context.task_type == "extraction" and (arity > 2 or context.fields):
            self._prepare_tuples(context)
            return
        counts: dict[str, int] = {}
        for example in context.train:
            for t in example.gold:
                counts[t[-1]] = counts.get(t[-1], 0) + 1
        self.default = max(counts, key=counts.get) if counts else context.polarities[0]
        if context.task_type == "classification":
            self.model = LabelLexicon().fit([(e.input, e.gold[0][0]) for e in context.train if e.gold])
            return
        data = [(e.input, [tuple(t) for t in e.gold]) for e in context.train]
        in_text = sum(t[0] in text for text, pairs in data for t in pairs)
        total = sum(len(pairs) for _, pairs in data) or 1
        self.model = (TermLexicon() if in_text / total > 0.9 else CategoryLexicon()).fit(data)

    def _prepare_tuples(self, context: TaskContext) -> None:
        """Triplets and quads with elements named aspect, opinion, polarity (and category)."""
        fields = tuple(context.fields)
        if set(fields) not in (set(TUPLE_FIELDS), set(TUPLE_FIELDS) | {"category"}):
            raise FsabenchError(f"baseline:lexicon answers pairs, labels, and tuples of {', '.join(TUPLE_FIELDS)} "
                                f"(+ category), not the {', '.join(fields) or 'unnamed'} tuples of task "
                                f"{context.task_name}",
                                hint="use baseline:gold or baseline:empty as reference points, or an hf:/API model")
        polarities = Counter(t[fields.index("polarity")] for e in context.train for t in e.gold)
        self.default = max(polarities, key=polarities.get) if polarities else context.polarities[0]
        self.model = TupleLexicon(fields, context.implicit).fit(
            [(e.input, [dict(zip(fields, t)) for t in e.gold]) for e in context.train])

    def _answer(self, request: Request) -> str:
        if self.kind == "empty":
            return ""
        if self.context is None:
            raise FsabenchError(f"{self.name} answers benchmark tasks only", hint="run it through `fsabench run`")
        if self.kind == "gold":
            return self.context.gold_by_id.get(request.id, "")
        if isinstance(self.model, LabelLexicon):
            return self.model.predict(request.prompt, self.default)
        if isinstance(self.model, TupleLexicon):
            return join_tuples(self.model.predict(request.prompt, self.default))
        return join_pairs(self.model.predict(request.prompt, self.default))

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        return [Completion(text=self._answer(r)) for r in requests]
