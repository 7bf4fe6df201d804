package layercrypt

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The command-line spellings of recipients and keys, as skopeo, buildah and
// ctr-enc take them (ocicrypt's helpers package). The subpackage helpers
// re-exports these under ocicrypt's package name.

// CreateCryptoConfig returns the config for the recipients ("jwe:FILE",
// "pkcs7:FILE", "pkcs11:FILE" (a key YAML or an RSA public key; the module
// policy is OCICRYPT_CONFIG's, as in ocicrypt), "pgp:NAME_OR_EMAIL", or
// "FILE": the scheme its content selects, a certificate being pkcs7) and
// the private keys ("FILE" or "FILE:PASSWORD", see
// CreateDecryptCryptoConfig), which also let EncryptLayer add recipients to
// layers they open. Files are read and checked now. pgp recipients are
// looked up, now, in the public keyring `gpg --batch --export` prints for
// the default GnuPG home (GNUPGHOME, else ~/.gnupg), as ocicrypt's helpers
// get it (EncryptWithGpg); where ocicrypt leaves them out, a missing gpg or
// a name no key matches is an error. "provider:NAME[:PARAMS]" recipients
// and keys go to the key provider NAME of OCICRYPT_KEYPROVIDER_CONFIG
// (EncryptWithKeyProvider, DecryptWithKeyProvider).
func CreateCryptoConfig(recipients []string, keys []string) (CryptoConfig, error) {
	var ccs []CryptoConfig
	var decrypt *DecryptConfig
	if len(keys) > 0 {
		dcc, err := CreateDecryptCryptoConfig(keys, nil)
		if err != nil {
			return CryptoConfig{}, err
		}
		decrypt = dcc.DecryptConfig
		ccs = append(ccs, dcc)
	}
	if len(recipients) > 0 {
		others, providers := splitProviderSpecs(recipients)
		others, gpgRecipients := splitSpecs(others, "pgp:")
		others, p11Pubkeys, p11Yamls, err := readPkcs11Recipients(others)
		if err != nil {
			return CryptoConfig{}, err
		}
		pubKeys, x509s, err := readRecipients(others)
		if err != nil {
			return CryptoConfig{}, err
		}
		pkcs7, _ := EncryptWithPkcs7(x509s)
		jwe, _ := EncryptWithJwe(pubKeys)
		pkcs11, _ := EncryptWithPkcs11(nil, p11Pubkeys, p11Yamls)
		kp, _ := EncryptWithKeyProvider(providers)
		encryptCcs := []CryptoConfig{pkcs7, jwe, pkcs11, kp}
		if len(gpgRecipients) > 0 {
			pubring, err := exportGpgPubRing()
			if err != nil {
				return CryptoConfig{}, err
			}
			gpg, _ := EncryptWithGpg(gpgRecipients, pubring)
			if err := checkGpgRecipients(gpg.EncryptConfig.Parameters); err != nil {
				return CryptoConfig{}, err
			}
			encryptCcs = append(encryptCcs, gpg)
		}
		ecc := CombineCryptoConfigs(encryptCcs)
		ecc.EncryptConfig.AttachDecryptConfig(decrypt)
		ccs = append(ccs, ecc)
	}
	if len(ccs) == 0 {
		return CryptoConfig{}, nil
	}
	return CombineCryptoConfigs(ccs), nil
}

// CreateDecryptCryptoConfig returns the config that decrypts with keys,
// each "FILE" or "FILE:PASSWORD" where PASSWORD is "pass=SECRET",
// "file=PATH", "fd=N" or the password itself (a FILE that exists is taken
// whole, so a path may contain ':'). Certificates among keys, and the
// "pkcs7:FILE" entries of decRecipients, are the certificates PKCS#7
// decryption needs (decRecipients' pgp:, pkcs11: and provider: entries
// name none and are passed over). A pkcs11 key YAML is a key too
// (pkcs11-yamls, under OCICRYPT_CONFIG's module policy), and so is an
// OpenPGP secret keyring, binary or armored (gpg-privatekeys, its PASSWORD
// in gpg-privatekeys-passwords; a wrong passphrase shows when a layer is
// decrypted, as in ocicrypt). Files that hold neither a private key nor a
// certificate are skipped, as ocicrypt skips them; a wrong or missing
// password of a private key is an error (ErrKey), and so is a public
// OpenPGP keyring.
func CreateDecryptCryptoConfig(keys []string, decRecipients []string) (CryptoConfig, error) {
	decRecipients, _ = splitSpecs(decRecipients, "pgp:")
	decRecipients, _ = splitSpecs(decRecipients, "pkcs11:")
	decRecipients, _ = splitSpecs(decRecipients, "provider:")
	_, x509s, err := readRecipients(decRecipients)
	if err != nil {
		return CryptoConfig{}, err
	}
	keys, providers := splitProviderSpecs(keys)
	var privKeys, passwords, p11Yamls, gpgKeys, gpgPasswords [][]byte
	for _, spec := range keys {
		path, password, err := splitKeySpec(spec)
		if err != nil {
			return CryptoConfig{}, err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return CryptoConfig{}, &Error{Status: StatusIO, Op: "read key", Message: path, Err: err}
		}
		if isCertificate(data) {
			x509s = append(x509s, data)
			continue
		}
		switch err := checkPrivateKey(data, password, path); {
		case err == nil && isPgpKeyring(data):
			gpgKeys = append(gpgKeys, data)
			gpgPasswords = append(gpgPasswords, password)
		case err == nil && isPkcs11KeyYAML(data):
			p11Yamls = append(p11Yamls, data)
		case err == nil:
			privKeys = append(privKeys, data)
			passwords = append(passwords, password)
		case errorStatus(err) == StatusKey:
			return CryptoConfig{}, err
		default: // not a private key
		}
	}
	x509Cc, _ := DecryptWithX509s(x509s)
	privCc, _ := DecryptWithPrivKeys(privKeys, passwords)
	ccs := []CryptoConfig{x509Cc, privCc}
	if len(gpgKeys) > 0 {
		gpgCc, _ := DecryptWithGpgPrivKeys(gpgKeys, gpgPasswords)
		ccs = append(ccs, gpgCc)
	}
	if len(p11Yamls) > 0 {
		p11Cc, _ := DecryptWithPkcs11Yaml(nil, p11Yamls)
		ccs = append(ccs, p11Cc)
	}
	if len(providers) > 0 {
		kpCc, _ := DecryptWithKeyProvider(providers)
		ccs = append(ccs, kpCc)
	}
	return CombineCryptoConfigs(ccs), nil
}

func errorStatus(err error) Status {
	if e, ok := err.(*Error); ok {
		return e.Status
	}
	return StatusInternal
}

// splitKeySpec splits "FILE[:PASSWORD]" and resolves PASSWORD.
func splitKeySpec(spec string) (string, []byte, error) {
	if _, err := os.Stat(spec); err == nil {
		return spec, nil, nil
	}
	i := strings.Index(spec, ":")
	if i < 0 {
		return spec, nil, nil
	}
	password, err := resolvePassword(spec[i+1:])
	if err != nil {
		return "", nil, &Error{Status: StatusInvalidArgument, Op: "key password", Message: spec[:i], Err: err}
	}
	return spec[:i], password, nil
}

// resolvePassword reads "file=PATH", "pass=SECRET", "fd=N" or SECRET.
func resolvePassword(s string) ([]byte, error) {
	switch {
	case strings.HasPrefix(s, "file="):
		return os.ReadFile(s[len("file="):])
	case strings.HasPrefix(s, "pass="):
		return []byte(s[len("pass="):]), nil
	case strings.HasPrefix(s, "fd="):
		fd, err := strconv.Atoi(s[len("fd="):])
		if err != nil {
			return nil, fmt.Errorf("could not parse file descriptor %q", s[len("fd="):])
		}
		f := os.NewFile(uintptr(fd), "password")
		if f == nil {
			return nil, fmt.Errorf("%d is not a valid file descriptor", fd)
		}
		defer f.Close()
		buf := make([]byte, 64)
		n, err := f.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("could not read from file descriptor %d: %w", fd, err)
		}
		return buf[:n], nil
	}
	return []byte(s), nil
}

// readRecipients reads recipient files ("jwe:FILE", "pkcs7:FILE", "FILE")
// into JWE public keys and PKCS#7 certificates, checking each with the
// library. The callers have taken the other schemes' spellings out.
func readRecipients(recipients []string) (pubKeys, x509s [][]byte, err error) {
	for _, r := range recipients {
		scheme, path := "", r
		if i := strings.Index(r, ":"); i >= 0 {
			switch r[:i] {
			case "jwe", "pkcs7":
				scheme, path = r[:i], r[i+1:]
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, &Error{Status: StatusIO, Op: "read recipient", Message: path, Err: err}
		}
		if scheme == "" {
			scheme = "jwe"
			if isCertificate(data) {
				scheme = "pkcs7"
			}
		}
		if err := checkRecipient(scheme + ":" + path); err != nil {
			return nil, nil, err
		}
		if scheme == "pkcs7" {
			x509s = append(x509s, data)
		} else {
			pubKeys = append(pubKeys, data)
		}
	}
	return pubKeys, x509s, nil
}

// splitProviderSpecs takes the "provider:NAME[:PARAMS]" entries out of
// specs, as "NAME[:PARAMS]" (EncryptWithKeyProvider's form).
func splitProviderSpecs(specs []string) (others []string, providers [][]byte) {
	return splitSpecs(specs, "provider:")
}

// splitSpecs takes the entries that start with prefix out of specs,
// without the prefix.
func splitSpecs(specs []string, prefix string) (others []string, taken [][]byte) {
	for _, s := range specs {
		if strings.HasPrefix(s, prefix) {
			taken = append(taken, []byte(s[len(prefix):]))
		} else {
			others = append(others, s)
		}
	}
	return others, taken
}

// checkGpgRecipients has the library look params' pgp recipients up in
// their keyring, so that a name no key matches fails now.
func checkGpgRecipients(params map[string][][]byte) error {
	cfg := C.lc_encrypt_config_new()
	if cfg == nil {
		return newError(StatusInternal, "recipient", "out of memory")
	}
	defer C.lc_encrypt_config_free(cfg)
	_, err := addGpgRecipients(cfg, params)
	return err
}

// readPkcs11Recipients takes the "pkcs11:FILE" recipients out of
// recipients, checked by the library (a key YAML's token is opened), as
// public keys or key YAMLs; the others are returned as they are.
func readPkcs11Recipients(recipients []string) (others []string, pubkeys, yamls [][]byte, err error) {
	for _, r := range recipients {
		if !strings.HasPrefix(r, "pkcs11:") {
			others = append(others, r)
			continue
		}
		path := r[len("pkcs11:"):]
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, nil, &Error{Status: StatusIO, Op: "read recipient", Message: path, Err: err}
		}
		if err := checkRecipient(r); err != nil {
			return nil, nil, nil, err
		}
		if isPkcs11KeyYAML(data) {
			yamls = append(yamls, data)
		} else {
			pubkeys = append(pubkeys, data)
		}
	}
	return others, pubkeys, yamls, nil
}

// isPkcs11KeyYAML tells a pkcs11 key YAML from the key encodings (PEM,
// JWK, DER) among files the library has accepted as a key or recipient.
func isPkcs11KeyYAML(data []byte) bool {
	if block, _ := pem.Decode(data); block != nil {
		return false
	}
	return !json.Valid(data) && utf8.Valid(data) && bytes.Contains(data, []byte("pkcs11:"))
}

// isCertificate reports whether data is an X.509 certificate, PEM or DER.
func isCertificate(data []byte) bool {
	if block, _ := pem.Decode(data); block != nil {
		return block.Type == "CERTIFICATE"
	}
	_, err := x509.ParseCertificate(data)
	return err == nil
}

// checkRecipient has the library read one recipient spelling.
func checkRecipient(spelling string) error {
	cfg := C.lc_encrypt_config_new()
	if cfg == nil {
		return newError(StatusInternal, "recipient", "out of memory")
	}
	defer C.lc_encrypt_config_free(cfg)
	cs := C.CString(spelling)
	defer C.free(unsafe.Pointer(cs))
	var msg *C.char
	return call(C.lcgo_encrypt_config_add_recipient(cfg, cs, &msg), msg, "recipient "+spelling)
}

// checkPrivateKey has the library parse one private key.
func checkPrivateKey(key, password []byte, name string) error {
	cfg := C.lc_decrypt_config_new()
	if cfg == nil {
		return newError(StatusInternal, "key", "out of memory")
	}
	defer C.lc_decrypt_config_free(cfg)
	kp, kn := bytesArg(key)
	pp, pn := bytesArg(password)
	var msg *C.char
	return call(C.lcgo_decrypt_config_add_key(cfg, kp, kn, pp, pn, &msg), msg, "key "+name)
}
