"""SMS channel configuration: SMPP connections per number or number range, queue expiry, Smart Encoding
and opt-out keywords. Read from `HUBBUB_SMS_CONFIG`: a path to a TOML or JSON file, or a JSON document
inline. See docs/sms.md for every key."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_EXPIRY = 36_000  # 10 hours, Twilio's default ValidityPeriod

STOP_KEYWORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
START_KEYWORDS = ("START", "YES", "UNSTOP")
HELP_KEYWORDS = ("HELP", "INFO")
STOP_REPLY = ("You have successfully been unsubscribed. You will not receive any more messages from this "
              "number. Reply START to resubscribe.")
START_REPLY = ("You have successfully been re-subscribed to messages from this number. Reply HELP for help. "
               "Reply STOP to unsubscribe.")
HELP_REPLY = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Connection:
    """One SMPP bind (or TX + RX pair) and the numbers it sends from and receives for."""

    name: str
    numbers: tuple[str, ...]  # "+15005550006" exactly, or a prefix ending in "*": "+1500555*"
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    bind: str = "transceiver"  # or "transmitter+receiver"
    tls: bool = False
    window: int = 10
    max_unrecorded: int = 100  # parts submitted whose acceptance is not committed yet (the re-send bound)
    submits_per_second: float = 0.0  # 0: as fast as the window allows
    connect_timeout: float = 10.0
    enquire_link_interval: float = 30.0  # seconds between Hubbub's own enquire_link to the SMSC
    response_timeout: float = 10.0  # seconds an SMSC answer may take before the link counts as dead
    tls_ca: str | None = None  # PEM file of the CA(s) to trust; None: the system's
    tls_verify: bool = True  # False: accept any certificate (testing only)
    tls_server_name: str | None = None  # name to verify the certificate against; default: host
    tls_cert: str | None = None  # client certificate (PEM), if the SMSC asks for one
    tls_key: str | None = None
    account_sid: str | None = None  # owner of unrouted inbound on these numbers (default: first account)

    def serves(self, number: str) -> bool:
        return any(number.startswith(p[:-1]) if p.endswith("*") else number == p for p in self.numbers)


@dataclass(frozen=True)
class KeywordSet:
    """Opt-out keywords and replies of one language."""

    stop: tuple[str, ...] = ()
    start: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    stop_reply: str | None = None
    start_reply: str | None = None
    help_reply: str | None = None


@dataclass(frozen=True)
class OptOut:
    enabled: bool = True
    default: KeywordSet = KeywordSet(STOP_KEYWORDS, START_KEYWORDS, HELP_KEYWORDS, STOP_REPLY, START_REPLY,
                                     HELP_REPLY)
    languages: tuple[KeywordSet, ...] = ()

    def classify(self, body: str) -> tuple[str, str | None] | None:
        """("stop" | "start" | "help", the reply) when the body is exactly one keyword, any case."""
        if not self.enabled:
            return None
        word = body.strip().upper()
        if not word or any(c.isspace() for c in word):
            return None
        for keywords in (self.default, *self.languages):
            for kind in ("stop", "start", "help"):
                if word in getattr(keywords, kind):
                    reply = getattr(keywords, f"{kind}_reply")
                    if reply is None:
                        reply = getattr(self.default, f"{kind}_reply")
                    return kind, reply or None
        return None


@dataclass(frozen=True)
class SmsConfig:
    connections: tuple[Connection, ...]
    expiry: int = DEFAULT_EXPIRY
    smart_encoding: bool = True
    smart_encoding_off: frozenset[str] = field(default_factory=frozenset)  # IS… services without it
    opt_out: OptOut = OptOut()
    # number → its connection, filled as numbers are looked up (once per SMS queued)
    _routes: dict[str, Connection | None] = field(default_factory=dict, init=False, repr=False, compare=False)

    def connection_for(self, number: str | None) -> Connection | None:
        if not number:
            return None
        routes = self._routes
        if number in routes:
            return routes[number]
        found = self._connection_for(number)
        if len(routes) >= 100_000:
            routes.clear()
        routes[number] = found
        return found

    def _connection_for(self, number: str) -> Connection | None:
        exact = [c for c in self.connections if number in c.numbers]
        if exact:
            return exact[0]
        return next((c for c in self.connections if c.serves(number)), None)

    def smart_encoding_for(self, service_sid: str | None) -> bool:
        return self.smart_encoding and service_sid not in self.smart_encoding_off


def load(value: str | None) -> SmsConfig | None:
    """The configuration from `HUBBUB_SMS_CONFIG` (a file path or inline JSON); None when SMS is off."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("{"):
        data = json.loads(text)
    else:
        path = Path(text)
        raw = path.read_text()
        data = tomllib.loads(raw) if path.suffix.lower() == ".toml" else json.loads(raw)
    return parse(data.get("sms", data))


def _keywords(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(k, str) and k.strip() for k in raw):
        raise ConfigError(f"{where} must be a list of words")
    return tuple(k.strip().upper() for k in raw)


def _keyword_set(raw: dict[str, Any], where: str, base: KeywordSet | None = None) -> KeywordSet:
    def words(kind: str) -> tuple[str, ...]:
        given = _keywords(raw.get(f"{kind}_keywords"), f"{where}.{kind}_keywords")
        extra = _keywords(raw.get(f"extra_{kind}_keywords"), f"{where}.extra_{kind}_keywords")
        if base is not None and not given:
            given = getattr(base, kind)
        return tuple(dict.fromkeys(given + extra))

    def reply(kind: str) -> str | None:
        value = raw.get(f"{kind}_reply", getattr(base, f"{kind}_reply") if base else None)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}.{kind}_reply must be a string")
        return value

    return KeywordSet(words("stop"), words("start"), words("help"), reply("stop"), reply("start"), reply("help"))


def _optional_path(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value in (None, ""):
        return None
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise ConfigError(f"{where}.{key}: no such file {str(path)!r}")
    return str(path)


def _connection(raw: dict[str, Any], index: int) -> Connection:
    where = f"connections[{index}]"
    try:
        numbers = raw["numbers"]
        if isinstance(numbers, str):
            numbers = [numbers]
        bind = str(raw.get("bind", "transceiver")).lower()
        if bind in ("trx", "transceiver"):
            bind = "transceiver"
        elif bind in ("tx+rx", "transmitter+receiver", "separate"):
            bind = "transmitter+receiver"
        else:
            raise ConfigError(f"{where}.bind must be 'transceiver' or 'transmitter+receiver'")
        conn = Connection(
            name=str(raw.get("name") or f"smpp{index}"),
            numbers=tuple(str(n) for n in numbers),
            host=str(raw["host"]),
            port=int(raw.get("port", 2775)),
            system_id=str(raw["system_id"]),
            password=str(raw.get("password", "")),
            system_type=str(raw.get("system_type", "")),
            bind=bind,
            tls=bool(raw.get("tls", False)),
            window=int(raw.get("window", 10)),
            max_unrecorded=int(raw.get("max_unrecorded", 100)),
            submits_per_second=float(raw.get("submits_per_second", 0)),
            connect_timeout=float(raw.get("connect_timeout", 10)),
            enquire_link_interval=float(raw.get("enquire_link_interval", 30)),
            response_timeout=float(raw.get("response_timeout", 10)),
            tls_ca=_optional_path(raw, "tls_ca", where),
            tls_verify=bool(raw.get("tls_verify", True)),
            tls_server_name=str(raw["tls_server_name"]) if raw.get("tls_server_name") else None,
            tls_cert=_optional_path(raw, "tls_cert", where),
            tls_key=_optional_path(raw, "tls_key", where),
            account_sid=raw.get("account_sid"),
        )
    except KeyError as exc:
        raise ConfigError(f"{where} needs '{exc.args[0]}'") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where}: {exc}") from None
    if not conn.numbers:
        raise ConfigError(f"{where}.numbers must name at least one number or range")
    if not 1 <= conn.window <= 1000:
        raise ConfigError(f"{where}.window must be 1..1000")
    if not 1 <= conn.max_unrecorded <= 100_000:
        raise ConfigError(f"{where}.max_unrecorded must be 1..100000")
    if conn.submits_per_second < 0:
        raise ConfigError(f"{where}.submits_per_second must not be negative")
    if not 0.5 <= conn.enquire_link_interval <= 3600:
        raise ConfigError(f"{where}.enquire_link_interval must be 0.5..3600 seconds")
    if not 0.5 <= conn.response_timeout <= 30:  # the library's own response timer is 30 s
        raise ConfigError(f"{where}.response_timeout must be 0.5..30 seconds")
    if conn.connect_timeout <= 0:
        raise ConfigError(f"{where}.connect_timeout must be positive")
    if conn.tls_key and not conn.tls_cert:
        raise ConfigError(f"{where}.tls_key needs tls_cert")
    if not conn.tls and (conn.tls_ca or conn.tls_cert):
        raise ConfigError(f"{where}: tls_ca / tls_cert are set but tls is false")
    return conn


def parse(data: dict[str, Any]) -> SmsConfig:
    raw_connections = data.get("connections") or []
    if not isinstance(raw_connections, list) or not raw_connections:
        raise ConfigError("the SMS configuration needs at least one entry in 'connections'")
    connections = tuple(_connection(c, i) for i, c in enumerate(raw_connections))
    names = [c.name for c in connections]
    if len(set(names)) != len(names):
        raise ConfigError("connection names must be unique")
    opt = data.get("opt_out") or {}
    default = OptOut().default
    opt_out = OptOut(
        enabled=bool(opt.get("enabled", True)),
        default=_keyword_set(opt, "opt_out", default),
        languages=tuple(_keyword_set(lang, f"opt_out.languages[{i}]")
                        for i, lang in enumerate(opt.get("languages") or [])),
    )
    expiry = int(data.get("expiry_seconds", DEFAULT_EXPIRY))
    if expiry <= 0:
        raise ConfigError("expiry_seconds must be positive")
    return SmsConfig(
        connections=connections,
        expiry=expiry,
        smart_encoding=bool(data.get("smart_encoding", True)),
        smart_encoding_off=frozenset(data.get("smart_encoding_off_services") or ()),
        opt_out=opt_out,
    )
