"""A self-signed certificate for 127.0.0.1 and localhost, made by `openssl` at test time."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) in `folder`, valid for a day; the certificate is its own CA, so it can
    be handed to `requests` (`verify=`) or to the app (`REQUESTS_CA_BUNDLE`)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl not found: `apt-get install openssl`")
    cert, key = folder / "tls-cert.pem", folder / "tls-key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key
