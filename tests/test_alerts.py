"""Alerts: rules on detected calls, the outbox, and real sinks on loopback (HTTP and SMTP)."""

from __future__ import annotations

import email
import json
import logging
import os
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner
from service_fixtures import (
    EPOCH0,
    PORT_LAT,
    PORT_LON,
    free_port,
    tag,
    untagged,
    voyage_lines,
)

from monitor.alerts.dispatch import AlertDispatcher
from monitor.alerts.outbox import Outbox
from monitor.alerts.sinks import JsonlSink
from monitor.analyse.watchlist import load_watchlist
from monitor.cli import main
from monitor.config import Settings, parse_config
from monitor.errors import ConfigError
from monitor.service.archive import Archive
from monitor.service.jobs import Jobs
from monitor.service.lines import LineStamper

WEBHOOK_TOKEN = "T000-SECRET-hook-token-4f9a"
SMTP_PASSWORD = "smtp-pass-7c1e-SECRET"


def _settings(tmp_path: Path, alerts: str) -> Settings:
    text = (
        f'[store]\npath = "{tmp_path / "store"}"\n'
        f'[report]\noutput = "{tmp_path / "reports"}"\n'
        "[[geofences.circles]]\n"
        f'id = "testport"\nname = "Test Port"\nlat = {PORT_LAT}\nlon = {PORT_LON}\n'
        "radius_m = 3000\n"
        f'[service]\narchive_dir = "{tmp_path / "archive"}"\n' + alerts
    )
    return parse_config(text, tmp_path / "c.toml")


def _traffic() -> list[str]:
    """Three voyages into the test port, and one vessel first seen already inside it."""
    lines = (
        voyage_lines(366_000_001, EPOCH0, name="ALPHA", stay_h=6)
        + voyage_lines(366_000_002, EPOCH0 + 600, name="BRAVO", stay_h=2)
        + voyage_lines(366_000_003, EPOCH0 + 1200, name="WATCHED  ONE", stay_h=1)
    )
    inside = [
        tag(untagged(i, mmsi=366_000_004, lat=PORT_LAT, lon=PORT_LON), EPOCH0 + 3000 + 180 * i)
        for i in range(60)
    ]
    lines += inside
    return sorted(lines, key=lambda line: int(line.split("c:")[1].split("*")[0]))


def _run(settings: Settings, lines: list[str], dispatcher: AlertDispatcher) -> Jobs:
    archive = Archive(settings.service.archive_dir)
    archive.start()
    archive.put("shore", LineStamper().stamp([x.encode() for x in lines], EPOCH0 * 1000))
    archive.stop()
    jobs = Jobs(settings, archive, [], alerts=dispatcher)
    jobs.cycle()
    return jobs


RULES = """
[alerts]
max_age_h = 48
feed_start_grace_h = 0.5
[[alerts.rules]]
name = "arrivals"
when = "arrival"
ports = ["testport"]
[[alerts.rules]]
name = "unseen"
when = "arrival_not_observed"
[[alerts.rules]]
name = "departures"
when = "departure"
[[alerts.rules]]
name = "long"
when = "long_stay"
min_duration_h = 4
[[alerts.rules]]
name = "watched"
when = "watchlist"
watchlist = "watch.csv"
"""


def test_rules_raise_each_alert_once_with_stable_ids(tmp_path: Path) -> None:
    (tmp_path / "watch.csv").write_text("mmsi,imo,name\n,,watched one\n,9000002,\n")
    jsonl = tmp_path / "alerts.jsonl"
    settings = _settings(tmp_path, RULES + f'[[alerts.sinks]]\ntype = "jsonl"\npath = "{jsonl}"\n')
    dispatcher = AlertDispatcher(settings)
    jobs = _run(settings, _traffic(), dispatcher)
    sent = [json.loads(line) for line in jsonl.read_text().splitlines()]
    got = sorted((a["rule"], a["mmsi"]) for a in sent)
    assert got == sorted(
        [
            ("arrivals", 366_000_001),
            ("arrivals", 366_000_002),
            ("arrivals", 366_000_003),
            ("unseen", 366_000_004),
            ("departures", 366_000_001),
            ("departures", 366_000_002),
            ("departures", 366_000_003),
            ("long", 366_000_001),
            ("watched", 366_000_002),  # by IMO
            ("watched", 366_000_003),  # by name, whatever the spacing and case
        ]
    )
    alpha = next(a for a in sent if a["rule"] == "arrivals" and a["mmsi"] == 366_000_001)
    assert alpha["vessel_name"] == "ALPHA" and alpha["port_id"] == "testport"
    assert alpha["when"] == "arrival" and alpha["event_utc"].startswith("2024-05-01T00:")
    assert alpha["report"].endswith("/latest/index.html")
    assert "ALPHA (MMSI 366000001" in alpha["text"] and "Test Port" in alpha["text"]
    long_stay = next(a for a in sent if a["rule"] == "long")
    assert long_stay["event_utc"] > long_stay["arrival_utc"]
    # Another round, and another dispatcher on the same store: nothing new, nothing resent.
    jobs.cycle()
    AlertDispatcher(settings)()
    assert len(jsonl.read_text().splitlines()) == len(sent)
    assert len({a["alert_id"] for a in sent}) == len(sent)


def test_a_vessel_inside_when_the_feed_began_is_no_unseen_arrival(tmp_path: Path) -> None:
    # 366000004 is first seen inside 50 min after the first message: within the default 1 h
    # grace it was there when the feed began; the observed arrivals still alert.
    settings = _settings(tmp_path, RULES.replace("feed_start_grace_h = 0.5\n", ""))
    (tmp_path / "watch.csv").write_text("mmsi\n")
    dispatcher = AlertDispatcher(settings)
    _run(settings, _traffic(), dispatcher)
    rules = [e.payload["rule"] for e in Outbox(settings.store.folder()).entries()]
    assert "unseen" not in rules and rules.count("arrivals") == 3


def test_old_events_are_history_and_raise_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, RULES.replace("max_age_h = 48", "max_age_h = 1"))
    (tmp_path / "watch.csv").write_text("mmsi\n366000001\n")
    dispatcher = AlertDispatcher(settings)
    _run(settings, _traffic(), dispatcher)
    events = [e.payload for e in Outbox(settings.store.folder()).entries()]
    # Only what happened in the last hour of data: the last departures.
    assert events and all(a["rule"] == "departures" for a in events)


def test_a_line_written_before_a_crash_is_not_written_again(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    alert = {"alert_id": "abc", "text": "x"}
    JsonlSink("j", path).send(alert)
    with path.open("a") as handle:
        handle.write('{"alert_id": "cut sh')  # a crash in the middle of the next line
    JsonlSink("j", path).send(alert)  # after a restart: the outbox still says pending
    JsonlSink("j", path).send({"alert_id": "def", "text": "y"})
    lines = path.read_text().splitlines()
    assert [json.loads(x)["alert_id"] for x in (lines[0], lines[2])] == ["abc", "def"]


class _Webhook(BaseHTTPRequestHandler):
    fail_first = 0
    received: ClassVar[list[dict[str, Any]]] = []
    calls = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls += 1
        if type(self).calls <= type(self).fail_first or not self.path.endswith(WEBHOOK_TOKEN):
            self.send_response(503)
            self.end_headers()
            return
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Webhook]]]:
    handler = type("Handler", (_Webhook,), {"received": [], "calls": 0, "fail_first": 5})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/{WEBHOOK_TOKEN}", handler
    server.shutdown()
    server.server_close()


def test_a_webhook_that_fails_the_first_tries_gets_each_alert_once(
    tmp_path: Path,
    webhook: tuple[str, type[_Webhook]],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, handler = webhook
    monkeypatch.setenv("TEST_HOOK_URL", url)
    settings = _settings(
        tmp_path,
        RULES.split('[[alerts.rules]]\nname = "unseen"')[0]
        + '[[alerts.sinks]]\ntype = "webhook"\nurl_env = "TEST_HOOK_URL"\nretries = 2\n'
        "backoff_s = 0.01\ntimeout_s = 5\n",
    )
    dispatcher = AlertDispatcher(settings)
    with caplog.at_level(logging.WARNING):
        _run(settings, _traffic(), dispatcher)
        pending = [e for e in Outbox(settings.store.folder()).entries() if e.sent_utc is None]
        assert len(pending) == 3  # two attempts for the first in the round, both refused
        (tried,) = [e for e in pending if e.attempts]
        assert tried.attempts == 1 and "HTTP 503" in (tried.last_error or "")
        for _ in range(4):
            dispatcher.send_pending()
    assert sorted(a["mmsi"] for a in handler.received) == [366_000_001, 366_000_002, 366_000_003]
    assert all(e.sent_utc for e in Outbox(settings.store.folder()).entries())
    everything = caplog.text + json.dumps(
        [e.to_dict() for e in Outbox(settings.store.folder()).entries()]
    )
    assert WEBHOOK_TOKEN not in everything


def _smtp_server(
    tmp_path: Path,
) -> tuple[Controller, list[Any], Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == b"monitor"
            and data.password == SMTP_PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    return controller, received, ca_file


def test_an_smtp_server_on_loopback_receives_the_alert_over_starttls_with_login(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    controller, received, ca_file = _smtp_server(tmp_path)
    password_file = tmp_path / "smtp.secret"
    password_file.write_text(SMTP_PASSWORD + "\n")
    try:
        sink = (
            '[[alerts.sinks]]\ntype = "smtp"\nhost = "127.0.0.1"\n'
            f'port = {controller.port}\nusername = "monitor"\n'
            f'password_file = "{password_file}"\nsender = "monitor@example.org"\n'
            f'to = ["analyst@example.org"]\nca_file = "{ca_file}"\nbackoff_s = 0\n'
        )
        rules = '[alerts]\nmax_age_h = 48\n[[alerts.rules]]\nname = "long"\nwhen = "long_stay"\n'
        settings = _settings(tmp_path, rules + "min_duration_h = 4\n" + sink)
        with caplog.at_level(logging.INFO):
            _run(settings, _traffic(), AlertDispatcher(settings))
        (envelope,) = received
        message = email.message_from_bytes(envelope.content)
        (entry,) = Outbox(settings.store.folder()).entries()
        assert entry.sent_utc is not None
        assert envelope.rcpt_tos == ["analyst@example.org"]
        assert message["Message-ID"] == f"<{entry.alert_id}@monitor.alerts>"
        assert "ALPHA" in message["Subject"]
        assert SMTP_PASSWORD not in caplog.text

        # A wrong password: refused, pending, and the error does not show the password.
        password_file.write_text("wrong-password-xyz")
        bad = _settings(tmp_path / "other", rules + "min_duration_h = 4\n" + sink)
        _run(bad, _traffic(), AlertDispatcher(bad))
        (pending,) = Outbox(bad.store.folder()).entries()
        assert pending.sent_utc is None and "login refused" in (pending.last_error or "")
        assert "wrong-password-xyz" not in (pending.last_error or "")
    finally:
        controller.stop()


def test_alerts_command_lists_sent_and_pending(tmp_path: Path) -> None:
    settings = _settings(tmp_path, RULES.split('[[alerts.rules]]\nname = "unseen"')[0])
    outbox = Outbox(settings.store.folder())
    alert = {
        "alert_id": "a1",
        "rule": "arrivals",
        "when": "arrival",
        "event_utc": "2024-05-01T01:00:00Z",
        "vessel_name": "<b>ALPHA</b>",
        "mmsi": 1,
        "port_id": "testport",
        "port_name": "Test Port",
    }
    outbox.add([alert, {**alert, "alert_id": "a2", "event_utc": "2024-04-01T00:00:00Z"}], ["log"])
    outbox.mark_sent("a1", "log")
    outbox.mark_failed("a2", "log", "no answer")
    runner = CliRunner()
    result = runner.invoke(
        main, ["alerts", "--store", str(settings.store.folder())], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "2 alert(s), 1 pending" in result.output
    assert "sent 20" in result.output and "pending (1 attempt(s): no answer)" in result.output
    assert "<b>ALPHA</b>" in result.output
    result = runner.invoke(
        main, ["alerts", "--store", str(settings.store.folder()), "--since", "2024-04-15", "--json"]
    )
    assert [json.loads(x)["alert_id"] for x in result.output.splitlines()] == ["a1"]


def test_watchlist_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("mmsi,name\n123,A\nabc,B\n")
    with pytest.raises(ConfigError, match=r"w\.csv, line 3: mmsi 'abc'"):
        load_watchlist(path)
    path.write_text("vessel\nX\n")
    with pytest.raises(ConfigError, match="header line"):
        load_watchlist(path)


def test_unknown_ports_and_missing_secrets_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(
        tmp_path, '[[alerts.rules]]\nname = "a"\nwhen = "arrival"\nports = ["nampoo"]\n'
    )
    with pytest.raises(ConfigError, match=r"alerts.rules\[0\].ports: 'nampoo' is not a port"):
        AlertDispatcher(settings)
    monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
    settings = _settings(
        tmp_path,
        '[[alerts.rules]]\nname = "a"\nwhen = "arrival"\n'
        '[[alerts.sinks]]\ntype = "webhook"\nurl_env = "NO_SUCH_HOOK"\n',
    )
    with pytest.raises(ConfigError, match="NO_SUCH_HOOK, which is not set"):
        AlertDispatcher(settings)


def test_config_check_warns_about_an_inline_secret_that_others_can_read(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[[geofences.circles]]\nid = "p"\nname = "P"\nlat = 1\nlon = 1\nradius_m = 100\n'
        '[[alerts.rules]]\nname = "a"\nwhen = "arrival"\n'
        '[[alerts.sinks]]\ntype = "webhook"\n'
        f'url = "https://hooks.example.org/{WEBHOOK_TOKEN}"\n'
    )
    os.chmod(config, 0o644)
    result = CliRunner().invoke(main, ["config", "check", str(config)])
    assert result.exit_code == 0, result.output
    assert "url is written in" in result.output and "everyone" in result.output
    assert WEBHOOK_TOKEN not in result.output
    os.chmod(config, 0o600)
    result = CliRunner().invoke(main, ["config", "check", str(config)])
    assert "url is written in" not in result.output
    assert WEBHOOK_TOKEN not in result.output


def test_a_secret_of_the_wrong_type_is_not_echoed_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config('[[alerts.sinks]]\ntype = "smtp"\npassword = 83745519\n')
    assert "83745519" not in str(err.value)
    assert "alerts.sinks[0].password" in str(err.value)
