"""An index of nested-or-disjoint integer ranges (CIDR blocks): which ranges cover a point.

CIDR blocks never partly overlap: two blocks are nested or disjoint. So the address line is cut
once into disjoint segments, each pointing at the innermost block that covers it, and each block
remembers its parent. A lookup is one `bisect` plus a walk up the (short) chain of parents,
memoised per block; building is one sort and one pass with a stack.
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
        # Widest first among equal starts, so a parent is on the stack before its children: two
        # stable sorts on C-level keys, cheaper than building a sort key per range.
        items = list(groups)
        items.sort(key=_LAST, reverse=True)
        items.sort(key=_FIRST)
        own: list[list[T]] = []
        parents: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        blocks: list[int] = []
        # This loop runs once per distinct prefix (tens of thousands for the service tags): its
        # appends are bound once.
        add_start, add_end, add_block = starts.append, ends.append, blocks.append
        add_parent, add_own = parents.append, own.append
        stack_last: list[int] = []
        stack_block: list[int] = []
        pos = 0  # the first address not yet given to a segment
        for block, (first, last, values) in enumerate(items):
            while stack_last and stack_last[-1] < first:
                top_last, top = stack_last.pop(), stack_block.pop()
                if pos <= top_last:
                    add_start(pos)
                    add_end(top_last)
                    add_block(top)
                    pos = top_last + 1
            if stack_last:
                if pos < first:
                    add_start(pos)
                    add_end(first - 1)
                    add_block(stack_block[-1])
                add_parent(stack_block[-1])
            else:
                add_parent(-1)
            pos = max(pos, first)
            stack_last.append(last)
            stack_block.append(block)
            add_own(values)
        while stack_last:
            top_last, top = stack_last.pop(), stack_block.pop()
            if pos <= top_last:
                add_start(pos)
                add_end(top_last)
                add_block(top)
                pos = top_last + 1
        self._own, self._parent = own, parents
        self._starts, self._ends, self._segment_block = starts, ends, blocks
        self._full: list[tuple[T, ...] | None] = [None] * len(own)

    def __len__(self) -> int:
        """The number of disjoint segments."""
        return len(self._starts)

    def covering(self, value: int) -> tuple[T, ...]:
        """The values of every range containing `value`, innermost first; () when none does."""
        i = bisect_right(self._starts, value) - 1
        if i < 0 or value > self._ends[i]:
            return ()
        return self._chain(self._segment_block[i])

    def innermost(self, value: int) -> T | None:
        """The first value of the innermost range containing `value`, or None."""
        i = bisect_right(self._starts, value) - 1
        if i < 0 or value > self._ends[i]:
            return None
        return self._own[self._segment_block[i]][0]

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
