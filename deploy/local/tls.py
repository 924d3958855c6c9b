"""A throwaway certificate authority for homeservers that federate on loopback.

Synapse verifies federation TLS for real (`federation_verify_certificates`), so the local
network needs certificates a peer can check: one CA per network, trusted by every member
through `federation_custom_ca_list`, and per server a certificate whose subjectAltName
is the host part of its server name — an IP address for `127.0.0.1:PORT`, else a DNS
name. Keys are EC P-256: quick to make, so a server's certificate is made anew on every
start, while the CA is kept, because the other servers' configs point at it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_LIFETIME = dt.timedelta(days=3650)
SERVER_LIFETIME = dt.timedelta(days=365)
CLOCK_SKEW = dt.timedelta(minutes=5)  # a peer whose clock is a little behind still accepts


def server_host(server_name: str) -> str:
    """The host part of a Matrix server name: `127.0.0.1:8448` → `127.0.0.1`,
    `[::1]:8448` → `::1`, `example.org` → `example.org`."""
    if server_name.startswith("["):
        return server_name[1 : server_name.index("]")]
    return server_name.rsplit(":", 1)[0] if server_name.count(":") == 1 else server_name


def _write_private_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class CertificateAuthority:
    cert_path: Path
    key_path: Path

    @classmethod
    def load_or_create(
        cls, directory: Path, name: str = "ungechat local CA"
    ) -> CertificateAuthority:
        """The CA kept in `directory` (ca.pem, ca.key), made there if it is not yet."""
        ca = cls(directory.resolve() / "ca.pem", directory.resolve() / "ca.key")
        if ca.cert_path.exists() and ca.key_path.exists():
            return ca
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private_key(key, ca.key_path)
        ca.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return ca

    def issue(self, server_name: str, directory: Path) -> tuple[Path, Path]:
        """A fresh certificate for `server_name` in `directory`: (cert_path, key_path).
        The certificate file holds the server's certificate only; peers trust the CA."""
        ca_key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey), self.key_path
        ca_cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        host = server_host(server_name)
        try:
            alt_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            alt_name = x509.DNSName(host)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(min(now + SERVER_LIFETIME, ca_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([alt_name]), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        cert_path, key_path = directory / "tls.crt", directory / "tls.key"
        _write_private_key(key, key_path)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert_path, key_path


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,  # ECDHE-ECDSA needs only digital_signature on the server key
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
