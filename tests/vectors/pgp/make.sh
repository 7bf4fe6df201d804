#!/bin/sh
# Remakes the keyrings in this folder with GnuPG (run once; the files are
# committed). RSA-2048 keys, as Go's OpenPGP reader needs RSA.
set -eu
cd "$(dirname "$0")"
G=$(mktemp -d)
trap 'rm -rf "$G"' EXIT
gen() { # USERID PASSPHRASE: an RSA signing key with an RSA encryption subkey
  gpg --homedir "$G" --batch --pinentry-mode loopback --passphrase "$2" \
      --quick-gen-key "$1" rsa2048 sign never
  fpr=$(gpg --homedir "$G" --batch --with-colons --list-keys "=$1" | awk -F: '$1=="fpr"{print $10; exit}')
  gpg --homedir "$G" --batch --pinentry-mode loopback --passphrase "$2" \
      --quick-add-key "$fpr" rsa2048 encr never
}
gen 'Alice Example <alice@example.com>' ''
gen 'Bob (work) <bob@example.org>' 'bob passphrase'
gen 'Alice Example <carol@example.net>' ''
gpg --homedir "$G" --batch --export > pubring.gpg
gpg --homedir "$G" --batch --armor --export > pubring.asc
gpg --homedir "$G" --batch --export-secret-keys alice@example.com > alice.sec.gpg
gpg --homedir "$G" --batch --armor --export-secret-keys alice@example.com > alice.sec.asc
gpg --homedir "$G" --batch --export alice@example.com > alice.pub.gpg
gpg --homedir "$G" --batch --pinentry-mode loopback --passphrase 'bob passphrase' \
    --export-secret-keys bob@example.org > bob.sec.gpg
gpg --homedir "$G" --batch --export-secret-keys carol@example.net > carol.sec.gpg
# A key (and encryption subkey) that expired on 2020-06-01, made in the past.
E=$(mktemp -d)
gpg --homedir "$E" --batch --faked-system-time 20200101T000000 --pinentry-mode loopback \
    --passphrase '' --quick-gen-key 'Expired Key <expired@example.com>' rsa2048 sign 2020-06-01
fpr=$(gpg --homedir "$E" --batch --with-colons --list-keys | awk -F: '$1=="fpr"{print $10; exit}')
gpg --homedir "$E" --batch --faked-system-time 20200101T000000 --pinentry-mode loopback \
    --passphrase '' --quick-add-key "$fpr" rsa2048 encr 2020-06-01
gpg --homedir "$E" --batch --export > expired.pub.gpg
gpgconf --homedir "$E" --kill all
rm -rf "$E"
