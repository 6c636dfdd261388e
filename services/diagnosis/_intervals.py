"""An index of nested-or-disjoint integer ranges (CIDR blocks): which ranges cover a point.

CIDR blocks never partly overlap: two blocks are nested or disjoint. Sorted by start (the wider
first among equal starts), every block's parent is the nearest earlier block still open, found
with one stack pass. A point's innermost block is then an ancestor (or itself) of the last block
that starts at or before it: one `bisect`, and a short walk up while the block ends before the
point. The chain of names of a block (its own, then its parents') is memoised.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from operator import itemgetter
from typing import Generic, TypeVar

T = TypeVar("T")
_FIRST = itemgetter(0)
_LAST = itemgetter(1)


class NestedRanges(Generic[T]):
    """Values attached to ranges `[first, last]`; `covering(x)` gives those of every range that
    contains `x`, innermost range first (values of one range in the order given, each once)."""

    def __init__(self, ranges: Iterable[tuple[int, int, T]]) -> None:
        grouped: dict[tuple[int, int], list[T]] = {}
        for first, last, value in ranges:
            grouped.setdefault((first, last), []).append(value)
        self._build((first, last, values) for (first, last), values in grouped.items())

    @classmethod
    def from_groups(cls, groups: Iterable[tuple[int, int, list[T]]]) -> NestedRanges[T]:
        """From ranges already grouped: each `(first, last)` once, with its values in order."""
        index = cls.__new__(cls)
        index._build(groups)
        return index

    def _build(self, groups: Iterable[tuple[int, int, list[T]]]) -> None:
        # Widest first among equal starts, so a parent comes before its children: two stable
        # sorts on C-level keys, cheaper than building a sort key per range.
        items = list(groups)
        items.sort(key=_LAST, reverse=True)
        items.sort(key=_FIRST)
        # One transpose in C instead of three comprehensions.
        columns = list(zip(*items, strict=True)) or [(), (), ()]
        firsts: list[int] = list(columns[0])
        lasts: list[int] = list(columns[1])
        self._firsts, self._lasts = firsts, lasts
        self._own: list[list[T]] = list(columns[2])
        parents = self._parent = [-1] * len(items)
        # Runs once per distinct prefix (tens of thousands for the service tags).
        open_blocks: list[int] = []
        for block, first in enumerate(firsts):
            while open_blocks and lasts[open_blocks[-1]] < first:
                open_blocks.pop()
            if open_blocks:
                parents[block] = open_blocks[-1]
            open_blocks.append(block)
        self._full: list[tuple[T, ...] | None] = [None] * len(items)

    def columns(self) -> tuple[list[int], list[int], list[int], list[list[T]]]:
        """The built index as four columns (firsts, lasts, parents, values per range), for
        `from_columns` to restore without sorting."""
        return self._firsts, self._lasts, self._parent, self._own

    @classmethod
    def from_columns(
        cls, firsts: list[int], lasts: list[int], parents: list[int], own: list[list[T]]
    ) -> NestedRanges[T]:
        """The index `columns` described; ValueError when the columns do not fit together."""
        size = len(firsts)
        if not len(lasts) == len(parents) == len(own) == size:
            raise ValueError("the columns of a range index differ in length")
        if any(not -1 <= p < i for i, p in enumerate(parents)):
            raise ValueError("a range's parent must come before it")
        index = cls.__new__(cls)
        index._firsts, index._lasts, index._parent, index._own = firsts, lasts, parents, own
        index._full = [None] * size
        return index

    def __len__(self) -> int:
        """The number of distinct ranges."""
        return len(self._firsts)

    def _innermost_block(self, value: int) -> int:
        block = bisect_right(self._firsts, value) - 1
        lasts, parents = self._lasts, self._parent
        while block >= 0 and lasts[block] < value:
            block = parents[block]
        return block

    def covering(self, value: int) -> tuple[T, ...]:
        """The values of every range containing `value`, innermost first; () when none does."""
        block = self._innermost_block(value)
        return () if block < 0 else self._chain(block)

    def innermost(self, value: int) -> T | None:
        """The first value of the innermost range containing `value`, or None."""
        block = self._innermost_block(value)
        return None if block < 0 else self._own[block][0]

    def _chain(self, block: int) -> tuple[T, ...]:
        full = self._full[block]
        if full is None:
            own, parent = self._own[block], self._parent[block]
            # A value listed twice for one range (a tag repeating a prefix) counts once.
            full = tuple(dict.fromkeys(own))
            if parent >= 0:
                full += tuple(v for v in self._chain(parent) if v not in own)
            self._full[block] = full
        return full
