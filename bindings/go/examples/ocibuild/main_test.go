package main

// The example builder's output, decrypted by skopeo (Go ocicrypt): the
// decrypted layer holds exactly the source tree, and its config's diff_id
// is the tar's digest. For pgp, skopeo also encrypts and the binding
// decrypts.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	layercrypt "github.com/layercrypt/layercrypt/bindings/go"
)

const (
	keys       = "../../../../tests/vectors/ocicrypt/keys/"
	pgpVectors = "../../../../tests/vectors/pgp/"
)

// entry is what the test compares of a file in the tree and in the tar.
type entry struct {
	kind    byte // tar type flag
	mode    int64
	content string // a file's bytes, a symlink's target
}

// makeTree writes a small tree (text, 3 MiB of random bytes, nested
// directories, a symlink, an empty file) and returns what its tar must hold.
func makeTree(t *testing.T, root string) map[string]entry {
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 3<<20)
	rng.Read(random)
	want := map[string]entry{
		"etc/":                   {tar.TypeDir, 0o755, ""},
		"etc/app.conf":           {tar.TypeReg, 0o644, "listen = 8080\n"},
		"usr/":                   {tar.TypeDir, 0o755, ""},
		"usr/lib/":               {tar.TypeDir, 0o755, ""},
		"usr/lib/blob.bin":       {tar.TypeReg, 0o600, string(random)},
		"usr/lib/empty":          {tar.TypeReg, 0o644, ""},
		"usr/lib/current":        {tar.TypeSymlink, 0o777, "blob.bin"},
		"usr/bin/":               {tar.TypeDir, 0o755, ""},
		"usr/bin/tool":           {tar.TypeReg, 0o755, "#!/bin/sh\necho layercrypt\n"},
		"a/b/c/d/e/f/g/deep.txt": {tar.TypeReg, 0o644, strings.Repeat("deep ", 1000)},
	}
	for name, e := range want {
		p := filepath.Join(root, filepath.FromSlash(name))
		var err error
		switch e.kind {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.WriteFile(p, []byte(e.content), os.FileMode(e.mode))
			}
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.Symlink(e.content, p)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.kind == tar.TypeReg {
			os.Chmod(p, os.FileMode(e.mode)) // past the umask
		}
	}
	for _, d := range []string{"a/", "a/b/", "a/b/c/", "a/b/c/d/", "a/b/c/d/e/", "a/b/c/d/e/f/", "a/b/c/d/e/f/g/"} {
		want[d] = entry{tar.TypeDir, 0o755, ""}
	}
	return want
}

// readTar returns the entries of a tar and the tar's digest.
func readTar(t *testing.T, r io.Reader) (map[string]entry, digest.Digest) {
	digester := digest.Canonical.Digester()
	tr := tar.NewReader(io.TeeReader(r, digester.Hash()))
	got := map[string]entry{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("%s: owner %d:%d, want 0:0", hdr.Name, hdr.Uid, hdr.Gid)
		}
		e := entry{kind: hdr.Typeflag, mode: hdr.Mode & 0o777, content: hdr.Linkname}
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			e.content = string(b)
		}
		got[hdr.Name] = e
	}
	io.Copy(io.Discard, tr)
	return got, digester.Digest()
}

func readJSON(t *testing.T, path string, v interface{}) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// manifestOf returns the layout's only manifest.
func manifestOf(t *testing.T, layout string) ocispec.Manifest {
	var index ocispec.Index
	readJSON(t, filepath.Join(layout, "index.json"), &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("%s: %d manifests", layout, len(index.Manifests))
	}
	var m ocispec.Manifest
	readJSON(t, filepath.Join(layout, "blobs", "sha256", index.Manifests[0].Digest.Encoded()), &m)
	return m
}

func TestSkopeoDecryptsTheBuild(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo is not installed (apt-get install skopeo)")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	want := makeTree(t, tree)
	// The tree as a tar file too: the builder's other input.
	tarFile := filepath.Join(dir, "tree.tar")
	f, err := os.Create(tarFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := archive(tree, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// pgp recipients are looked up in what gpg exports from GNUPGHOME, for
	// the builder (CreateCryptoConfig) as for skopeo.
	home := filepath.Join(dir, "gnupg")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gpg", "--homedir", home, "--batch", "--import", pgpVectors+"pubring.gpg").CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run() })
	t.Setenv("GNUPGHOME", home)

	for i, c := range []struct {
		src, compression string
		recipients, keys []string
		layerType        string
	}{
		{tree, "gzip", []string{"jwe:" + keys + "rsa2048.pub.pem"}, []string{keys + "rsa2048.pem"}, ocispec.MediaTypeImageLayerGzip},
		{tarFile, "zstd", []string{"jwe:" + keys + "ecp384.pub.pem", "pkcs7:" + keys + "pkcs7.cert.pem"},
			[]string{keys + "ecp384.pem"}, ocispec.MediaTypeImageLayerZstd},
		{tree, "none", []string{keys + "pkcs7.cert.pem"}, []string{keys + "pkcs7.key.pem", keys + "pkcs7.cert.pem"}, ocispec.MediaTypeImageLayer},
		{tree, "gzip", []string{"pgp:alice@example.com"}, []string{pgpVectors + "alice.sec.gpg"}, ocispec.MediaTypeImageLayerGzip},
	} {
		t.Run(fmt.Sprintf("%s-%s", filepath.Base(c.src), c.compression), func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("enc%d", i))
			if _, err := build(context.Background(), options{src: c.src, out: out, tag: "v1", compression: c.compression, recipients: c.recipients}); err != nil {
				t.Fatal(err)
			}
			m := manifestOf(t, out)
			if len(m.Layers) != 1 || m.Layers[0].MediaType != c.layerType+"+encrypted" {
				t.Fatalf("layers %+v, want one %s+encrypted", m.Layers, c.layerType)
			}

			// A wrong key: skopeo fails and writes no image.
			bad := filepath.Join(dir, fmt.Sprintf("bad%d", i))
			cmd := exec.Command(skopeo, "--insecure-policy", "copy", "--decryption-key", keys+"ecp256.pem", "oci:"+out+":v1", "oci:"+bad+":v1")
			if outb, err := cmd.CombinedOutput(); err == nil {
				t.Errorf("skopeo decrypted with a wrong key:\n%s", outb)
			}

			plain := filepath.Join(dir, fmt.Sprintf("plain%d", i))
			args := []string{"--insecure-policy", "copy"}
			for _, k := range c.keys {
				args = append(args, "--decryption-key", k)
			}
			args = append(args, "oci:"+out+":v1", "oci:"+plain+":v1")
			if outb, err := exec.Command(skopeo, args...).CombinedOutput(); err != nil {
				t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, outb)
			}
			pm := manifestOf(t, plain)
			if len(pm.Layers) != 1 || strings.HasSuffix(pm.Layers[0].MediaType, "+encrypted") {
				t.Fatalf("decrypted layers %+v", pm.Layers)
			}
			blob, err := os.ReadFile(filepath.Join(plain, "blobs", "sha256", pm.Layers[0].Digest.Encoded()))
			if err != nil {
				t.Fatal(err)
			}
			var tarStream io.Reader = bytes.NewReader(blob)
			switch c.compression {
			case "gzip":
				zr, err := gzip.NewReader(tarStream)
				if err != nil {
					t.Fatal(err)
				}
				tarStream = zr
			case "zstd":
				zstd, err := exec.LookPath("zstd")
				if err != nil {
					t.Skip("zstd is not installed (apt-get install zstd)")
				}
				cmd := exec.Command(zstd, "-dc")
				cmd.Stdin = tarStream
				out, err := cmd.Output()
				if err != nil {
					t.Fatal(err)
				}
				tarStream = bytes.NewReader(out)
			}
			got, tarDigest := readTar(t, tarStream)
			for name, w := range want {
				g, ok := got[name]
				switch {
				case !ok:
					t.Errorf("%s missing from the decrypted layer", name)
				case g.kind != w.kind || g.mode != w.mode || g.content != w.content:
					t.Errorf("%s: type %c mode %o (%d bytes), want type %c mode %o (%d bytes)", name, g.kind, g.mode, len(g.content), w.kind, w.mode, len(w.content))
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d entries, want %d", len(got), len(want))
			}
			var config ocispec.Image
			readJSON(t, filepath.Join(plain, "blobs", "sha256", pm.Config.Digest.Encoded()), &config)
			if len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != tarDigest {
				t.Errorf("diff_ids %v, want [%s]", config.RootFS.DiffIDs, tarDigest)
			}
		})
	}
	// The other way: skopeo encrypts the first case's decrypted image for
	// pgp:alice@example.com (gpg --export of GNUPGHOME), and the binding
	// decrypts its layer with Alice's keyring.
	t.Run("skopeo-encrypts-pgp", func(t *testing.T) {
		plain, enc := filepath.Join(dir, "plain0"), filepath.Join(dir, "skopeo-pgp")
		args := []string{"--insecure-policy", "copy", "--encryption-key", "pgp:alice@example.com", "oci:" + plain + ":v1", "oci:" + enc + ":v1"}
		if out, err := exec.Command(skopeo, args...).CombinedOutput(); err != nil {
			t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		layer, want := manifestOf(t, enc).Layers[0], manifestOf(t, plain).Layers[0]
		if layer.Annotations["org.opencontainers.image.enc.keys.pgp"] == "" {
			t.Fatalf("skopeo's layer has no pgp recipient: %v", layer.Annotations)
		}
		cc, err := layercrypt.CreateDecryptCryptoConfig([]string{pgpVectors + "alice.sec.gpg"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		blob, err := os.Open(filepath.Join(enc, "blobs", "sha256", layer.Digest.Encoded()))
		if err != nil {
			t.Fatal(err)
		}
		defer blob.Close()
		r, _, err := layercrypt.DecryptLayer(cc.DecryptConfig, blob, layer, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || digest.FromBytes(got) != want.Digest {
			t.Errorf("decrypted %d bytes (%v), digest %s; want %s", len(got), err, digest.FromBytes(got), want.Digest)
		}
	})
}

func TestRefusesAnExistingOutput(t *testing.T) {
	dir := t.TempDir()
	if _, err := build(context.Background(), options{src: dir, out: dir, tag: "v1", recipients: []string{"jwe:" + keys + "rsa2048.pub.pem"}}); err == nil {
		t.Error("build wrote into an existing directory")
	}
}
