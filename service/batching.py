"""Gathering concurrent requests into one model call: a bounded queue, a maximum batch and a maximum wait."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np


class Overloaded(Exception):
    """The queue is full; the client should retry later."""


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
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._scoring: set[asyncio.Task] = set()
        self._arrived: asyncio.Event | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="model")
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Called after the server has finished its in-flight requests."""
        if self._worker:
            self._worker.cancel()
        if self._executor:
            self._executor.shutdown(wait=True)

    async def submit(self, texts: list[str]) -> np.ndarray:
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
            task.add_done_callback(lambda done: (self._scoring.discard(done), slots.release()))

    async def _score(self, jobs: list[_Job]) -> None:
        texts = [t for job in jobs for t in job.texts]
        try:
            probs = await asyncio.get_running_loop().run_in_executor(self._executor, self.score, texts)
        except Exception as exc:  # handed to every waiting request, which answers 500 without a traceback
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
        else:
            start = 0
            for job in jobs:
                if not job.future.done():
                    job.future.set_result(probs[start:start + len(job.texts)])
                start += len(job.texts)
        finally:
            self.queued -= len(texts)
