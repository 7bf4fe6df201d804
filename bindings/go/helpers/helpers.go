// Package helpers is layercrypt's stand-in for
// github.com/containers/ocicrypt/helpers: configs from the command-line
// spellings of recipients and keys.
package helpers

import (
	layercrypt "github.com/layercrypt/layercrypt/bindings/go"
	"github.com/layercrypt/layercrypt/bindings/go/config"
)

// CreateCryptoConfig: see layercrypt.CreateCryptoConfig.
func CreateCryptoConfig(recipients []string, keys []string) (config.CryptoConfig, error) {
	return layercrypt.CreateCryptoConfig(recipients, keys)
}

// CreateDecryptCryptoConfig: see layercrypt.CreateDecryptCryptoConfig.
func CreateDecryptCryptoConfig(keys []string, decRecipients []string) (config.CryptoConfig, error) {
	return layercrypt.CreateDecryptCryptoConfig(keys, decRecipients)
}
