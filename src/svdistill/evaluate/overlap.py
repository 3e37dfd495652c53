"""Held-out means held out: find benchmark questions that overlap the run's seed questions.

Two rules, either one flags a question: the same text after lower-casing and collapsing
whitespace, or a shared word n-gram (n = 13 by default, the usual decontamination rule). A
question shorter than n words is flagged when all its words appear in order in a seed question.
On templated data (the built-in arithmetic sets) long template spans are shared by different
questions, so the n-gram rule flags many of them: that is the rule working as stated, and
`evaluate.allow_overlap` is the explicit way past it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from ..store import read_jsonl
from .benchmarks import BenchItem


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


class SeedIndex:
    """Exact texts and word n-grams of the seed questions, for `match`."""

    def __init__(self, seeds: Iterable[tuple[str, str]], n: int = 13):
        self.n = n
        self.exact: dict[str, str] = {}
        self.grams: dict[tuple[str, ...], str] = {}
        self.seed_words: list[tuple[list[str], str]] = []
        for seed_id, text in seeds:
            self.exact.setdefault(normalise(text), seed_id)
            w = words(text)
            self.seed_words.append((w, seed_id))
            for i in range(len(w) - n + 1):
                self.grams.setdefault(tuple(w[i : i + n]), seed_id)

    @classmethod
    def from_run(cls, path: Path, n: int = 13) -> SeedIndex | None:
        """The index of RUN/questions.jsonl, or None when the run has sampled no seeds."""
        if not path.is_file():
            return None
        rows = read_jsonl(path)
        return cls(((str(r.get("id")), str(r.get("text", ""))) for r in rows), n)

    def match(self, text: str) -> str | None:
        """Why `text` overlaps a seed ("exact text of seed X" / "13-gram '...' of seed X")."""
        seed = self.exact.get(normalise(text))
        if seed is not None:
            return f"same text as seed {seed}"
        w = words(text)
        if not w:
            return None
        if len(w) < self.n:
            for sw, seed_id in self.seed_words:
                for i in range(len(sw) - len(w) + 1):
                    if sw[i : i + len(w)] == w:
                        return f"whole question inside seed {seed_id}"
            return None
        for i in range(len(w) - self.n + 1):
            gram = tuple(w[i : i + self.n])
            if gram in self.grams:
                return f"{self.n}-gram {' '.join(gram)!r} of seed {self.grams[gram]}"
        return None


def find_overlaps(items: Iterable[BenchItem], index: SeedIndex) -> list[dict[str, str]]:
    """One row (id, where, reason) per benchmark question that overlaps a seed."""
    out = []
    for item in items:
        reason = index.match(item.question)
        if reason:
            out.append({"id": item.id, "where": item.where, "reason": reason})
    return out
