package layercrypt

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unsafe"
)

// call turns the outcome of an lcgo_* function into an error; errMsg (the
// library's message, malloc'ed by the bridge) is released.
func call(st C.lc_status, errMsg *C.char, op string) error {
	if st == C.LC_OK {
		return nil
	}
	msg := ""
	if errMsg != nil {
		msg = C.GoString(errMsg)
		C.free(unsafe.Pointer(errMsg))
	}
	return newError(Status(st), op, msg)
}

// bytesArg returns a pointer and length for b (nil for none). Go memory is
// passed to the library only for the duration of a call; the library
// copies what it keeps.
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// hasPlainDigest reports whether the loaded library returns a layer's
// plaintext digest before decrypting it (lc_layer_plain_digest).
func hasPlainDigest() bool { return C.lcgo_has_plain_digest() != 0 }

// encryptParameters are the EncryptConfig parameters layercrypt encrypts
// for, with their scheme; any other non-empty parameter is refused, so
// that no recipient a caller asked for is silently left out.
var encryptParameters = []struct{ param, scheme string }{
	{ParamPubKeys, "jwe"},
	{ParamX509s, "pkcs7"},
	{ParamPkcs11Pubkeys, "pkcs11"},
	{ParamPkcs11Yamls, "pkcs11"},
}

// gpg-recipients (pgp) are added by addGpgRecipients; the keyring they are
// looked up in carries no recipient by itself.
var ignoredEncryptParameters = map[string]bool{ParamGpgRecipients: true, ParamGpgPubRingFile: true}

// newEncryptConfig makes the library's config for ec's recipients (and
// compression, if not ""). The caller frees it with lc_encrypt_config_free.
func newEncryptConfig(ec *EncryptConfig, compression string) (*C.lc_encrypt_config, error) {
	const op = "encrypt config"
	if ec == nil {
		return nil, newError(StatusInvalidArgument, op, "EncryptConfig must not be nil")
	}
	if err := refuseUnknown(ec.Parameters, op); err != nil {
		return nil, err
	}
	cfg := C.lc_encrypt_config_new()
	if cfg == nil {
		return nil, newError(StatusInternal, op, "out of memory")
	}
	// The module policy first: a key YAML's public key is read from its
	// token when it is added.
	if policy := ec.DecryptConfig.Parameters[ParamPkcs11Config]; len(policy) > 0 {
		p, n := bytesArg(policy[0])
		var msg *C.char
		if err := call(C.lcgo_encrypt_config_set_pkcs11_policy(cfg, p, n, &msg), msg, op); err != nil {
			C.lc_encrypt_config_free(cfg)
			return nil, err
		}
	}
	n := 0
	for _, p := range encryptParameters {
		for i, key := range ec.Parameters[p.param] {
			if err := addRecipientKey(cfg, p.scheme, key, fmt.Sprintf("%s[%d]", p.param, i)); err != nil {
				C.lc_encrypt_config_free(cfg)
				return nil, err
			}
			n++
		}
	}
	pgp, err := addGpgRecipients(cfg, ec.Parameters)
	if err != nil {
		C.lc_encrypt_config_free(cfg)
		return nil, err
	}
	n += pgp
	providers, err := addProviderRecipients(cfg, ec.Parameters)
	if err != nil {
		C.lc_encrypt_config_free(cfg)
		return nil, err
	}
	n += providers
	if n == 0 {
		C.lc_encrypt_config_free(cfg)
		return nil, newError(StatusInvalidArgument, op,
			"no recipients (EncryptConfig parameters "+ParamPubKeys+", "+ParamX509s+", "+
				ParamPkcs11Pubkeys+", "+ParamPkcs11Yamls+" and "+ParamGpgRecipients+" are empty)")
	}
	if compression != "" {
		cs := C.CString(compression)
		defer C.free(unsafe.Pointer(cs))
		var msg *C.char
		if err := call(C.lcgo_encrypt_config_set_compression(cfg, cs, &msg), msg, op); err != nil {
			C.lc_encrypt_config_free(cfg)
			return nil, err
		}
	}
	return cfg, nil
}

func refuseUnknown(params map[string][][]byte, op string) error {
	var unknown []string
	for k, v := range params {
		if len(v) == 0 || ignoredEncryptParameters[k] || (keyProvidersConfigured() && !schemeParameters[k]) {
			continue
		}
		known := false
		for _, p := range encryptParameters {
			known = known || p.param == k
		}
		if !known {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return newError(StatusUnsupported, op, "unsupported recipient parameters "+strings.Join(unknown, ", ")+
		" (layercrypt encrypts for "+ParamPubKeys+" (jwe), "+ParamX509s+" (pkcs7), "+
		ParamPkcs11Pubkeys+" and "+ParamPkcs11Yamls+" (pkcs11), "+ParamGpgRecipients+" (pgp))")
}

// addGpgRecipients adds the pgp recipients of params (gpg-recipients, each
// a name or email address) to cfg, looked up in the keyring of
// gpg-pubkeyringfile (its first item, the one ocicrypt reads); it returns
// how many. Recipients without a keyring are an error (ocicrypt leaves
// them out).
func addGpgRecipients(cfg *C.lc_encrypt_config, params map[string][][]byte) (int, error) {
	const op = "encrypt config"
	names := params[ParamGpgRecipients]
	if len(names) == 0 {
		return 0, nil
	}
	var pubring []byte
	if rings := params[ParamGpgPubRingFile]; len(rings) > 0 {
		pubring = rings[0]
	}
	if len(pubring) == 0 {
		return 0, newError(StatusKey, op, "pgp recipients need an OpenPGP public keyring: "+
			ParamGpgPubRingFile+" is empty (EncryptWithGpg's gpgPubRingFile, e.g. what gpg --export prints)")
	}
	p, n := bytesArg(pubring)
	var msg *C.char
	if err := call(C.lcgo_encrypt_config_set_gpg_pubring_data(cfg, p, n, &msg), msg, op); err != nil {
		return 0, err
	}
	for i, name := range names {
		what := fmt.Sprintf("add recipient %s[%d]", ParamGpgRecipients, i)
		if len(name) == 0 || bytes.IndexByte(name, 0) >= 0 {
			return 0, newError(StatusInvalidArgument, what, "a pgp recipient is a name or email address without NUL bytes")
		}
		cs := C.CString("pgp:" + string(name))
		err := call(C.lcgo_encrypt_config_add_recipient(cfg, cs, &msg), msg, what)
		C.free(unsafe.Pointer(cs))
		if err != nil {
			return 0, err
		}
	}
	return len(names), nil
}

// addRecipientKey adds one recipient given as bytes; name ("pubkeys[0]")
// stands for it in messages.
func addRecipientKey(cfg *C.lc_encrypt_config, scheme string, key []byte, name string) error {
	op := "add recipient " + name
	cs := C.CString(scheme)
	defer C.free(unsafe.Pointer(cs))
	var msg *C.char
	p, n := bytesArg(key)
	return call(C.lcgo_encrypt_config_add_recipient_key(cfg, cs, p, n, &msg), msg, op)
}

// newDecryptConfig makes the library's config for dc's private keys,
// certificates and pkcs11 key YAMLs (under dc's pkcs11-config, else
// OCICRYPT_CONFIG's policy). The caller frees it with lc_decrypt_config_free.
func newDecryptConfig(dc *DecryptConfig) (*C.lc_decrypt_config, error) {
	const op = "decrypt config"
	if dc == nil {
		return nil, newError(StatusInvalidArgument, op, "DecryptConfig must not be nil")
	}
	cfg := C.lc_decrypt_config_new()
	if cfg == nil {
		return nil, newError(StatusInternal, op, "out of memory")
	}
	if policy := dc.Parameters[ParamPkcs11Config]; len(policy) > 0 {
		p, n := bytesArg(policy[0])
		var msg *C.char
		if err := call(C.lcgo_decrypt_config_set_pkcs11_policy(cfg, p, n, &msg), msg, op); err != nil {
			C.lc_decrypt_config_free(cfg)
			return nil, err
		}
	}
	keys := dc.Parameters[ParamPrivKeys]
	passwords := dc.Parameters[ParamPrivKeysPasswords]
	add := func(key, password []byte, name string) error {
		kp, kn := bytesArg(key)
		pp, pn := bytesArg(password)
		var msg *C.char
		return call(C.lcgo_decrypt_config_add_key(cfg, kp, kn, pp, pn, &msg), msg, "add "+name)
	}
	for i, key := range keys {
		var pw []byte
		if i < len(passwords) {
			pw = passwords[i]
		}
		if err := add(key, pw, fmt.Sprintf("%s[%d]", ParamPrivKeys, i)); err != nil {
			C.lc_decrypt_config_free(cfg)
			return nil, err
		}
	}
	gpgKeys := dc.Parameters[ParamGpgPrivKeys]
	gpgPasswords := dc.Parameters[ParamGpgPrivKeysPasswords]
	for i, keyring := range gpgKeys {
		name := fmt.Sprintf("%s[%d]", ParamGpgPrivKeys, i)
		if !isPgpKeyring(keyring) {
			C.lc_decrypt_config_free(cfg)
			return nil, newError(StatusData, "add "+name, "not an OpenPGP secret keyring")
		}
		var pw []byte
		if i < len(gpgPasswords) {
			pw = gpgPasswords[i]
		}
		if err := add(keyring, pw, name); err != nil {
			C.lc_decrypt_config_free(cfg)
			return nil, err
		}
	}
	for i, cert := range dc.Parameters[ParamX509s] {
		if err := add(cert, nil, fmt.Sprintf("%s[%d]", ParamX509s, i)); err != nil {
			C.lc_decrypt_config_free(cfg)
			return nil, err
		}
	}
	for i, yaml := range dc.Parameters[ParamPkcs11Yamls] {
		if err := add(yaml, nil, fmt.Sprintf("%s[%d]", ParamPkcs11Yamls, i)); err != nil {
			C.lc_decrypt_config_free(cfg)
			return nil, err
		}
	}
	if err := addProviderKeys(cfg, dc.Parameters); err != nil {
		C.lc_decrypt_config_free(cfg)
		return nil, err
	}
	if len(keys) == 0 && len(gpgKeys) == 0 && len(dc.Parameters[ParamPkcs11Yamls]) == 0 && !keyProvidersConfigured() {
		C.lc_decrypt_config_free(cfg)
		return nil, newError(StatusKey, op, "missing private key needed for decryption (DecryptConfig parameters "+
			ParamPrivKeys+", "+ParamGpgPrivKeys+" and "+ParamPkcs11Yamls+" are empty)")
	}
	return cfg, nil
}
