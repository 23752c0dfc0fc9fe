#!/usr/bin/python3
# make-seeds.py: writes the seed corpora of fuzz-ehlo and fuzz-conversation (see the top of
# fuzz-ehlo.c and fuzz-conversation.c for the input formats). Run from anywhere; it rewrites
# tests/fuzz/ehlo/seed-* and tests/fuzz/conversation/seed-*, and leaves other files (inputs
# libFuzzer found, crash regressions) alone.
import base64
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))

STARTTLS, TLS, NONE, NONE_AUTH = 0, 1, 2, 3
LOGIN, MESSAGE, HELO_NAME = 0x04, 0x08, 0x10


def records(*replies, same_write=()):
    """One record per reply; a reply over 127 bytes becomes records sent in one write."""
    out = bytearray()
    for index, reply in enumerate(replies):
        data = reply if isinstance(reply, bytes) else reply.encode()
        first = True
        while True:
            piece, data = data[:127], data[127:]
            flag = 0x80 if (not first or index in same_write) else 0
            out.append(flag | len(piece))
            out += piece
            first = False
            if not data:
                break
    return bytes(out)


def drip(text):
    """Every byte a read of its own."""
    out = bytearray()
    for byte in text.encode():
        out += bytes([1, byte])
    return bytes(out)


GREETING = "220 mx.example.com ESMTP ready\r\n"
EHLO_PLAIN = "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n" \
             "250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN LOGIN\r\n"
EHLO_TLS = "250-mx.example.com\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SIZE 1000000\r\n"
BYE = "221 2.0.0 Bye\r\n"

conversations = {
    'ok-plain': bytes([NONE]) + records(GREETING, EHLO_PLAIN.replace("AUTH PLAIN LOGIN", "HELP"), BYE),
    'ok-auth-plain': bytes([NONE_AUTH | LOGIN]) + records(GREETING, EHLO_PLAIN,
                                                          "235 2.7.0 Authentication successful\r\n", BYE),
    'ok-auth-login': bytes([NONE_AUTH | LOGIN]) + records(
        GREETING, "250-mx\r\n250 AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n",
        "235 2.7.0 ok\r\n", BYE),
    'auth-535': bytes([NONE_AUTH | LOGIN]) + records(
        GREETING, EHLO_PLAIN, "535 5.7.8 Username and Password not accepted\r\n", BYE),
    'auth-534-app-password': bytes([NONE_AUTH | LOGIN]) + records(
        GREETING, EHLO_PLAIN, "534-5.7.9 Application-specific password required.\r\n"
        "534 5.7.9 Learn more at https://support.google.com/mail\r\n", BYE),
    'auth-basic-disabled': bytes([NONE_AUTH | LOGIN]) + records(
        GREETING, EHLO_PLAIN, "535 5.7.139 Authentication unsuccessful, basic authentication "
        "is disabled.\r\n", BYE),
    'auth-530-tls': bytes([NONE_AUTH | LOGIN]) + records(
        GREETING, EHLO_PLAIN, "530 5.7.0 Must issue a STARTTLS command first\r\n", BYE),
    'auth-454-temporary': bytes([NONE_AUTH | LOGIN]) + records(
        GREETING, EHLO_PLAIN, "454 4.7.0 Temporary authentication failure\r\n", BYE),
    'auth-334-shapes': bytes([NONE_AUTH | LOGIN]) + records(
        GREETING, "250-mx\r\n250 AUTH LOGIN\r\n", "334\r\n", "334 !!notbase64==\r\n",
        "334 " + "A" * 600 + "\r\n", "535 no\r\n"),
    'auth-xoauth2-json': bytes([NONE_AUTH | LOGIN]) + records(
        GREETING, "250-mx\r\n250 AUTH XOAUTH2 PLAIN\r\n",
        "334 " + base64.b64encode(b'{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}').decode() + "\r\n",
        "535 5.7.8 Username and Password not accepted\r\n", BYE),
    'auth-none-offered': bytes([NONE_AUTH | LOGIN]) + records(GREETING, "250-mx\r\n250 SIZE\r\n", BYE),
    'auth-plaintext-refused': bytes([NONE | LOGIN]) + records(GREETING, EHLO_PLAIN, BYE),
    'starttls-454': bytes([STARTTLS | LOGIN]) + records(GREETING, EHLO_TLS, "454 4.7.0 TLS not available due to temporary reason\r\n", BYE),
    'starttls-502': bytes([STARTTLS]) + records(GREETING, EHLO_TLS, "502 5.5.1 Command not implemented\r\n", BYE),
    'starttls-354': bytes([STARTTLS]) + records(GREETING, EHLO_TLS, "354 go ahead\r\n", BYE),
    'starttls-stripped': bytes([STARTTLS | LOGIN]) + records(GREETING, EHLO_PLAIN, BYE),
    'starttls-injection': bytes([STARTTLS | LOGIN]) + records(
        GREETING, EHLO_TLS, "220 2.0.0 Ready to start TLS\r\n250-evil\r\n250 AUTH PLAIN LOGIN\r\n"),
    'starttls-partial-line': bytes([STARTTLS]) + records(GREETING, EHLO_TLS, "220 go\r\n250-AUTH PLA"),
    'starttls-garbage-handshake': bytes([STARTTLS | LOGIN]) + records(
        GREETING, EHLO_TLS, "220 2.0.0 Ready\r\n", b"\x16\x03\x01\x00\x05hello", b"\x15\x03\x03\x00\x02\x02\x28"),
    'starttls-ehlo-refused': bytes([STARTTLS]) + records(GREETING, "502 5.5.2 EHLO not understood\r\n", "250 mx\r\n", BYE),
    'helo-fallback': bytes([NONE | HELO_NAME]) + records(GREETING, "500 5.5.1 Unrecognized command\r\n", "250 mx.example.com\r\n", BYE),
    'tls-plaintext-greeting': bytes([TLS | LOGIN]) + records(GREETING, EHLO_PLAIN),
    'tls-garbage': bytes([TLS]) + records(b"\x16\x03\x03\x00\x40" + bytes(range(64))),
    'greeting-421': bytes([NONE]) + records("421 4.3.2 Service not available, closing\r\n"),
    'greeting-554': bytes([NONE]) + records("554-mx.example.com no SMTP service here\r\n554 5.7.1 go away\r\n"),
    'greeting-multiline-disagree': bytes([NONE]) + records("220-mx\r\n250-what\r\n220 ok\r\n", EHLO_PLAIN, BYE),
    'greeting-then-extra': bytes([NONE]) + records(GREETING + "250 early reply\r\n", EHLO_PLAIN, BYE),
    'greeting-nul': bytes([NONE]) + records(b"220 mx\x00evil ESMTP\r\n", EHLO_PLAIN, BYE),
    'greeting-escapes': bytes([NONE]) + records(
        b"220 \x1b[31mred\x1b[0m <b>bold</b> &amp; \xff\xfe\xc3\x28 ok\r\n",
        b"250-mx \x1b]0;title\x07\r\n250-<span foreground='red'>X</span>\r\n250 AUTH \xe9\r\n", BYE),
    'greeting-drip': bytes([NONE]) + drip(GREETING) + records(EHLO_PLAIN, BYE),
    'greeting-bare-lf': bytes([NONE]) + records("220 mx ESMTP\n", "250-mx\n250 8BITMIME\n", "221 bye\n"),
    'greeting-long-line': bytes([NONE]) + bytes([0]) + b"220 " + b"x" * 10000,
    'greeting-cr-only': bytes([NONE]) + records("220 mx\r\r\n", "250 mx\r\r\n"),
    'ehlo-many-lines': bytes([NONE]) + records("220 mx\r\n", "".join("250-X%d\r\n" % i for i in range(120)) + "250 END\r\n", BYE),
    'ehlo-too-many-lines': bytes([NONE]) + bytes([0]) + ("220 mx\r\n" + "".join("250-X%d\r\n" % i for i in range(3000)) + "250 END\r\n").encode(),
    'ehlo-codes-disagree': bytes([NONE]) + records(GREETING, "250-mx\r\n550-no\r\n250 ok\r\n", BYE),
    'close-after-greeting': bytes([NONE_AUTH | LOGIN]) + records(GREETING),
    'close-after-ehlo': bytes([NONE_AUTH | LOGIN]) + records(GREETING, EHLO_PLAIN),
    'close-after-auth': bytes([NONE_AUTH | LOGIN | MESSAGE]) + records(GREETING, EHLO_PLAIN, "235 ok\r\n"),
    'silent': bytes([STARTTLS]),
    'message-ok': bytes([NONE | MESSAGE]) + records(
        GREETING, EHLO_PLAIN.replace("250-PIPELINING\r\n", ""), "250 2.1.0 Sender ok\r\n", "250 2.1.5 Recipient ok\r\n",
        "354 End data with <CR><LF>.<CR><LF>\r\n", "250 2.0.0 Ok: queued as 12345\r\n", BYE),
    'message-pipelined': bytes([NONE | MESSAGE]) + records(
        GREETING, EHLO_PLAIN, "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n354 go\r\n",
        "250 2.0.0 queued\r\n", BYE),
    'message-relay-denied': bytes([NONE | MESSAGE]) + records(
        GREETING, EHLO_PLAIN, "250 2.1.0 ok\r\n", "550 5.7.1 Relaying denied\r\n", BYE),
    'message-sender-530': bytes([NONE_AUTH | LOGIN | MESSAGE]) + records(
        GREETING, EHLO_PLAIN, "235 ok\r\n", "530 5.7.0 Authentication required\r\n", BYE),
    'message-data-554': bytes([NONE | MESSAGE]) + records(
        GREETING, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "554 5.6.0 Message rejected as spam\r\n", BYE),
    'codes-wrong-everywhere': bytes([NONE_AUTH | LOGIN | MESSAGE]) + records(
        "250 hello?\r\n", "354 what\r\n", "220 again\r\n", "334 \r\n", "999 x\r\n"),
}

random.seed(20261201)
conversations['garbage-random'] = bytes([NONE_AUTH | LOGIN]) + bytes(random.randrange(256) for _ in range(400))
conversations['garbage-lines'] = bytes([NONE]) + records(*("%03d%s%s\r\n" % (random.randrange(1000), random.choice(" -_"), "z" * random.randrange(20)) for _ in range(30)))

ehlo = {
    'plain': EHLO_PLAIN,
    'tls': EHLO_TLS,
    'auth-equals': "250-mx\r\n250-AUTH=PLAIN LOGIN\r\n250 AUTH PLAIN CRAM-MD5\r\n",
    'auth-empty': "250-mx\r\n250-AUTH \r\n250-AUTH=\r\n250 AUTH\r\n",
    'auth-spaces': "250-mx\r\n250 AUTH   PLAIN    LOGIN  XOAUTH2 \r\n",
    'gmail': "250-smtp.gmail.com at your service, [192.0.2.1]\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n"
             "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n"
             "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
    'office365': "250-SN4PR0501CA0001.outlook.office365.com Hello [192.0.2.1]\r\n250-SIZE 157286400\r\n"
                 "250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n"
                 "250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
    'lowercase': "250-mx\r\n250-starttls\r\n250 auth plain\r\n",
    'single-line': "250 mx.example.com\r\n",
    'empty-lines': "250-mx\r\n250-\r\n250-\r\n250 STARTTLS\r\n",
    'many': "250-mx\r\n" + "".join("250-K%d v\r\n" % i for i in range(126)) + "250 AUTH PLAIN\r\n",
    'escapes': "250-mx \x1b[1m\r\n250-AUTH <b>PLAIN</b>\r\n250 XPIPELINING\r\n",
    'bare-lf': "250-mx\n250-AUTH LOGIN\n250 STARTTLS\n",
    'codes-disagree': "250-mx\r\n251-AUTH PLAIN\r\n250 ok\r\n",
}


def write(directory, name, data):
    path = os.path.join(HERE, directory, 'seed-' + name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


for name, data in conversations.items():
    write('conversation', name, data)
for index, (name, text) in enumerate(ehlo.items()):
    data = text.encode() if isinstance(text, str) else text
    write('ehlo', name, bytes([index % 14]) + data)
    write('ehlo', name + '-lines', bytes([0x80 | (index % 14)]) + data)
