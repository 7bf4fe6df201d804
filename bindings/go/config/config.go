// Package config is layercrypt's stand-in for
// github.com/containers/ocicrypt/config: the same types, constructors and
// parameter keys, shared with package layercrypt (the types are aliases),
// so a builder switches by changing the import path.
package config

import layercrypt "github.com/layercrypt/layercrypt/bindings/go"

type (
	// EncryptConfig holds recipients, and keys for adding recipients.
	EncryptConfig = layercrypt.EncryptConfig
	// DecryptConfig holds private keys and certificates.
	DecryptConfig = layercrypt.DecryptConfig
	// CryptoConfig pairs the two.
	CryptoConfig = layercrypt.CryptoConfig
	// Pkcs11Config is the PKCS#11 module policy (ocicrypt's pkcs11.Pkcs11Config).
	Pkcs11Config = layercrypt.Pkcs11Config
)

// InitDecryption: see layercrypt.InitDecryption.
func InitDecryption(dcparameters map[string][][]byte) CryptoConfig {
	return layercrypt.InitDecryption(dcparameters)
}

// InitEncryption: see layercrypt.InitEncryption.
func InitEncryption(parameters, dcparameters map[string][][]byte) CryptoConfig {
	return layercrypt.InitEncryption(parameters, dcparameters)
}

// CombineCryptoConfigs: see layercrypt.CombineCryptoConfigs.
func CombineCryptoConfigs(ccs []CryptoConfig) CryptoConfig {
	return layercrypt.CombineCryptoConfigs(ccs)
}

// EncryptWithJwe: see layercrypt.EncryptWithJwe.
func EncryptWithJwe(pubKeys [][]byte) (CryptoConfig, error) {
	return layercrypt.EncryptWithJwe(pubKeys)
}

// EncryptWithPkcs7: see layercrypt.EncryptWithPkcs7.
func EncryptWithPkcs7(x509s [][]byte) (CryptoConfig, error) {
	return layercrypt.EncryptWithPkcs7(x509s)
}

// DecryptWithPrivKeys: see layercrypt.DecryptWithPrivKeys.
func DecryptWithPrivKeys(privKeys, privKeysPasswords [][]byte) (CryptoConfig, error) {
	return layercrypt.DecryptWithPrivKeys(privKeys, privKeysPasswords)
}

// EncryptWithPkcs11: see layercrypt.EncryptWithPkcs11.
func EncryptWithPkcs11(pkcs11Config *Pkcs11Config, pkcs11Pubkeys, pkcs11Yamls [][]byte) (CryptoConfig, error) {
	return layercrypt.EncryptWithPkcs11(pkcs11Config, pkcs11Pubkeys, pkcs11Yamls)
}

// DecryptWithPkcs11Yaml: see layercrypt.DecryptWithPkcs11Yaml.
func DecryptWithPkcs11Yaml(pkcs11Config *Pkcs11Config, pkcs11Yamls [][]byte) (CryptoConfig, error) {
	return layercrypt.DecryptWithPkcs11Yaml(pkcs11Config, pkcs11Yamls)
}

// EncryptWithKeyProvider: see layercrypt.EncryptWithKeyProvider.
func EncryptWithKeyProvider(keyProviders [][]byte) (CryptoConfig, error) {
	return layercrypt.EncryptWithKeyProvider(keyProviders)
}

// DecryptWithKeyProvider: see layercrypt.DecryptWithKeyProvider.
func DecryptWithKeyProvider(keyProviders [][]byte) (CryptoConfig, error) {
	return layercrypt.DecryptWithKeyProvider(keyProviders)
}

// DecryptWithX509s: see layercrypt.DecryptWithX509s.
func DecryptWithX509s(x509s [][]byte) (CryptoConfig, error) {
	return layercrypt.DecryptWithX509s(x509s)
}

// EncryptWithGpg: see layercrypt.EncryptWithGpg.
func EncryptWithGpg(gpgRecipients [][]byte, gpgPubRingFile []byte) (CryptoConfig, error) {
	return layercrypt.EncryptWithGpg(gpgRecipients, gpgPubRingFile)
}

// DecryptWithGpgPrivKeys: see layercrypt.DecryptWithGpgPrivKeys.
func DecryptWithGpgPrivKeys(gpgPrivKeys, gpgPrivKeysPwds [][]byte) (CryptoConfig, error) {
	return layercrypt.DecryptWithGpgPrivKeys(gpgPrivKeys, gpgPrivKeysPwds)
}
