// Package layercrypt encrypts and decrypts OCI image layers in the ocicrypt
// format through liblayercrypt (cgo over bindings/c/layercrypt.h). Layers it
// writes are read by Go's containers/ocicrypt, skopeo, buildah, containerd's
// imgcrypt and ctd-decoder, and it reads theirs.
//
// The API has ocicrypt's shape, so a builder changes imports, not logic:
//
//	github.com/containers/ocicrypt          -> github.com/layercrypt/layercrypt/bindings/go (package layercrypt)
//	github.com/containers/ocicrypt/config   -> github.com/layercrypt/layercrypt/bindings/go/config
//	github.com/containers/ocicrypt/helpers  -> github.com/layercrypt/layercrypt/bindings/go/helpers
//
// EncryptLayer, DecryptLayer, EncryptLayerFinalizer, the EncryptConfig,
// DecryptConfig and CryptoConfig types with their Parameters maps,
// EncryptWithJwe, EncryptWithPkcs7, DecryptWithPrivKeys, DecryptWithX509s,
// CombineCryptoConfigs, CreateCryptoConfig and CreateDecryptCryptoConfig
// behave as ocicrypt's do, with these differences:
//
//   - Decryption releases no unverified plaintext: the returned reader
//     yields nothing until the HMAC over the whole layer has verified, and a
//     tampered layer yields an error wrapping ErrIntegrity and no bytes.
//     DecryptOptions.Stream restores ocicrypt's single pass.
//   - Recipients are JWE (RSA, EC P-256/P-384/P-521 public keys) and PKCS#7
//     (X.509 certificates). PGP, PKCS#11 and key providers are refused with
//     ErrUnsupported rather than silently skipped.
//   - Layers must be OCI or Docker tar, tar+gzip or tar+zstd (the type is
//     sniffed when desc.MediaType is empty).
//   - The private options record the digest of the plaintext read, not
//     desc.Digest.
//
// Each operation runs the library in a goroutine of its own, reading the
// caller's io.Reader through a callback and writing through an io.Pipe, so
// memory stays bounded whatever the layer's size and any number of
// operations may run at once; a config may be shared by them while it is
// not being changed. The *Context variants stop when the context is done;
// the returned *LayerReader may be closed to stop early.
//
// Errors from the library are *Error values carrying the lc_status code
// (errors.Is(err, ErrKey), errors.Is(err, ErrIntegrity), ...); a failed
// reader's or cancelled context's error is wrapped (errors.Is(err,
// context.Canceled)).
package layercrypt
