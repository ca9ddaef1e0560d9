"""Digests, notifiers and the ledger, against real local servers started here.

* an SMTP server (aiosmtpd) that records messages, can refuse the next message with a temporary
  451, can stall before replying (slower than the client's timeout), and speaks STARTTLS with
  AUTH when asked;
* a webhook receiver (the standard library's http.server) that records every request and can
  answer 503, stall, or redirect;
* a port where nothing listens (a server that is down).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import http.server
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from _case_frames import AS_OF, D, make_cases, week
from studentprofile.errors import ConfigError, NotificationError, OutputError, SchemaError
from studentprofile.warning import (
    SIGNATURE_HEADER,
    Digest,
    NotificationLedger,
    Notifier,
    SmtpNotifier,
    WebhookNotifier,
    _notifiers,
    _notify,
    advisor_hash,
    build_digests,
    send_digests,
    sign_body,
)

try:  # the `test` extra installs it; in CI its absence fails, elsewhere it skips
    from aiosmtpd import controller as aiosmtpd_controller
    from aiosmtpd.smtp import AuthResult
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("needs aiosmtpd (pip install -e '.[test]')", allow_module_level=True)

LOCAL = ["127.0.0.1"]
STAFF = {"kim": "kim@campus.edu", "lee": "lee@campus.edu"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------- digests
def test_digest_lists_new_and_overdue_own_cases_only():
    digests = build_digests(week(), as_of=AS_OF, staff=STAFF)
    assert [d.advisor for d in digests] == ["kim", "lee"]
    kim, lee = digests
    assert (kim.n_new, kim.n_overdue, lee.n_new, lee.n_overdue) == (1, 1, 1, 1)
    assert [c["case_id"] for c in kim.payload["overdue"]] == ["k-late"]
    assert [c["case_id"] for c in kim.payload["new"]] == ["k-new"]
    assert kim.payload["overdue"][0]["days_overdue"] == 6.0
    assert kim.payload["new"][0]["reason_codes"] == ["attendance_drop", "late_submissions"]
    assert kim.recipient == "kim@campus.edu" and kim.as_of == "2026-11-16"
    assert kim.subject == "Early-warning digest for 2026-11-16: 1 new case, 1 overdue"
    # nothing of another advisor's students, nor unassigned or closed cases, in any form
    for body in (kim.text, kim.html, kim.to_json()):
        for other in ("S-101", "S-102", "S-201", "S-003", "S-004", "S-005", "l-late", "lee"):
            assert other not in body
    assert "S-001" in kim.text and "S-002" in kim.html
    assert "New in the last 7 days (1)" in kim.text and kim.payload["window_days"] == 7.0
    assert json.loads(kim.to_json()) == kim.payload


def test_digest_key_is_deterministic_and_follows_content():
    cases = week()
    a = build_digests(cases, as_of=AS_OF)
    b = build_digests(cases.sample(frac=1, random_state=3), as_of=AS_OF)
    assert [d.key for d in a] == [d.key for d in b]
    assert all(re.fullmatch(r"[0-9a-f]{32}", d.key) for d in a)
    assert a[0].payload["key"] == a[0].key and a[0].key in a[0].text
    changed = build_digests(cases.assign(risk=cases["risk"].where(cases["case_id"] != "k-new",
                                                                  0.5)), as_of=AS_OF)
    assert changed[0].key != a[0].key and changed[1].key == a[1].key
    # the address book is not content: the same digest whoever receives it
    assert build_digests(cases, as_of=AS_OF, staff=STAFF)[0].key == a[0].key
    later = build_digests(cases, as_of=D("2026-11-17"))
    assert later[1].key != a[1].key


def test_digest_windows_contacts_and_dates():
    cases = make_cases([
        dict(case_id="c1", student_id="a", opened_at=D("2026-11-08"),
             due_first_contact=D("2026-11-20")),  # 8 days before: not new in a 7-day window
        dict(case_id="c2", student_id="b", opened_at=D("2026-11-10"),
             due_first_contact=D("2026-11-12"), first_contact_at=D("2026-11-11")),  # contacted
        dict(case_id="c3", student_id="c", opened_at=D("2026-11-10"),
             due_first_contact=D("2026-11-12"), first_contact_at=D("2026-11-18")),  # later
    ])
    (d,) = build_digests(cases, as_of=AS_OF)
    assert [c["case_id"] for c in d.payload["new"]] == ["c2"]
    assert [c["case_id"] for c in d.payload["overdue"]] == ["c3"]
    (wide,) = build_digests(cases, as_of=AS_OF, window=14)
    assert sorted(c["case_id"] for c in wide.payload["new"]) == ["c1", "c2"]
    assert build_digests(cases, as_of=D("2026-11-01")) == []
    with_cards = build_digests(cases, as_of=AS_OF, card_url="https://advising.campus.edu/cards/")
    card = with_cards[0].payload["new"][0]["card"]
    assert re.fullmatch(r"https://advising\.campus\.edu/cards/b-[0-9a-f]{16}\.html", card)
    assert f'href="{card}"' in with_cards[0].html


def test_digest_inputs_are_checked():
    with pytest.raises(SchemaError, match=r"cases.owner \[required-column\]"):
        build_digests(week().drop(columns="owner"), as_of=AS_OF)
    with pytest.raises(ConfigError, match="as_of"):
        build_digests(week(), as_of="next tuesday")
    with pytest.raises(ConfigError, match="as_of"):
        build_digests(week(), as_of=3.0)  # days, but the frame holds datetimes
    with pytest.raises(SchemaError, match=r"staff.email \[required-column\]"):
        build_digests(week(), as_of=AS_OF, staff=pd.DataFrame({"staff": ["kim"]}))
    two = pd.DataFrame({"staff": ["kim", "kim", "lee", "lee"],
                        "email": ["k@campus.edu", "kim@campus.edu", "l@campus.edu",
                                  "l@campus.edu "]})
    with pytest.raises(SchemaError, match=re.escape(_notify.AMBIGUOUS_ADDRESS)) as info:
        build_digests(week(), as_of=AS_OF, staff=two)
    assert "'kim'" in str(info.value) and "'lee'" not in str(info.value)
    same_twice = build_digests(week(), as_of=AS_OF, staff=two.iloc[2:])
    assert same_twice[1].recipient == "l@campus.edu"


# ----------------------------------------------------------------------- the SMTP server
class Recorder:
    """An aiosmtpd handler: records messages; can fail or stall the next one."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.fail_next = 0
        self.stall_next = 0.0
        self.logins: list[str] = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.stall_next:
            delay, self.stall_next = self.stall_next, 0.0
            await asyncio.sleep(delay)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_next:
            self.fail_next -= 1
            return "451 4.3.0 temporary failure, try again later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def smtp_server(port: int | None = None, **kwargs):
    handler = Recorder()
    controller = aiosmtpd_controller.Controller(handler, hostname="127.0.0.1",
                                                port=port or free_port(), **kwargs)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def smtp():
    with smtp_server() as (handler, port):
        yield handler, port


@pytest.fixture
def mailbox(smtp):
    handler, port = smtp
    handler.reset()
    return handler, port


@pytest.fixture
def ledger(tmp_path):
    with NotificationLedger(tmp_path / "ledger.db") as opened:
        yield opened


def plain_smtp(port: int, **kwargs) -> SmtpNotifier:
    return SmtpNotifier("127.0.0.1", port, sender="warn@campus.edu", allowed_hosts=LOCAL,
                        security="none", **kwargs)


def test_smtp_delivers_each_digest_once(mailbox, ledger):
    handler, port = mailbox
    digests = build_digests(week(), as_of=AS_OF, staff=STAFF)
    notifier = plain_smtp(port)
    assert isinstance(notifier, Notifier)
    report = send_digests(digests, notifier, ledger, backoff=0.01)
    assert report.counts == {"sent": 2}
    assert [to for to, _ in handler.messages] == [["kim@campus.edu"], ["lee@campus.edu"]]
    _, msg = handler.messages[0]
    assert msg["Subject"] == digests[0].subject
    assert msg["Message-ID"] == f"<{digests[0].key}@studentprofile.digest>"
    # SMTP carries CRLF line ends
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == digests[0].text
    assert msg.get_body(("html",)).get_content().replace("\r\n", "\n") == digests[0].html
    # a rerun (the weekly job started twice) sends nothing
    again = send_digests(digests + digests, notifier, ledger, backoff=0.01)
    assert again.counts == {"already_sent": 4}
    assert len(handler.messages) == 2
    sent = ledger.sent()
    assert sorted(sent["advisor"]) == ["kim", "lee"]
    assert set(sent["channel"]) == {f"smtp://127.0.0.1:{port}"}
    assert len(ledger.failures()) == 0 and len(ledger.in_doubt()) == 0


def test_smtp_temporary_failure_is_retried_and_recorded(mailbox, ledger):
    handler, port = mailbox
    handler.fail_next = 2
    digests = build_digests(week(), as_of=AS_OF, staff=STAFF)[:1]
    report = send_digests(digests, plain_smtp(port), ledger, retries=3, backoff=0.01)
    assert report.frame[["status", "attempts"]].values.tolist() == [["sent", 3]]
    assert len(handler.messages) == 1
    failures = ledger.failures()
    assert failures["attempt"].tolist() == [1, 2]
    assert set(failures["error_class"]) == {"NotificationError"}
    assert failures["error"].str.contains("reply 451").all()
    assert ledger.sent()["attempt"].tolist() == [3]


def test_smtp_slow_server_times_out_then_is_retried(mailbox, ledger):
    handler, port = mailbox
    handler.stall_next = 2.0
    digests = build_digests(week(), as_of=AS_OF, staff=STAFF)[:1]
    report = send_digests(digests, plain_smtp(port, timeout=0.5), ledger, backoff=0.01)
    assert report.frame[["status", "attempts"]].values.tolist() == [["sent", 2]]
    assert len(handler.messages) == 1
    failure = ledger.failures().iloc[0]
    assert failure["error_class"] == "NotificationError"
    assert "timed out" in failure["error"]


def test_a_down_server_is_given_up_on_after_some_digests(ledger):
    cases = make_cases([dict(case_id=f"c{i}", student_id=f"S{i}", owner=f"adv{i}",
                             opened_at=D("2026-11-12")) for i in range(5)])
    digests = build_digests(cases, as_of=AS_OF)
    notifier = WebhookNotifier(f"http://127.0.0.1:{free_port()}/hook", allowed_hosts=LOCAL)
    report = send_digests(digests, notifier, ledger, retries=1, backoff=0.01, give_up_after=2)
    assert report.frame[["status", "attempts"]].values.tolist() == [
        ["failed", 2], ["failed", 2], ["channel_down", 0], ["channel_down", 0],
        ["channel_down", 0]]
    assert len(ledger.attempts()) == 4  # nothing claimed for the rest
    with pytest.raises(ConfigError, match="give_up_after"):
        send_digests(digests, notifier, ledger, give_up_after=0)
    every = send_digests(digests, notifier, ledger, retries=0, give_up_after=None)
    assert every.counts == {"failed": 5}


def test_smtp_server_down_then_up(ledger):
    port = free_port()  # nothing listens here yet
    digests = build_digests(week(), as_of=AS_OF, staff=STAFF)
    notifier = plain_smtp(port, timeout=2)
    report = send_digests(digests, notifier, ledger, retries=2, backoff=0.01)
    assert report.counts == {"failed": 2}
    assert report.frame["attempts"].tolist() == [3, 3]
    assert set(report.frame["error_class"]) == {"NotificationError"}
    failures = ledger.failures()
    assert len(failures) == 6 and failures["error"].str.contains("ConnectionRefusedError").all()
    with smtp_server(port) as (handler, _):
        later = send_digests(digests, notifier, ledger, backoff=0.01)
    assert later.counts == {"sent": 2}
    assert ledger.sent()["attempt"].tolist() == [4, 4]
    assert len(handler.messages) == 2


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_smtp_starttls_and_login_from_the_environment(tmp_path, ledger, monkeypatch, caplog):
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    seen: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login.decode(), auth_data.password.decode()))
        # handled=False: the server answers 535 itself on a refusal
        return AuthResult(success=auth_data.password == b"pa55-w0rd", handled=False)

    monkeypatch.setenv("SP_TEST_SMTP_USER", "warnbot")
    monkeypatch.setenv("SP_TEST_SMTP_PASSWORD", "pa55-w0rd")
    client_ctx = ssl.create_default_context(cafile=str(cert))
    with smtp_server(tls_context=server_ctx, require_starttls=True, authenticator=authenticator,
                     auth_require_tls=True) as (handler, port):
        notifier = SmtpNotifier("127.0.0.1", port, sender="warn@campus.edu",
                                allowed_hosts=LOCAL, username_env="SP_TEST_SMTP_USER",
                                password_env="SP_TEST_SMTP_PASSWORD", ssl_context=client_ctx)
        digests = build_digests(week(), as_of=AS_OF, staff=STAFF)
        with caplog.at_level(logging.DEBUG, logger="studentprofile"):
            report = send_digests(digests, notifier, ledger, backoff=0.01)
        assert report.counts == {"sent": 2}
        assert seen == [("warnbot", "pa55-w0rd")] * 2 and len(handler.messages) == 2
        # a wrong password: a permanent refusal, recorded once, not retried
        monkeypatch.setenv("SP_TEST_SMTP_PASSWORD", "wrong")
        other = build_digests(week(), as_of=D("2026-11-17"), staff=STAFF)[:1]
        refused = send_digests(other, notifier, ledger, retries=3, backoff=0.01)
        assert refused.frame[["status", "attempts"]].values.tolist() == [["failed", 1]]
        # without STARTTLS the server refuses; a server without TLS is refused by us
        plain = smtp_server()
        with plain as (_, plain_port):
            no_tls = SmtpNotifier("127.0.0.1", plain_port, sender="warn@campus.edu",
                                  allowed_hosts=LOCAL, ssl_context=client_ctx)
            with pytest.raises(NotificationError, match="STARTTLS") as info:
                no_tls.send(digests[0])
            assert info.value.retry is False
        # a certificate the client does not trust: refused, not retried
        untrusting = SmtpNotifier("127.0.0.1", port, sender="warn@campus.edu",
                                  allowed_hosts=LOCAL)
        with pytest.raises(NotificationError, match="certificate") as info:
            untrusting.send(digests[0])
        assert info.value.retry is False
    # implicit TLS from the first byte (port 465 style)
    with smtp_server(ssl_context=server_ctx) as (handler, tls_port):
        implicit = SmtpNotifier("127.0.0.1", tls_port, sender="warn@campus.edu",
                                allowed_hosts=LOCAL, security="ssl", ssl_context=client_ctx)
        implicit.send(digests[0])
        assert [to for to, _ in handler.messages] == [["kim@campus.edu"]]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "pa55-w0rd" not in text and "warnbot" not in text
    assert "pa55-w0rd" not in repr(notifier) and "pa55-w0rd" not in ledger.attempts().to_string()
    with pytest.raises(ConfigError, match=re.escape(_notifiers.CLEAR_TEXT_LOGIN)):
        SmtpNotifier("127.0.0.1", port, sender="warn@campus.edu", allowed_hosts=LOCAL,
                     security="none", password_env="SP_TEST_SMTP_PASSWORD")
    monkeypatch.delenv("SP_TEST_SMTP_PASSWORD")
    with pytest.raises(ConfigError, match="'SP_TEST_SMTP_PASSWORD'"):
        notifier.send(digests[0])


def test_allow_list_refuses_before_connecting(mailbox, ledger):
    handler, port = mailbox
    with pytest.raises(ConfigError, match=re.escape(_notifiers.HOST_REFUSED)) as info:
        SmtpNotifier("mail.elsewhere.example", port, sender="warn@campus.edu",
                     allowed_hosts=["mail.campus.edu"])
    assert "'mail.elsewhere.example'" in str(info.value)
    with pytest.raises(ConfigError, match=re.escape(_notifiers.EMPTY_ALLOW_LIST)):
        SmtpNotifier("127.0.0.1", port, sender="warn@campus.edu", allowed_hosts=[],
                     security="none")
    with pytest.raises(ConfigError, match=re.escape(_notifiers.HOST_REFUSED)):
        WebhookNotifier("https://hooks.elsewhere.example/x", allowed_hosts=[".campus.edu"])
    assert WebhookNotifier("https://a.hooks.campus.edu/x", allowed_hosts=[".campus.edu"])
    with pytest.raises(ConfigError, match=re.escape(_notifiers.PLAIN_HTTP)):
        WebhookNotifier("http://hooks.campus.edu/x", allowed_hosts=["hooks.campus.edu"])
    with pytest.raises(ConfigError, match="http"):
        WebhookNotifier("file:///etc/passwd", allowed_hosts=LOCAL)
    # a recipient outside the allowed domains: refused once, nothing sent, recorded
    notifier = plain_smtp(port, allowed_domains=["campus.edu"])
    digests = build_digests(week(), as_of=AS_OF, staff={"kim": "kim@gmail.example",
                                                        "lee": "lee@campus.edu"})
    report = send_digests(digests, notifier, ledger, retries=3, backoff=0.01)
    assert report.frame[["status", "attempts", "error_class"]].fillna("").values.tolist() == [
        ["failed", 1, "ConfigError"], ["sent", 1, ""]]
    assert [to for to, _ in handler.messages] == [["lee@campus.edu"]]
    assert _notifiers.DOMAIN_REFUSED in ledger.failures()["error"].iloc[0]
    # an advisor without an address
    nobody = build_digests(week(), as_of=AS_OF)[:1]
    assert send_digests(nobody, notifier, ledger).frame["error_class"].tolist() == [
        "ConfigError"]


# ------------------------------------------------------------------ the webhook receiver
class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Hook)
        self.arrivals: list[dict] = []
        self.plan: list[str] = []  # per request: "ok", "503", "404", "slow", "redirect"
        self.lock = threading.Lock()
        self.redirect_to = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook?token=abc"


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the standard library's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            mode = self.server.plan.pop(0) if self.server.plan else "ok"
            self.server.arrivals.append({"mode": mode, "headers": self.headers,  # case-insensitive
                                         "body": body, "path": self.path})
        if mode in ("slow", "hang"):
            time.sleep(1.5 if mode == "slow" else 8.0)
        code = {"ok": 200, "slow": 200, "hang": 200, "503": 503, "404": 404,
                "redirect": 307}[mode]
        with contextlib.suppress(OSError):
            self.send_response(code)
            if mode == "redirect":
                self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    def log_message(self, *args):  # keep the test output clean
        pass


@contextlib.contextmanager
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def hook_server():
    with receiver() as server:
        yield server


@pytest.fixture
def hook(hook_server):
    hook_server.arrivals.clear()
    hook_server.plan.clear()
    return hook_server


def test_webhook_posts_signed_payload_once(hook, ledger, monkeypatch):
    monkeypatch.setenv("SP_TEST_HOOK_SECRET", "sh4red")
    notifier = WebhookNotifier(hook.url, allowed_hosts=LOCAL, secret_env="SP_TEST_HOOK_SECRET")
    assert notifier.channel == hook.url.split("?")[0] and "abc" not in repr(notifier)
    digests = build_digests(week(), as_of=AS_OF)
    assert send_digests(digests, notifier, ledger).counts == {"sent": 2}
    assert send_digests(digests, notifier, ledger).counts == {"already_sent": 2}
    assert len(hook.arrivals) == 2
    for got, digest in zip(hook.arrivals, digests, strict=True):
        h = got["headers"]
        assert json.loads(got["body"]) == digest.payload
        assert h["Idempotency-Key"] == digest.key
        assert h["Content-Type"] == "application/json; charset=utf-8"
        assert h[SIGNATURE_HEADER] == sign_body(b"sh4red", h["X-StudentProfile-Timestamp"],
                                                got["body"])
        assert got["path"] == "/hook?token=abc"
    # the same digests on another channel are another delivery
    email_like = WebhookNotifier(hook.url.replace("/hook", "/hook2"), allowed_hosts=LOCAL)
    assert send_digests(digests, email_like, ledger).counts == {"sent": 2}
    assert len(ledger.sent()) == 4


def test_webhook_503_then_ok_and_404_not_retried(hook, ledger):
    notifier = WebhookNotifier(hook.url, allowed_hosts=LOCAL)
    digests = build_digests(week(), as_of=AS_OF)
    hook.plan[:] = ["503", "ok", "404"]
    report = send_digests(digests, notifier, ledger, retries=3, backoff=0.01)
    assert report.frame[["status", "attempts"]].values.tolist() == [["sent", 2], ["failed", 1]]
    assert [a["mode"] for a in hook.arrivals] == ["503", "ok", "404"]
    errors = ledger.failures()["error"].tolist()
    assert "HTTP 503" in errors[0] and "HTTP 404" in errors[1]


def test_webhook_slow_receiver_times_out_and_the_retry_carries_the_same_key(hook, ledger):
    notifier = WebhookNotifier(hook.url, allowed_hosts=LOCAL, timeout=0.5)
    digests = build_digests(week(), as_of=AS_OF)[:1]
    hook.plan[:] = ["slow", "ok"]
    report = send_digests(digests, notifier, ledger, backoff=0.01)
    assert report.frame[["status", "attempts"]].values.tolist() == [["sent", 2]]
    assert [a["headers"]["Idempotency-Key"] for a in hook.arrivals] == [digests[0].key] * 2
    assert "timed out" in ledger.failures()["error"].iloc[0]
    assert send_digests(digests, notifier, ledger).counts == {"already_sent": 1}


def test_webhook_down_and_redirect_not_followed(hook, ledger):
    down = WebhookNotifier(f"http://127.0.0.1:{free_port()}/hook", allowed_hosts=LOCAL)
    digests = build_digests(week(), as_of=AS_OF)[:1]
    report = send_digests(digests, down, ledger, retries=1, backoff=0.01)
    assert report.frame[["status", "attempts"]].values.tolist() == [["failed", 2]]
    with receiver() as elsewhere:
        hook.redirect_to = elsewhere.url
        hook.plan[:] = ["redirect"]
        moved = send_digests(digests, WebhookNotifier(hook.url, allowed_hosts=LOCAL), ledger,
                             retries=3, backoff=0.01)
        assert moved.frame[["status", "attempts"]].values.tolist() == [["failed", 1]]
        assert elsewhere.arrivals == []
    assert "HTTP 307" in ledger.failures()["error"].iloc[-1]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_senders_send_each_digest_once(hook, backend, tmp_path, request):
    target = (tmp_path / "ledger.db" if backend == "sqlite"
              else request.getfixturevalue("pg_url"))
    with NotificationLedger(target) as ledger:
        _concurrent_senders(hook, ledger, backend)


def _concurrent_senders(hook, ledger, backend):
    cases = make_cases([dict(case_id=f"c{i}", student_id=f"S{i}-{backend}",
                             owner=f"adv{i % 6}", opened_at=D("2026-11-12"))
                        for i in range(12)])
    digests = build_digests(cases, as_of=AS_OF)
    assert len(digests) == 6
    notifier = WebhookNotifier(hook.url, allowed_hosts=LOCAL)
    reports: list = []

    def run():
        # each sender its own ledger object on the same database (an engine passed in)
        reports.append(send_digests(digests, notifier, NotificationLedger(ledger.engine),
                                    backoff=0.01))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [a["headers"]["Idempotency-Key"] for a in hook.arrivals]
    assert sorted(keys) == sorted(d.key for d in digests)  # each exactly once
    statuses = pd.concat([r.frame for r in reports])["status"]
    assert (statuses == "sent").sum() == 6
    assert set(statuses) <= {"sent", "already_sent", "in_doubt", "claimed_elsewhere"}
    assert ledger.sent()["digest_key"].isin([d.key for d in digests]).sum() == 6


_SENDER = """
import sys
import pandas as pd
from studentprofile.warning import NotificationLedger, WebhookNotifier, build_digests, send_digests
cases = pd.read_parquet(sys.argv[1])
with NotificationLedger(sys.argv[2]) as ledger:
    send_digests(build_digests(cases, as_of=sys.argv[4]),
                 WebhookNotifier(sys.argv[3], allowed_hosts=["127.0.0.1"], timeout=30), ledger)
"""


def test_a_sender_killed_mid_send_leaves_the_digest_in_doubt_not_resent(hook, tmp_path):
    cases = week()
    cases.to_parquet(tmp_path / "cases.parquet")
    db = tmp_path / "ledger.db"
    hook.plan[:] = ["hang"]
    src = str(Path(__file__).resolve().parents[1] / "src")
    child = subprocess.Popen([sys.executable, "-c", _SENDER, str(tmp_path / "cases.parquet"),
                              str(db), hook.url, str(AS_OF.date())],
                             env={**os.environ, "PYTHONPATH": src})
    deadline = time.monotonic() + 60
    while not hook.arrivals and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(hook.arrivals) == 1
    digests = build_digests(cases, as_of=AS_OF)
    with NotificationLedger(db) as ledger:
        assert ledger.in_doubt()["digest_key"].tolist() == [digests[0].key]
        report = send_digests(digests, WebhookNotifier(hook.url, allowed_hosts=LOCAL), ledger)
        assert report.frame["status"].tolist() == ["in_doubt", "sent"]
        assert len(ledger.sent()) == 1
    keys = [a["headers"]["Idempotency-Key"] for a in hook.arrivals]
    assert keys == [digests[0].key, digests[1].key]  # the first was never posted twice
    # a person checks with the receiver: it never arrived; the next run sends it
    with NotificationLedger(db) as ledger:
        with pytest.raises(ConfigError, match="outcome"):
            ledger.settle(digests[0].key, channel=hook.url.split("?")[0], outcome="maybe")
        assert ledger.settle(digests[0].key, channel=hook.url.split("?")[0], outcome="failed",
                             note="kim: not received") == 1
        assert len(ledger.in_doubt()) == 0
        assert ledger.failures()["error"].tolist() == ["settled by hand: kim: not received"]
        again = send_digests(digests, WebhookNotifier(hook.url, allowed_hosts=LOCAL), ledger)
        assert again.frame["status"].tolist() == ["sent", "already_sent"]
        assert ledger.sent()["attempt"].tolist() == [1, 2]


# ------------------------------------------------------------------- logs and the ledger
def test_no_student_data_in_logs(hook, mailbox, ledger, caplog):
    handler, port = mailbox
    secret_ids = ["STU-<script>-917", "Zoë O'Brien 2024", "=HYPERLINK(1)"]
    cases = make_cases([
        dict(case_id=f"case-{i}", student_id=sid, owner="Dr. Ada Lovelace",
             reason_codes="counselling_visits;very_private_reason",
             reason_families="wellbeing", opened_at=D("2026-11-12"))
        for i, sid in enumerate(secret_ids)
    ])
    digests = build_digests(cases, as_of=AS_OF, staff={"Dr. Ada Lovelace": "ada@campus.edu"})
    handler.fail_next = 1
    hook.plan[:] = ["503"]
    with caplog.at_level(logging.DEBUG):
        send_digests(digests, plain_smtp(port), ledger, backoff=0.01)
        send_digests(digests, WebhookNotifier(hook.url, allowed_hosts=LOCAL), ledger,
                     backoff=0.01)
        send_digests(digests, plain_smtp(free_port()), ledger, retries=0)
    # every record but the test SMTP server's own ("mail.log", which prints what it receives)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert advisor_hash("Dr. Ada Lovelace") in text and "NotificationError" in text
    for private in [*secret_ids, "case-0", "very_private_reason", "wellbeing", "Ada",
                    "ada@campus.edu", "Lovelace"]:
        assert private not in text, private
    assert "Dr. Ada" not in repr(digests[0])


def test_ledger_is_append_only_in_the_database(ledger, mailbox):
    _, port = mailbox
    send_digests(build_digests(week(), as_of=AS_OF, staff=STAFF), plain_smtp(port), ledger)
    for table in ("notification_attempts", "notification_results", "notification_meta"):
        for stmt in (f"UPDATE {table} SET {'value' if 'meta' in table else 'digest_key'} = 'x'",
                     f"DELETE FROM {table}"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                with ledger.engine.begin() as con:
                    con.execute(sa.text(stmt))
    assert len(ledger.sent()) == 2


def test_ledger_refuses_bad_targets_and_newer_versions(tmp_path):
    with pytest.raises(ConfigError, match="folder"):
        NotificationLedger(tmp_path)
    with pytest.raises(ConfigError, match="path, a URL or an engine"):
        NotificationLedger(42)
    with pytest.raises(OutputError, match="could not be opened"):
        NotificationLedger(tmp_path / "missing-folder" / "x" / "ledger.db")
    newer = sa.create_engine(f"sqlite:///{tmp_path / 'newer.db'}")
    with newer.begin() as con:
        con.execute(sa.text("CREATE TABLE notification_meta (key VARCHAR(64) PRIMARY KEY, "
                            "value TEXT NOT NULL)"))
        con.execute(sa.text("INSERT INTO notification_meta VALUES ('schema_version', '99')"))
    newer.dispose()
    with pytest.raises(ConfigError, match="newer studentprofile"):
        NotificationLedger(tmp_path / "newer.db")


def test_send_digests_checks_its_arguments(ledger, hook):
    notifier = WebhookNotifier(hook.url, allowed_hosts=LOCAL)
    digests = build_digests(week(), as_of=AS_OF)
    with pytest.raises(ConfigError, match="retries"):
        send_digests(digests, notifier, ledger, retries=-1)
    with pytest.raises(ConfigError, match="backoff"):
        send_digests(digests, notifier, ledger, backoff=float("nan"))
    with pytest.raises(ConfigError, match="build_digests"):
        send_digests([{"key": "x"}], notifier, ledger)
    with pytest.raises(ConfigError, match="`channel` and a `send"):
        send_digests(digests, "smtp://mail", ledger)
    assert isinstance(digests[0], Digest) and hook.arrivals == []


# ------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def pg_url():
    from _pg_server import postgres_server

    with postgres_server() as url:
        yield url


def test_ledger_on_postgresql(pg_url, hook):
    with NotificationLedger(pg_url) as ledger, NotificationLedger(pg_url) as again:
        _ledger_on_postgresql(ledger, again, hook)


def mine(frame, digests):
    # the PostgreSQL database is shared by the module's tests: count this test's rows
    return int(frame["digest_key"].isin([d.key for d in digests]).sum())


def _ledger_on_postgresql(ledger, again, hook):
    # `again` opens an existing ledger: that changes nothing
    notifier = WebhookNotifier(hook.url, allowed_hosts=LOCAL)
    digests = build_digests(week(), as_of=AS_OF)
    hook.plan[:] = ["503"]
    assert send_digests(digests, notifier, ledger, backoff=0.01).counts == {"sent": 2}
    assert send_digests(digests, notifier, again).counts == {"already_sent": 2}
    assert len(hook.arrivals) == 3 and mine(again.failures(), digests) == 1
    for stmt in ("UPDATE notification_results SET outcome = 'sent'",
                 "DELETE FROM notification_attempts", "TRUNCATE notification_results"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with ledger.engine.begin() as con:
                con.execute(sa.text(stmt))
    assert "sp@" in ledger.where and mine(ledger.sent(), digests) == 2


# ------------------------------------------------------------------------------ property
@settings(deadline=None, max_examples=25)
@given(st.lists(st.tuples(st.sampled_from(["kim", "lee", "", "Zoë"]),
                          st.integers(0, 20), st.integers(0, 14),
                          st.sampled_from(["open", "contacted", "closed"]),
                          st.one_of(st.none(), st.integers(0, 20))),
                min_size=1, max_size=25))
def test_every_listed_case_is_the_advisors_own_and_listed_once(rows):
    start = D("2026-11-01")
    cases = make_cases([
        dict(case_id=f"c{i}", student_id=f"S{i}", owner=owner or None,
             opened_at=start + pd.Timedelta(days=o), as_of=start + pd.Timedelta(days=o),
             due_first_contact=start + pd.Timedelta(days=o + d), status=status,
             first_contact_at=None if f is None else start + pd.Timedelta(days=o + f),
             closed_at=start + pd.Timedelta(days=o) if status == "closed" else None)
        for i, (owner, o, d, status, f) in enumerate(rows)
    ])
    digests = build_digests(cases, as_of=AS_OF)
    owner_of = dict(zip(cases["case_id"], cases["owner"], strict=True))
    seen: list[str] = []
    for digest in digests:
        items = digest.payload["overdue"] + digest.payload["new"]
        assert items and len(items) == digest.n_new + digest.n_overdue
        for it in items:
            assert owner_of[it["case_id"]] == digest.advisor
            assert it["status"] != "closed"
        seen += [it["case_id"] for it in items]
    assert len(seen) == len(set(seen))
