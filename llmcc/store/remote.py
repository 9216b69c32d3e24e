"""A decision store shared by a team: Redis, read-through and write-back.

Next to the local cache (:mod:`llmcc.store.cache`): a local miss asks Redis,
and a decision found by a search is published. Entries from Redis pass the
same checks as local ones (format, pass allowlist, toolchain identity) before
use. Redis down, slow, full or answering garbage never fails or stalls a build:
every call has short socket timeouts, every error is swallowed and counted
(``remote errors``), and after the first error a compiler process stops asking.

The URL is redis-py's (``redis://[:password@]host:port/db``, ``rediss://`` for
TLS), from the ``cache_url`` setting (``LLMCC_CACHE_URL``). The ``redis``
package is an extra (``pip install 'llmcc[remote]'``), imported only when a URL
is set. Keys are ``llmcc:decision:<key>``, values an entry's JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from llmcc.errors import PipelineError
from llmcc.llvm.passes import check_pipeline
from llmcc.store.cache import FORMAT, Entry

PREFIX = "llmcc:decision:"
#: Seconds allowed to connect and to each Redis call.
TIMEOUT_S = 0.25
#: Largest value read (bytes); a larger one is garbage.
MAX_VALUE_BYTES = 64 * 1024


class RemoteStore:
    """Decisions in Redis at ``url``.

    Attributes:
        errors: calls that failed (connection refused, timeout, protocol error).
        corrupt: values that were not a valid entry.
        rejected: entries whose pipeline failed the allowlist.
    """

    def __init__(self, url: str, timeout: float = TIMEOUT_S):
        self.url = url
        self.timeout = timeout
        self.errors = self.corrupt = self.rejected = 0
        self._client = None
        self._down = False

    def _redis(self):
        if self._client is None:
            import redis
            self._client = redis.Redis.from_url(
                self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                retry_on_timeout=False, health_check_interval=0)
        return self._client

    def _call(self, fn):
        if self._down:
            return None
        try:
            return fn(self._redis())
        except Exception:  # noqa: BLE001 - any failure of the shared store is only counted
            self.errors += 1
            self._down = True  # one failure: this process does not wait on Redis again
            return None

    def get(self, key: str, toolchain: str) -> Entry | None:
        """The shared decision for ``key`` made with ``toolchain``, or None."""
        raw = self._call(lambda r: r.get(PREFIX + key))
        if raw is None:
            return None
        try:
            if len(raw) > MAX_VALUE_BYTES:
                raise ValueError("oversized")
            entry = Entry.from_json(raw)
        except (ValueError, TypeError, RecursionError):
            self.corrupt += 1
            return None
        try:
            check_pipeline(entry.pipeline)
        except PipelineError:
            self.rejected += 1
            return None
        if entry.toolchain != toolchain:
            return None
        return entry

    def put(self, key: str, entry: Entry) -> None:
        """Publish ``entry`` (errors are counted, never raised)."""
        value = json.dumps(dict(asdict(entry), format=FORMAT), sort_keys=True)
        self._call(lambda r: r.set(PREFIX + key, value))

    def items(self):
        """Yield ``(key, Entry)`` for every valid shared decision (``llmcc cache export``).

        Raises:
            OSError: Redis cannot be reached (an export must not silently be empty).
        """
        try:
            r = self._redis()
            keys = sorted(k.decode() if isinstance(k, bytes) else k
                          for k in r.scan_iter(match=PREFIX + "*", count=1000))
        except Exception as e:  # noqa: BLE001
            raise OSError(f"cannot read {self.url}: {e}") from e
        for k in keys:
            key = k[len(PREFIX):]
            try:
                raw = r.get(k)
                entry = Entry.from_json(raw)
                check_pipeline(entry.pipeline)
            except Exception:  # noqa: BLE001 - garbage in the shared store is skipped
                continue
            yield key, entry
