// Command ocibuild builds an encrypted single-layer OCI image layout from a
// directory or a tar file in one pass: the tar streams through layercrypt,
// which compresses and encrypts it together, straight into the layout's blob
// store; the config, manifest, index.json and oci-layout follow from the
// descriptor and diff_id layercrypt returns. Nothing is held in memory but
// buffers, whatever the layer's size.
//
//	ocibuild -recipient jwe:node.pub.pem [-recipient pkcs7:cert.pem ...]
//	         [-compress gzip|zstd|none] [-tag latest] SRC OUT
//
// SRC is a directory (archived with owners set to root) or an uncompressed
// tar file; OUT must not exist, and appears whole or not at all. skopeo,
// containerd (with imgcrypt) or layercrypt decrypt the result:
//
//	skopeo copy --decryption-key node.pem oci:OUT:latest oci:PLAIN:latest
package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	layercrypt "github.com/layercrypt/layercrypt/bindings/go"
)

type recipientList []string

func (r *recipientList) String() string     { return strings.Join(*r, ",") }
func (r *recipientList) Set(s string) error { *r = append(*r, s); return nil }

// options are what build needs.
type options struct {
	src, out, tag string
	compression   string   // layercrypt.EncryptOptions.Compression
	recipients    []string // "jwe:FILE", "pkcs7:FILE", "pgp:NAME", "FILE"
}

func main() {
	var o options
	var recipients recipientList
	flag.Var(&recipients, "recipient", "a recipient: jwe:PUBKEY, pkcs7:CERT, pgp:NAME (in gpg's keyring) or FILE (repeatable)")
	flag.StringVar(&o.compression, "compress", "gzip", "compress the tar in the same pass: gzip, gzip:0-3, zstd, zstd:1-19, none")
	flag.StringVar(&o.tag, "tag", "latest", "the image's tag (org.opencontainers.image.ref.name)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s -recipient SPEC [-recipient SPEC ...] [-compress C] [-tag T] SRC OUT\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 || len(recipients) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	o.src, o.out, o.recipients = flag.Arg(0), flag.Arg(1), recipients
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	manifest, err := build(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocibuild:", err)
		os.Exit(1)
	}
	fmt.Printf("%s:%s manifest %s\n", o.out, o.tag, manifest.Digest)
}

// build writes the encrypted image layout and returns its manifest's
// descriptor.
func build(ctx context.Context, o options) (ocispec.Descriptor, error) {
	cc, err := layercrypt.CreateCryptoConfig(o.recipients, nil)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if _, err := os.Lstat(o.out); err == nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s exists", o.out)
	}
	// Write beside OUT, publish with one rename.
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(o.out)), "."+filepath.Base(o.out)+".tmp-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "blobs", "sha256"), 0o755); err != nil {
		return ocispec.Descriptor{}, err
	}

	src, mediaType, err := openSource(o.src)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer src.Close()
	enc, err := layercrypt.EncryptLayerWithOptions(ctx, cc.EncryptConfig, src,
		ocispec.Descriptor{MediaType: mediaType}, layercrypt.EncryptOptions{Compression: o.compression})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer enc.Close()
	written, err := writeBlob(tmp, enc)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer: %w", err)
	}
	layer, err := enc.Result()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if layer.Descriptor.Digest != written.Digest || layer.Descriptor.Size != written.Size {
		return ocispec.Descriptor{}, fmt.Errorf("layer: wrote %s (%d bytes), layercrypt reported %s (%d bytes)",
			written.Digest, written.Size, layer.Descriptor.Digest, layer.Descriptor.Size)
	}
	if layer.DiffID == "" {
		return ocispec.Descriptor{}, errNoDiffID
	}

	config, err := writeJSON(tmp, ocispec.MediaTypeImageConfig, ocispec.Image{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		RootFS:       ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.DiffID}},
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	manifest, err := writeJSON(tmp, ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    config,
		Layers:    []ocispec.Descriptor{layer.Descriptor},
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	manifest.Annotations = map[string]string{ocispec.AnnotationRefName: o.tag}
	if err := writeFile(filepath.Join(tmp, "index.json"), ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manifest},
	}); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := writeFile(filepath.Join(tmp, ocispec.ImageLayoutFile), ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := os.Rename(tmp, o.out); err != nil {
		return ocispec.Descriptor{}, err
	}
	return manifest, nil
}

// openSource returns the layer's tar and its media type: a file as it is
// (its type sniffed by layercrypt), or a directory archived on the fly.
func openSource(path string) (io.ReadCloser, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if !fi.IsDir() {
		f, err := os.Open(path)
		return f, "", err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive(path, pw)) }()
	return pr, ocispec.MediaTypeImageLayer, nil
}

// archive writes the tree under root as a tar, in lexical order, owned by
// root; sockets and named pipes are left out.
func archive(root string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&(fs.ModeSocket|fs.ModeNamedPipe) != 0 {
			return nil
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// writeBlob streams r into the layout's blob store and returns the blob's
// digest and size, computed as it was written.
func writeBlob(layout string, r io.Reader) (ocispec.Descriptor, error) {
	dir := filepath.Join(layout, "blobs", "sha256")
	f, err := os.CreateTemp(dir, ".blob-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), r, make([]byte, 1<<20))
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(f.Name(), filepath.Join(dir, sum)); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{Digest: digest.NewDigestFromEncoded(digest.SHA256, sum), Size: n}, nil
}

// writeJSON stores v as a blob of mediaType and returns its descriptor.
func writeJSON(layout, mediaType string, v interface{}) (ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	return d, os.WriteFile(filepath.Join(layout, "blobs", "sha256", d.Digest.Encoded()), b, 0o644)
}

func writeFile(path string, v interface{}) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// errNoDiffID is returned for a compressed tar file: layercrypt encrypts
// it as it is and the image config needs the tar's digest.
var errNoDiffID = errors.New("the source is not an uncompressed tar (give a directory or a .tar)")
