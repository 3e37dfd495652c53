"""Held-out means held out: find benchmark questions that overlap the run's seed questions,
with the one overlap rule of svdistill.ngrams (the same text, a shared word n-gram, n = 13 by
default, or a short question whole inside the other). On templated data (the built-in
arithmetic sets) long template spans are shared by different questions, so the n-gram rule
flags many of them: that is the rule working as stated, and `evaluate.allow_overlap` is the
explicit way past it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..ngrams import NgramIndex
from ..store import read_jsonl
from .benchmarks import BenchItem


class SeedIndex:
    """The seed questions, indexed for `match`."""

    def __init__(self, seeds: Iterable[tuple[str, str]], n: int = 13):
        self.n = n
        self.index = NgramIndex(seeds, n)

    @classmethod
    def from_run(cls, path: Path, n: int = 13) -> SeedIndex | None:
        """The index of RUN/questions.jsonl, or None when the run has sampled no seeds."""
        if not path.is_file():
            return None
        rows = read_jsonl(path)
        return cls(((str(r.get("id")), str(r.get("text", ""))) for r in rows), n)

    def match(self, text: str) -> str | None:
        """Why `text` overlaps a seed ("same text as seed X", "13-gram '...' of seed X", ...)."""
        found = self.index.match(text)
        if found is None:
            return None
        return {
            "same text": f"same text as seed {found.reference}",
            "inside reference": f"whole question inside seed {found.reference}",
            "n-gram": f"{self.n}-gram {found.shared!r} of seed {found.reference}",
            "reference inside": f"whole seed {found.reference} inside the question: "
                                f"{found.shared!r}",
        }[found.kind]


def find_overlaps(items: Iterable[BenchItem], index: SeedIndex) -> list[dict[str, str]]:
    """One row (id, where, reason) per benchmark question that overlaps a seed."""
    out = []
    for item in items:
        reason = index.match(item.question)
        if reason:
            out.append({"id": item.id, "where": item.where, "reason": reason})
    return out
