"""Exit 0 if an AMQP 0-9-1 broker on host:port answers the protocol header with
Connection.Start; exit 1 otherwise. A broker can accept TCP and still not speak (seen here:
a wedged RabbitMQ whose `check_running` said "fully booted"), so a port check is not enough.

    python3 deploy/amqp-handshake.py [host] [port]
"""

import socket
import sys

host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 5672
try:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.settimeout(5)
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        frame = sock.recv(7)
except OSError:
    sys.exit(1)
# A method frame (type 1) on channel 0: Connection.Start.
sys.exit(0 if len(frame) == 7 and frame[0] == 1 and frame[1:3] == b"\x00\x00" else 1)
