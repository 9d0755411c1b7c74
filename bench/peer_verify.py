"""What one signature check costs Python `cryptography` (its own OpenSSL), per key kind, for
`npm run bench`: the part of lint's CPU gap to Python that is OpenSSL's, not trustroll's.

Usage: python3 bench/peer_verify.py   (prints "<kind> <microseconds per verification>" lines)
"""

import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

MESSAGE = b"x" * 500
RUNS = 400


def per_verify(verify) -> float:
    verify()
    start = time.perf_counter()
    for _ in range(RUNS):
        verify()
    return (time.perf_counter() - start) / RUNS * 1e6


def main() -> None:
    for name, curve, digest in (("p256", ec.SECP256R1(), hashes.SHA256()), ("p384", ec.SECP384R1(), hashes.SHA384())):
        key = ec.generate_private_key(curve)
        sig = key.sign(MESSAGE, ec.ECDSA(digest))
        public = key.public_key()
        print(name, round(per_verify(lambda: public.verify(sig, MESSAGE, ec.ECDSA(digest))), 1))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sig = key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    public = key.public_key()
    print("rsa2048", round(per_verify(lambda: public.verify(sig, MESSAGE, padding.PKCS1v15(), hashes.SHA256())), 1))


if __name__ == "__main__":
    main()
