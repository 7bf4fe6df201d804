//go:build layercrypt_pkgconfig

package layercrypt

// #cgo pkg-config: layercrypt
import "C"
