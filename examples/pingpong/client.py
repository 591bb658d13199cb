#!/usr/bin/python3
"""Calls the example pingpong App: the README's "Calling it from Python".

Run it with Debian's python3-thrift (seen by /usr/bin/python3) and the code
the build generated from pingpong.thrift:

    PYTHONPATH=build/examples/gen-py /usr/bin/python3 examples/pingpong/client.py [HOST:PORT]
"""
import sys

from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

from pingpong import PingPong


def main(address="127.0.0.1:9090"):
    host, port = address.rsplit(":", 1)
    transport = TTransport.TBufferedTransport(TSocket.TSocket(host, int(port)))
    client = PingPong.Client(TBinaryProtocol.TBinaryProtocol(transport))
    transport.open()
    try:
        print(client.ping(), client.add(2, 40))  # pong 42
    finally:
        transport.close()


if __name__ == "__main__":
    main(*sys.argv[1:2])
