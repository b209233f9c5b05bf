"""Where the sandbox listens. Its control API (`/sandbox/...`) acts as anyone — any diner, the
cashier, the owner — with no login, so it is for the machine it runs on: loopback, unless the
deployment says ``SANDBOX_PUBLIC=true`` (a demo on a network you trust), and then a warning
line at start says what that means. A container image follows the same rule: with
``SANDBOX_HOST=0.0.0.0`` alone it still listens on loopback (and says why)."""

from __future__ import annotations

import ipaddress
import logging

from bot.config import Settings

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_ANY = frozenset({"0.0.0.0", "::", ""})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def sandbox_bind_host(settings: Settings) -> str:
    """The address the sandbox listens on, with the start-up warning when it is not loopback."""
    host = settings.sandbox_host
    if settings.sandbox_public:
        if not is_loopback(host):
            log.warning(
                "SANDBOX_PUBLIC=true: the sandbox listens on %s port %s, reachable from the "
                "network. Its control API acts as anyone, the owner included, without a login: "
                "use it only on a network you trust.",
                host or "every address",
                settings.sandbox_port,
            )
        return host
    if not is_loopback(host):
        log.warning(
            "SANDBOX_HOST=%s ignored: the sandbox listens on %s only, because its control API "
            "acts as anyone, the owner included. Set SANDBOX_PUBLIC=true to listen on %s.",
            host,
            LOOPBACK,
            host,
        )
        return LOOPBACK
    return host


def url_host(bind_host: str) -> str:
    """How this process reaches a server listening on `bind_host`."""
    if bind_host in _ANY:
        return LOOPBACK
    return f"[{bind_host}]" if ":" in bind_host else bind_host
