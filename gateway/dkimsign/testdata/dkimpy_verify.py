"""Verify the DKIM signatures of the message on stdin with dkimpy.

Usage: dkimpy_verify.py NAME TXT
NAME is the DNS name of the key record (selector._domainkey.domain) and TXT
its value; dkimpy gets it through dnsfunc, so no DNS is used. Prints "pass"
and exits 0 when the first signature verifies, prints "fail" and exits 1
otherwise.
"""
import sys

import dkim


def main():
    name = sys.argv[1].rstrip(".").lower().encode()
    txt = sys.argv[2].encode()

    def dnsfunc(qname, timeout=5):
        if isinstance(qname, str):
            qname = qname.encode()
        if qname.rstrip(b".").lower() == name:
            return txt
        return None

    message = sys.stdin.buffer.read()
    if dkim.verify(message, dnsfunc=dnsfunc):
        print("pass")
        return 0
    print("fail")
    return 1


if __name__ == "__main__":
    sys.exit(main())
