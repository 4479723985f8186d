"""The ``openai`` client a run's model talks through, cheap to build on a card's start path.

Building an ``AsyncOpenAI`` builds an HTTP client, and that builds a TLS context by reading the
system's CA bundle: 0.06 s on a quiet machine here, 0.12 s and more on a busy one, paid by every
run before its first request although the context never differs within a process. Here it is
built once and shared (an ``ssl.SSLContext`` is safe to share between clients and threads), and
``prewarm`` builds it, and imports ``openai`` (1.5 s), in the background when the board opens
with a warm pool, so the first start does not pay for either.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_tls_context: Any = None


def _http_library(client_class: type) -> Any:
    """The HTTP package under ``openai`` (``httpx``, or ``httpx2`` in newer releases)."""
    for base in client_class.__mro__[1:]:
        if base.__name__ == "AsyncClient":
            return importlib.import_module(base.__module__.partition(".")[0])
    raise LookupError(f"no AsyncClient among the bases of {client_class!r}")


def shared_tls_context() -> Any:
    """The process's TLS context for model servers, as ``openai``'s HTTP library builds its
    default one (the system's CA bundle, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured)."""
    global _tls_context
    with _LOCK:
        if _tls_context is None:
            from openai import DefaultAsyncHttpxClient

            _tls_context = _http_library(DefaultAsyncHttpxClient).create_ssl_context()
        return _tls_context


def async_openai(*, api_key: str, base_url: str | None, timeout: float) -> Any:
    """An ``AsyncOpenAI`` without retries of its own (ours count towards the budget), over
    ``openai``'s default HTTP client with the shared TLS context; closing it closes that
    client."""
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    try:
        http_client = DefaultAsyncHttpxClient(verify=shared_tls_context())
    except Exception as exc:  # an openai/httpx pair without this seam: openai builds its own
        log.debug("no shared TLS context for the model client: %s", exc)
        http_client = None
    return AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout,
                       http_client=http_client)  # fmt: skip


def prewarm() -> None:
    """Import ``openai`` and build the shared TLS context (blocking: run it in a thread). A
    failure here only costs the first start its time: it is logged, and the start itself
    reports what is really wrong."""
    try:
        shared_tls_context()
    except Exception as exc:
        log.warning("preparing the model client ahead of the first start failed: %s", exc)
