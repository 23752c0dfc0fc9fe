#!/usr/bin/python3
"""A real SMTP server for the happy-path tests, built on aiosmtpd.

    /usr/bin/python3 smtp-server.py --port 0 --mode starttls|tls|plain \
        --cert CERT --key KEY [--auth USER:PASS] [--require-auth] \
        [--maildir DIR] [--ready-file FILE] [--pipelining]

--pipelining adds PIPELINING (RFC 2920) to the EHLO reply: aiosmtpd reads commands in order
from its buffer, so it takes pipelined groups, but it does not advertise them by itself.

Listens on 127.0.0.1 only. When it is ready it prints the port it listens on, and writes it to
--ready-file (through a temporary name and a rename, so a reader never sees half of it).

Modes:
  starttls  STARTTLS offered; AUTH offered and accepted only after TLS
  tls       implicit TLS on the listening socket
  plain     no TLS at all; AUTH offered in clear (a client must refuse to use it)

AUTH PLAIN and LOGIN are checked against --auth; wrong credentials get
"535 5.7.8 Authentication credentials invalid". Each delivered message is saved in --maildir as
msg-N.json ({"mail_from", "rcpt_tos", "data"}) and msg-N.eml (the data as received). Every
command line received (AUTH lines and AUTH continuation lines as received, message data not) is
appended to DIR/commands.log. SIGTERM and SIGINT stop the server cleanly (exit status 0).
"""

import argparse
import asyncio
import itertools
import json
import logging
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, maildir, pipelining=False):
        self.maildir = maildir
        self.counter = itertools.count(1)
        if pipelining:
            self.handle_EHLO = self._ehlo_with_pipelining

    async def _ehlo_with_pipelining(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:1] + ["250-PIPELINING"] + responses[1:]

    async def handle_DATA(self, server, session, envelope):
        if self.maildir:
            n = next(self.counter)
            data = envelope.original_content or b""
            base = os.path.join(self.maildir, "msg-%d" % n)
            with open(base + ".eml.tmp", "wb") as f:
                f.write(data)
            os.replace(base + ".eml.tmp", base + ".eml")
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "data": data.decode("utf-8", errors="replace"),
                "authenticated": bool(session.authenticated),
                "tls": session.ssl is not None or server.is_implicit_tls,
            }
            with open(base + ".json.tmp", "w", encoding="utf-8") as f:
                json.dump(record, f, indent=1)
            os.replace(base + ".json.tmp", base + ".json")
        return "250 2.0.0 OK queued"


class Authenticator:
    def __init__(self, credentials):
        self.credentials = credentials  # (user bytes, password bytes) or None

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if (
            self.credentials is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password) == self.credentials
        ):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Authentication credentials invalid")


class LoggingSMTP(SMTP):
    """SMTP that appends each command line it reads to a log file."""

    def __init__(self, *args, command_log=None, implicit_tls=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.command_log = command_log
        self.is_implicit_tls = implicit_tls

    def _log_line(self, line):
        if self.command_log is None or not line:
            return
        text = line.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
        with open(self.command_log, "a", encoding="utf-8") as f:
            f.write(text + "\n")

    def _client_connected_cb(self, reader, writer):
        super()._client_connected_cb(reader, writer)
        # Commands are read with readuntil() (default separator), AUTH continuation lines with
        # readline(); message data is read with readuntil(b"\r\n") and is not logged.
        orig_readuntil = reader.readuntil
        orig_readline = reader.readline

        # StreamReader.readline() itself calls self.readuntil(): log once, in the outer call.
        depth = [0]

        async def readuntil(separator=b"\n"):
            depth[0] += 1
            try:
                line = await orig_readuntil(separator)
            finally:
                depth[0] -= 1
            if separator == b"\n" and depth[0] == 0:
                self._log_line(line)
            return line

        async def readline():
            depth[0] += 1
            try:
                line = await orig_readline()
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                self._log_line(line)
            return line

        reader.readuntil = readuntil
        reader.readline = readline


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mode", choices=("starttls", "tls", "plain"), default="starttls")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--require-auth", action="store_true")
    p.add_argument("--maildir")
    p.add_argument("--ready-file")
    p.add_argument("--hostname", default="smtp-test.localhost")
    p.add_argument("--pipelining", action="store_true")
    args = p.parse_args(argv)
    if args.mode != "plain" and not (args.cert and args.key):
        p.error("--cert and --key are needed for mode %s" % args.mode)
    if args.auth is not None and ":" not in args.auth:
        p.error("--auth wants USER:PASS")
    return args


def write_ready(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


async def main(args):
    loop = asyncio.get_running_loop()

    tls_context = None
    if args.cert and args.key:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.cert, args.key)

    credentials = None
    if args.auth is not None:
        user, _, password = args.auth.partition(":")
        credentials = (user.encode(), password.encode())

    command_log = None
    if args.maildir:
        os.makedirs(args.maildir, exist_ok=True)
        command_log = os.path.join(args.maildir, "commands.log")
        open(command_log, "a").close()

    handler = Handler(args.maildir, pipelining=args.pipelining)
    implicit = args.mode == "tls"
    smtp_kwargs = dict(
        hostname=args.hostname,
        ident="SMTP Doctor test server",
        authenticator=Authenticator(credentials),
        auth_required=args.require_auth,
        # starttls: AUTH only after STARTTLS. tls: the whole connection is TLS, but aiosmtpd
        # only knows about STARTTLS, so it must not insist. plain: AUTH is offered in clear on
        # purpose; the client under test must refuse to use it.
        auth_require_tls=(args.mode == "starttls"),
        tls_context=tls_context if args.mode == "starttls" else None,
        enable_SMTPUTF8=True,
        timeout=60,
        loop=loop,
    )

    def factory():
        return LoggingSMTP(handler, command_log=command_log, implicit_tls=implicit,
                           **smtp_kwargs)

    server = await loop.create_server(
        factory, host=args.host, port=args.port,
        ssl=tls_context if implicit else None,
        reuse_address=True,
    )
    port = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    if args.ready_file:
        write_ready(args.ready_file, port)
    print(port, flush=True)

    await stop.wait()
    server.close()
    try:
        await asyncio.wait_for(server.wait_closed(), 2)
    except asyncio.TimeoutError:
        pass
    return 0


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.CRITICAL)
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    args = parse_args(sys.argv[1:])
    try:
        rc = asyncio.run(main(args))
    except KeyboardInterrupt:
        rc = 0
    sys.exit(rc)
