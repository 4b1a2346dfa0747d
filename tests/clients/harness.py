"""A tiny test runner for the client tests (no pytest needed): runs each test function (sync or
async), reports PASSED/FAILED per test and closes with `N passed, N failed`."""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
import traceback
from typing import Callable


def run(title: str, tests: list[Callable[[], object]], timeout: float = 120) -> int:
    print(title, flush=True)
    passed = failed = 0
    for test in tests:
        started = time.monotonic()
        try:
            if inspect.iscoroutinefunction(test):
                asyncio.run(asyncio.wait_for(test(), timeout))
            else:
                test()
        except Exception as e:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAILED {test.__name__}: {e!r}", flush=True)
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print(f"PASSED {test.__name__} ({time.monotonic() - started:.2f}s)", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0
