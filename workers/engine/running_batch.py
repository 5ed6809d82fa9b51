"""The rows of one batched generation while they run (BatchEngine.start).

Each row is read on a thread of its own as its tokens arrive, so a row's ``stop_when``
and ``rewrite`` are asked as it is generated, whoever waits on which row. Meanwhile
the caller can look at every row as it stood when it first had some number of tokens
(``marked``), end single rows (``stop``: their places in the batch are freed at the
next step, the others go on undisturbed) and follow one row's text as it grows
(``follow``): a row that was sampled together with others goes on by itself, with no
second prefill and no pause.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from workers.engine.request import Rewrite
from workers.engine.stream import Completion, Stream


class RunningBatch:
    def __init__(
        self,
        streams: list[Stream],
        *,
        stop_when: Callable[[int, str], bool] | None = None,
        rewrite: Callable[[int, str, list[int]], Rewrite | None] | None = None,
        enough: int | None = None,
        cut: threading.Event | None = None,
        mark_at: int | None = None,
    ) -> None:
        self._streams = streams
        self._stop_when, self._rewrite = stop_when, rewrite
        self._enough, self._cut, self._ended = enough, cut, 0
        self._mark_at = mark_at
        self._changed = threading.Condition()
        # Per row, all under _changed: its text so far (and a count of changes), its state at the mark,
        # its completion once it has ended, and the error that ended its reading.
        self._texts = [""] * len(streams)
        self._versions = [0] * len(streams)
        self._marks: list[Completion | None] = [None] * len(streams)
        self._done: list[Completion | None] = [None] * len(streams)
        self._errors: list[BaseException | None] = [None] * len(streams)
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(streams)), thread_name_prefix="engine-reader")
        self._futures = [self._pool.submit(self._read, i) for i in range(len(streams))]

    def __len__(self) -> int:
        return len(self._streams)

    def __enter__(self) -> RunningBatch:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def marked(self) -> list[Completion]:
        """Every row as it stood when it first had ``mark_at`` tokens (finish_reason "running"), or as it
        ended if it ended before; blocks until each row has got there."""
        if self._mark_at is None:
            raise ValueError("This batch was started without mark_at.")
        with self._changed:
            self._changed.wait_for(lambda: all(m is not None or e is not None
                                               for m, e in zip(self._marks, self._errors)))
            self._raise_errors()
            return list(self._marks)

    def stop(self, rows: Iterable[int]) -> None:
        """End these rows at the engine's next step (finish_reason "stopped"); the others go on."""
        for i in rows:
            self._streams[i].cancel()

    def follow(self, row: int) -> Iterator[str]:
        """The row's whole text each time it grows, until the row ends.

        Each text is one that ``stop_when`` let go on and no rewrite is on its way for; a later
        rewrite may still change it (see BatchEngine.generate(rewrite=)). The piece that ended
        the row is not followed: the row's last text is its completion's.
        """
        seen = -1
        while True:
            with self._changed:
                self._changed.wait_for(lambda seen=seen: self._versions[row] != seen or self._done[row] is not None
                                       or self._errors[row] is not None)
                self._raise_errors(row)
                if self._versions[row] == seen:
                    return
                seen, text = self._versions[row], self._texts[row]
            yield text

    def completions(self) -> list[Completion]:
        """Every row's completion, in order, once all have ended."""
        return [future.result() for future in self._futures]

    def close(self) -> None:
        """End every row still going and wait for their readers."""
        for stream in self._streams:
            stream.cancel()
        self._pool.shutdown(wait=True)
        for stream in self._streams:
            stream.close()

    def _raise_errors(self, row: int | None = None) -> None:
        errors = self._errors if row is None else [self._errors[row]]
        for error in errors:
            if error is not None:
                raise error

    def _read(self, i: int) -> Completion:
        stream = self._streams[i]
        try:
            completion = stream.run(stop_when=self._stop_when and functools.partial(self._stop_when, i),
                                    rewrite=self._rewrite and functools.partial(self._rewrite, i),
                                    watch=functools.partial(self._watch, i))
        except BaseException as exc:
            with self._changed:
                self._errors[i] = exc
                self._changed.notify_all()
            raise
        with self._changed:
            self._done[i] = completion
            if self._marks[i] is None:
                self._marks[i] = completion
            if self._cut is not None:
                self._ended += 1
                if self._ended >= self._enough:
                    self._cut.set()
            self._changed.notify_all()
        return completion

    def _watch(self, i: int, text: str) -> None:
        mark = None
        if self._mark_at is not None and self._marks[i] is None and self._streams[i].token_count >= self._mark_at:
            mark = self._streams[i].partial()  # on this row's reading thread, as partial() asks
        with self._changed:
            self._texts[i] = text
            self._versions[i] += 1
            if mark is not None:
                self._marks[i] = mark
            self._changed.notify_all()
