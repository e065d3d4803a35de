"""A real Mosquitto broker for tests and benchmarks, and a subscriber that
records what arrives.  Shared by tests/test_mqtt.py and benchmarks/bench_mqtt.py.

The broker is Debian's /usr/sbin/mosquitto on a free 127.0.0.1 port, with a
config file written here; never a mock.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """Mosquitto in ``workdir``.  ``users``: {name: password} (then no
    anonymous login); ``tls``: (certfile, keyfile) for a TLS listener.
    Persistence with a 1-s autosave, so a kill -9 keeps subscribers' sessions."""

    def __init__(self, workdir: Path, *, users: dict[str, str] | None = None, tls: tuple | None = None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        import getpass
        # user: as root mosquitto would switch to its own user, who cannot write here
        lines = [f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1", "persistence true",
                 f"persistence_location {self.dir}/",
                 "autosave_interval 1", f"log_dest file {self.dir}/mosquitto.log", "log_type all"]
        if users:
            pw = self.dir / "passwd"
            pw.write_text("")
            for name, secret in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), name, secret], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if tls:
            lines += [f"certfile {tls[0]}", f"keyfile {tls[1]}"]
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 10.0) -> "Broker":
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            if self.proc.poll() is not None:
                raise AssertionError(f"mosquitto exited {self.proc.returncode}: {self.proc.stderr.read()[-800:]!r} "
                                     f"{self.log()[-800:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("mosquitto did not listen")

    def kill(self) -> None:
        """kill -9: the broker dies as in a power cut."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def pause(self) -> None:
        """SIGSTOP: the broker keeps its port but stops answering."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def log(self) -> str:
        p = self.dir / "mosquitto.log"
        return p.read_text(errors="replace") if p.exists() else ""


class Subscriber:
    """A paho client that records every message on ``topics`` as
    (topic, payload str, retain).  ``session``: a fixed client id and a
    persistent session, so messages published while it is away (broker
    restarting) are queued for it."""

    def __init__(self, port: int, topics: list[str], *, session: str | None = None, tls_ca=None,
                 username=None, password=None):
        self.messages: list[tuple[str, str, bool]] = []
        self.lock = threading.RLock()
        self.topics = topics
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=session or "",
                             clean_session=session is None)
        if tls_ca:
            self.c.tls_set(ca_certs=tls_ca)
        if username:
            self.c.username_pw_set(username, password)
        self.c.reconnect_delay_set(0.2, 1)
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.subscribed = threading.Event()
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        if not self.subscribed.wait(10):
            raise AssertionError("test subscriber could not subscribe")

    def _on_connect(self, client, userdata, flags, reason, properties):
        if not flags.session_present:
            client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload.decode(errors="replace"), bool(msg.retain)))

    def on(self, suffix: str) -> list[tuple[str, str, bool]]:
        with self.lock:
            return [m for m in self.messages if m[0].endswith(suffix)]

    def wait(self, pred, timeout: float = 30.0, what: str = "messages"):
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            with self.lock:
                got = pred(list(self.messages))
            if got:
                return got
            time.sleep(0.05)
        with self.lock:
            seen = [(t, p[:120]) for t, p, _ in self.messages][-30:]
        raise AssertionError(f"no {what} within {timeout:g} s; last seen: {seen}")

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def summaries(messages, device: str | None = None) -> list[dict]:
    return [json.loads(p) for t, p, _ in messages
            if t.endswith("/summary") and p and (device is None or t.split("/")[-2] == device)]


def write_config(path: Path, port: int, device_id: str, **extra) -> Path:
    """A settings file with an [mqtt] section for ``device_id``."""
    kv = {"host": "127.0.0.1", "port": port, "device_id": device_id, **extra}
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in kv.items())
    path.write_text(f"[mqtt]\n{body}\n")
    return path


def start_daemon(data_dir: Path, config: Path | None, source: str = "sim", seed: int = 0,
                 speed: float | None = None) -> subprocess.Popen:
    """``twitchmon run --source sim --always`` on its own data dir and config, output as text;
    ``speed``: the simulated signal that many times faster than real time ($TWITCHMON_SIM_SPEED)."""
    cmd = [sys.executable, "-m", "firmware_host.cli", "run", "--source", source, "--always",
           "--data-dir", str(data_dir), "--seed", str(seed)]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1",
                                 **({"TWITCHMON_SIM_SPEED": str(speed)} if speed else {})})


def stop_daemon(p: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=timeout)
    return out, err


def self_signed_ca(d: Path, name: str) -> tuple[Path, object, object]:
    """A CA certificate (PEM file) and its key, made here with ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = d / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, cert, key


def server_cert(d: Path, ca_cert, ca_key) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by the CA, and its key (PEM files)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    crt, keyf = d / "server.pem", d / "server.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyf.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    os.chmod(keyf, 0o600)
    return crt, keyf
