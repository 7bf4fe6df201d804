package layercrypt

// The configuration types and constructors of Go's
// github.com/containers/ocicrypt/config, with the same names, fields and
// parameter keys, so code that builds an EncryptConfig or DecryptConfig for
// ocicrypt builds one for layercrypt unchanged. The subpackage config
// re-exports them under ocicrypt's package name.

import (
	"encoding/json"
	"errors"
)

// Parameter keys of EncryptConfig.Parameters and DecryptConfig.Parameters,
// as ocicrypt spells them.
const (
	ParamPubKeys           = "pubkeys"            // JWE recipients: public keys (PEM, DER or JWK)
	ParamX509s             = "x509s"              // PKCS#7: certificates (recipients; and for decryption)
	ParamPrivKeys          = "privkeys"           // private keys (PEM, DER or JWK)
	ParamPrivKeysPasswords = "privkeys-passwords" // one per private key; empty for none
	ParamPkcs11Pubkeys     = "pkcs11-pubkeys"     // pkcs11 recipients: RSA public keys
	ParamPkcs11Yamls       = "pkcs11-yamls"       // pkcs11 key YAMLs (recipients; and for decryption)
	ParamPkcs11Config      = "pkcs11-config"      // the module policy (Pkcs11Config as YAML)

	ParamGpgRecipients        = "gpg-recipients"            // pgp recipients: a name or email address each
	ParamGpgPubRingFile       = "gpg-pubkeyringfile"        // the OpenPGP public keyring they are looked up in (the first only)
	ParamGpgPrivKeys          = "gpg-privatekeys"           // OpenPGP secret keyrings (binary or armored)
	ParamGpgPrivKeysPasswords = "gpg-privatekeys-passwords" // the passphrase of the keyring at the same index
)

// Pkcs11Config is the PKCS#11 module policy, as ocicrypt's
// crypto/pkcs11.Pkcs11Config: a key YAML's module-name is looked for in
// ModuleDirectories, and a module is loaded only if AllowedModulePaths
// lists it (a path, or a directory ending in '/'). docs/pkcs11.md.
type Pkcs11Config struct {
	ModuleDirectories  []string `json:"module-directories" yaml:"module-directories"`
	AllowedModulePaths []string `json:"allowed-module-paths" yaml:"allowed-module-paths"`
}

// pkcs11ConfigParameter is cfg as the pkcs11-config parameter: YAML (the
// JSON form, which YAML readers take), or nil for a nil cfg.
func pkcs11ConfigParameter(cfg *Pkcs11Config) [][]byte {
	if cfg == nil {
		return nil
	}
	data, _ := json.Marshal(cfg) // cannot fail: two string lists
	return [][]byte{data}
}

// EncryptConfig holds the recipients a layer is encrypted for
// (Parameters[ParamPubKeys], Parameters[ParamX509s], the pkcs11 and gpg
// parameters, key providers) and the keys that open
// an already encrypted layer when recipients are added to it.
type EncryptConfig struct {
	Parameters    map[string][][]byte
	DecryptConfig DecryptConfig
}

// DecryptConfig holds the private keys (Parameters[ParamPrivKeys] with
// Parameters[ParamPrivKeysPasswords]), OpenPGP secret keyrings
// (Parameters[ParamGpgPrivKeys] with Parameters[ParamGpgPrivKeysPasswords]),
// pkcs11 key YAMLs and, for PKCS#7, the certificates
// (Parameters[ParamX509s]) that decrypt layers.
type DecryptConfig struct {
	Parameters map[string][][]byte
}

// CryptoConfig pairs an EncryptConfig and a DecryptConfig.
type CryptoConfig struct {
	EncryptConfig *EncryptConfig
	DecryptConfig *DecryptConfig
}

// InitDecryption returns a CryptoConfig that decrypts with dcparameters.
func InitDecryption(dcparameters map[string][][]byte) CryptoConfig {
	return CryptoConfig{DecryptConfig: &DecryptConfig{Parameters: dcparameters}}
}

// InitEncryption returns a CryptoConfig that encrypts with parameters and
// opens already encrypted layers with dcparameters.
func InitEncryption(parameters, dcparameters map[string][][]byte) CryptoConfig {
	return CryptoConfig{EncryptConfig: &EncryptConfig{
		Parameters:    parameters,
		DecryptConfig: DecryptConfig{Parameters: dcparameters},
	}}
}

// CombineCryptoConfigs merges the parameters of every config in ccs.
func CombineCryptoConfigs(ccs []CryptoConfig) CryptoConfig {
	enc, encDec, dec := map[string][][]byte{}, map[string][][]byte{}, map[string][][]byte{}
	for _, cc := range ccs {
		if cc.EncryptConfig != nil {
			mergeParameters(enc, cc.EncryptConfig.Parameters)
			mergeParameters(encDec, cc.EncryptConfig.DecryptConfig.Parameters)
		}
		if cc.DecryptConfig != nil {
			mergeParameters(dec, cc.DecryptConfig.Parameters)
		}
	}
	return CryptoConfig{
		EncryptConfig: &EncryptConfig{Parameters: enc, DecryptConfig: DecryptConfig{Parameters: encDec}},
		DecryptConfig: &DecryptConfig{Parameters: dec},
	}
}

// AttachDecryptConfig adds dc's keys to ec, so that EncryptLayer can add
// ec's recipients to a layer dc opens.
func (ec *EncryptConfig) AttachDecryptConfig(dc *DecryptConfig) {
	if dc == nil {
		return
	}
	if ec.DecryptConfig.Parameters == nil {
		ec.DecryptConfig.Parameters = map[string][][]byte{}
	}
	mergeParameters(ec.DecryptConfig.Parameters, dc.Parameters)
}

func mergeParameters(dst, src map[string][][]byte) {
	for k, v := range src {
		dst[k] = append(dst[k], v...)
	}
}

// encryptOnly and decryptOnly build a CryptoConfig whose other half is
// empty, as ocicrypt's constructors do.
func encryptOnly(parameters map[string][][]byte) CryptoConfig {
	dc := DecryptConfig{}
	return CryptoConfig{
		EncryptConfig: &EncryptConfig{Parameters: parameters, DecryptConfig: dc},
		DecryptConfig: &dc,
	}
}

func decryptOnly(parameters map[string][][]byte) CryptoConfig {
	dc := DecryptConfig{Parameters: parameters}
	return CryptoConfig{
		EncryptConfig: &EncryptConfig{Parameters: map[string][][]byte{}, DecryptConfig: dc},
		DecryptConfig: &dc,
	}
}

// EncryptWithJwe returns a CryptoConfig that encrypts for the JWE
// recipients pubKeys (RSA or EC public keys: PEM, DER or JWK).
func EncryptWithJwe(pubKeys [][]byte) (CryptoConfig, error) {
	return encryptOnly(map[string][][]byte{ParamPubKeys: pubKeys}), nil
}

// EncryptWithPkcs7 returns a CryptoConfig that encrypts for the PKCS#7
// recipients x509s (X.509 certificates, PEM or DER).
func EncryptWithPkcs7(x509s [][]byte) (CryptoConfig, error) {
	return encryptOnly(map[string][][]byte{ParamX509s: x509s}), nil
}

// EncryptWithGpg returns a CryptoConfig that encrypts for the pgp
// recipients gpgRecipients (each a name or an email address, matched
// exactly against the user ids of the keys in gpgPubRingFile, as ocicrypt
// matches them), looked up in the OpenPGP public keyring gpgPubRingFile
// (binary, as `gpg --export` writes it, or armored). Every recipient must
// match a key; an empty keyring fails EncryptLayer with ErrKey (ocicrypt
// leaves such recipients out). docs/pgp.md.
func EncryptWithGpg(gpgRecipients [][]byte, gpgPubRingFile []byte) (CryptoConfig, error) {
	return encryptOnly(map[string][][]byte{
		ParamGpgRecipients:  gpgRecipients,
		ParamGpgPubRingFile: {gpgPubRingFile},
	}), nil
}

// DecryptWithGpgPrivKeys returns a CryptoConfig that decrypts with the
// OpenPGP secret keyrings gpgPrivKeys (binary or armored);
// gpgPrivKeysPwds[i], if there is one, is the passphrase of gpgPrivKeys[i]
// (ocicrypt does not require one per keyring either).
func DecryptWithGpgPrivKeys(gpgPrivKeys, gpgPrivKeysPwds [][]byte) (CryptoConfig, error) {
	return decryptOnly(map[string][][]byte{
		ParamGpgPrivKeys:          gpgPrivKeys,
		ParamGpgPrivKeysPasswords: gpgPrivKeysPwds,
	}), nil
}

// DecryptWithPrivKeys returns a CryptoConfig that decrypts with privKeys;
// privKeysPasswords holds one password per key (empty for an unencrypted
// key).
func DecryptWithPrivKeys(privKeys, privKeysPasswords [][]byte) (CryptoConfig, error) {
	if len(privKeys) != len(privKeysPasswords) {
		return CryptoConfig{}, errors.New("length of privKeys should match length of privKeysPasswords")
	}
	return decryptOnly(map[string][][]byte{
		ParamPrivKeys:          privKeys,
		ParamPrivKeysPasswords: privKeysPasswords,
	}), nil
}

// EncryptWithPkcs11 returns a CryptoConfig that encrypts for the pkcs11
// recipients pkcs11Pubkeys (RSA public keys) and pkcs11Yamls (key YAMLs,
// whose public key is read from the token), as ocicrypt's does, with the
// module policy pkcs11Config. Unlike ocicrypt, a nil pkcs11Config is
// allowed: the library then reads OCICRYPT_CONFIG's policy.
func EncryptWithPkcs11(pkcs11Config *Pkcs11Config, pkcs11Pubkeys, pkcs11Yamls [][]byte) (CryptoConfig, error) {
	ep := map[string][][]byte{}
	dc := DecryptConfig{}
	if len(pkcs11Yamls) > 0 {
		ep[ParamPkcs11Yamls] = pkcs11Yamls
		if c := pkcs11ConfigParameter(pkcs11Config); c != nil {
			dc.Parameters = map[string][][]byte{ParamPkcs11Config: c}
		}
	}
	if len(pkcs11Pubkeys) > 0 {
		ep[ParamPkcs11Pubkeys] = pkcs11Pubkeys
	}
	return CryptoConfig{
		EncryptConfig: &EncryptConfig{Parameters: ep, DecryptConfig: dc},
		DecryptConfig: &dc,
	}, nil
}

// DecryptWithPkcs11Yaml returns a CryptoConfig that decrypts with the
// pkcs11 key YAMLs pkcs11Yamls (the keys stay in their tokens) under the
// module policy pkcs11Config (nil: OCICRYPT_CONFIG's, read by the library).
func DecryptWithPkcs11Yaml(pkcs11Config *Pkcs11Config, pkcs11Yamls [][]byte) (CryptoConfig, error) {
	params := map[string][][]byte{ParamPkcs11Yamls: pkcs11Yamls}
	if c := pkcs11ConfigParameter(pkcs11Config); c != nil {
		params[ParamPkcs11Config] = c
	}
	return decryptOnly(params), nil
}

// DecryptWithX509s returns a CryptoConfig with the certificates that
// PKCS#7 decryption needs besides the private keys.
func DecryptWithX509s(x509s [][]byte) (CryptoConfig, error) {
	return decryptOnly(map[string][][]byte{ParamX509s: x509s}), nil
}
