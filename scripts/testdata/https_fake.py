"""A local HTTPS fake for scripts/empty-root-check.sh: serves the test CA's certificate
(tests/fixtures/tls/) on 127.0.0.1, prints its port on stdout, and answers
GET /api/v2/me/balance with {"balance": 1.5, "currency": "USD"}; anything else is a 404.
Usage: python3 https_fake.py FIXTURE_DIR
"""
import http.server
import json
import ssl
import sys

fixtures = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/api/v2/me/balance":
            status, body = 200, {"balance": 1.5, "currency": "USD"}
        else:
            status, body = 404, {"type": "not-found", "title": "Not found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("[https-fake] " + (fmt % args) + "\n")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(f"{fixtures}/server.pem", f"{fixtures}/server.key")
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
