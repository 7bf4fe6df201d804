package layercrypt

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"os"
	"sort"
	"strings"
	"unsafe"
)

// Key providers, as ocicrypt passes them: a parameter named after a
// provider of the OCICRYPT_KEYPROVIDER_CONFIG file, each value that
// provider's PARAMS ("Enabled" for none). When the variable is set, every
// parameter that belongs to no scheme is taken as a provider's; the library
// refuses a recipient for a provider the file does not configure.

// schemeParameters are the parameters that belong to a scheme.
var schemeParameters = map[string]bool{
	ParamPubKeys: true, ParamX509s: true, ParamPrivKeys: true, ParamPrivKeysPasswords: true,
	ParamPkcs11Pubkeys: true, ParamPkcs11Yamls: true, ParamPkcs11Config: true,
	ParamGpgRecipients: true, ParamGpgPubRingFile: true, ParamGpgPrivKeys: true,
	ParamGpgPrivKeysPasswords: true,
}

// keyProvidersConfigured says whether OCICRYPT_KEYPROVIDER_CONFIG is set.
func keyProvidersConfigured() bool { return os.Getenv("OCICRYPT_KEYPROVIDER_CONFIG") != "" }

// providerSpecs returns params' provider parameters as the library spells
// them, "provider:NAME[:PARAMS]", sorted by name; none unless providers
// are configured.
func providerSpecs(params map[string][][]byte) []string {
	if !keyProvidersConfigured() {
		return nil
	}
	var specs []string
	for name, values := range params {
		if schemeParameters[name] {
			continue
		}
		for _, v := range values {
			if string(v) == "Enabled" {
				specs = append(specs, "provider:"+name)
			} else {
				specs = append(specs, "provider:"+name+":"+string(v))
			}
		}
	}
	sort.Strings(specs)
	return specs
}

// addProviderRecipients adds ec's provider recipients to cfg; it returns
// how many.
func addProviderRecipients(cfg *C.lc_encrypt_config, params map[string][][]byte) (int, error) {
	specs := providerSpecs(params)
	for _, s := range specs {
		cs := C.CString(s)
		var msg *C.char
		err := call(C.lcgo_encrypt_config_add_recipient(cfg, cs, &msg), msg, "add recipient "+providerName(s))
		C.free(unsafe.Pointer(cs))
		if err != nil {
			return 0, err
		}
	}
	return len(specs), nil
}

// addProviderKeys has cfg call the configured providers for their blobs
// (as ocicrypt does, with or without a key of theirs) and adds params'
// provider keys. It does nothing unless providers are configured.
func addProviderKeys(cfg *C.lc_decrypt_config, params map[string][][]byte) error {
	if !keyProvidersConfigured() {
		return nil
	}
	var msg *C.char
	if err := call(C.lcgo_decrypt_config_set_keyprovider_config(cfg, nil, 0, &msg), msg, "key providers"); err != nil {
		return err
	}
	for _, s := range providerSpecs(params) {
		cs := C.CString(s)
		var msg *C.char
		err := call(C.lcgo_decrypt_config_add_provider(cfg, cs, &msg), msg, "add key "+providerName(s))
		C.free(unsafe.Pointer(cs))
		if err != nil {
			return err
		}
	}
	return nil
}

// providerName is "provider:NAME" of a spec, for messages (PARAMS may be
// secret).
func providerName(spec string) string {
	if i := strings.Index(spec[len("provider:"):], ":"); i >= 0 {
		return spec[:len("provider:")+i]
	}
	return spec
}

// EncryptWithKeyProvider returns a CryptoConfig that encrypts for the key
// providers keyProviders, each "NAME[:PARAMS]" naming a provider of the
// OCICRYPT_KEYPROVIDER_CONFIG file, as ocicrypt's does.
func EncryptWithKeyProvider(keyProviders [][]byte) (CryptoConfig, error) {
	return encryptOnly(providerParameters(keyProviders)), nil
}

// DecryptWithKeyProvider returns a CryptoConfig whose layers the key
// providers keyProviders ("NAME[:PARAMS]") may unwrap, as ocicrypt's does.
func DecryptWithKeyProvider(keyProviders [][]byte) (CryptoConfig, error) {
	return decryptOnly(providerParameters(keyProviders)), nil
}

func providerParameters(keyProviders [][]byte) map[string][][]byte {
	params := map[string][][]byte{}
	for _, kp := range keyProviders {
		s := string(kp)
		if i := strings.Index(s, ":"); i > 0 {
			params[s[:i]] = append(params[s[:i]], []byte(s[i+1:]))
		} else {
			params[s] = append(params[s], []byte("Enabled"))
		}
	}
	return params
}
