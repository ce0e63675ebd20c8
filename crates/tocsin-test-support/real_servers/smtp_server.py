"""A real SMTP server for Tocsin's email connector tests: aiosmtpd (from PyPI) on loopback.

Usage: smtp_server.py MAILDIR USER PASSWORD

Listens on 127.0.0.1 on a port the kernel picks, prints that port on one line, stores
every accepted message in MAILDIR (aiosmtpd's Mailbox handler, which adds X-MailFrom and
X-RcptTo headers), requires AUTH (PLAIN or LOGIN) with USER and PASSWORD (allowed without
TLS: the test runs on loopback only), and exits when its standard input closes.
"""

import asyncio
import os
import socket
import sys
import warnings

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def authenticator(user: bytes, password: bytes):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user
            and auth_data.password == password
        )
        return AuthResult(success=ok, handled=False)

    return check


async def serve(maildir: str, user: str, password: str) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    handler = Mailbox(maildir)
    check = authenticator(user.encode(), password.encode())
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="aiosmtpd.test",
            authenticator=check,
            auth_required=True,
            auth_require_tls=False,
        ),
        sock=sock,
    )
    print(sock.getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    # aiosmtpd warns that AUTH without TLS is unsafe: this server only listens on loopback.
    warnings.simplefilter("ignore")
    if len(sys.argv) != 4:
        sys.exit("usage: smtp_server.py MAILDIR USER PASSWORD")
    asyncio.run(serve(*sys.argv[1:4]))
