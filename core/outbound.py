"""The one way out: every outbound HTTP request of the project (today: webhooks) goes through ``post``.

Rules (docs/notifications.md, "Outbound requests"):

- Only ``https://`` URLs (``http://`` too when ``OMS_OUTBOUND_ALLOW_HTTP`` is on, by default only with
  ``DEBUG``), no user/password in the URL, no ``localhost`` names.
- The address must be public: loopback, private, shared (CGNAT), link-local (cloud metadata at
  169.254.169.254), multicast, reserved and unspecified ranges are refused, for IPv4 and IPv6 alike,
  including IPv4 hidden inside IPv6 (IPv4-mapped, 6to4, Teredo, NAT64). ``OMS_OUTBOUND_ALLOW_PRIVATE``
  (tests and development only) lets loopback and private ranges through; link-local, multicast and
  unspecified addresses stay refused even then.
- The URL is checked when it is saved (``validate_outbound_url``, a model field validator) and again at
  connect time against every address the name resolves to. The name is resolved once and the TCP
  connection opened to the checked address itself, so DNS rebinding (a name that answers a public
  address at the check and a private one at the connect) cannot reach the inside.
- One total deadline per request (resolve + connect + TLS + send + read), a cap on the bytes read from
  the response, no redirects, no proxies from the environment, no content decoding (a compressed
  reply cannot expand past the cap).

Why built here, on httpcore (the engine under httpx, already a dependency): the kept libraries do not fit.
``advocate`` wraps ``requests`` and is unmaintained since 2020; ``httpx-secure`` covers async clients only;
``drawbridge``/``egressweave`` are recent single-author packages with little use. httpcore has a public
hook for exactly this — a network backend that opens the TCP connection — so the guard is ~150 lines we
can read: the URL keeps its host name, so the Host header, TLS SNI and certificate check are the real
host's, while the socket goes to the address we checked.

This module imports nothing of the project's, so it can move to a lower shared app unchanged.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

DEFAULT_PORTS = {"http": 80, "https": 443}
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(Exception):
    """A request that did not get an answer. ``str()`` is our own short text, safe to show a channel."""

    message = "Request failed"

    def __init__(self, detail: str = ""):
        super().__init__(self.message)
        self.detail = detail  # for the server log only: may quote the remote end


class AddressNotAllowed(OutboundError):
    message = "Address not allowed"


class OutboundTimeout(OutboundError):
    message = "Timed out"


class Unreachable(OutboundError):
    message = "Not reachable"


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    body: bytes  # at most max_response_bytes: for the server log, never for a channel
    truncated: bool


# --- settings (read at call time) ----------------------------------------------------------------


def allow_private() -> bool:
    return bool(getattr(settings, "OMS_OUTBOUND_ALLOW_PRIVATE", False))


def allow_http() -> bool:
    return bool(getattr(settings, "OMS_OUTBOUND_ALLOW_HTTP", settings.DEBUG))


# --- the address policy --------------------------------------------------------------------------


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    if any(ip in prefix for prefix in NAT64_PREFIXES):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_allowed(ip: IPAddress) -> bool:
    """May a request go to this address under the current settings?"""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        if ip.ipv4_mapped is not None:
            return address_allowed(ip.ipv4_mapped)  # ::ffff:a.b.c.d is a.b.c.d
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not address_allowed(embedded):
            return False
    if ip.is_unspecified or ip.is_link_local or ip.is_multicast:
        return False  # never, not even in development: 169.254.169.254 is the cloud's metadata service
    if ip.is_global and not (ip.is_private or ip.is_reserved or ip.is_loopback):
        return True
    # Loopback, private (RFC 1918, ULA), shared (CGNAT), reserved, documentation ranges...
    return allow_private() and (ip.is_loopback or ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10"))


def _literal_address(host: str) -> IPAddress | None:
    """The address a host part names literally, legacy IPv4 spellings included (127.1, 0x7f.0.0.1, 2130706433)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host[:1].isdigit() and set(host.lower()) <= set("0123456789abcdefx."):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an allowed URL, or AddressNotAllowed. No DNS: the connect checks that."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressNotAllowed("malformed URL") from exc
    scheme = parts.scheme.lower()
    allowed_schemes = ("http", "https") if allow_http() else ("https",)
    if scheme not in allowed_schemes:
        raise AddressNotAllowed(f"scheme {scheme!r} not allowed")
    if parts.username is not None or parts.password is not None:
        raise AddressNotAllowed("credentials in the URL")
    host = (parts.hostname or "").rstrip(".")
    if not host or "%" in host:
        raise AddressNotAllowed("no host")
    if not allow_private() and (host in LOCAL_NAMES or host.endswith(".localhost")):
        raise AddressNotAllowed(f"local host name {host!r}")
    literal = _literal_address(host)
    if literal is not None and not address_allowed(literal):
        raise AddressNotAllowed(f"address {literal} not allowed")
    return scheme, host, port or DEFAULT_PORTS[scheme]


def validate_outbound_url(value: str) -> None:
    """Field validator: the URL may be used for outbound requests (see the module docstring)."""
    if not value:
        return
    try:
        check_url(value)
    except AddressNotAllowed as exc:
        https_only = "a URL " if allow_http() else "an https:// URL "
        raise ValidationError(
            f"Enter {https_only}of a public host: this address is not allowed ({exc.detail}).",
            code="outbound_url_not_allowed",
        ) from exc


# --- the guarded connection ----------------------------------------------------------------------


class _Deadline:
    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def remaining(self, exc_class: type[Exception] = httpcore.TimeoutException) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise exc_class("deadline passed")
        return left

    def clamp(self, timeout: float | None, exc_class: type[Exception]) -> float:
        left = self.remaining(exc_class)
        return left if timeout is None else min(timeout, left)


def _resolve(host: str, port: int, deadline: _Deadline) -> list[IPAddress]:
    """Every address of ``host``, within the deadline (getaddrinfo itself has no timeout)."""
    result: dict = {}

    def lookup():
        try:
            result["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=lookup, name="outbound-resolve", daemon=True)
    thread.start()
    thread.join(deadline.remaining(httpcore.ConnectTimeout))
    if thread.is_alive():
        raise httpcore.ConnectTimeout(f"resolving {host} timed out")
    if "error" in result:
        raise httpcore.ConnectError(f"resolving {host}: {result['error']}")
    addresses = []
    for family, _, _, _, sockaddr in result["infos"]:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and len(sockaddr) >= 4 and sockaddr[3]:
            raise AddressNotAllowed(f"{host} resolves to a scoped address {sockaddr[0]}")
        if not address_allowed(ip):
            raise AddressNotAllowed(f"{host} resolves to {ip}")
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise httpcore.ConnectError(f"{host} has no address")
    return addresses


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline):
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        timeout = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout), self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves once, checks every address, connects to a checked address (never by name)."""

    def __init__(self, deadline: _Deadline):
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last_error: Exception | None = None
        for ip in _resolve(host, port, self._deadline):
            try:
                stream = self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=self._deadline.clamp(timeout, httpcore.ConnectTimeout),
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise last_error or httpcore.ConnectError(f"could not connect to {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise AddressNotAllowed("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, self._deadline.remaining()))


def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # certifi's CA bundle, hostname checks on


def post(
    url: str, *, content: bytes, headers: dict[str, str], timeout: float, max_response_bytes: int
) -> OutboundResponse:
    """POST ``content`` to ``url``; the answer's status and at most ``max_response_bytes`` of its body.

    ``timeout`` is the total for the whole exchange. Raises AddressNotAllowed, OutboundTimeout or
    Unreachable; any status code (redirects included, never followed) is an answer, not an error.
    """
    deadline = _Deadline(timeout)
    check_url(url)
    parsed = httpx.URL(url)  # IDNA-encodes the host name
    target = httpcore.URL(
        scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port, target=parsed.raw_path or b"/"
    )
    headers = {**headers, "Accept-Encoding": "identity", "Connection": "close"}
    body = bytearray()
    truncated = False
    try:
        with (
            httpcore.ConnectionPool(
                ssl_context=_ssl_context(),
                max_connections=1,
                retries=0,
                network_backend=_GuardedBackend(deadline),
            ) as pool,
            pool.stream(
                "POST",
                target,
                headers=list(headers.items()),
                content=content,
                extensions={"timeout": {key: deadline.remaining() for key in ("connect", "read", "write", "pool")}},
            ) as response,
        ):
            for chunk in response.iter_stream():
                body += chunk
                if len(body) >= max_response_bytes:
                    truncated = True  # stop reading: the rest is dropped with the connection
                    break
                deadline.remaining(httpcore.ReadTimeout)  # a receiver that drips bytes still ends on time
            status_code = response.status
    except AddressNotAllowed:
        raise
    except httpcore.TimeoutException as exc:
        raise OutboundTimeout(repr(exc)) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, ssl.SSLError) as exc:
        raise Unreachable(repr(exc)) from exc
    except OSError as exc:
        raise Unreachable(repr(exc)) from exc
    return OutboundResponse(status_code=status_code, body=bytes(body[:max_response_bytes]), truncated=truncated)
