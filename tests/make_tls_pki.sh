#!/usr/bin/env bash
# make_tls_pki.sh DIR: a throw-away PKI for the TLS tests, written into DIR
# with the openssl CLI (P-256 keys, valid 2 days):
#   ca.pem                    the cluster CA
#   node.pem, node.key        a certificate it signed, subjectAltName IP:127.0.0.1
#   foreign-ca.pem            a second, unrelated CA
#   foreign.pem, foreign.key  a certificate that one signed, same subjectAltName
# Keys are 0600, certificates 0644 (what Lumen's checks accept).
set -euo pipefail
dir=$1
cd "$dir"
umask 077
ext=$(mktemp)
trap 'rm -f "$ext" ./*.csr ./*.srl' EXIT
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > "$ext"
newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
for prefix in "" foreign-; do
  openssl req -x509 "${newkey[@]}" -keyout "${prefix}ca.key" -out "${prefix}ca.pem" -days 2 \
    -subj "/CN=lumen-test-${prefix}ca" 2>/dev/null
  name=${prefix:-node}; name=${name%-}
  openssl req "${newkey[@]}" -keyout "$name.key" -out "$name.csr" -subj "/CN=lumen-$name" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA "${prefix}ca.pem" -CAkey "${prefix}ca.key" \
    -CAcreateserial -out "$name.pem" -days 2 -extfile "$ext" 2>/dev/null
done
chmod 0644 ./*.pem
