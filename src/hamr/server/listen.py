"""The listening sockets of `hamr serve`, made by hamr before anything else and handed to uvicorn.

Left to uvicorn, a port in use ends in its errno text and exit status 3, after the database was
opened and migrated; made here, it is one line saying what to change, and once made the port is
ours, with no window for another process to take it before uvicorn starts serving.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import resource
import socket
from collections.abc import Sequence
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from hamr.emulator.faults.rules import FaultRules
from hamr.server.http_protocol import ConnectionLimits, protocol_with
from hamr.settings import Settings, Site

BACKLOG = 2048  # uvicorn's default
# Descriptors kept for other than client connections: listening sockets, the database's
# files and connections, logs, the metrics port.
RESERVED_DESCRIPTORS = 64
logger = logging.getLogger("uvicorn.error")  # where uvicorn itself says where it listens
Address = tuple[Any, ...]  # (host, port) for IPv4; (host, port, flowinfo, scope_id) for IPv6


class CannotListen(Exception):
    """hamr cannot listen where it was told to; the message says why and which flag to change."""


class Server(uvicorn.Server):
    """uvicorn on sockets hamr made (uvicorn says where it listens only for sockets it made
    itself). With the emulator's fault rules, a site whose datacenter a rule takes down stops
    listening (connections are refused) and closes its idle connections, until it is cleared."""

    def __init__(
        self, config: uvicorn.Config, faults: FaultRules | None, sites: Sequence[Site] = ()
    ):
        super().__init__(config)
        self._faults = faults
        self._sites = {site.port: site for site in sites}
        self._listening: dict[str, list[asyncio.Server]] = {}

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        for sock in sockets or []:
            logger.info("Uvicorn running on http://%s (Press CTRL+C to quit)", _where(sock))
        for sock, server in zip(sockets or [], self.servers, strict=True):
            site = self._sites.get(sock.getsockname()[1])
            if site is not None:
                self._listening.setdefault(site.datacenter, []).append(server)
        if self._faults is not None and self._sites:
            loop = asyncio.get_running_loop()

            def follow_faults() -> None:  # rules may change on any thread
                loop.call_soon_threadsafe(self._follow_faults)

            self._faults.subscribe(follow_faults)
            self._follow_faults()  # a --faults file may take a site down from the start

    def _follow_faults(self) -> None:
        """Take each site down, or bring it back, as the rules now say."""
        assert self._faults is not None
        for site in self._sites.values():
            down = self._faults.datacenter_down(site.datacenter)
            listening = site.datacenter in self._listening
            if down and listening:
                self._take_down(site)
            elif not down and not listening:
                asyncio.get_running_loop().create_task(self._bring_up(site))

    def _take_down(self, site: Site) -> None:
        for server in self._listening.pop(site.datacenter):
            server.close()
        for connection in list(self.server_state.connections):
            local = getattr(connection, "server", None)  # the address it was made to
            if local is not None and local[1] == site.port:
                connection.shutdown()  # idle ones close now, busy ones after their answer
        logger.warning("site %s is down: %s refuses connections", site.datacenter, site.address)

    async def _bring_up(self, site: Site) -> None:
        try:
            sockets = listening_sockets(site.host, site.port, site)
        except CannotListen as error:
            logger.error("site %s cannot come back up: %s", site.datacenter, error)
            return
        protocol_class: Any = self.config.http_protocol_class
        create_protocol = functools.partial(
            protocol_class,
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        loop = asyncio.get_running_loop()
        servers = [
            await loop.create_server(create_protocol, sock=sock, backlog=BACKLOG)
            for sock in sockets
        ]
        self.servers += servers
        self._listening[site.datacenter] = servers
        logger.warning("site %s is back up on %s", site.datacenter, site.address)


def server_for(app: ASGIApp, settings: Settings, faults: FaultRules | None = None) -> Server:
    """The uvicorn server `hamr serve` runs app on (and hamr.testing, in a thread); `faults`,
    the emulator's, may take a site down."""
    limits = ConnectionLimits(
        header_timeout_seconds=settings.header_timeout_seconds,
        body_timeout_seconds=settings.body_timeout_seconds,
        max_connections=connection_cap(settings.max_connections),
        max_header_bytes=settings.max_header_bytes,
        transport_in_scope=settings.emulator,
    )
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,  # hamr writes its own, with the request id and org
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        timeout_keep_alive=settings.keep_alive_seconds,  # type: ignore[arg-type]
        http=protocol_with(limits),
    )
    return Server(config, faults, settings.sites)


def connection_cap(wanted: int) -> int:
    """`wanted`, or fewer if this process may not open that many files: past its descriptor
    limit a server cannot even accept the connection it would answer 503 (the listening
    sockets, the database and the logs need descriptors too)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or wanted <= soft - RESERVED_DESCRIPTORS:
        return wanted
    cap = max(1, soft - RESERVED_DESCRIPTORS)
    logger.warning(
        "HAMR_MAX_CONNECTIONS is %d, but this process may open only %d files: "
        "answering 503 past %d connection%s",
        wanted,
        soft,
        cap,
        "" if cap == 1 else "s",
    )
    return cap


def all_listening_sockets(settings: Settings) -> list[socket.socket]:
    """hamr's own address, then each site's; CannotListen with nothing left open."""
    sockets = listening_sockets(settings.host, settings.port)
    try:
        for site in settings.sites:
            sockets += listening_sockets(site.host, site.port, site)
    except CannotListen:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def listening_sockets(host: str, port: int, site: Site | None = None) -> list[socket.socket]:
    """One listening socket per address host names (as uvicorn's own would be: SO_REUSEADDR,
    IPv6 only on IPv6), or CannotListen with nothing left open; for a site's address, the
    message names the --site that gave it, not hamr's own --host and --port."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        raise CannotListen(
            f"cannot listen on {host}: {error.strerror}; "
            f"name an address of this machine with {_flag('--host', site)}"
        ) from None
    sockets: list[socket.socket] = []
    for family, kind, proto, _name, address in dict.fromkeys(infos):
        try:
            sockets.append(_listen(family, kind, proto, address))
        except OSError as error:
            for sock in sockets:
                sock.close()
            raise CannotListen(why_not(_format(address), port, error, site)) from None
    return sockets


def why_not(where: str, port: int, error: OSError, site: Site | None = None) -> str:
    """The operator's fix for the usual failures, in one line, naming the flag to change."""
    prefix = f"cannot listen on {where}"
    if error.errno == errno.EADDRINUSE:
        return (
            f"{prefix}: address already in use; stop what holds port {port} "
            f"or pick another with {_flag('--port', site)}"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"{prefix}: address not available, no interface of this machine has it; "
            f"pick one it has with {_flag('--host', site)}, such as 127.0.0.1 or 0.0.0.0"
        )
    if error.errno == errno.EACCES and port < 1024:
        return (
            f"{prefix}: permission denied, ports below 1024 need root or "
            f"CAP_NET_BIND_SERVICE; pick one from 1024 up with {_flag('--port', site)}"
        )
    return f"{prefix}: {error.strerror or error}"


def _flag(flag: str, site: Site | None) -> str:
    """The flag (and variable) that set an address: hamr's own, or the --site of a site."""
    if site is None:
        return f"{flag} (or HAMR_{flag[2:].upper()})"
    return f"--site {site.datacenter}=HOST:PORT (or HAMR_SITES)"


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
