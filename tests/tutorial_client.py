#!/usr/bin/env python3
"""The echo client every Python socket tutorial shows, pointed at evecho.

Usage: tutorial_client.py PORT [HOST]
Sends a few messages, one at a time, and checks each comes back whole.
"""
import socket
import sys

HOST = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
PORT = int(sys.argv[1])

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.settimeout(10)
    s.connect((HOST, PORT))
    for msg in (b"Hello, world", b"x" * 100000, bytes(range(256))):
        s.sendall(msg)
        data = b""
        while len(data) < len(msg):
            chunk = s.recv(1024)
            if not chunk:
                sys.exit("server closed early")
            data += chunk
        if data != msg:
            sys.exit("echo differs")
    print("Received", repr(data[:12]))
