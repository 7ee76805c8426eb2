#!/usr/bin/env python3
"""Cleartext login servers for make_samples.sh (loopback only, test credentials).

usage: loginserver.py ftp  ADDR PORT USER PASS   pyftpdlib FTP server, one read-only user
       loginserver.py smtp ADDR PORT USER PASS   aiosmtpd SMTP server, AUTH PLAIN/LOGIN allowed
                                                 without TLS, messages accepted and dropped
Runs until killed (at most 60 s). Both libraries come from Debian (python3-pyftpdlib,
python3-aiosmtpd) and run under /usr/bin/python3.
"""
import sys
import tempfile
import threading
import time


def ftp(addr, port, user, password):
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    auth = DummyAuthorizer()
    auth.add_user(user, password, tempfile.mkdtemp(prefix="tlscap-ftp."), perm="elr")
    handler = FTPHandler
    handler.authorizer = auth
    server = FTPServer((addr, port), handler)
    threading.Timer(60, server.close_all).start()
    server.serve_forever(timeout=1)


def smtp(addr, port, user, password):
    import asyncio
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and data.login == user.encode() \
            and data.password == password.encode()
        return AuthResult(success=ok)

    # A plain asyncio server rather than aiosmtpd's Controller, whose start-up self-test would
    # put one more connection in the capture.
    async def serve():
        server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(Sink(), hostname="mail.tlscap.test", ident="tlscap-test ESMTP",
                         authenticator=authenticator, auth_require_tls=False), addr, port)
        async with server:
            await asyncio.sleep(60)

    asyncio.run(serve())


if __name__ == "__main__":
    mode, addr, port, user, password = sys.argv[1:6]
    {"ftp": ftp, "smtp": smtp}[mode](addr, int(port), user, password)
