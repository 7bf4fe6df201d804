package layercrypt_test

// The binding's own behaviour: errors, options, streaming, cancellation,
// concurrency and memory. Interoperability with Go ocicrypt is in
// interop_test.go.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	layercrypt "github.com/layercrypt/layercrypt/bindings/go"
	lcconfig "github.com/layercrypt/layercrypt/bindings/go/config"
)

func mustCrypto(t testing.TB, recipients, keyFiles []string) layercrypt.CryptoConfig {
	t.Helper()
	cc, err := layercrypt.CreateCryptoConfig(recipients, keyFiles)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// encryptAll encrypts plain with EncryptLayerWithOptions and returns the
// blob and the result.
func encryptAll(t testing.TB, ec *layercrypt.EncryptConfig, plain []byte, desc ocispec.Descriptor, opts layercrypt.EncryptOptions) ([]byte, layercrypt.LayerResult) {
	t.Helper()
	r, err := layercrypt.EncryptLayerWithOptions(context.Background(), ec, bytes.NewReader(plain), desc, opts)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Result()
	if err != nil {
		t.Fatal(err)
	}
	return blob, res
}

func TestStatusNames(t *testing.T) {
	want := map[layercrypt.Status]string{
		layercrypt.StatusOK:              "LC_OK",
		layercrypt.StatusInvalidArgument: "LC_ERR_INVALID_ARGUMENT",
		layercrypt.StatusData:            "LC_ERR_DATA",
		layercrypt.StatusIntegrity:       "LC_ERR_INTEGRITY",
		layercrypt.StatusKey:             "LC_ERR_KEY",
		layercrypt.StatusUnsupported:     "LC_ERR_UNSUPPORTED",
		layercrypt.StatusIO:              "LC_ERR_IO",
		layercrypt.StatusCallback:        "LC_ERR_CALLBACK",
		layercrypt.StatusInternal:        "LC_ERR_INTERNAL",
	}
	for s, name := range want {
		if s.String() != name {
			t.Errorf("Status(%d) is %s, want %s", int(s), s.String(), name)
		}
	}
	if layercrypt.Version() == "" {
		t.Error("empty version")
	}
	t.Logf("liblayercrypt %s; plaintext digest before decrypting (lc_layer_plain_digest): %v",
		layercrypt.Version(), layercrypt.HasPlainDigest())
}

func TestErrors(t *testing.T) {
	plain, desc := testLayer(t, mediaTypeTarGzip, 20)
	rsa := mustCrypto(t, []string{"jwe:" + keys + "rsa2048.pub.pem"}, nil)
	ec := mustCrypto(t, nil, []string{keys + "ecp256.pem"})
	blob, res := encryptAll(t, rsa.EncryptConfig, plain, desc, layercrypt.EncryptOptions{})

	check := func(name string, err error, want error, contains string) {
		t.Helper()
		var e *layercrypt.Error
		switch {
		case !errors.Is(err, want):
			t.Errorf("%s: %v, want %v", name, err, want)
		case !errors.As(err, &e):
			t.Errorf("%s: %T is no *layercrypt.Error", name, err)
		case !strings.Contains(err.Error(), contains):
			t.Errorf("%s: %q does not mention %q", name, err.Error(), contains)
		}
	}
	_, _, err := layercrypt.DecryptLayer(ec.DecryptConfig, bytes.NewReader(blob), res.Descriptor, false)
	check("wrong key", err, layercrypt.ErrKey, "jwe")
	_, _, err = layercrypt.DecryptLayer(ec.DecryptConfig, nil, res.Descriptor, true)
	check("wrong key, unwrapOnly", err, layercrypt.ErrKey, "jwe")
	_, _, err = layercrypt.DecryptLayer(nil, bytes.NewReader(blob), res.Descriptor, false)
	check("nil DecryptConfig", err, layercrypt.ErrInvalidArgument, "nil")
	_, _, err = layercrypt.DecryptLayer(&layercrypt.DecryptConfig{}, bytes.NewReader(blob), res.Descriptor, false)
	check("no keys", err, layercrypt.ErrKey, "missing private key")
	_, _, err = layercrypt.EncryptLayer(nil, bytes.NewReader(plain), desc)
	check("nil EncryptConfig", err, layercrypt.ErrInvalidArgument, "nil")
	_, _, err = layercrypt.EncryptLayer(&layercrypt.EncryptConfig{}, bytes.NewReader(plain), desc)
	check("no recipients", err, layercrypt.ErrInvalidArgument, "no recipients")
	_, _, err = layercrypt.EncryptLayer(&layercrypt.EncryptConfig{Parameters: map[string][][]byte{
		"pubkeys": {readFile(keys + "rsa2048.pub.pem")}, "openpgp-recipients": {[]byte("someone")}}}, bytes.NewReader(plain), desc)
	check("unknown recipient parameter", err, layercrypt.ErrUnsupported, "openpgp-recipients")
	_, _, err = layercrypt.EncryptLayer(&layercrypt.EncryptConfig{Parameters: map[string][][]byte{
		"pubkeys": {readFile(keys + "rsa2048.pub.pem")}, "gpg-recipients": {[]byte("someone")}}}, bytes.NewReader(plain), desc)
	check("gpg recipients without a keyring", err, layercrypt.ErrKey, "gpg-pubkeyringfile")
	_, _, err = layercrypt.EncryptLayer(&layercrypt.EncryptConfig{Parameters: map[string][][]byte{
		"pubkeys": {readFile(keys + "rsa2048.pem")}}}, bytes.NewReader(plain), desc)
	check("a private key as recipient", err, layercrypt.ErrInvalidArgument, "pubkeys[0]")
	_, err = layercrypt.CreateCryptoConfig([]string{"jwe:/nonexistent.pem"}, nil)
	check("missing recipient file", err, layercrypt.ErrIO, "/nonexistent.pem")
	_, err = layercrypt.CreateCryptoConfig(nil, []string{keys + "rsa2048.enc.pem"})
	check("no password", err, layercrypt.ErrKey, "rsa2048.enc.pem")
	_, err = layercrypt.CreateCryptoConfig(nil, []string{keys + "rsa2048.enc.pem:pass=wrong"})
	check("wrong password", err, layercrypt.ErrKey, "rsa2048.enc.pem")
	_, err = layercrypt.EncryptLayerWithOptions(context.Background(), rsa.EncryptConfig, bytes.NewReader(plain), desc,
		layercrypt.EncryptOptions{Compression: "brotli"})
	check("unknown compression", err, layercrypt.ErrInvalidArgument, "brotli")
	_, err = layercrypt.EncryptLayerWithOptions(context.Background(), rsa.EncryptConfig, bytes.NewReader(blob), res.Descriptor,
		layercrypt.EncryptOptions{})
	check("encrypting an encrypted layer", err, layercrypt.ErrInvalidArgument, "encrypted already")
	r, _, err := layercrypt.EncryptLayer(rsa.EncryptConfig, strings.NewReader("this is no layer at all, not even a tar"), ocispec.Descriptor{})
	if err == nil {
		_, err = io.ReadAll(r)
	}
	check("input that is no layer", err, layercrypt.ErrInvalidArgument, "")

	// The key password spellings: pass=, file=, and the password itself.
	password := string(readFile(keys + "rsa2048.enc.password"))
	for _, spec := range []string{"pass=" + password, "file=" + keys + "rsa2048.enc.password", password} {
		if _, err := layercrypt.CreateCryptoConfig(nil, []string{keys + "rsa2048.enc.pem:" + spec}); err != nil {
			t.Errorf("password %q: %v", spec, err)
		}
	}
}

func TestUnwrapOnly(t *testing.T) {
	plain, desc := testLayer(t, mediaTypeTar, 21)
	cc := mustCrypto(t, []string{"jwe:" + keys + "ecp384.pub.pem"}, []string{keys + "ecp384.pem"})
	blob, res := encryptAll(t, cc.EncryptConfig, plain, desc, layercrypt.EncryptOptions{})
	_ = blob
	r, d, err := layercrypt.DecryptLayer(cc.DecryptConfig, nil, res.Descriptor, true)
	if r != nil || d != "" || err != nil {
		t.Errorf("unwrapOnly: %v, %q, %v; want nil, \"\", nil", r, d, err)
	}
}

// TestConstructors: configs from bytes (ocicrypt's constructors), bare
// recipient files whose content picks the scheme, and the stand-in config
// package's types being the same types.
func TestConstructors(t *testing.T) {
	plain, desc := testLayer(t, mediaTypeTarGzip, 22)
	jwe, err := lcconfig.EncryptWithJwe([][]byte{readFile(keys + "ecp256.pub.pem")})
	if err != nil {
		t.Fatal(err)
	}
	pkcs7, _ := lcconfig.EncryptWithPkcs7([][]byte{readFile(keys + "pkcs7.cert.pem")})
	var enc layercrypt.CryptoConfig = lcconfig.CombineCryptoConfigs([]lcconfig.CryptoConfig{jwe, pkcs7})
	blob, res := encryptAll(t, enc.EncryptConfig, plain, desc, layercrypt.EncryptOptions{})
	for _, a := range []string{jweAnnotation, pkcs7Annotation} {
		if res.Descriptor.Annotations[a] == "" {
			t.Errorf("annotation %s missing", a)
		}
	}
	privs, _ := layercrypt.DecryptWithPrivKeys([][]byte{readFile(keys + "pkcs7.key.pem")}, [][]byte{nil})
	certs, _ := layercrypt.DecryptWithX509s([][]byte{readFile(keys + "pkcs7.cert.pem")})
	ec, _ := layercrypt.DecryptWithPrivKeys([][]byte{readFile(keys + "ecp256.pem")}, [][]byte{nil})
	for name, dc := range map[string]layercrypt.CryptoConfig{
		"pkcs7": layercrypt.CombineCryptoConfigs([]layercrypt.CryptoConfig{privs, certs}),
		"ec":    ec,
	} {
		r, _, err := layercrypt.DecryptLayer(dc.DecryptConfig, bytes.NewReader(blob), res.Descriptor, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}
	}
	if _, err := layercrypt.DecryptWithPrivKeys([][]byte{nil}, nil); err == nil {
		t.Error("DecryptWithPrivKeys accepted a key without its password slot")
	}

	// Bare file names: a certificate is a pkcs7 recipient, a key a jwe one.
	bare := mustCrypto(t, []string{keys + "pkcs7.cert.pem", keys + "rsa2048.pub.pem"}, nil)
	p := bare.EncryptConfig.Parameters
	if len(p[layercrypt.ParamX509s]) != 1 || len(p[layercrypt.ParamPubKeys]) != 1 {
		t.Errorf("bare recipients: %d x509s, %d pubkeys; want 1 and 1", len(p[layercrypt.ParamX509s]), len(p[layercrypt.ParamPubKeys]))
	}
	// Keys that are neither a private key nor a certificate are skipped,
	// as ocicrypt skips them.
	skip := mustCrypto(t, nil, []string{keys + "rsa2048.pem", keys + "rsa2048.pub.pem"})
	if n := len(skip.DecryptConfig.Parameters[layercrypt.ParamPrivKeys]); n != 1 {
		t.Errorf("%d private keys, want 1 (the public key skipped)", n)
	}
}

// TestEncryptWithOptions: compressing a tar in the same pass gives the
// compressed +encrypted type, the tar's diff_id and the blob's digest;
// decrypting with Decompress gives the tar back, without it the blob.
func TestEncryptWithOptions(t *testing.T) {
	tarball, desc := testLayer(t, mediaTypeTar, 23)
	desc.Annotations = map[string]string{"org.example.kept": "yes", "org.opencontainers.image.enc.stale": "dropped"}
	cc := mustCrypto(t, []string{"jwe:" + keys + "rsa2048.pub.pem"}, []string{keys + "rsa2048.pem"})
	for _, c := range []struct{ compression, mediaType string }{
		{"", ocispec.MediaTypeImageLayer + "+encrypted"},
		{"gzip", ocispec.MediaTypeImageLayerGzip + "+encrypted"},
		{"zstd:3", ocispec.MediaTypeImageLayerZstd + "+encrypted"},
	} {
		blob, res := encryptAll(t, cc.EncryptConfig, tarball, desc, layercrypt.EncryptOptions{Compression: c.compression})
		d := res.Descriptor
		if d.MediaType != c.mediaType || d.Digest != digest.FromBytes(blob) || d.Size != int64(len(blob)) {
			t.Errorf("%q: descriptor %s %s %d; want %s %s %d", c.compression, d.MediaType, d.Digest, d.Size,
				c.mediaType, digest.FromBytes(blob), len(blob))
		}
		if res.DiffID != desc.Digest {
			t.Errorf("%q: diff_id %s, want %s", c.compression, res.DiffID, desc.Digest)
		}
		if d.Annotations["org.example.kept"] != "yes" || d.Annotations["org.opencontainers.image.enc.stale"] != "" {
			t.Errorf("%q: annotations %v", c.compression, d.Annotations)
		}
		for _, decompress := range []bool{false, true} {
			r, err := layercrypt.DecryptLayerWithOptions(context.Background(), cc.DecryptConfig, bytes.NewReader(blob), d,
				layercrypt.DecryptOptions{Decompress: decompress})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("%q decompress=%v: %v", c.compression, decompress, err)
			}
			if decompress && !bytes.Equal(got, tarball) {
				t.Errorf("%q: Decompress did not give the tar back", c.compression)
			}
			if !decompress && c.compression == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(got))
				if err != nil {
					t.Fatal(err)
				}
				if tb, err := io.ReadAll(zr); err != nil || !bytes.Equal(tb, tarball) {
					t.Errorf("the gzip blob does not hold the tar: %v", err)
				}
			}
			pres, err := r.Result()
			if err != nil || pres.Descriptor.Digest == "" {
				t.Errorf("%q: plaintext descriptor %+v, %v", c.compression, pres.Descriptor, err)
			}
		}
	}
}

// TestStreamOption: with DecryptOptions.Stream a tampered layer releases
// unverified bytes and fails at the end; by default it releases none.
func TestStreamOption(t *testing.T) {
	plain, desc := testLayer(t, mediaTypeTarGzip, 24)
	cc := mustCrypto(t, []string{"jwe:" + keys + "rsa2048.pub.pem"}, []string{keys + "rsa2048.pem"})
	blob, res := encryptAll(t, cc.EncryptConfig, plain, desc, layercrypt.EncryptOptions{})
	blob[len(blob)-1] ^= 1
	for _, stream := range []bool{false, true} {
		r, err := layercrypt.DecryptLayerWithOptions(context.Background(), cc.DecryptConfig, bytes.NewReader(blob), res.Descriptor,
			layercrypt.DecryptOptions{Stream: stream})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if !errors.Is(err, layercrypt.ErrIntegrity) {
			t.Errorf("stream=%v: %v, want ErrIntegrity", stream, err)
		}
		if stream != (len(got) > 0) {
			t.Errorf("stream=%v: %d bytes released", stream, len(got))
		}
	}
}

// failingReader fails with err after n bytes of the pattern.
type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	m, err := f.r.Read(p)
	f.n -= int64(m)
	return m, err
}

var errSource = errors.New("the source went away")

func TestReaderErrors(t *testing.T) {
	cc := mustCrypto(t, []string{"jwe:" + keys + "rsa2048.pub.pem"}, []string{keys + "rsa2048.pem"})
	src, _ := tarStream(t, 8<<20)
	r, fin, err := layercrypt.EncryptLayer(cc.EncryptConfig, &failingReader{r: src, n: 3 << 20, err: errSource}, ocispec.Descriptor{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	if !errors.Is(err, errSource) || !errors.Is(err, layercrypt.ErrCallback) {
		t.Errorf("encrypt: %v, want the source's error and ErrCallback", err)
	}
	if _, err := fin(); !errors.Is(err, errSource) {
		t.Errorf("finalizer: %v, want the source's error", err)
	}

	plain, desc := testLayer(t, mediaTypeTarGzip, 25)
	blob, res := encryptAll(t, cc.EncryptConfig, plain, desc, layercrypt.EncryptOptions{})
	dr, _, err := layercrypt.DecryptLayer(cc.DecryptConfig, &failingReader{r: bytes.NewReader(blob), n: int64(len(blob) / 2), err: errSource}, res.Descriptor, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(dr)
	if !errors.Is(err, errSource) || len(got) != 0 {
		t.Errorf("decrypt: %d bytes, %v; want none and the source's error", len(got), err)
	}
	// A reader that panics fails the operation, not the process.
	pr, _, err := layercrypt.EncryptLayer(cc.EncryptConfig, panicReader{}, ocispec.Descriptor{MediaType: mediaTypeTar})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(pr); !errors.Is(err, layercrypt.ErrCallback) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("panicking reader: %v", err)
	}
}

type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("boom") }

func TestFinalizerBeforeEOF(t *testing.T) {
	cc := mustCrypto(t, []string{"jwe:" + keys + "rsa2048.pub.pem"}, nil)
	src, _ := tarStream(t, 16<<20)
	r, fin, err := layercrypt.EncryptLayer(cc.EncryptConfig, src, ocispec.Descriptor{MediaType: mediaTypeTar})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fin(); err == nil {
		t.Error("the finalizer succeeded before EOF")
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	a, err := fin()
	if err != nil || a[jweAnnotation] == "" || a["org.opencontainers.image.enc.pubopts"] == "" {
		t.Errorf("after EOF: %v, %v", a, err)
	}
	for k := range a {
		if !strings.HasPrefix(k, "org.opencontainers.image.enc.") {
			t.Errorf("the finalizer returned the foreign annotation %s", k)
		}
	}
}

// waitDone polls the operation behind r (through fin or Result) until it
// has ended, and returns its error.
func waitDone(t *testing.T, result func() error) error {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		err := result()
		if err == nil || !strings.Contains(err.Error(), "not reached EOF") {
			return err
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the operation did not stop")
	return nil
}

// TestCancel: cancelling the context stops an encryption whose consumer
// has stopped reading, and a decryption still reading its input; Close and
// dropping the reader stop one too.
func TestCancel(t *testing.T) {
	cc := mustCrypto(t, []string{"jwe:" + keys + "rsa2048.pub.pem"}, []string{keys + "rsa2048.pem"})

	ctx, cancel := context.WithCancel(context.Background())
	src, _ := tarStream(t, 1<<40) // far more than will ever be read
	r, fin, err := layercrypt.EncryptLayerContext(ctx, cc.EncryptConfig, src, ocispec.Descriptor{MediaType: mediaTypeTar})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 4<<20)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, context.Canceled) {
		t.Errorf("encrypt: reading after cancel: %v", err)
	}
	if err := waitDone(t, func() error { _, err := fin(); return err }); !errors.Is(err, context.Canceled) {
		t.Errorf("encrypt: the operation ended with %v", err)
	}

	// Decryption: the library is still reading (verify-first), the input
	// blocks between chunks; cancel ends it with nothing released.
	plain, desc := testLayer(t, mediaTypeTarGzip, 26)
	blob, res := encryptAll(t, cc.EncryptConfig, plain, desc, layercrypt.EncryptOptions{})
	ctx, cancel = context.WithCancel(context.Background())
	slow := &slowReader{r: bytes.NewReader(blob), chunk: 64 << 10, delay: 5 * time.Millisecond}
	dr, _, err := layercrypt.DecryptLayerContext(ctx, cc.DecryptConfig, slow, res.Descriptor, false)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	got, err := io.ReadAll(dr)
	if !errors.Is(err, context.Canceled) || len(got) != 0 {
		t.Errorf("decrypt: %d bytes, %v; want none and context.Canceled", len(got), err)
	}

	// Close before EOF.
	src, _ = tarStream(t, 1<<40)
	r, fin, err = layercrypt.EncryptLayer(cc.EncryptConfig, src, ocispec.Descriptor{MediaType: mediaTypeTar})
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(r, make([]byte, 1<<20))
	r.(io.Closer).Close()
	if err := waitDone(t, func() error { _, err := fin(); return err }); !errors.Is(err, layercrypt.ErrCallback) {
		t.Errorf("after Close: %v", err)
	}

	// A reader dropped before EOF stops its operation when collected.
	src, _ = tarStream(t, 1<<40)
	_, fin, err = layercrypt.EncryptLayer(cc.EncryptConfig, src, ocispec.Descriptor{MediaType: mediaTypeTar})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, func() error { _, err := fin(); return err }); !errors.Is(err, layercrypt.ErrCallback) {
		t.Errorf("dropped reader: %v", err)
	}
}

type slowReader struct {
	r     io.Reader
	chunk int
	delay time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.delay)
	if len(p) > s.chunk {
		p = p[:s.chunk]
	}
	return s.r.Read(p)
}

// TestConcurrent: one config shared by goroutines that encrypt and decrypt
// at once.
func TestConcurrent(t *testing.T) {
	cc := mustCrypto(t, []string{"jwe:" + keys + "ecp256.pub.pem", "pkcs7:" + keys + "pkcs7.cert.pem"},
		[]string{keys + "ecp256.pem"})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			plain, desc := testLayer(t, mediaTypeTarGzip, int64(30+i))
			r, fin, err := layercrypt.EncryptLayer(cc.EncryptConfig, bytes.NewReader(plain), desc)
			if err != nil {
				errs <- err
				return
			}
			blob, err := io.ReadAll(r)
			if err != nil {
				errs <- err
				return
			}
			a, err := fin()
			if err != nil {
				errs <- err
				return
			}
			dr, _, err := layercrypt.DecryptLayer(cc.DecryptConfig, bytes.NewReader(blob), encryptedDescriptor(desc, blob, a), false)
			if err != nil {
				errs <- err
				return
			}
			got, err := io.ReadAll(dr)
			if err == nil && !bytes.Equal(got, plain) {
				err = fmt.Errorf("goroutine %d: plaintext differs", i)
			}
			if err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestBoundedMemory: a 96 MiB layer streamed through encryption and
// decryption allocates a small, fixed amount on the Go heap.
func TestBoundedMemory(t *testing.T) {
	const size = 96 << 20
	cc := mustCrypto(t, []string{"jwe:" + keys + "rsa2048.pub.pem"}, []string{keys + "rsa2048.pem"})
	f, err := os.CreateTemp(t.TempDir(), "blob")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	src, _ := tarStream(t, size)
	r, fin, err := layercrypt.EncryptLayer(cc.EncryptConfig, src, ocispec.Descriptor{MediaType: mediaTypeTar})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{r}, buf); err != nil {
		t.Fatal(err)
	}
	a, err := fin()
	if err != nil {
		t.Fatal(err)
	}
	res, _ := r.(*layercrypt.LayerReader).Result()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	dr, _, err := layercrypt.DecryptLayer(cc.DecryptConfig, f, ocispec.Descriptor{Annotations: a}, false)
	if err != nil {
		t.Fatal(err)
	}
	n, err := drain(dr, buf)
	if err != nil || n != res.Descriptor.Size {
		t.Fatalf("decrypted %d of %d bytes: %v", n, res.Descriptor.Size, err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("%d MiB allocated for a %d MiB layer", alloc>>20, size>>20)
	} else {
		t.Logf("%d KiB allocated on the Go heap for a %d MiB layer, encrypted and decrypted", alloc>>10, size>>20)
	}
}
