"""Gathering concurrent requests into one model call: a bounded queue, a maximum batch and a maximum wait."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


class Overloaded(Exception):
    """The queue is full; the client should retry later."""


class NeverFits(Exception):
    """More paragraphs than the queue can ever hold: retrying cannot help."""


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future


class MicroBatcher:
    """``in_flight`` groups are scored at once: while one runs, the next is gathered and can start on a
    free core (the scorer decides how many model calls really run together)."""

    def __init__(self, score: Callable[[list[str]], np.ndarray], max_batch: int = 64, max_wait_ms: float = 1.0,
                 max_queued: int = 2048, in_flight: int = 1):
        self.score = score
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.max_queued = max_queued
        self.in_flight = in_flight
        self.queued = 0  # paragraphs waiting, not jobs: one request may carry many
        # Since Python 3.10 queues and events bind to the running loop when first used, not when made.
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._scoring: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._queue, self._arrived = asyncio.Queue(), asyncio.Event()  # fresh for this loop
        self._executor = ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="model")
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Called after the server has finished its in-flight requests."""
        if self._worker:
            self._worker.cancel()
        if self._executor:
            self._executor.shutdown(wait=True)

    async def submit(self, texts: list[str]) -> np.ndarray:
        if len(texts) > self.max_queued:
            raise NeverFits(f"{len(texts)} paragraphs; at most {self.max_queued} can wait at once")
        if self.queued + len(texts) > self.max_queued:
            raise Overloaded(f"{self.queued} paragraphs already queued (limit {self.max_queued})")
        job = _Job(texts, asyncio.get_running_loop().create_future())
        self.queued += len(texts)
        await self._queue.put(job)
        self._arrived.set()
        return await job.future

    async def _gather(self) -> list[_Job]:
        """The first waiting job plus whatever arrives within max_wait, up to max_batch paragraphs."""
        loop = asyncio.get_running_loop()
        jobs = [await self._queue.get()]
        size = len(jobs[0].texts)
        deadline = loop.time() + self.max_wait
        while size < self.max_batch:
            try:
                job = self._queue.get_nowait()  # no wait_for(get()): on 3.11 a timeout there can lose a job
            except asyncio.QueueEmpty:
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), deadline - loop.time())
                except asyncio.TimeoutError:
                    break
                continue
            jobs.append(job)
            size += len(job.texts)
        return jobs

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.in_flight)
        while True:
            await slots.acquire()
            task = asyncio.create_task(self._score(await self._gather()))
            self._scoring.add(task)  # the loop keeps only weak references to tasks
            task.add_done_callback(self._scoring.discard)
            task.add_done_callback(lambda _: slots.release())

    async def _score(self, jobs: list[_Job]) -> None:
        try:
            await self._settle(jobs)
        finally:
            self.queued -= sum(len(job.texts) for job in jobs)

    async def _settle(self, jobs: list[_Job]) -> None:
        texts = [t for job in jobs for t in job.texts]
        try:
            probs = await asyncio.get_running_loop().run_in_executor(self._executor, self.score, texts)
        except Exception as exc:
            if len(jobs) == 1:  # handed to the request, which answers 500 without a traceback
                _answer(jobs[0], error=exc)
            else:  # one request's text broke the shared call: score each request alone, so only it fails
                for job in jobs:
                    await self._settle([job])
            return
        start = 0
        for job in jobs:
            _answer(job, result=probs[start:start + len(job.texts)])
            start += len(job.texts)


def _answer(job: _Job, result: np.ndarray | None = None, error: Exception | None = None) -> None:
    if job.future.done():  # the request was cancelled (client gone)
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result)
