"""A baseline that learns from the task's train split in a second: term/category dictionaries plus
naive-Bayes polarity over context words with negation marking; for triplets and quads, aspect and
opinion dictionaries paired by distance. An honest floor, no download."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import repeat

TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]")
NEGATIONS = {"not", "no", "never", "n't", "nothing", "nobody", "none", "neither", "nor", "without",
             "hardly", "don't", "didn't", "doesn't", "isn't", "wasn't", "aren't", "weren't", "won't",
             "can't", "couldn't", "wouldn't", "shouldn't", "cannot"}
MAX_NGRAM = 5
WINDOW = 6


def tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().lower(), m.start(), m.end()) for m in TOKEN.finditer(text)]


def features(words: Sequence[str]) -> list[str]:
    """Words with negation scope marked until the next punctuation (NOT_good)."""
    out, negate = [], False
    for word in words:
        if word in NEGATIONS:
            negate = True
            out.append(word)
        elif not word[0].isalnum():
            negate = False
        else:
            out.append(f"NOT_{word}" if negate else word)
    return out


class NaiveBayes:
    """Multinomial naive Bayes with add-one smoothing over string features.

    `freeze()` (called at the end of every `fit`) turns the counts into log tables once, so scoring
    a sentence is table look-ups: the default benchmark scores ~4,000 sentences against up to ~90
    per-category models, and recomputing denominators and logs per call cost seconds. The tables hold
    exactly the numbers the counts gave (same operations, same summation order), so predictions are
    bit-for-bit those of scoring from the counts.
    """

    def __init__(self) -> None:
        self.class_counts: Counter[str] = Counter()
        self.feature_counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.vocab: set[str] = set()
        self._tables: list[tuple[str, float, dict[str, float], float]] | None = None

    def add(self, label: str, feats: Iterable[str]) -> None:
        feats = list(feats)
        self.class_counts[label] += 1
        self.feature_counts[label].update(feats)
        self.vocab.update(feats)
        self._tables = None

    @classmethod
    def from_counts(cls, class_counts: Counter[str], feature_counts: dict[str, Counter[str]],
                    vocab: set[str]) -> "NaiveBayes":
        """A model from counts made elsewhere (the one-vs-rest detectors share one vocabulary)."""
        nb = cls()
        nb.class_counts, nb.vocab = class_counts, vocab
        nb.feature_counts.update(feature_counts)
        return nb.freeze()

    def freeze(self) -> "NaiveBayes":
        """Per label: log prior, log likelihood of each seen feature, and of a feature unseen in it."""
        total = sum(self.class_counts.values())
        vocab = len(self.vocab)
        self._tables = []
        for label, count in self.class_counts.items():
            counts = self.feature_counts[label]
            denom = sum(counts.values()) + vocab + 1
            table = {f: math.log((c + 1) / denom) for f, c in counts.items()}
            self._tables.append((label, math.log(count / total), table, math.log(1 / denom)))
        return self

    def log_scores(self, feats: Sequence[str]) -> dict[str, float]:
        return self.log_scores_known([f for f in feats if f in self.vocab])

    def log_scores_known(self, known: Sequence[str]) -> dict[str, float]:
        """log_scores for features already filtered to the vocabulary (features outside it count 0)."""
        if self._tables is None:
            self.freeze()
        assert self._tables is not None
        return {label: prior + sum(map(table.get, known, repeat(unseen, len(known))))
                for label, prior, table, unseen in self._tables}

    def predict(self, feats: Sequence[str], default: str) -> str:
        scores = self.log_scores(feats)
        return max(scores, key=lambda k: (scores[k], k)) if scores else default


class TermLexicon:
    """ATSA: aspect terms seen in training (kept when annotated often enough where they occur)."""

    def __init__(self, min_rate: float = 0.25) -> None:
        self.min_rate = min_rate
        self.annotated: Counter[str] = Counter()
        self.occurs: Counter[str] = Counter()
        self.polarity = NaiveBayes()
        self.keep: set[str] = set()
        self._keep_index: dict[str, tuple[int, ...]] = {}

    def fit(self, examples: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> "TermLexicon":
        """Count terms and their contexts, then fix the kept dictionary and its match index."""
        toks_of = [tokens(text) for text, _ in examples]
        for (text, pairs), toks in zip(examples, toks_of):
            for term, polarity in pairs:
                key = " ".join(t for t, _, _ in tokens(term))
                self.annotated[key] += 1
                start = text.find(term)
                self.polarity.add(polarity, self._context(toks, start, start + len(term), key))
        keys = set(self.annotated)
        index = self._index(keys)
        for toks in toks_of:
            for key, _, _ in self._ngrams(toks, keys, index):
                self.occurs[key] += 1
        self.keep = {k for k in self.annotated if self.annotated[k] / max(self.occurs[k], 1) >= self.min_rate}
        self._keep_index = self._index(self.keep)
        self.polarity.freeze()
        return self

    @staticmethod
    def _index(keys: Iterable[str]) -> dict[str, tuple[int, ...]]:
        """First token of each key -> the token lengths of the keys starting with it, longest first."""
        lengths: dict[str, set[int]] = defaultdict(set)
        for key in keys:
            parts = key.split(" ")
            if len(parts) <= MAX_NGRAM:
                lengths[parts[0]].add(len(parts))
        return {first: tuple(sorted(ns, reverse=True)) for first, ns in lengths.items()}

    @staticmethod
    def _ngrams(toks, keys, index: dict[str, tuple[int, ...]] | None = None) -> list[tuple[str, int, int]]:
        """Longest non-overlapping dictionary matches as (key, char start, char end)."""
        index = TermLexicon._index(keys) if index is None else index
        found, i = [], 0
        while i < len(toks):
            for n in index.get(toks[i][0], ()):
                if n > len(toks) - i:
                    continue
                key = " ".join(t for t, _, _ in toks[i:i + n])
                if key in keys:
                    found.append((key, toks[i][1], toks[i + n - 1][2]))
                    i += n
                    break
            else:
                i += 1
        return found

    @staticmethod
    def _context(toks, start: int, end: int, key: str) -> list[str]:
        before = [t for t, s, _ in toks if s < start][-WINDOW:]
        after = [t for t, s, _ in toks if s >= end][:WINDOW]
        return features(before) + features(after) + [f"TERM={key}"]

    def predict(self, text: str, default: str) -> list[tuple[str, str]]:
        toks = tokens(text)
        out = []
        for key, start, end in self._ngrams(toks, self.keep, self._keep_index):
            polarity = self.polarity.predict(self._context(toks, start, end, key), default)
            pair = (text[start:end], polarity)
            if pair not in out:
                out.append(pair)
        return out


class CategoryLexicon:
    """ACSA: one-vs-rest naive Bayes per category, sentence-level polarity per category."""

    def __init__(self) -> None:
        self.detectors: dict[str, NaiveBayes] = {}
        self.vocab: set[str] = set()
        self.polarity = NaiveBayes()
        self.frequency: Counter[str] = Counter()

    def fit(self, examples: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> "CategoryLexicon":
        """One detector per category over the sentences' word sets; its "no" counts are the totals
        minus its "yes" counts (the same numbers as adding every sentence to every detector)."""
        categories = sorted({c for _, pairs in examples for c, _ in pairs})
        doc_words = [set(features([t for t, _, _ in tokens(text)])) for text, _ in examples]
        total: Counter[str] = Counter()
        with_category: dict[str, list[set[str]]] = defaultdict(list)
        for words, (_, pairs) in zip(doc_words, examples):
            total.update(words)
            for c in {c for c, _ in pairs}:
                with_category[c].append(words)
            for category, polarity in pairs:
                self.frequency[category] += 1
                self.polarity.add(polarity, [*words, f"CAT={category}"])
        self.vocab = set(total)
        self.detectors = {}
        for c in categories:
            yes: Counter[str] = Counter()
            for words in with_category[c]:
                yes.update(words)
            n_yes, n_no = len(with_category[c]), len(examples) - len(with_category[c])
            classes = Counter({k: v for k, v in (("yes", n_yes), ("no", n_no)) if v})
            self.detectors[c] = NaiveBayes.from_counts(classes, {"yes": yes, "no": total - yes}, self.vocab)
        self.polarity.freeze()
        return self

    def predict(self, text: str, default: str) -> list[tuple[str, str]]:
        words = sorted(set(features([t for t, _, _ in tokens(text)])))
        known = [w for w in words if w in self.vocab]
        margins = {}
        for category, nb in self.detectors.items():
            scores = nb.log_scores_known(known)
            margins[category] = scores.get("yes", -math.inf) - scores.get("no", -math.inf)
        chosen = [c for c, m in margins.items() if m > 0] or ([max(margins, key=margins.get)] if margins else [])
        return [(c, self.polarity.predict([*words, f"CAT={c}"], default)) for c in sorted(chosen)]


class TupleLexicon:
    """Triplets and quads: aspect and opinion term dictionaries (kept when annotated often enough where
    they occur), each found opinion paired with the nearest found aspect (the implicit token when the
    task has one and no aspect is found), polarity the opinion's majority polarity in train, category
    the aspect's (else the opinion's, else the overall) majority category."""

    def __init__(self, fields: Sequence[str], implicit: str | None, min_rate: float = 0.25) -> None:
        self.fields, self.implicit, self.min_rate = tuple(fields), implicit, min_rate
        self.annotated = {"aspect": Counter(), "opinion": Counter()}
        self.occurs: Counter[str] = Counter()
        self.votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)  # (kind, key) -> values

    @staticmethod
    def key(term: str) -> str:
        return " ".join(t for t, _, _ in tokens(term))

    def fit(self, examples: Sequence[tuple[str, Sequence[dict[str, str]]]]) -> "TupleLexicon":
        implicit = (self.implicit or "").lower()
        for _, tuples in examples:
            for t in tuples:
                aspect, opinion = self.key(t["aspect"]), self.key(t["opinion"])
                for kind, key in (("aspect", aspect), ("opinion", opinion)):
                    if key and key != implicit:
                        self.annotated[kind][key] += 1
                self.votes["polarity", opinion][t["polarity"]] += 1
                if "category" in t:
                    self.votes["category", aspect][t["category"]] += 1
                    self.votes["category", f"opinion={opinion}"][t["category"]] += 1
                    self.votes["category", ""][t["category"]] += 1
        keys = set(self.annotated["aspect"]) | set(self.annotated["opinion"])
        for text, _ in examples:
            for key, _, _ in TermLexicon._ngrams(tokens(text), keys):
                self.occurs[key] += 1
        return self

    def _kept(self, kind: str) -> set[str]:
        return {k for k, n in self.annotated[kind].items() if n / max(self.occurs[k], 1) >= self.min_rate}

    def _vote(self, *keys: tuple[str, str], default: str) -> str:
        for key in keys:
            if self.votes.get(key):
                return max(self.votes[key], key=lambda v: (self.votes[key][v], v))
        return default

    def predict(self, text: str, default: str) -> list[tuple[str, ...]]:
        toks = tokens(text)
        aspects = TermLexicon._ngrams(toks, self._kept("aspect"))
        opinions = [o for o in TermLexicon._ngrams(toks, self._kept("opinion") - self._kept("aspect"))]
        out: list[tuple[str, ...]] = []
        for okey, ostart, oend in opinions:
            if aspects:
                akey, astart, aend = min(aspects, key=lambda a: abs(a[1] - ostart))
                aspect, category_keys = text[astart:aend], [("category", akey)]
            elif self.implicit is not None:
                aspect = self.implicit
                category_keys = [("category", f"opinion={okey}"), ("category", self.implicit.lower())]
            else:
                continue
            values = {"aspect": aspect, "opinion": text[ostart:oend],
                      "polarity": self._vote(("polarity", okey), default=default)}
            if "category" in self.fields:
                values["category"] = self._vote(*category_keys, ("category", ""), default="")
            row = tuple(values[f] for f in self.fields)
            if all(row) and row not in out:
                out.append(row)
        return out


class LabelLexicon:
    """Classification: naive Bayes over the words of the text."""

    def __init__(self) -> None:
        self.nb = NaiveBayes()

    def fit(self, examples: Sequence[tuple[str, str]]) -> "LabelLexicon":
        for text, label in examples:
            self.nb.add(label, features([t for t, _, _ in tokens(text)]))
        self.nb.freeze()
        return self

    def predict(self, text: str, default: str) -> str:
        return self.nb.predict(features([t for t, _, _ in tokens(text)]), default)
