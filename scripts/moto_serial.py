"""moto in server mode, one request at a time.

moto's threaded server checks S3 conditions (If-Match, If-None-Match) and then writes, with no
lock between the two, and sets an object's metadata after storing it: under concurrent requests a
conditional write can overwrite a newer object, and a reader can see an object without its
metadata. Real S3 does neither. Requests are still accepted concurrently; each is handled
(response body included) under one lock, so conditional writes are atomic, as on S3.

Usage: python moto_serial.py <host> <port>
"""
import os
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serial(environ, start_response):
    with lock:
        return list(app(environ, start_response))


run_simple(host, port, serial, threaded=True, request_handler=MotoRequestHandler)
