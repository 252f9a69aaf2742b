"""Accuracy suites keep the server busy: the chat requests of the items about to run are sent
ahead, ``--bench-concurrency`` at a time, in the order the items run.

A suite opts in with one module-level function in its test file::

    def bench_request(item, endpoint, gen_kwargs):   # -> a request dict, a list of them, or None
        return chat_request(item.callspec.params["case"], endpoint.model, gen_kwargs)

``gen_kwargs`` is what the ``bench_gen_kwargs`` fixture gives. Nothing else changes in the suite:
when an item's test calls ``backends.chat.complete`` (or ``pytest_mlxbench.ask``) with a request
equal to one sent ahead for that item, it gets that reply (or its ``RequestFailed``); any other
request is sent as before. Which items come next is what this process will run: the rest of
``session.items`` (after ``-k``, ``-m`` and ``--bench-limit`` chose), or under pytest-xdist the
worker's own queue of scheduled items (read from xdist's worker loop; where that is not
readable, only the next item). Sending starts when the first item asks (the endpoint and the
client are the ones the test uses) and slides with the items: at most ``concurrency`` requests
in flight, and items at most ``LOOKAHEAD × concurrency`` ahead of the running one. Replies an
item did not take are dropped when it ends.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from ..multimodel import model_param

LOOKAHEAD = 2


def request_key(request: dict) -> str:
    return json.dumps(request, sort_keys=True, default=str)


class Fanout:
    """The plugin that knows the running item and sends the requests of the next ones."""

    def __init__(self, concurrency: int, gen_kwargs: dict):
        self.concurrency = concurrency
        self.gen_kwargs = gen_kwargs
        self.current: pytest.Item | None = None
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._sent: dict[str, dict[str, list[Future]]] = {}  # nodeid -> request key -> replies
        self._positions: dict[str, int] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem):
        self.current = item
        try:
            return (yield)
        finally:
            self.current = None
            for futures in self._sent.pop(item.nodeid, {}).values():
                for future in futures:
                    future.cancel()

    def pytest_unconfigure(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def take(self, client, endpoint, request: dict, send) -> Future | None:
        """The reply sent ahead for this request of the running item, if any (sending the next
        items' requests on the way); None: the caller sends it itself."""
        item = self.current
        if self.concurrency <= 1 or item is None or getattr(getattr(item, "module", None), "bench_request", None) is None:
            return None
        self._send_ahead(item, client, endpoint, send)
        with self._lock:
            futures = self._sent.get(item.nodeid, {}).get(request_key(request))
            return futures.pop(0) if futures else None

    def _send_ahead(self, current: pytest.Item, client, endpoint, send) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="mlxbench-fanout")
        for item in self._upcoming(current)[: LOOKAHEAD * self.concurrency]:
            if model_param(item) != model_param(current):
                break  # the next model's items go to its own server, with their own client
            if item.nodeid in self._sent:
                continue
            build = getattr(getattr(item, "module", None), "bench_request", None)
            requests = build(item, endpoint, dict(self.gen_kwargs)) if build is not None else None
            if isinstance(requests, dict):
                requests = [requests]
            sent: dict[str, list[Future]] = {}
            for request in requests or ():
                sent.setdefault(request_key(request), []).append(self._pool.submit(send, client, endpoint, request))
            with self._lock:
                self._sent[item.nodeid] = sent

    def _upcoming(self, current: pytest.Item) -> list[pytest.Item]:
        """The running item, then the ones this process runs next, in order."""
        items = current.session.items
        worker = _xdist_worker(current.config)
        if worker is None:
            if not self._positions:
                self._positions = {item.nodeid: index for index, item in enumerate(items)}
            start = self._positions.get(current.nodeid)
            return [current] if start is None else items[start:]
        indices = [getattr(worker, "nextitem_index", None)]
        try:
            with worker.torun.lock() as queued:
                indices += list(queued)
        except AttributeError:  # another pytest-xdist: the next item only
            pass
        return [current] + [items[index] for index in indices if isinstance(index, int) and index < len(items)]


def _xdist_worker(config: pytest.Config):
    """pytest-xdist's loop on a worker process (it holds the indices of the items still to run)."""
    if not hasattr(config, "workerinput"):
        return None
    return next((plugin for plugin in config.pluginmanager.get_plugins()
                 if type(plugin).__name__ == "WorkerInteractor"), None)
