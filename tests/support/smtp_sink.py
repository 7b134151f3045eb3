"""A local SMTP server for the alert tests: STARTTLS required, every message saved as N.eml.

    python3 smtp_sink.py PORT CERT_CHAIN_PEM KEY_PEM OUT_DIR

Prints "ready" once it accepts connections; runs until killed.
"""
import pathlib
import ssl
import sys
import time

from aiosmtpd.controller import Controller


class Save:
    def __init__(self, out):
        self.out = out
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        meta = f"X-Sink-Tls: {'yes' if session.ssl else 'no'}\r\nX-Sink-Rcpt: {','.join(envelope.rcpt_tos)}\r\n"
        tmp = self.out / f"{self.n}.tmp"
        tmp.write_bytes(meta.encode() + envelope.content)
        tmp.rename(self.out / f"{self.n}.eml")
        return "250 OK"


def main():
    port, chain, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], pathlib.Path(sys.argv[4])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key)
    controller = Controller(Save(out), hostname="127.0.0.1", port=port,
                            tls_context=context, require_starttls=True)
    controller.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


main()
