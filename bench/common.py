"""What the Python benchmarks share beyond bench/reminders.py's helpers: one
kept-alive HTTP/1.1 connection to a server, with a user's bearer token
(bench/mcp.py, bench/instructions.py)."""

import http.client
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reminders import token  # noqa: E402


class Client:
    """One kept-alive HTTP/1.1 connection, authorised as `user`."""

    def __init__(self, url, user, timeout=30):
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.auth = f"Bearer {token(user)}"

    def _response(self, method, path, body, headers):
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Authorization": self.auth, **dict(headers)}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=data, headers=all_headers)
        return self.connection.getresponse()

    def send(self, method, path, body=None, headers=()):
        """(status, body bytes)."""
        response = self._response(method, path, body, headers)
        payload = response.read()
        return response.status, payload

    def exchange(self, method, path, body=None, headers=()):
        """(status, response headers as a dict with lower-case names, body bytes)."""
        response = self._response(method, path, body, headers)
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
