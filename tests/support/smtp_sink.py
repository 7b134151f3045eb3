"""A local SMTP server for the alert tests: STARTTLS required, every message saved as N.eml.

    python3 smtp_sink.py CERT_CHAIN_PEM KEY_PEM OUT_DIR

Listens on a free loopback port of its own choosing and prints "ready PORT" once it accepts
connections; runs until killed.
"""
import pathlib
import socket
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


class AnyPort(Controller):
    """Binds port 0 itself and keeps the socket, so no other program can take the port
    between choosing it and listening on it."""

    def _create_server(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.hostname, 0))
        sock.listen()
        self.port = sock.getsockname()[1]
        return self.loop.create_server(self._factory_invoker, sock=sock, ssl=self.ssl_context)


def main():
    chain, key, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key)
    controller = AnyPort(Save(out), hostname="127.0.0.1", tls_context=context,
                         require_starttls=True)
    controller.start()
    print(f"ready {controller.port}", flush=True)
    while True:
        time.sleep(3600)


main()
