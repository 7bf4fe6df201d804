package layercrypt_test

import (
	"archive/tar"
	"bytes"
	"io"
	"math/rand"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// patternReader returns n bytes of a 4 MiB block that is half random, half
// text, over and over: compressible, and cheap to produce (no allocation).
type patternReader struct {
	block []byte
	off   int
	left  int64
}

var patternBlock = func() []byte {
	b := make([]byte, 4<<20)
	rand.New(rand.NewSource(1)).Read(b[:len(b)/2])
	for i := len(b) / 2; i < len(b); i++ {
		b[i] = "the quick brown fox jumps over the lazy layer\n"[i%46]
	}
	return b
}()

func (p *patternReader) Read(buf []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(buf)) > p.left {
		buf = buf[:p.left]
	}
	n := copy(buf, p.block[p.off:])
	p.off = (p.off + n) % len(p.block)
	p.left -= int64(n)
	return n, nil
}

// tarStream returns a reader of an uncompressed tar holding one file of
// size bytes of the pattern, and the tar's length. Nothing is held in
// memory but the header and trailer.
func tarStream(t testing.TB, size int64) (io.Reader, int64) {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "layer.bin", Mode: 0644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	pad := (512 - size%512) % 512
	tail := make([]byte, pad+1024) // padding, then two zero blocks
	total := int64(hdr.Len()) + size + int64(len(tail))
	return io.MultiReader(bytes.NewReader(hdr.Bytes()), &patternReader{block: patternBlock, left: size}, bytes.NewReader(tail)), total
}

// tarBytes is tarStream in memory, with its descriptor.
func tarBytes(t testing.TB, size int64) ([]byte, ocispec.Descriptor) {
	r, n := tarStream(t, size)
	b := make([]byte, 0, n)
	b, err := readAllInto(b, r)
	if err != nil {
		t.Fatal(err)
	}
	return b, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// drain reads r to the end with a 1 MiB buffer and returns the count.
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
