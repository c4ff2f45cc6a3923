"""Stacks of the sampler (:mod:`.profile`) kept raw, as ``id()`` of code objects, while
sampling, and named after it: ``path:line function`` per frame, root first, the test
runner's frames below the test cut off, comprehensions and threading's frames counted for
their caller. No pytest here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from types import CodeType, FrameType

_THREADING = threading.__file__
#: Frames that count for the function around them (comprehensions have frames of their own
#: before Python 3.12, generator expressions always; threading's frames are a thread's start
#: and its waits).
_INLINE = frozenset({"<genexpr>", "<listcomp>", "<setcomp>", "<dictcomp>"})
#: The frame of samples in the runner's own code during a call (outside the test function).
RUNNER = "pytest:0 <runner>"
#: A raw stack: whose (the main thread's, another's, or the runner's outside the test),
#: then ``id()`` of each code object, innermost first.
Raw = tuple[int, ...]
MAIN, OTHER, OUTSIDE = 0, 1, 2


class StackNames:
    """Raw stacks and their names: ``name(code)`` gives a frame's ``path:line function``,
    frames for which ``skip(code)`` is true are cut from the bottom, and other threads'
    stacks with a frame for which ``own(code)`` is true are dropped."""

    def __init__(
        self, name: Callable[[CodeType], str], skip: Callable[[CodeType], bool],
        own: Callable[[CodeType], bool],
    ) -> None:
        self._name, self._skip, self._own = name, skip, own
        self._keys: dict[CodeType, str | None] = {}
        #: Code objects of the raw stacks, by id (kept alive, so ids stay theirs).
        self.codes: dict[int, CodeType] = {}

    def raw(self, kind: int, frame: FrameType | None) -> Raw:
        """The whole stack from ``frame`` down (``kind``: :data:`MAIN` or :data:`OTHER`)."""
        codes = self.codes
        ids = [kind]
        while frame is not None:
            code = frame.f_code
            ident = id(code)
            if ident not in codes:
                codes[ident] = code
            ids.append(ident)
            frame = frame.f_back
        return tuple(ids)

    def resolve(
        self, raw: dict[Raw, float], counts: dict[Raw, int],
    ) -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], int]]:
        """Weights and sample counts per named stack, from those per raw stack."""
        stacks: dict[tuple[str, ...], float] = {}
        named: dict[tuple[str, ...], int] = {}
        for key, weight in raw.items():
            stack = self.names(key)
            if stack:
                stacks[stack] = stacks.get(stack, 0.0) + weight
                named[stack] = named.get(stack, 0) + counts.get(key, 0)
        return stacks, named

    def names(self, raw: Raw) -> tuple[str, ...]:
        """A raw stack's frames, root first, without the runner's frames below the code
        sampled; () for a thread running this package's code."""
        if raw[0] == OUTSIDE:
            return (RUNNER,)
        codes = [self.codes[ident] for ident in reversed(raw[1:])]
        if raw[0] == OTHER and any(self._own(code) for code in codes):
            return ()
        names = []
        skipping = True
        for code in codes:
            key = self._keys.get(code, "")
            if key == "":
                skipped = code.co_filename == _THREADING or self._skip(code) or code.co_name in _INLINE
                key = self._keys[code] = None if skipped else self._name(code).replace(";", ",")
            if key is None and (skipping or code.co_name in _INLINE or code.co_filename == _THREADING):
                continue  # the runner below the test; comprehensions, waits count for their caller
            skipping = False
            names.append(key or self._name(code).replace(";", ","))
        return tuple(names)


def frame_namer(root: str) -> Callable[[CodeType], str]:
    """``path:line function`` for a code object: the path relative to ``root`` inside it,
    else from the ``site-packages`` or standard-library folder on; the function's first
    line and qualified name."""
    root = os.path.abspath(root) + os.sep
    stdlib = os.path.dirname(os.__file__) + os.sep

    def name(code: CodeType) -> str:
        path = code.co_filename
        if path.startswith(root):
            path = path[len(root):]
        elif "site-packages" + os.sep in path:
            path = path.rpartition("site-packages" + os.sep)[2]
        elif path.startswith(stdlib):
            path = path[len(stdlib):]
        return f"{path}:{code.co_firstlineno} {getattr(code, 'co_qualname', code.co_name)}"

    return name
