"""The listening sockets of `hamr serve`, made by hamr before anything else and handed to uvicorn.

Left to uvicorn, a port in use ends in its errno text and exit status 3, after the database was
opened and migrated; made here, it is one line saying what to change, and once made the port is
ours, with no window for another process to take it before uvicorn starts serving.
"""

from __future__ import annotations

import errno
import logging
import socket
from typing import Any

import uvicorn

BACKLOG = 2048  # uvicorn's default
logger = logging.getLogger("uvicorn.error")  # where uvicorn itself says where it listens
Address = tuple[Any, ...]  # (host, port) for IPv4; (host, port, flowinfo, scope_id) for IPv6


class CannotListen(Exception):
    """hamr cannot listen where it was told to; the message says why and which flag to change."""


class Server(uvicorn.Server):
    """uvicorn says where it listens only for sockets it made itself; hamr makes its own."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            for sock in sockets or []:
                logger.info("Uvicorn running on http://%s (Press CTRL+C to quit)", _where(sock))


def listening_sockets(host: str, port: int) -> list[socket.socket]:
    """One listening socket per address host names (as uvicorn's own would be: SO_REUSEADDR,
    IPv6 only on IPv6), or CannotListen with nothing left open."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        raise CannotListen(
            f"cannot listen on {host}: {error.strerror}; "
            "name an address of this machine with --host (or HAMR_HOST)"
        ) from None
    sockets: list[socket.socket] = []
    for family, kind, proto, _name, address in dict.fromkeys(infos):
        try:
            sockets.append(_listen(family, kind, proto, address))
        except OSError as error:
            for sock in sockets:
                sock.close()
            raise CannotListen(why_not(_format(address), port, error)) from None
    return sockets


def why_not(where: str, port: int, error: OSError) -> str:
    """The operator's fix for the usual failures, in one line."""
    prefix = f"cannot listen on {where}"
    if error.errno == errno.EADDRINUSE:
        return (
            f"{prefix}: address already in use; stop what holds port {port} "
            "or pick another with --port (or HAMR_PORT)"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"{prefix}: address not available, no interface of this machine has it; "
            "pick one it has with --host (or HAMR_HOST), such as 127.0.0.1 or 0.0.0.0"
        )
    if error.errno == errno.EACCES and port < 1024:
        return (
            f"{prefix}: permission denied, ports below 1024 need root or "
            "CAP_NET_BIND_SERVICE; pick one from 1024 up with --port (or HAMR_PORT)"
        )
    return f"{prefix}: {error.strerror or error}"


def _listen(family: int, kind: int, proto: int, address: Address) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # As asyncio does: an IPv6 socket does not also take the IPv4 port.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _where(sock: socket.socket) -> str:
    return _format(sock.getsockname())


def _format(address: Address) -> str:
    host, port = str(address[0]), address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
