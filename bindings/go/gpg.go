package layercrypt

// OpenPGP for the helpers: the public keyring pgp: recipients are looked up
// in comes from the gpg program, as ocicrypt's helpers get it (`gpg2
// --batch --export`, else `gpg --batch --export`, of the default home:
// GNUPGHOME or ~/.gnupg); secret keyrings are told from other key files by
// their first packet. docs/pgp.md.

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
)

// exportGpgPubRing returns what `gpg --batch --export` prints: every public
// key of the default GnuPG home. Unlike ocicrypt, which then leaves pgp
// recipients out, a missing gpg or an empty export is an error.
func exportGpgPubRing() ([]byte, error) {
	const op = "pgp recipients"
	prog := ""
	for _, p := range []string{"gpg2", "gpg"} {
		if _, err := exec.LookPath(p); err == nil {
			prog = p
			break
		}
	}
	if prog == "" {
		return nil, newError(StatusIO, op, "gpg is not installed to export the public keyring "+
			"(install gnupg, or give the keyring to EncryptWithGpg)")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(prog, "--batch", "--export")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	home := os.Getenv("GNUPGHOME")
	if home == "" {
		home = "~/.gnupg"
	}
	if err != nil {
		msg := prog + " --batch --export of " + home + " failed"
		if line, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n"); line != "" {
			msg += ": " + line
		}
		return nil, &Error{Status: StatusIO, Op: op, Message: msg, Err: err}
	}
	if len(out) == 0 {
		return nil, newError(StatusKey, op, prog+" --batch --export of "+home+
			" exported no public keys (import the recipients' keys, or set GNUPGHOME)")
	}
	return out, nil
}

// isPgpKeyring reports whether data looks like an OpenPGP keyring, public
// or secret, armored or binary (a secret-key or public-key packet first), as
// the library sorts key bytes; the library checks the keys themselves.
func isPgpKeyring(data []byte) bool {
	head := data
	if len(head) > 4096 {
		head = head[:4096]
	}
	if bytes.Contains(head, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) ||
		bytes.Contains(head, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		return true
	}
	if len(data) == 0 || data[0]&0x80 == 0 {
		return false
	}
	tag := (data[0] >> 2) & 0x0f // old packet format
	if data[0]&0x40 != 0 {
		tag = data[0] & 0x3f // new packet format
	}
	return tag == 5 || tag == 6 // secret key, public key
}
