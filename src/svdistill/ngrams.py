"""Word n-gram overlap between texts: the one rule behind training-set decontamination
(`curate.decontaminate`) and the held-out check of `evaluate` (seeds against benchmarks).

A text overlaps a reference when, after lower-casing and taking word characters, they are the
same text, or they share a word n-gram (n = 13 by default, the usual decontamination rule), or
one of them is shorter than n words and appears whole, in order, inside the other. So short
questions are not exempt in either direction. On templated data (the built-in arithmetic sets)
long template spans are shared by different questions: that is the rule working as stated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Overlap:
    kind: str  # "same text", "n-gram", "inside reference" or "reference inside"
    reference: str  # the label of the reference text that overlaps
    shared: str  # the shared words


class NgramIndex:
    """Reference texts (label, text), indexed for `match`. The first label wins a tie."""

    def __init__(self, references: Iterable[tuple[str, str]], n: int = 13):
        self.n = n
        self.exact: dict[str, str] = {}
        self.grams: dict[tuple[str, ...], str] = {}
        self.short: dict[tuple[str, ...], str] = {}  # references shorter than n words
        self.reference_words: list[tuple[list[str], str]] = []
        for label, text in references:
            self.exact.setdefault(normalise(text), label)
            w = words(text)
            self.reference_words.append((w, label))
            if w and len(w) < n:
                self.short.setdefault(tuple(w), label)
            for i in range(len(w) - n + 1):
                self.grams.setdefault(tuple(w[i : i + n]), label)
        self._grams_by_size: dict[int, dict[tuple[str, ...], str]] = {}

    def _grams_of_size(self, k: int) -> dict[tuple[str, ...], str]:
        if k not in self._grams_by_size:
            table: dict[tuple[str, ...], str] = {}
            for w, label in self.reference_words:
                for i in range(len(w) - k + 1):
                    table.setdefault(tuple(w[i : i + k]), label)
            self._grams_by_size[k] = table
        return self._grams_by_size[k]

    def match(self, text: str) -> Overlap | None:
        """How `text` overlaps a reference, or None."""
        label = self.exact.get(normalise(text))
        if label is not None:
            return Overlap("same text", label, normalise(text))
        w = words(text)
        if not w:
            return None
        if len(w) < self.n:  # the whole short text inside a reference
            label = self._grams_of_size(len(w)).get(tuple(w))
            return Overlap("inside reference", label, " ".join(w)) if label else None
        for i in range(len(w) - self.n + 1):
            gram = tuple(w[i : i + self.n])
            if gram in self.grams:
                return Overlap("n-gram", self.grams[gram], " ".join(gram))
        for size in sorted({len(s) for s in self.short}):  # a short reference inside the text
            for i in range(len(w) - size + 1):
                piece = tuple(w[i : i + size])
                if piece in self.short:
                    return Overlap("reference inside", self.short[piece], " ".join(piece))
        return None
