#!/usr/bin/python3
"""Independent DKIM verifier for trxmail's tests: Debian's python3-dkim (dkimpy), with
python3-nacl for Ed25519. Run with /usr/bin/python3 (the pyenv python3 on PATH lacks dkim).

  dkim_verify.py verify '<records JSON>'  < message
      records: {"<selector>._domainkey.<domain>": "<TXT value>", ...}; no real DNS is asked.
      Prints a JSON list, one verdict per DKIM-Signature field, topmost first:
      {"index", "domain", "selector", "algorithm", "pass", "error"}.
  dkim_verify.py verify-many '<records JSON>'  < JSON list of base64 messages
      The same for several messages in one run (importing dkim takes a third of a second):
      prints a JSON list of verdict lists.
  dkim_verify.py bodyhash  < JSON list of base64 bodies
      Prints a JSON list: the base64 SHA-256 of dkimpy's relaxed body canonicalisation of each.
"""
import base64
import hashlib
import json
import logging
import sys

import dkim
from dkim.canonicalization import Relaxed


def load_records(records_json):
    records = {k.lower().rstrip('.'): v for k, v in json.loads(records_json).items()}

    def dnsfunc(name, timeout=5):
        key = (name.decode('ascii') if isinstance(name, bytes) else name).lower().rstrip('.')
        value = records.get(key)
        return value.encode('ascii') if value is not None else None

    return dnsfunc


def quiet_logger():
    logger = logging.getLogger('dkim-test')
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


def verdicts(message, dnsfunc, logger):
    count = len([1 for name, _ in dkim.DKIM(message, logger=logger).headers if name.lower() == b'dkim-signature'])
    out = []
    for idx in range(count):
        d = dkim.DKIM(message, logger=logger)
        verdict = {'index': idx, 'pass': False, 'error': None}
        try:
            verdict['pass'] = bool(d.verify(idx=idx, dnsfunc=dnsfunc))
        except dkim.DKIMException as e:
            verdict['error'] = '%s: %s' % (type(e).__name__, e)
        sig = getattr(d, 'signature_fields', None) or {}
        for field, tag in (('domain', b'd'), ('selector', b's'), ('algorithm', b'a')):
            value = sig.get(tag)
            verdict[field] = value.decode('ascii', 'replace') if value is not None else None
        out.append(verdict)
    return out


def body_hash(body):
    return base64.b64encode(hashlib.sha256(Relaxed.canonicalize_body(body)).digest()).decode('ascii')


def from_json_list():
    return [base64.b64decode(item) for item in json.loads(sys.stdin.buffer.read())]


if __name__ == '__main__':
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == 'verify':
        print(json.dumps(verdicts(sys.stdin.buffer.read(), load_records(args[1]), quiet_logger())))
    elif len(args) == 2 and args[0] == 'verify-many':
        dnsfunc, logger = load_records(args[1]), quiet_logger()
        print(json.dumps([verdicts(m, dnsfunc, logger) for m in from_json_list()]))
    elif len(args) == 1 and args[0] == 'bodyhash':
        print(json.dumps([body_hash(b) for b in from_json_list()]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
