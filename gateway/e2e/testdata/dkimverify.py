#!/usr/bin/env python3
"""Verify the DKIM signatures of a message with dkimpy, an implementation
independent of Sluice's. The message is read from stdin; the public key
record (the TXT value, "v=DKIM1; k=...; p=...") is argv[1] and is served
for every selector, so no DNS is needed. Exit 0 if every signature
verifies, 1 otherwise."""
import sys

import dkim

record = sys.argv[1].encode()
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
if not sigs:
    print("no DKIM-Signature")
    sys.exit(1)
for i in range(len(sigs)):
    if not d.verify(idx=i, dnsfunc=lambda name, timeout=5: record):
        print("signature %d does not verify" % i)
        sys.exit(1)
print("ok: %d signature(s) verified" % len(sigs))
