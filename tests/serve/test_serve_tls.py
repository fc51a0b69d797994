"""`sts serve` over TLS: a certificate made at test time, wss and https end to end."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.serve.live import TEST_CONFIG, ServerProcess, issue
from transports.feed_client import FeedError, Subscriber, post_ticket

pytestmark = pytest.mark.slow


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_the_feed_over_wss_and_no_plaintext(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    config = TEST_CONFIG + f'\n[tls]\ncert = "{cert}"\nkey = "{key}"\n'
    server = ServerProcess(tmp_path, config=config).start()
    token = issue(server.data, "safety", "Sam")
    context = ssl.create_default_context(cafile=str(cert))
    https = server.url.replace("http://", "https://")

    async def run() -> None:
        async with Subscriber(https, token, ssl_context=context) as feed:
            assert feed.welcome["role"] == "safety"
        with pytest.raises((FeedError, OSError)):
            await post_ticket(server.url, token)  # plain http to a TLS port

    try:
        asyncio.run(run())
    finally:
        server.stop()
