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

When ready it writes the port it listens on to --ready-file (through a rename) and prints it.
"""

import argparse
import asyncio
import os
import signal
import sys


async def pump(reader, writer, delay):
    """Copies reader to writer, each chunk delayed by @delay seconds from its arrival."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    pass
                return
            writer.write(data)
            try:
                await writer.drain()
            except OSError:
                return

    task = asyncio.ensure_future(deliver())
    try:
        while True:
            try:
                data = await reader.read(65536)
            except OSError:
                data = b""
            queue.put_nowait((loop.time() + delay, data or None))
            if not data:
                break
        await task
    finally:
        task.cancel()


async def handle(client_reader, client_writer, target_port, delay):
    try:
        # The TCP handshake of the simulated link: SYN out, SYN-ACK back.
        await asyncio.sleep(2 * delay)
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_writer.close()
        return
    for w in (client_writer, server_writer):
        sock = w.get_extra_info("socket")
        if sock is not None:
            import socket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await asyncio.gather(pump(client_reader, server_writer, delay),
                         pump(server_reader, client_writer, delay),
                         return_exceptions=True)
    for w in (client_writer, server_writer):
        try:
            w.close()
        except OSError:
            pass


async def main(args):
    delay = args.delay_ms / 1000.0
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, args.target_port, delay), "127.0.0.1", args.listen_port)
    port = server.sockets[0].getsockname()[1]
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.ready_file + ".tmp", args.ready_file)
    print(port, flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen-port", type=int, default=0)
    p.add_argument("--target-port", type=int, required=True)
    p.add_argument("--delay-ms", type=float, default=50)
    p.add_argument("--ready-file")
    sys.exit(asyncio.run(main(p.parse_args())))
