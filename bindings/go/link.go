//go:build !layercrypt_pkgconfig

package layercrypt

// The library is found on the compiler's and linker's default paths
// (/usr/local after `cmake --install`) or through CGO_CFLAGS=-I<dir of
// layercrypt.h> and CGO_LDFLAGS=-L<dir of liblayercrypt.so>. Build with
// -tags layercrypt_pkgconfig to ask pkg-config instead.

// #cgo LDFLAGS: -llayercrypt
import "C"
