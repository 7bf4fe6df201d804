package layercrypt

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"runtime/cgo"
	"strings"
	"unsafe"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// EncryptLayerFinalizer returns the annotations of the encrypted layer
// (org.opencontainers.image.enc.keys.* and ...enc.pubopts). Call it after
// the reader EncryptLayer returned has hit io.EOF.
type EncryptLayerFinalizer func() (map[string]string, error)

// annotationPrefix starts every annotation ocicrypt owns.
const annotationPrefix = "org.opencontainers.image.enc."

// keysAnnotationPrefix starts the wrapped-key annotations
// (org.opencontainers.image.enc.keys.jwe, .pkcs7, ...).
const keysAnnotationPrefix = annotationPrefix + "keys."

// genericEncryptedType names the blob for the library when the caller's
// descriptor carries no usable type: the type does not change decryption.
const genericEncryptedType = "application/vnd.oci.image.layer.v1.tar+encrypted"

var (
	errReaderClosed    = errors.New("the layer reader was closed")
	errReaderAbandoned = errors.New("the layer reader was garbage-collected before EOF")
	errNotDone         = errors.New("layercrypt: the layer reader has not reached EOF yet")
)

// FilterOutAnnotations returns annotations without the ones ocicrypt owns
// (org.opencontainers.image.enc.*).
func FilterOutAnnotations(annotations map[string]string) map[string]string {
	out := make(map[string]string)
	for k, v := range annotations {
		if !strings.HasPrefix(k, annotationPrefix) {
			out[k] = v
		}
	}
	return out
}

func isEncrypted(desc ocispec.Descriptor) bool {
	for k, v := range desc.Annotations {
		if strings.HasPrefix(k, keysAnnotationPrefix) && v != "" {
			return true
		}
	}
	return false
}

// descriptorJSON is a descriptor as the library reads it; fields the
// caller left empty are left out.
func descriptorJSON(desc ocispec.Descriptor, mediaType string) (*C.char, error) {
	b, err := json.Marshal(struct {
		MediaType   string            `json:"mediaType,omitempty"`
		Digest      digest.Digest     `json:"digest,omitempty"`
		Size        int64             `json:"size,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}{mediaType, desc.Digest, desc.Size, desc.Annotations})
	if err != nil {
		return nil, &Error{Status: StatusInvalidArgument, Op: "descriptor", Err: err}
	}
	return C.CString(string(b)), nil
}

// LayerResult describes the blob a LayerReader produced.
type LayerResult struct {
	// Descriptor is, after encryption, the encrypted blob's: its +encrypted
	// media type, digest, size, and the input descriptor's annotations with
	// the ocicrypt ones added. After decryption it is the plaintext blob's:
	// media type, the digest recorded by the encrypter, and size.
	Descriptor ocispec.Descriptor
	// DiffID is the digest of the layer's tar when encryption computed it
	// (an uncompressed tar input, or one compressed in the same pass).
	DiffID digest.Digest
}

// operation is one encryption or decryption running in its own goroutine.
// result and err are set before done is closed, and done is closed before
// the pipe delivers io.EOF or the error.
type operation struct {
	pr     *io.PipeReader
	done   chan struct{}
	result LayerResult
	err    error
}

// LayerReader is the output of an encryption or decryption. The library
// runs in a goroutine of its own and writes through an io.Pipe, so memory
// stays bounded whatever the layer's size. Read it to io.EOF, or Close it
// (or cancel the context) to stop early; a LayerReader dropped before EOF
// stops its operation when it is garbage-collected.
type LayerReader struct {
	op *operation
}

// Read reads the output. With decryption (unless DecryptOptions.Stream) no
// byte is returned before the whole layer's HMAC has verified: a tampered
// layer yields an error wrapping ErrIntegrity and no data.
func (r *LayerReader) Read(p []byte) (int, error) {
	n, err := r.op.pr.Read(p)
	runtime.KeepAlive(r)
	return n, err
}

// Close stops the operation if it is still running. It returns nil.
func (r *LayerReader) Close() error {
	r.op.pr.CloseWithError(errReaderClosed)
	return nil
}

// Result returns the produced blob's descriptor once Read has returned
// io.EOF, or the operation's error.
func (r *LayerReader) Result() (LayerResult, error) { return r.op.outcome() }

func (o *operation) outcome() (LayerResult, error) {
	select {
	case <-o.done:
		return o.result, o.err
	default:
		return LayerResult{}, errNotDone
	}
}

// start runs run(handle of the stream) in a goroutine, with the output
// going to the returned reader. run returns the library's lc_layer (on
// success; start frees it) and the error.
func start(ctx context.Context, in io.Reader, run func(h C.uintptr_t) (*C.lc_layer, error),
	finish func(layer *C.lc_layer) (LayerResult, error)) *LayerReader {
	pr, pw := io.Pipe()
	op := &operation{pr: pr, done: make(chan struct{})}
	s := &stream{ctx: ctx, in: in, out: pw}
	go func() {
		h := cgo.NewHandle(s)
		layer, err := run(C.uintptr_t(h))
		h.Delete()
		if err == nil {
			op.result, err = finish(layer)
			C.lc_layer_free(layer)
		} else if e := (*Error)(nil); errors.As(err, &e) && e.Status == StatusCallback {
			e.Err = s.cause()
		}
		op.err = err
		close(op.done)
		pw.CloseWithError(err) // nil: io.EOF
	}()
	if ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
			case <-op.done:
			}
		}()
	}
	r := &LayerReader{op: op}
	runtime.SetFinalizer(r, func(r *LayerReader) { r.op.pr.CloseWithError(errReaderAbandoned) })
	return r
}

func parseDescriptor(s *C.char, op string) (ocispec.Descriptor, error) {
	var d ocispec.Descriptor
	if err := json.Unmarshal([]byte(C.GoString(s)), &d); err != nil {
		return d, &Error{Status: StatusInternal, Op: op, Message: "descriptor from the library", Err: err}
	}
	return d, nil
}

// EncryptOptions tunes EncryptLayerWithOptions.
type EncryptOptions struct {
	// Compression compresses an uncompressed tar layer in the same pass:
	// "" or "none" (the default: encrypt the blob as it is, as ocicrypt
	// does), "gzip", "gzip:LEVEL" (0-3), "zstd", "zstd:LEVEL" (1-19).
	// Compressed layers are encrypted as they are.
	Compression string
}

// EncryptLayer encrypts the layer read from encOrPlainLayerReader (of
// desc.MediaType, an OCI or Docker tar, tar+gzip or tar+zstd layer type;
// sniffed when empty) for ec's recipients, as ocicrypt.EncryptLayer does.
// The finalizer returns the annotations to add to the layer's descriptor
// after the reader hit io.EOF; the caller sets the +encrypted media type.
//
// If desc already carries wrapped keys, the layer is not re-encrypted: the
// reader is nil and the finalizer returns the annotations with ec's
// recipients added (ec.DecryptConfig must open the layer).
//
// The reader is a *LayerReader (Close, Result).
func EncryptLayer(ec *EncryptConfig, encOrPlainLayerReader io.Reader, desc ocispec.Descriptor) (io.Reader, EncryptLayerFinalizer, error) {
	return EncryptLayerContext(context.Background(), ec, encOrPlainLayerReader, desc)
}

// EncryptLayerContext is EncryptLayer that stops, with ctx.Err(), when ctx
// is done (a read of encOrPlainLayerReader already blocked is not
// interrupted).
func EncryptLayerContext(ctx context.Context, ec *EncryptConfig, encOrPlainLayerReader io.Reader, desc ocispec.Descriptor) (io.Reader, EncryptLayerFinalizer, error) {
	if ec == nil {
		return nil, nil, newError(StatusInvalidArgument, "encrypt layer", "EncryptConfig must not be nil")
	}
	if isEncrypted(desc) {
		annotations, err := addRecipients(ec, desc)
		if err != nil {
			return nil, nil, err
		}
		return nil, func() (map[string]string, error) { return annotations, nil }, nil
	}
	r, err := EncryptLayerWithOptions(ctx, ec, encOrPlainLayerReader, desc, EncryptOptions{})
	if err != nil {
		return nil, nil, err
	}
	op := r.op // not r: the finalizer must not keep the reader alive
	finalizer := func() (map[string]string, error) {
		res, err := op.outcome()
		if err != nil {
			return nil, err
		}
		out := make(map[string]string)
		for k, v := range res.Descriptor.Annotations {
			if strings.HasPrefix(k, annotationPrefix) {
				out[k] = v
			}
		}
		return out, nil
	}
	return r, finalizer, nil
}

// EncryptLayerWithOptions encrypts a plain layer like EncryptLayer and
// returns the whole new descriptor (LayerReader.Result after io.EOF), so a
// builder writes the blob and the manifest entry from one pass. desc must
// not be encrypted already.
func EncryptLayerWithOptions(ctx context.Context, ec *EncryptConfig, plainLayerReader io.Reader, desc ocispec.Descriptor, opts EncryptOptions) (*LayerReader, error) {
	const op = "encrypt layer"
	if plainLayerReader == nil {
		return nil, newError(StatusInvalidArgument, op, "the layer reader is nil")
	}
	if isEncrypted(desc) {
		return nil, newError(StatusInvalidArgument, op,
			"the layer is encrypted already (use EncryptLayer to add recipients)")
	}
	cfg, err := newEncryptConfig(ec, opts.Compression)
	if err != nil {
		return nil, err
	}
	var mediaType *C.char
	if desc.MediaType != "" {
		mediaType = C.CString(desc.MediaType)
	}
	keep := FilterOutAnnotations(desc.Annotations)
	run := func(h C.uintptr_t) (*C.lc_layer, error) {
		defer C.lc_encrypt_config_free(cfg)
		defer C.free(unsafe.Pointer(mediaType))
		var layer *C.lc_layer
		var msg *C.char
		err := call(C.lcgo_encrypt_layer(cfg, mediaType, h, h, &layer, &msg), msg, op)
		return layer, err
	}
	finish := func(layer *C.lc_layer) (LayerResult, error) {
		d, err := parseDescriptor(C.lc_layer_descriptor_json(layer), op)
		if err != nil {
			return LayerResult{}, err
		}
		if d.Annotations == nil && len(keep) > 0 {
			d.Annotations = make(map[string]string, len(keep))
		}
		for k, v := range keep {
			if _, set := d.Annotations[k]; !set {
				d.Annotations[k] = v
			}
		}
		d.URLs, d.Platform = desc.URLs, desc.Platform
		return LayerResult{Descriptor: d, DiffID: digest.Digest(C.GoString(C.lc_layer_diff_id(layer)))}, nil
	}
	return start(ctx, plainLayerReader, run, finish), nil
}

// addRecipients wraps the key of the encrypted layer desc, opened with
// ec.DecryptConfig, for ec's recipients too, and returns the ocicrypt
// annotations (the existing wrapped keys with the new ones appended).
func addRecipients(ec *EncryptConfig, desc ocispec.Descriptor) (map[string]string, error) {
	const op = "add recipients"
	keys, err := newDecryptConfig(&ec.DecryptConfig)
	if err != nil {
		return nil, err
	}
	defer C.lc_decrypt_config_free(keys)
	recipients, err := newEncryptConfig(ec, "")
	if err != nil {
		return nil, err
	}
	defer C.lc_encrypt_config_free(recipients)
	mediaType := desc.MediaType
	if mediaType == "" {
		mediaType = genericEncryptedType
	}
	in, err := descriptorJSON(desc, mediaType)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(in))
	var out, msg *C.char
	if err := call(C.lcgo_add_recipients(keys, recipients, in, &out, &msg), msg, op); err != nil {
		return nil, err
	}
	d, err := parseDescriptor(out, op)
	C.lc_free(unsafe.Pointer(out))
	if err != nil {
		return nil, err
	}
	annotations := make(map[string]string)
	for k, v := range d.Annotations {
		if strings.HasPrefix(k, annotationPrefix) {
			annotations[k] = v
		}
	}
	return annotations, nil
}

// DecryptOptions tunes DecryptLayerWithOptions.
type DecryptOptions struct {
	// Stream releases plaintext as it is decrypted, as Go ocicrypt does:
	// the HMAC verdict then comes at the end, after unverified bytes. The
	// default holds everything back until the HMAC has verified (the
	// library spools the ciphertext, in memory up to 8 MiB, then in an
	// unlinked file in $TMPDIR).
	Stream bool
	// Decompress returns the layer's tar instead of its gzip or zstd blob
	// (desc.MediaType must name the compression).
	Decompress bool
}

// DecryptLayer decrypts the encrypted layer read from encLayerReader with
// dc's keys, as ocicrypt.DecryptLayer does, and returns the plaintext blob
// and the plaintext digest recorded by the encrypter. Key errors are
// returned at once; with unwrapOnly only the keys are checked and the
// reader is nil.
//
// Unlike ocicrypt, no plaintext byte is released before the layer's HMAC
// over the whole blob has verified: reading a tampered layer returns an
// error wrapping ErrIntegrity and no data.
//
// The digest is "" when the loaded liblayercrypt lacks
// lc_layer_plain_digest; LayerReader.Result has it after io.EOF in any
// case. The reader is a *LayerReader (Close, Result).
func DecryptLayer(dc *DecryptConfig, encLayerReader io.Reader, desc ocispec.Descriptor, unwrapOnly bool) (io.Reader, digest.Digest, error) {
	return DecryptLayerContext(context.Background(), dc, encLayerReader, desc, unwrapOnly)
}

// DecryptLayerContext is DecryptLayer that stops, with ctx.Err(), when ctx
// is done (a read of encLayerReader already blocked is not interrupted).
func DecryptLayerContext(ctx context.Context, dc *DecryptConfig, encLayerReader io.Reader, desc ocispec.Descriptor, unwrapOnly bool) (io.Reader, digest.Digest, error) {
	// ocicrypt ignores the media type; so does this: the blob comes back
	// as it is, whatever its type.
	desc.MediaType = genericEncryptedType
	r, d, err := decryptLayer(ctx, dc, encLayerReader, desc, unwrapOnly, DecryptOptions{})
	if err != nil || r == nil {
		return nil, "", err
	}
	return r, d, nil
}

// DecryptLayerWithOptions decrypts like DecryptLayer with the choices of
// opts; LayerReader.Result returns the plaintext's descriptor after io.EOF.
func DecryptLayerWithOptions(ctx context.Context, dc *DecryptConfig, encLayerReader io.Reader, desc ocispec.Descriptor, opts DecryptOptions) (*LayerReader, error) {
	if desc.MediaType == "" {
		desc.MediaType = genericEncryptedType
	}
	r, _, err := decryptLayer(ctx, dc, encLayerReader, desc, false, opts)
	return r, err
}

func decryptLayer(ctx context.Context, dc *DecryptConfig, in io.Reader, desc ocispec.Descriptor, unwrapOnly bool, opts DecryptOptions) (*LayerReader, digest.Digest, error) {
	const op = "decrypt layer"
	if !unwrapOnly && in == nil {
		return nil, "", newError(StatusInvalidArgument, op, "the layer reader is nil")
	}
	cfg, err := newDecryptConfig(dc)
	if err != nil {
		return nil, "", err
	}
	descJSON, err := descriptorJSON(desc, desc.MediaType)
	if err != nil {
		C.lc_decrypt_config_free(cfg)
		return nil, "", err
	}
	release := func() {
		C.free(unsafe.Pointer(descJSON))
		C.lc_decrypt_config_free(cfg)
	}
	var plainDigest digest.Digest
	var msg *C.char
	if !unwrapOnly && hasPlainDigest() {
		var out *C.char
		err = call(C.lcgo_layer_plain_digest(cfg, descJSON, &out, &msg), msg, op)
		if err == nil {
			plainDigest = digest.Digest(C.GoString(out))
			C.lc_free(unsafe.Pointer(out))
		}
	} else {
		err = call(C.lcgo_check_layer_keys(cfg, descJSON, &msg), msg, op)
	}
	if err != nil || unwrapOnly {
		release()
		return nil, "", err
	}
	var flags C.uint
	if opts.Stream {
		flags |= C.LC_DECRYPT_STREAM
	}
	if opts.Decompress {
		flags |= C.LC_DECRYPT_DECOMPRESS
	}
	run := func(h C.uintptr_t) (*C.lc_layer, error) {
		defer release()
		var layer *C.lc_layer
		var msg *C.char
		err := call(C.lcgo_decrypt_layer(cfg, descJSON, h, h, flags, &layer, &msg), msg, op)
		return layer, err
	}
	finish := func(layer *C.lc_layer) (LayerResult, error) {
		d, err := parseDescriptor(C.lc_layer_descriptor_json(layer), op)
		return LayerResult{Descriptor: d}, err
	}
	return start(ctx, in, run, finish), plainDigest, nil
}

// Version returns the library's version ("0.1.0").
func Version() string { return C.GoString(C.lc_version()) }
