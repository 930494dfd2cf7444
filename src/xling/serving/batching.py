"""Dynamic batching: requests that arrive together share one model call, run off the event loop.

Each model gets a `Batcher` with one queue and one worker thread. A request `submit`s its items (texts, or
texts with their options) and awaits a future of its own. The batcher's loop task takes the oldest request,
waits up to `max_wait_ms` for more while the batch is under both budgets (`max_batch_texts` items,
`max_batch_chars` characters), and runs the model function on all items at once in its thread, so the event
loop keeps accepting requests meanwhile; requests that arrive during a model call form the next batch
without any wait, as in text-embeddings-inference. A single request larger than a budget runs whole, alone.

The model function returns one result per item, or an Exception in an item's place (an item the model
refuses does not fail its neighbours). If it raises instead, each request of the batch is run again alone,
so the exception reaches only the request that caused it. A request whose client went away (its task
cancelled, its future with it, or `left` returning first: a client that hung up, which the server does not
cancel by itself) is dropped from the queue before its batch forms, or its results are dropped after;
either way the batch and the other requests go on.

A transformer pads every text of a forward pass to the longest one, so a model function may split its batch
with `length_buckets`: sorted by length, cut into sub-batches of similar length where a cut saves more
padding than a model call costs (as text-embeddings-inference and vLLM-style servers bucket by length).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from xling.serving.config import BatchingConfig
from xling.serving.metrics import Metrics

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class ClientLeft(Exception):
    """The client of a request hung up before its results were ready: nobody is left to answer."""


@dataclass
class _Job:
    """One request's items and the future its handler awaits."""

    items: list[Any]
    chars: int
    future: asyncio.Future


@dataclass
class _LoopState:
    """The queue and loop task of a batcher on one event loop."""

    loop: asyncio.AbstractEventLoop
    queue: deque[_Job] = field(default_factory=deque)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None


@dataclass
class BatchStats:
    """What a batcher has done since it was made (for tests, /health and the load benchmark)."""

    batches: int = 0
    items: int = 0
    requests: int = 0
    largest_batch: int = 0
    """Most items in one model call."""
    most_requests: int = 0
    """Most requests served by one model call."""


class Batcher(Generic[Item, Result]):
    """Batches the items of concurrent requests for one model function (see the module docstring)."""

    def __init__(self, name: str, run: Callable[[list[Item]], list[Result | Exception]], config: BatchingConfig,
                 metrics: Metrics | None = None, chars: Callable[[Item], int] | None = None):  # fmt: skip
        """`run` gets a list of items and returns a result (or an Exception) per item; `chars(item)` is an
        item's size in characters for the batch budget (default: 1 per item)."""
        self.name = name
        self._run = run
        self.config = config
        self._metrics = metrics
        self._chars = chars or (lambda item: 1)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"xling-{name}")
        self._state: _LoopState | None = None
        self.stats = BatchStats()

    async def submit(self, items: Sequence[Item],
                     left: Callable[[], Awaitable[object]] | None = None) -> list[Result | Exception]:  # fmt: skip
        """Return the results of `items` (an Exception in the place of an item the model refused), computed
        in a batch with the items of other requests; raises what the model function raised for this
        request alone, and ClientLeft when `left()` (awaiting the client's hang-up) returns first: the job
        is then dropped from the queue, never computed, if its batch has not started."""
        items = list(items)
        if not items:
            return []
        state = self._loop_state()
        job = _Job(items, sum(self._chars(item) for item in items), state.loop.create_future())
        state.queue.append(job)
        state.arrived.set()
        if left is None:
            return await job.future
        watch = asyncio.ensure_future(left())
        try:
            await asyncio.wait((job.future, watch), return_when=asyncio.FIRST_COMPLETED)
            if not job.future.done() and watch.exception() is None:
                raise ClientLeft(f"{self.name}: the client hung up before its results were ready")
            return await job.future  # a watch that failed says nothing about the client: wait on
        finally:
            # a done future keeps its result; a waiting one is cancelled, so _gather drops its job
            job.future.cancel()
            watch.cancel()

    def close(self) -> None:
        """Return nothing; stop the loop task and the worker thread (a running model call finishes first)."""
        if self._state is not None and self._state.task is not None:
            self._state.task.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _loop_state(self) -> _LoopState:
        """Return the queue and loop task on the running event loop, made on first use (a test client may run
        each request on a fresh loop: a task is bound to the loop that made it)."""
        loop = asyncio.get_running_loop()
        state = self._state
        if state is None or state.loop is not loop or state.task is None or state.task.done():
            state = _LoopState(loop)
            state.task = loop.create_task(self._serve(state), name=f"xling-batcher-{self.name}")
            self._state = state
        return state

    async def _serve(self, state: _LoopState) -> None:
        """Form and run batches for as long as the loop lives."""
        while True:
            # a request cancelled while its batch was waiting for company is not computed
            jobs = [job for job in await self._gather(state) if not job.future.done()]
            if jobs:
                try:
                    await self._execute(state.loop, jobs)
                except Exception as error:  # never let one batch stop the loop task: tell its requests
                    logger.exception("%s: batch failed", self.name)
                    for job in jobs:
                        _fail(job, error)

    async def _gather(self, state: _LoopState) -> list[_Job]:
        """Return the next batch: the oldest waiting request and those that fit with it within the wait (no
        wait when requests queued up during the last model call: they are the batch)."""
        backlog = bool(state.queue)
        while not state.queue:
            state.arrived.clear()
            await state.arrived.wait()
        config = self.config
        jobs: list[_Job] = []
        items = chars = 0
        deadline = state.loop.time() + (0.0 if backlog else config.max_wait_ms / 1000)
        while True:
            full = False
            while state.queue:
                job = state.queue[0]
                if job.future.done():  # its client went away before the batch formed
                    state.queue.popleft()
                    continue
                fits = (
                    items + len(job.items) <= config.max_batch_texts
                    and chars + job.chars <= config.max_batch_chars
                )
                if jobs and not fits:
                    full = True
                    break
                state.queue.popleft()
                jobs.append(job)
                items += len(job.items)
                chars += job.chars
            if full or items >= config.max_batch_texts or chars >= config.max_batch_chars:
                break
            remaining = deadline - state.loop.time()
            if remaining <= 0:
                break
            state.arrived.clear()
            try:
                await asyncio.wait_for(state.arrived.wait(), remaining)
            except TimeoutError:
                break
        return jobs

    async def _execute(self, loop: asyncio.AbstractEventLoop, jobs: list[_Job]) -> None:
        """Run one batch in the worker thread and hand each request its results."""
        flat = [item for job in jobs for item in job.items]
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self._checked_run, flat)
        except Exception as error:
            if len(jobs) == 1:
                _fail(jobs[0], error)
            else:  # find the request that caused it: each runs alone, and only its own error reaches it
                logger.warning("%s: a batch of %d requests failed (%s); running them one by one",
                               self.name, len(jobs), error)  # fmt: skip
                for job in jobs:
                    if not job.future.done():
                        await self._execute(loop, [job])
            return
        self._record(len(flat), len(jobs), time.perf_counter() - started)
        start = 0
        for job in jobs:
            part = results[start : start + len(job.items)]
            start += len(job.items)
            if not job.future.done():
                job.future.set_result(part)

    def _checked_run(self, items: list[Item]) -> list[Result | Exception]:
        results = list(self._run(items))
        if len(results) != len(items):
            raise RuntimeError(
                f"{self.name}: the model function returned {len(results)} results for {len(items)} items"
            )
        return results

    def _record(self, items: int, requests: int, seconds: float) -> None:
        stats = self.stats
        stats.batches += 1
        stats.items += items
        stats.requests += requests
        stats.largest_batch = max(stats.largest_batch, items)
        stats.most_requests = max(stats.most_requests, requests)
        if self._metrics is not None:
            self._metrics.batch(self.name, items, requests, seconds)


def _fail(job: _Job, error: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(error)


def length_buckets(lengths: Sequence[int], call_cost: float, max_size: int) -> list[list[int]]:
    """Return the positions of `lengths` grouped into sub-batches of similar length, shortest first: of the
    partitions of the sorted lengths into runs of at most `max_size`, the one with the least cost, a run
    costing `call_cost + size * longest` (a padded forward pass, in tokens).

    In such a partition no text is padded by more than `call_cost` tokens (else cutting the run below it would
    save more than a call costs); equal lengths stay in one run (up to `max_size`). The sort is stable, and
    the caller puts each result back at its position, so answers keep request order.
    """
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1, not {max_size}")
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    sizes = [lengths[i] for i in order]
    # best[j]: least cost of the first j sorted texts; cut[j]: where its last run starts (O(n * max_size))
    best = [0.0] + [float("inf")] * len(order)
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(max(0, end - max_size), end):
            cost = best[start] + call_cost + (end - start) * sizes[end - 1]
            if cost < best[end]:
                best[end], cut[end] = cost, start
    runs: list[list[int]] = []
    end = len(order)
    while end > 0:
        runs.append(order[cut[end] : end])
        end = cut[end]
    return runs[::-1]


def each_alone(function: Callable[[list[Item]], list[Result]], items: list[Item],
               expected: tuple[type[Exception], ...]) -> list[Result | Exception]:  # fmt: skip
    """Return `function(items)`; when it raises one of `expected`, call it on each item alone and put the
    exception in the place of each item that raises it (the item the library refused is then the one told)."""
    try:
        return list(function(items))
    except expected as error:
        if len(items) == 1:
            return [error]
    results: list[Result | Exception] = []
    for item in items:
        try:
            results.extend(function([item]))
        except expected as error:
            results.append(error)
    return results
