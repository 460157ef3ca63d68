"""A loopback SMTP server for the gateway's tests.

Requires AUTH (PLAIN or LOGIN) with the user given as the second argument and the
password in the SMTP_TEST_PASSWORD environment variable, writes every message it
accepts as a JSON file into the directory given as the first argument, prints
"READY <port>" once listening, and exits when its standard input closes.
"""

import asyncio
import json
import logging
import os
import sys
import uuid
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, out_dir):
        self.out_dir = out_dir

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "data": envelope.content.decode("utf-8", "replace"),
        }
        name = uuid.uuid4().hex
        tmp = os.path.join(self.out_dir, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out_dir, name + ".json"))
        return "250 2.0.0 Message accepted"


def main():
    # aiosmtpd warns that AUTH without TLS is unsafe: true, and fine on loopback.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    out_dir, user = sys.argv[1], sys.argv[2]
    password = os.environ["SMTP_TEST_PASSWORD"]

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Handler(out_dir)
    server = loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(
                handler,
                authenticator=authenticator,
                auth_required=True,
                auth_require_tls=False,
            ),
            "127.0.0.1",
            0,
        )
    )
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)

    def on_stdin():
        if not sys.stdin.buffer.read1(1024):
            loop.stop()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    loop.run_forever()


if __name__ == "__main__":
    main()
