"""A real SMTP server for Tocsin's email connector tests: aiosmtpd (from PyPI) on loopback.

Usage: smtp_server.py [--user USER --password PASSWORD] [--tls-cert PEM --tls-key PEM]
                      [--reject ADDRESS]... MAILDIR

Listens on 127.0.0.1 on a port the kernel picks, prints {"port": N} on one line, stores
every accepted message in MAILDIR (aiosmtpd's Mailbox handler, which adds X-MailFrom and
X-RcptTo headers), and exits when its standard input closes. With --user it requires AUTH
(PLAIN or LOGIN); without, it offers no AUTH at all. With --tls-cert it offers STARTTLS
and requires it before AUTH and mail. Each --reject address is refused at RCPT TO with
550, as a server refuses an unknown mailbox.
"""

import argparse
import asyncio
import json
import os
import socket
import ssl
import sys
import warnings

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def authenticator(user: bytes, password: bytes):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
        return AuthResult(success=ok, handled=False)

    return check


class Refusing(Mailbox):
    """A Maildir that refuses some recipients with 550."""

    def __init__(self, maildir: str, rejected):
        super().__init__(maildir)
        self.rejected = {r.lower() for r in rejected}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.rejected:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def serve(args) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(args.maildir, sub), exist_ok=True)
    handler = Refusing(args.maildir, args.reject)
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    options = {"hostname": "aiosmtpd.test"}
    if args.user:
        options.update(
            authenticator=authenticator(args.user.encode(), args.password.encode()),
            auth_required=True,
            auth_require_tls=tls is not None,
        )
    if tls is not None:
        options.update(tls_context=tls, require_starttls=True)
    server = await loop.create_server(lambda: SMTP(handler, **options), sock=sock)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    # aiosmtpd warns that AUTH without TLS is unsafe: this server only listens on loopback.
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("maildir")
    asyncio.run(serve(parser.parse_args()))
