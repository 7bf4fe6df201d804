package layercrypt_test

// Throughput of this binding against Go ocicrypt on one large layer, in the
// same run: encryption, and decryption both ways layercrypt can release
// plaintext (verify-first, the default, which spools the ciphertext to
// $TMPDIR beyond 8 MiB while the HMAC is checked, and Stream, ocicrypt's
// single pass). The layer is an uncompressed tar of half-random,
// half-text data, LAYERCRYPT_BENCH_MB MiB (default 256), made in memory
// once; the output is read with a 1 MiB buffer and discarded.
//
//	bindings/go/run_tests.sh build/release -run '^$' -bench . -benchtime 3x

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"sync"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	layercrypt "github.com/layercrypt/layercrypt/bindings/go"
)

var bench struct {
	once        sync.Once
	plain, blob []byte
	desc        ocispec.Descriptor // the plain layer's
	encDesc     ocispec.Descriptor // the encrypted layer's
}

func benchSetup(b *testing.B) {
	bench.once.Do(func() {
		mb := int64(256)
		if s := os.Getenv("LAYERCRYPT_BENCH_MB"); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 1 {
				b.Fatalf("LAYERCRYPT_BENCH_MB=%q", s)
			}
			mb = v
		}
		bench.plain, bench.desc = tarBytes(b, mb<<20)
		cc := mustCrypto(b, []string{"jwe:" + keys + "rsa2048.pub.pem"}, nil)
		var res layercrypt.LayerResult
		bench.blob, res = encryptAll(b, cc.EncryptConfig, bench.plain, bench.desc, layercrypt.EncryptOptions{})
		bench.encDesc = res.Descriptor
	})
	if bench.plain == nil {
		b.Fatal("setup failed")
	}
}

// oursStreaming is this binding decrypting in one pass, as ocicrypt does.
var oursStreaming = backend{
	name: "layercrypt-stream",
	decryptor: func(keys decryptKeys) (decryptFunc, error) {
		cc, err := layercrypt.CreateDecryptCryptoConfig(keys.files, nil)
		return func(r io.Reader, desc ocispec.Descriptor, _ bool) (io.Reader, digest.Digest, error) {
			lr, err := layercrypt.DecryptLayerWithOptions(context.Background(), cc.DecryptConfig, r, desc,
				layercrypt.DecryptOptions{Stream: true})
			if err != nil {
				return nil, "", err
			}
			return lr, "", nil
		}, err
	},
}

// benchLoop runs one operation per iteration over in (a fresh reader of
// input each time), checks that it yields want bytes, and calls its
// finalizer, if any.
func benchLoop(b *testing.B, input []byte, want int, op func(in io.Reader) (io.Reader, func() (map[string]string, error), error)) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, fin, err := op(bytes.NewReader(input))
		if err != nil {
			b.Fatal(err)
		}
		n, err := drain(r, buf)
		if err == nil && fin != nil {
			_, err = fin()
		}
		if err != nil {
			b.Fatal(err)
		}
		if n != int64(want) {
			b.Fatalf("%d bytes out, want %d", n, want)
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	benchSetup(b)
	for _, be := range backends {
		be := be
		b.Run(be.name, func(b *testing.B) {
			enc, err := be.encryptor([]string{"jwe:" + keys + "rsa2048.pub.pem"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			benchLoop(b, bench.plain, len(bench.plain), func(in io.Reader) (io.Reader, func() (map[string]string, error), error) {
				return enc(in, bench.desc)
			})
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	benchSetup(b)
	for _, be := range []backend{ours, oursStreaming, goOcicrypt} {
		be := be
		b.Run(be.name, func(b *testing.B) {
			dec, err := be.decryptor(files(keys + "rsa2048.pem"))
			if err != nil {
				b.Fatal(err)
			}
			benchLoop(b, bench.blob, len(bench.plain), func(in io.Reader) (io.Reader, func() (map[string]string, error), error) {
				r, _, err := dec(in, bench.encDesc, false)
				return r, nil, err
			})
		})
	}
}
