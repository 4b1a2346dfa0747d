#!/usr/bin/env bash
# Generates the TLS test fixtures under tests/fixtures/tls/ (committed; run again only to replace
# them). A test CA and a server certificate it signed, both valid for 100 years so the tests never
# expire; ECDSA P-256 (what ring verifies and signs). Used by src/tls.rs unit tests, tests/tls.rs
# and scripts/empty-root-check.sh:
#   ca.pem        the test CA certificate: trusted only when SSL_CERT_FILE / SSL_CERT_DIR names it
#   server.pem    the server certificate (SAN: IP 127.0.0.1, DNS localhost), signed by the CA
#   server.key    its private key (PKCS#8; a test key, worthless outside these tests)
# Needs the openssl command line.
source "$(dirname "$0")/lib.sh"
need openssl
OUT="$ROOT/tests/fixtures/tls"
TMP="$(mktemp -d -t virtualsms-tls.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
DAYS=36500

log "test CA"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/ca.key"
openssl req -x509 -new -key "$TMP/ca.key" -sha256 -days "$DAYS" -subj "/CN=virtualsms-mcp test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$OUT/ca.pem"

log "server certificate for 127.0.0.1 / localhost"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OUT/server.key"
openssl req -new -key "$OUT/server.key" -subj "/CN=localhost" -out "$TMP/server.csr"
cat >"$TMP/ext.cnf" <<'CNF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
CNF
openssl x509 -req -in "$TMP/server.csr" -CA "$OUT/ca.pem" -CAkey "$TMP/ca.key" -CAserial "$TMP/ca.srl" -CAcreateserial \
  -days "$DAYS" -sha256 -extfile "$TMP/ext.cnf" -out "$OUT/server.pem"
openssl verify -CAfile "$OUT/ca.pem" "$OUT/server.pem" >&2
log "wrote $(cd "$OUT" && ls | tr '\n' ' ')"
