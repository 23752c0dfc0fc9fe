#!/usr/bin/python3
"""A TCP proxy on 127.0.0.1 that adds a fixed one-way delay, for the benchmark.

    /usr/bin/python3 delay-proxy.py --listen-port 0 --target-port PORT --delay-ms 50 \
        [--ready-file FILE]

Every chunk read from one side is written to the other side DELAY ms after it arrived, in
order, in both directions: a link with a round trip of 2 x DELAY and no bandwidth limit. A new
connection reaches the server only one round trip after it was accepted, the time a TCP
handshake takes on such a link, so the server's greeting reaches the client 1.5 round trips
after its connect() (the kernel has already completed the client's connect to this proxy, but
an SMTP client waits for the greeting, so what it sees is the same).

Each direction has a reader thread and a writer thread, and the writer sleeps with
time.sleep() (clock_nanosleep) until a chunk is due. An event loop would be late by up to a
millisecond on every hop, because epoll's timeout is counted in whole milliseconds: over the
six and a half round trips of a check, that is the proxy's error, not the client's.

When ready it writes the port it listens on to --ready-file (through a rename) and prints it.
"""

import argparse
import os
import queue
import signal
import socket
import sys
import threading
import time


def pump(source, sink, delay):
    """Copies source to sink, each chunk delayed by @delay seconds from its arrival."""
    chunks = queue.SimpleQueue()

    def deliver():
        while True:
            due, data = chunks.get()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                if data is None:
                    sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
            except OSError:
                return

    writer = threading.Thread(target=deliver, daemon=True)
    writer.start()
    while True:
        try:
            data = source.recv(65536)
        except OSError:
            data = b""
        chunks.put((time.monotonic() + delay, data or None))
        if not data:
            break
    writer.join()


def handle(client, target_port, delay):
    try:
        # The TCP handshake of the simulated link: SYN out, SYN-ACK back.
        time.sleep(2 * delay)
        server = socket.create_connection(("127.0.0.1", target_port))
    except OSError:
        client.close()
        return
    for sock in (client, server):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    up = threading.Thread(target=pump, args=(client, server, delay), daemon=True)
    up.start()
    pump(server, client, delay)
    up.join()
    client.close()
    server.close()


def main(args):
    delay = args.delay_ms / 1000.0
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.listen_port))
    listener.listen(64)
    port = listener.getsockname()[1]
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(port, flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        try:
            client, _ = listener.accept()
        except KeyboardInterrupt:
            return 0
        threading.Thread(target=handle, args=(client, args.target_port, delay),
                         daemon=True).start()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen-port", type=int, default=0)
    p.add_argument("--target-port", type=int, required=True)
    p.add_argument("--delay-ms", type=float, default=50)
    p.add_argument("--ready-file")
    sys.exit(main(p.parse_args()))
