"""HTTP to the servers the tests start, which speak plain HTTP on 127.0.0.1.

httpx builds an SSL context for each client it makes, loading the whole CA bundle (~50 ms of
CPU), and `httpx.get` makes a client per call: polling a starting server that way cost its test
more CPU than the server's own start, and was the largest single cost of the suite. These share
one context that holds no CA at all: a TLS URL here fails to verify, it never goes unverified.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

NO_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def client(**options: Any) -> httpx.Client:
    """An `httpx.Client` for local servers."""
    return httpx.Client(verify=NO_TLS, **options)


def request(method: str, url: str | httpx.URL, **options: Any) -> httpx.Response:
    """One request on a connection of its own, as `httpx.request` sends it."""
    return httpx.request(method, url, verify=NO_TLS, **options)


def get(url: str | httpx.URL, **options: Any) -> httpx.Response:
    return request("GET", url, **options)


def post(url: str | httpx.URL, **options: Any) -> httpx.Response:
    return request("POST", url, **options)
