"""The peer of `trustroll lint` in `npm run bench`: Python `cryptography` parsing a PEM bundle and
verifying every certificate's signature with the key of its issuer (found by subject name), as a
whole process. No rules, no findings: the least a linter of the bundle has to do.

Usage: python3 bench/peer_lint.py bundle.pem   (prints "<certificates> <verified>")
"""

import sys

from cryptography import x509


def main(path: str) -> None:
    with open(path, "rb") as f:
        certs = x509.load_pem_x509_certificates(f.read())
    by_subject: dict = {}
    for cert in certs:
        by_subject.setdefault(cert.subject, []).append(cert)
    verified = 0
    for cert in certs:
        for issuer in by_subject.get(cert.issuer, []):
            try:
                cert.verify_directly_issued_by(issuer)
            except Exception:  # noqa: BLE001 - any failure means "not this issuer"
                continue
            verified += 1
            break
    print(len(certs), verified)


if __name__ == "__main__":
    main(sys.argv[1])
