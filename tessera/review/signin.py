"""Sign-in throttling: a progressive delay per account name and per client address, and the lock policy.

The delay is never a sleep (that would hold a worker or the event loop for every guess): after a few
failures the next attempt is answered 429 with ``Retry-After`` until the wait is over, without even
checking the password (which also spares the argon2 work an attacker would otherwise make us do).
Delay state is in memory, bounded, and lost on restart; the lock itself is in the database
(``review_user.locked_at``) because it must survive a restart and needs an examiner to clear it.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

#: Wrong passwords in a row that lock an account (until `tessera user unlock`). Ten is far more than a
#: typing slip and far fewer than an online guessing attack needs; `tessera serve --lock-after` changes it.
LOCK_AFTER = 10
#: Limits of the sign-in form's fields and of its whole body: a name is at most 100 characters in
#: review_user, no sane password is longer than 1 KiB, the CSRF token is 32 url-safe characters.
MAX_NAME, MAX_PASSWORD, MAX_CSRF = 100, 1024, 128
MAX_LOGIN_BODY = 4096


@dataclass
class _Record:
    failures: int = 0
    last: float = 0.0


@dataclass
class Throttle:
    """Failures per key; ``free`` failures are allowed without a wait, then the wait doubles per failure
    up to ``cap`` seconds. An address gets more free failures than a name (several people may sit behind
    one address), but its waits then grow the same way."""

    free: int
    cap: float = 300.0
    max_keys: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _seen: OrderedDict[str, _Record] = field(default_factory=OrderedDict)

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap, 2.0 ** (failures - self.free))

    def retry_after(self, key: str) -> int:
        """Whole seconds until ``key`` may try again (0: now)."""
        rec = self._seen.get(key)
        if rec is None:
            return 0
        left = rec.last + self.delay(rec.failures) - self.clock()
        return max(0, math.ceil(left))

    def failed(self, key: str) -> None:
        rec = self._seen.pop(key, None) or _Record()
        rec.failures += 1
        rec.last = self.clock()
        self._seen[key] = rec  # most recent last, so the oldest are evicted first
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._seen.pop(key, None)


@dataclass
class SigninGuard:
    lock_after: int = LOCK_AFTER
    names: Throttle = field(default_factory=lambda: Throttle(free=3))
    addresses: Throttle = field(default_factory=lambda: Throttle(free=10))

    def set_clock(self, clock: Callable[[], float]) -> None:
        self.names.clock = clock
        self.addresses.clock = clock

    def retry_after(self, name: str, client: str) -> int:
        return max(self.names.retry_after(name), self.addresses.retry_after(client))

    def failed(self, name: str, client: str) -> None:
        self.names.failed(name)
        self.addresses.failed(client)

    def succeeded(self, name: str, client: str) -> None:
        self.names.succeeded(name)
        self.addresses.succeeded(client)
