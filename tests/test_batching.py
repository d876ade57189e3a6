"""The service's micro-batcher: requests gathered into model calls, several calls in flight, answers to the right request."""
import asyncio
import threading
import time

import numpy as np

from policy_tagger.service.batching import MicroBatcher


class LengthScorer:
    """Scores each text by its length, slowly, and records how many calls ran at once."""

    def __init__(self):
        self.running = self.most_at_once = 0
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, texts):
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.calls.append(len(texts))
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return np.array([[len(t)] for t in texts], dtype=np.float32)


def run_requests(batcher, requests):
    async def main():
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(texts) for texts in requests))
        finally:
            await batcher.stop()
    return asyncio.run(main())


def test_each_request_gets_its_own_scores_with_two_calls_in_flight():
    scorer = LengthScorer()
    requests = [["x" * (i + 1)] * (1 + i % 3) for i in range(60)]
    results = run_requests(MicroBatcher(scorer, max_batch=8, in_flight=2), requests)
    for texts, scores in zip(requests, results):
        assert scores.ravel().tolist() == [len(t) for t in texts]
    assert scorer.most_at_once == 2
    assert max(scorer.calls) <= 8 + 2 and len(scorer.calls) < len(requests)  # gathered, within max_batch


def test_one_call_at_a_time_when_asked():
    scorer = LengthScorer()
    run_requests(MicroBatcher(scorer, in_flight=1), [["落实低保。"]] * 20)
    assert scorer.most_at_once == 1
