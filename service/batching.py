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
    def __init__(self, score: Callable[[list[str]], np.ndarray], max_batch: int = 64, max_wait_ms: float = 4.0,
                 max_queued: int = 2048):
        self.score = score
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.max_queued = max_queued
        self.queued = 0  # paragraphs waiting, not jobs: one request may carry many
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
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
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(0.0005)
                continue
            jobs.append(job)
            size += len(job.texts)
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._gather()
            texts = [t for job in jobs for t in job.texts]
            try:
                probs = await loop.run_in_executor(self._executor, self.score, texts)
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
