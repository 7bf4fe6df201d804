#!/usr/bin/env bash
# tests/vectors/keyprovider-tls/make_certs.sh: the TLS material of the gRPC
# key-provider tests (tests/engine/keywrap/provider/grpc_key_provider_test.cc),
# made with the openssl CLI, P-256 keys, valid for 100 years:
#
#   ca.pem                the test CA (its key is not kept)
#   server.pem/.key       CN=provider.test, SAN DNS:provider.test, DNS:localhost
#                         (no IP SAN: dialling 127.0.0.1 needs server-name)
#   client.pem/.key       CN=layercrypt-test-client, SAN DNS:client.test,
#                         URI:spiffe://layercrypt.test/client
#   client.sha256         hex SHA-256 of client.pem's DER (what the server reports)
#   other-ca.pem          an unrelated CA: a client trusting it must fail
#   other-client.pem/.key a client certificate signed by other-ca
#
# Rerun it to replace them all: ./make_certs.sh (in this directory).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
days=36500

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# ca NAME CN: a self-signed CA, key in $work.
ca() {
  key "$work/$1.key"
  openssl req -x509 -new -key "$work/$1.key" -subj "/CN=$2" -days $days -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$1.pem"
}

# leaf NAME CN SAN EKU CA: a certificate NAME.pem/NAME.key signed by CA.
leaf() {
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$work/$1.csr"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$4" "$3" >"$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA "$5.pem" -CAkey "$work/$5.key" -CAcreateserial \
    -CAserial "$work/$5.srl" -days $days -sha256 -extfile "$work/$1.ext" -out "$1.pem" 2>/dev/null
}

ca ca "layercrypt test CA"
ca other-ca "unrelated test CA"
leaf server provider.test "DNS:provider.test,DNS:localhost" serverAuth ca
leaf client layercrypt-test-client "DNS:client.test,URI:spiffe://layercrypt.test/client" clientAuth ca
leaf other-client other-test-client "DNS:other.test" clientAuth other-ca
openssl x509 -in client.pem -outform DER | sha256sum | cut -d' ' -f1 >client.sha256
chmod 0644 ./*.key
echo "made $(ls ./*.pem | wc -l) certificates in $(pwd)"
