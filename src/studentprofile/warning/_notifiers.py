"""Notifiers: how a digest leaves the library (SMTP e-mail, a signed JSON webhook).

A notifier is any object with a ``channel`` (text naming where it sends, without credentials)
and ``send(digest)``, which raises :class:`~studentprofile.errors.NotificationError` when the
delivery failed (``retry=True`` when trying later may help) or
:class:`~studentprofile.errors.ConfigError` when it refuses to send at all.

Both notifiers here take an **allow-list of hosts** and refuse, at construction and again before
every connection, any host outside it; credentials and signing secrets are read from environment
variables named in the configuration (never passed as arguments, never shown by ``repr``, never
logged).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import os
import re
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from studentprofile.errors import ConfigError, NotificationError

if TYPE_CHECKING:  # annotations only
    from studentprofile.warning._notify import Digest

__all__ = ["SIGNATURE_HEADER", "Notifier", "SmtpNotifier", "WebhookNotifier", "sign_body"]

#: The header carrying a webhook body's HMAC-SHA256 signature (``sha256=<hex>``).
SIGNATURE_HEADER = "X-StudentProfile-Signature"
#: The header carrying the Unix time (seconds) that the signature covers.
TIMESTAMP_HEADER = "X-StudentProfile-Timestamp"

# error texts (tested as they are)
HOST_REFUSED = "the host is not in the notifier's allow-list; nothing was sent"
EMPTY_ALLOW_LIST = "allowed_hosts must name at least one host"
CLEAR_TEXT_LOGIN = "refusing to send SMTP credentials over an unencrypted connection"
NO_RECIPIENT = "the digest has no recipient address"
DOMAIN_REFUSED = "the recipient's domain is not in the notifier's allowed_domains; nothing was sent"
MISSING_ENV = "the environment variable {name!r} named in the configuration is not set"
PLAIN_HTTP = "webhooks go over https; plain http is allowed only to this machine"
URL_CREDENTIALS = "the webhook URL must not hold a user name or password"

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_ADDRESS = re.compile(r"^[^@\s<>,;\"\\]+@([^@\s<>,;\"\\]+)$")


@runtime_checkable
class Notifier(Protocol):
    """What :func:`~studentprofile.warning.send_digests` needs from a notifier.

    Attributes
    ----------
    channel : str
        Where it sends, without credentials (the ledger records it; the same digest key may be
        sent once per channel).
    """

    channel: str

    def send(self, digest: Digest) -> None:
        """Deliver one digest or raise ``NotificationError`` / ``ConfigError``."""
        ...


def _norm_host(host: str) -> str:
    text = host.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def _allow_list(allowed: Any, key: str = "allowed_hosts") -> tuple[str, ...]:
    if isinstance(allowed, str):
        allowed = [allowed]
    try:
        hosts = tuple(_norm_host(str(h)) for h in allowed if str(h).strip())
    except TypeError:
        raise ConfigError(EMPTY_ALLOW_LIST, key=key, arrived=repr(allowed),
                          hint="e.g. allowed_hosts=['mail.campus.edu']") from None
    if not hosts:
        raise ConfigError(EMPTY_ALLOW_LIST, key=key, arrived=repr(allowed),
                          hint="e.g. allowed_hosts=['mail.campus.edu'] (an entry starting with "
                          "'.' allows every sub-domain: '.campus.edu')")
    return hosts


def _host_allowed(host: str, allowed: Iterable[str]) -> bool:
    h = _norm_host(host)
    return any(h == a or (a.startswith(".") and h.endswith(a)) for a in allowed)


def _check_host(host: str, allowed: tuple[str, ...], channel: str) -> None:
    if not _host_allowed(host, allowed):
        raise ConfigError(HOST_REFUSED, key="allowed_hosts", arrived=f"host {host!r} ("
                          f"allowed: {list(allowed)!r})",
                          hint=f"add {host!r} to allowed_hosts if {channel} is meant to reach it")


def _is_loopback(host: str) -> bool:
    h = _norm_host(host)
    if h in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _env(name: str | None, key: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(MISSING_ENV.format(name=name), key=key, arrived="not set",
                          hint=f"export {name}=... in the service's environment")
    return value


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
            or value == float("inf"):
        raise ConfigError(f"{key} must be a positive number of seconds", key=key,
                          arrived=repr(value), hint=f"e.g. {key}=10")
    return float(value)


def _failure(channel: str, exc: BaseException, *, retry: bool = True,
             detail: str | None = None) -> NotificationError:
    # smtplib turns a read timeout into SMTPServerDisconnected; the timeout is its context
    timed_out = any(isinstance(e, TimeoutError | socket.timeout)
                    for e in (exc, exc.__context__, exc.__cause__))
    what = "timed out" if timed_out else "failed"
    return NotificationError(
        f"the delivery {what}", channel=channel, retry=retry,
        arrived=f"{type(exc).__name__}" + (f": {detail}" if detail else ""),
        hint="it is retried with backoff; check that the server is up and reachable"
        if retry else "the server refused the message; check the configuration",
    )


# ----------------------------------------------------------------------------- SMTP
class SmtpNotifier:
    """Send each digest as an e-mail (plain text and HTML) over SMTP.

    Parameters
    ----------
    host : str
        The SMTP server; must be in ``allowed_hosts``.
    port : int, default 587
        The server's port (587 submission with STARTTLS, 465 with ``security="ssl"``).
    sender : str
        The ``From`` address.
    allowed_hosts : sequence of str
        The hosts this notifier may connect to (exact names or addresses; ``".campus.edu"``
        allows every sub-domain).
    security : {"starttls", "ssl", "none"}, default "starttls"
        ``"starttls"`` upgrades the connection (and fails if the server cannot); ``"ssl"``
        connects with TLS from the start; ``"none"`` sends in clear text (a relay on this
        machine only; credentials are then refused).
    username_env, password_env : str, optional
        Names of environment variables holding the login (read at each send, never stored).
    allowed_domains : sequence of str, optional
        When given, recipients' domains must be in it (digests hold student data).
    timeout : float, default 30
        Seconds for the connection and each reply.
    ssl_context : ssl.SSLContext, optional
        Default: :func:`ssl.create_default_context` (certificates verified).

    Raises
    ------
    ConfigError
        The host is not allowed, the security mode is unknown, credentials with
        ``security="none"``, a bad timeout.

    Examples
    --------
    >>> n = SmtpNotifier("mail.campus.edu", sender="warn@campus.edu",
    ...                  allowed_hosts=["mail.campus.edu"], password_env="SMTP_PASSWORD",
    ...                  username_env="SMTP_USER")
    >>> n.channel
    'smtp://mail.campus.edu:587'
    >>> SmtpNotifier("evil.example", sender="warn@campus.edu",
    ...              allowed_hosts=["mail.campus.edu"])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    studentprofile.errors.ConfigError: allowed_hosts: the host is not in the notifier's ...
    """

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        sender: str,
        allowed_hosts: Iterable[str],
        security: Literal["starttls", "ssl", "none"] = "starttls",
        username_env: str | None = None,
        password_env: str | None = None,
        allowed_domains: Iterable[str] | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.host = str(host)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError("port must be a whole number from 1 to 65535", key="port",
                              arrived=repr(port), hint="587 (STARTTLS) or 465 (security='ssl')")
        self.port = int(port)
        self.sender = str(sender)
        self.allowed_hosts = _allow_list(allowed_hosts)
        self.security = security
        self.username_env = username_env
        self.password_env = password_env
        self.allowed_domains = (None if allowed_domains is None
                                else _allow_list(allowed_domains, "allowed_domains"))
        self.timeout = _positive(timeout, "timeout")
        self.ssl_context = ssl_context
        if security not in ("starttls", "ssl", "none"):
            raise ConfigError("security must be 'starttls', 'ssl' or 'none'", key="security",
                              arrived=repr(security), hint="use 'starttls' (port 587) or 'ssl' "
                              "(port 465)")
        if security == "none" and (username_env or password_env):
            raise ConfigError(CLEAR_TEXT_LOGIN, key="security", arrived="security='none' with "
                              "username_env/password_env", hint="use security='starttls' or "
                              "'ssl'")
        if not _ADDRESS.match(self.sender):
            raise ConfigError("sender must be one e-mail address", key="sender",
                              arrived=repr(self.sender), hint="e.g. 'early-warning@campus.edu'")
        self.channel = f"smtp://{self.host}:{self.port}"
        _check_host(self.host, self.allowed_hosts, self.channel)

    def __repr__(self) -> str:
        return (f"SmtpNotifier({self.channel!r}, security={self.security!r}, "
                f"login={'from env' if self.username_env else 'none'})")

    def message(self, digest: Digest) -> EmailMessage:
        """Return the e-mail for one digest (without sending it).

        Parameters
        ----------
        digest : Digest
            A digest with a recipient.

        Returns
        -------
        email.message.EmailMessage
            ``text/plain`` and ``text/html`` alternatives, a ``Message-ID`` made from the
            digest key (so mail systems can drop a duplicate) and an ``X-StudentProfile-Digest``
            header.

        Raises
        ------
        ConfigError
            No recipient, or a recipient outside ``allowed_domains``.
        """
        to = digest.recipient
        found = _ADDRESS.match(to or "")
        if not to or found is None:
            raise ConfigError(NO_RECIPIENT, key="staff", arrived=f"recipient {to!r}",
                              hint="give build_digests staff= with an `email` for every advisor")
        if self.allowed_domains is not None and not _host_allowed(found.group(1),
                                                                  self.allowed_domains):
            raise ConfigError(DOMAIN_REFUSED, key="allowed_domains",
                              arrived=f"domain {found.group(1)!r}",
                              hint="add the domain to allowed_domains if it is the campus's")
        msg = EmailMessage()
        msg["Subject"] = digest.subject
        msg["From"] = self.sender
        msg["To"] = to
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = f"<{digest.key}@studentprofile.digest>"
        msg["X-StudentProfile-Digest"] = digest.key
        msg.set_content(digest.text)
        msg.add_alternative(digest.html, subtype="html")
        return msg

    def send(self, digest: Digest) -> None:
        """Send one digest.

        Parameters
        ----------
        digest : Digest
            The digest (its ``recipient`` is the ``To`` address).

        Raises
        ------
        ConfigError
            The host is not allowed, no or a refused recipient, a credential variable unset.
        NotificationError
            The server is down, slow past the timeout, or refused the message (``retry`` is
            false for a permanent 5xx reply).
        """
        _check_host(self.host, self.allowed_hosts, self.channel)
        msg = self.message(digest)
        user = _env(self.username_env, "username_env")
        password = _env(self.password_env, "password_env")
        try:
            client: smtplib.SMTP
            if self.security == "ssl":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=self._context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                client.ehlo()
                if self.security == "starttls":
                    client.starttls(context=self._context())
                    client.ehlo()
                if user is not None or password is not None:
                    client.login(user or "", password or "")
                client.send_message(msg)
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            raise _failure(self.channel, exc, retry=not permanent,
                           detail=f"reply {exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise _failure(self.channel, exc, retry=all(400 <= c < 500 for c in codes),
                           detail=f"replies {codes}") from None
        except smtplib.SMTPNotSupportedError as exc:  # no STARTTLS or no AUTH on offer
            raise _failure(self.channel, exc, retry=False, detail=str(exc)[:200]) from None
        except ssl.SSLCertVerificationError as exc:  # a retry meets the same certificate
            raise _failure(self.channel, exc, retry=False,
                           detail=str(exc.verify_message)[:200]) from None
        except (smtplib.SMTPException, OSError) as exc:
            # connection refused or reset, timeouts, TLS failures, a server that hung up
            raise _failure(self.channel, exc) from None

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()


# -------------------------------------------------------------------------- webhook
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # a redirect could lead outside the allow-list: never follow one
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def sign_body(secret: bytes | str, timestamp: str, body: bytes) -> str:
    """Return the signature header value of a webhook body: ``sha256=<hex>``.

    The HMAC-SHA256, keyed with ``secret``, of ``timestamp + "." + body``; a receiver recomputes
    it from the ``X-StudentProfile-Timestamp`` header and the raw body, compares with
    :func:`hmac.compare_digest`, and refuses old timestamps (replays).

    Parameters
    ----------
    secret : bytes or str
        The shared secret.
    timestamp : str
        The ``X-StudentProfile-Timestamp`` header's value.
    body : bytes
        The raw request body.

    Returns
    -------
    str
        ``"sha256="`` and 64 hex digits.

    Examples
    --------
    >>> sign_body("s3cret", "1700000000", b'{"a":1}')[:16]
    'sha256=1698a50bc'
    """
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    mac = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookNotifier:
    """POST each digest's JSON payload to a URL, optionally signed with HMAC-SHA256.

    Headers: ``Content-Type: application/json``, ``Idempotency-Key`` (the digest key: a receiver
    can drop a repeat when a timed-out request did arrive), and with ``secret_env`` the
    ``X-StudentProfile-Timestamp`` and ``X-StudentProfile-Signature`` headers
    (:func:`sign_body`). Redirects are never followed.

    Parameters
    ----------
    url : str
        ``https://...`` (``http://`` only to this machine, e.g. a local relay); its host must be
        in ``allowed_hosts``.
    allowed_hosts : sequence of str
        The hosts this notifier may connect to.
    timeout : float, default 10
        Seconds for the connection and the reply.
    secret_env : str, optional
        Name of the environment variable holding the signing secret.
    proxy : str, optional
        An HTTP(S) proxy URL; default none (environment proxy settings are ignored, so the
        allow-list says where requests go).
    ssl_context : ssl.SSLContext, optional
        Default: certificates verified.

    Raises
    ------
    ConfigError
        A URL that is not http(s), plain http to another machine, a host outside the allow-list.

    Examples
    --------
    >>> hook = WebhookNotifier("https://hooks.campus.edu/advising?token=x",
    ...                        allowed_hosts=["hooks.campus.edu"])
    >>> hook.channel  # no query (it may hold a token)
    'https://hooks.campus.edu/advising'
    """

    def __init__(
        self,
        url: str,
        *,
        allowed_hosts: Iterable[str],
        timeout: float = 10.0,
        secret_env: str | None = None,
        proxy: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.url = str(url)
        self.allowed_hosts = _allow_list(allowed_hosts)
        self.timeout = _positive(timeout, "timeout")
        self.secret_env = secret_env
        self.ssl_context = ssl_context
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("the webhook URL must be http(s)://host/...", key="url",
                              arrived=repr(f"{parts.scheme}://{parts.hostname or ''}"),
                              hint="e.g. 'https://hooks.campus.edu/advising'")
        if parts.username is not None or parts.password is not None:
            raise ConfigError(URL_CREDENTIALS, key="url",
                              arrived=repr(f"{parts.scheme}://...@{parts.hostname}"),
                              hint="sign the requests with secret_env instead")
        try:
            parts.port  # noqa: B018 - parsing the port raises on a bad one
        except ValueError:
            raise ConfigError("the webhook URL's port is not a number from 0 to 65535",
                              key="url", arrived=repr(parts.netloc),
                              hint="e.g. 'https://hooks.campus.edu:8443/advising'") from None
        self.host = parts.hostname
        self.channel = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        if parts.scheme == "http" and not _is_loopback(self.host):
            raise ConfigError(PLAIN_HTTP, key="url", arrived=repr(self.channel),
                              hint="use https:// (digests hold student data)")
        _check_host(self.host, self.allowed_hosts, self.channel)
        handlers: list[Any] = [_NoRedirect(),
                               urllib.request.ProxyHandler({} if proxy is None else
                                                           {"http": proxy, "https": proxy})]
        if ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.channel!r}, signed={self.secret_env is not None})"

    def request(self, digest: Digest, *, now: float | None = None) -> urllib.request.Request:
        """Return the HTTP request for one digest (without sending it).

        Parameters
        ----------
        digest : Digest
            The digest.
        now : float, optional
            The Unix time to sign; default the current time.

        Returns
        -------
        urllib.request.Request
            A POST with the payload as UTF-8 JSON and the headers described above.
        """
        body = digest.to_json().encode("utf-8", "surrogatepass")
        headers: dict[str, str] = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": digest.key,
            "User-Agent": "studentprofile-digest/1",
        }
        secret = _env(self.secret_env, "secret_env")
        if secret is not None:
            stamp = str(int(time.time() if now is None else now))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = sign_body(secret, stamp, body)
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")

    def send(self, digest: Digest) -> None:
        """POST one digest.

        Parameters
        ----------
        digest : Digest
            The digest.

        Raises
        ------
        ConfigError
            The host is not allowed, the secret's variable is unset.
        NotificationError
            Down, slow past the timeout, a 408/425/429/5xx reply (retried), another 3xx/4xx
            reply (not retried).
        """
        _check_host(self.host, self.allowed_hosts, self.channel)
        req = self.request(digest)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                resp.read(1024)
        except urllib.error.HTTPError as exc:
            code = exc.code
            exc.close()
            retry = code in (408, 425, 429) or code >= 500
            raise _failure(self.channel, exc, retry=retry, detail=f"HTTP {code}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason if isinstance(exc.reason, BaseException) else exc
            if isinstance(reason, ssl.SSLCertVerificationError):  # the same on every retry
                raise _failure(self.channel, reason, retry=False,
                               detail=str(reason.verify_message)[:200]) from None
            raise _failure(self.channel, reason) from None
        except (OSError, ValueError) as exc:
            # timeouts while reading, resets; http.client's errors are OSError or ValueError
            raise _failure(self.channel, exc) from None
        except http.client.HTTPException as exc:  # a broken reply
            raise _failure(self.channel, exc) from None
