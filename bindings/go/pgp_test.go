package layercrypt_test

// OpenPGP through the binding, with the keyrings of tests/vectors/pgp
// (Alice: no passphrase; Bob: "bob passphrase"): EncryptWithGpg and
// DecryptWithGpgPrivKeys round trips, pgp next to jwe in one config, the
// helpers' "pgp:NAME" recipients looked up in the keyring `gpg --export`
// prints for a scratch GNUPGHOME and secret keyring files as keys; Go
// ocicrypt 1.0.3 and this binding each encrypt for pgp recipients and
// each decrypt. The refusals name their cause and never a passphrase.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	gocrypt "github.com/containers/ocicrypt"
	goconfig "github.com/containers/ocicrypt/config"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	layercrypt "github.com/layercrypt/layercrypt/bindings/go"
	lcconfig "github.com/layercrypt/layercrypt/bindings/go/config"
	lchelpers "github.com/layercrypt/layercrypt/bindings/go/helpers"
)

const (
	pgpVectors    = "../../tests/vectors/pgp/"
	pgpAnnotation = "org.opencontainers.image.enc.keys.pgp"
	bobPassphrase = "bob passphrase"
	bobKeyID      = "0x8ed46b7d6f9a9101"
	wrongPass     = "not-bobs-passphrase-37"
)

// gpgHome makes a scratch GnuPG home holding the public keys of
// pubring.gpg and points GNUPGHOME at it for the test.
func gpgHome(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("gpg is not installed (apt-get install gnupg)")
	}
	home := t.TempDir()
	if out, err := exec.Command("gpg", "--homedir", home, "--batch", "--import", pgpVectors+"pubring.gpg").CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run() })
	t.Setenv("GNUPGHOME", home)
	return home
}

// encryptWith encrypts plain with ec and returns the blob and its
// encrypted descriptor.
func encryptWith(t *testing.T, ec *layercrypt.EncryptConfig, plain []byte, desc ocispec.Descriptor) ([]byte, ocispec.Descriptor) {
	t.Helper()
	r, fin, err := layercrypt.EncryptLayer(ec, bytes.NewReader(plain), desc)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	annotations, err := fin()
	if err != nil {
		t.Fatal(err)
	}
	return blob, encryptedDescriptor(desc, blob, annotations)
}

// decryptWith decrypts blob with dc.
func decryptWith(dc *layercrypt.DecryptConfig, blob []byte, desc ocispec.Descriptor) ([]byte, error) {
	r, _, err := layercrypt.DecryptLayer(dc, bytes.NewReader(blob), desc, false)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// checkErr fails unless err is a *layercrypt.Error of status want whose
// message holds every one of contains and none of the secrets.
func checkErr(t *testing.T, name string, err error, want error, contains []string, secrets ...string) {
	t.Helper()
	var e *layercrypt.Error
	if !errors.Is(err, want) || !errors.As(err, &e) {
		t.Errorf("%s: %v, want a *layercrypt.Error that is %v", name, err, want)
		return
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("%s: %q does not mention %q", name, err.Error(), c)
		}
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("%s: %q shows the passphrase", name, err.Error())
		}
	}
}

func TestPgpConstructors(t *testing.T) {
	plain, desc := testLayer(t, mediaTypeTarGzip, 40)
	pubring := readFile(pgpVectors + "pubring.gpg")
	gpg, err := lcconfig.EncryptWithGpg([][]byte{[]byte("alice@example.com"), []byte("Bob")}, pubring)
	if err != nil {
		t.Fatal(err)
	}
	p := gpg.EncryptConfig.Parameters
	if len(p["gpg-recipients"]) != 2 || len(p["gpg-pubkeyringfile"]) != 1 || !bytes.Equal(p["gpg-pubkeyringfile"][0], pubring) {
		t.Fatalf("EncryptWithGpg's parameters: %d gpg-recipients, %d gpg-pubkeyringfile", len(p["gpg-recipients"]), len(p["gpg-pubkeyringfile"]))
	}
	blob, encDesc := encryptWith(t, gpg.EncryptConfig, plain, desc)
	if encDesc.Annotations[pgpAnnotation] == "" {
		t.Fatalf("no %s annotation in %v", pgpAnnotation, encDesc.Annotations)
	}

	for _, c := range []struct {
		name, keyring string
		password      []byte
	}{
		{"alice", "alice.sec.gpg", nil},
		{"alice-armored", "alice.sec.asc", nil},
		{"bob-passphrase", "bob.sec.gpg", []byte(bobPassphrase)},
	} {
		dc, err := lcconfig.DecryptWithGpgPrivKeys([][]byte{readFile(pgpVectors + c.keyring)}, [][]byte{c.password})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(dc.DecryptConfig.Parameters["gpg-privatekeys"]); n != 1 {
			t.Errorf("%s: %d gpg-privatekeys", c.name, n)
		}
		got, err := decryptWith(dc.DecryptConfig, blob, encDesc)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: %d bytes of %d, %v", c.name, len(got), len(plain), err)
		}
	}

	// Bob's keyring with a wrong passphrase, and with none.
	for name, pw := range map[string][]byte{"wrong passphrase": []byte(wrongPass), "no passphrase": nil} {
		dc, _ := layercrypt.DecryptWithGpgPrivKeys([][]byte{readFile(pgpVectors + "bob.sec.gpg")}, [][]byte{pw})
		got, err := decryptWith(dc.DecryptConfig, blob, encDesc)
		want := "wrong passphrase for key " + bobKeyID
		if pw == nil {
			want = "key " + bobKeyID + " is protected by a passphrase and none was given"
		}
		checkErr(t, name, err, layercrypt.ErrKey, []string{want}, wrongPass)
		if len(got) != 0 {
			t.Errorf("%s: %d bytes released", name, len(got))
		}
	}

	// A keyring that holds neither key, and one that is no keyring.
	dc, _ := layercrypt.DecryptWithGpgPrivKeys([][]byte{readFile(pgpVectors + "carol.sec.gpg")}, nil)
	_, err = decryptWith(dc.DecryptConfig, blob, encDesc)
	checkErr(t, "carol", err, layercrypt.ErrKey, []string{"0xb0f98cacd6ec252e", bobKeyID})
	dc, _ = layercrypt.DecryptWithGpgPrivKeys([][]byte{readFile(keys + "rsa2048.pem")}, nil)
	_, err = decryptWith(dc.DecryptConfig, blob, encDesc)
	checkErr(t, "not a keyring", err, layercrypt.ErrData, []string{"gpg-privatekeys[0]", "not an OpenPGP"})

	// Recipients without a keyring, and a name no key matches.
	for name, ring := range map[string][]byte{"nil keyring": nil, "empty keyring": {}} {
		none, _ := layercrypt.EncryptWithGpg([][]byte{[]byte("alice@example.com")}, ring)
		_, _, err = layercrypt.EncryptLayer(none.EncryptConfig, bytes.NewReader(plain), desc)
		checkErr(t, name, err, layercrypt.ErrKey, []string{"OpenPGP public keyring", "gpg-pubkeyringfile"})
	}
	nobody, _ := layercrypt.EncryptWithGpg([][]byte{[]byte("Alice")}, pubring)
	_, _, err = layercrypt.EncryptLayer(nobody.EncryptConfig, bytes.NewReader(plain), desc)
	checkErr(t, "no key matches", err, layercrypt.ErrKey, []string{`no key matches pgp recipient "Alice"`, "gpg-recipients[0]"})
}

// TestPgpWithJwe: one config with a jwe and a pgp recipient; either key
// alone opens the layer, through the helpers as well.
func TestPgpWithJwe(t *testing.T) {
	plain, desc := testLayer(t, mediaTypeTar, 41)
	jwe, _ := lcconfig.EncryptWithJwe([][]byte{readFile(keys + "ecp256.pub.pem")})
	gpg, _ := lcconfig.EncryptWithGpg([][]byte{[]byte("Bob")}, readFile(pgpVectors+"pubring.asc"))
	cc := lcconfig.CombineCryptoConfigs([]lcconfig.CryptoConfig{jwe, gpg})
	blob, encDesc := encryptWith(t, cc.EncryptConfig, plain, desc)
	for _, a := range []string{jweAnnotation, pgpAnnotation} {
		if encDesc.Annotations[a] == "" {
			t.Errorf("annotation %s missing", a)
		}
	}
	for _, k := range []string{keys + "ecp256.pem", pgpVectors + "bob.sec.gpg:" + bobPassphrase} {
		dc, err := lchelpers.CreateDecryptCryptoConfig([]string{k}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decryptWith(dc.DecryptConfig, blob, encDesc)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: %d bytes of %d, %v", k, len(got), len(plain), err)
		}
	}
}

// TestPgpHelpers: "pgp:NAME" recipients through the keyring gpg exports
// from GNUPGHOME, secret keyrings as key files (with FILE:PASSWORD), and
// the refusals.
func TestPgpHelpers(t *testing.T) {
	gpgHome(t)
	plain, desc := testLayer(t, mediaTypeTarGzip, 42)
	cc, err := lchelpers.CreateCryptoConfig([]string{"pgp:alice@example.com", "pgp:Bob", "jwe:" + keys + "rsa2048.pub.pem"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := cc.EncryptConfig.Parameters
	if got := fmt.Sprintf("%s", p["gpg-recipients"]); got != "[alice@example.com Bob]" || len(p["gpg-pubkeyringfile"]) != 1 ||
		len(p["gpg-pubkeyringfile"][0]) == 0 || len(p["pubkeys"]) != 1 {
		t.Fatalf("gpg-recipients %s, %d gpg-pubkeyringfile, %d pubkeys", got, len(p["gpg-pubkeyringfile"]), len(p["pubkeys"]))
	}
	blob, encDesc := encryptWith(t, cc.EncryptConfig, plain, desc)

	for _, k := range []string{"alice.sec.gpg", "alice.sec.asc", "bob.sec.gpg:" + bobPassphrase, "bob.sec.gpg:pass=" + bobPassphrase} {
		dc, err := lchelpers.CreateDecryptCryptoConfig([]string{pgpVectors + k}, nil)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if n := len(dc.DecryptConfig.Parameters["gpg-privatekeys"]); n != 1 || len(dc.DecryptConfig.Parameters["privkeys"]) != 0 {
			t.Errorf("%s: %d gpg-privatekeys, %d privkeys; want 1 and 0", k, n, len(dc.DecryptConfig.Parameters["privkeys"]))
		}
		got, err := decryptWith(dc.DecryptConfig, blob, encDesc)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: %d bytes of %d, %v", k, len(got), len(plain), err)
		}
	}
	dc, err := lchelpers.CreateDecryptCryptoConfig([]string{pgpVectors + "bob.sec.gpg:" + wrongPass}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = decryptWith(dc.DecryptConfig, blob, encDesc)
	checkErr(t, "wrong passphrase", err, layercrypt.ErrKey, []string{"wrong passphrase for key " + bobKeyID}, wrongPass)

	// A public keyring is no key; a name no key matches; a home with no keys.
	_, err = lchelpers.CreateDecryptCryptoConfig([]string{pgpVectors + "pubring.gpg"}, nil)
	checkErr(t, "public keyring as a key", err, layercrypt.ErrKey, []string{"no secret key"})
	_, err = lchelpers.CreateCryptoConfig([]string{"pgp:nobody@example.com"}, nil)
	checkErr(t, "no key matches", err, layercrypt.ErrKey, []string{`no key matches pgp recipient "nobody@example.com"`})
	empty := t.TempDir()
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", empty, "--kill", "all").Run() })
	t.Setenv("GNUPGHOME", empty)
	_, err = lchelpers.CreateCryptoConfig([]string{"pgp:alice@example.com"}, nil)
	checkErr(t, "empty GnuPG home", err, layercrypt.ErrKey, []string{"exported no public keys", empty})
}

// TestPgpInterop: Go ocicrypt 1.0.3 and this binding, both through their
// helpers with the same GNUPGHOME, each encrypt for pgp:alice@example.com
// and pgp:bob@example.org (and a jwe recipient) and each decrypt with
// Alice's keyring file and with Bob's keyring and passphrase as bytes
// (ocicrypt 1.0.3's helpers take no FILE:PASSWORD). Not pgp:Bob: Go 1.19's
// mail.ParseAddress keeps the comment of "Bob (work) <bob@example.org>"
// in the name.
func TestPgpInterop(t *testing.T) {
	gpgHome(t)
	plain, desc := testLayer(t, mediaTypeTarGzip, 43)
	recipients := []string{"pgp:alice@example.com", "pgp:bob@example.org", "jwe:" + keys + "rsa2048.pub.pem"}
	bob, bobPass := [][]byte{readFile(pgpVectors + "bob.sec.gpg")}, [][]byte{[]byte(bobPassphrase)}
	decryptBob := map[string]func(blob []byte, d ocispec.Descriptor) ([]byte, error){
		goOcicrypt.name: func(blob []byte, d ocispec.Descriptor) ([]byte, error) {
			cc, _ := goconfig.DecryptWithGpgPrivKeys(bob, bobPass)
			r, _, err := gocrypt.DecryptLayer(cc.DecryptConfig, bytes.NewReader(blob), d, false)
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		},
		ours.name: func(blob []byte, d ocispec.Descriptor) ([]byte, error) {
			cc, _ := lcconfig.DecryptWithGpgPrivKeys(bob, bobPass)
			return decryptWith(cc.DecryptConfig, blob, d)
		},
	}
	for _, enc := range backends {
		blob, annotations, err := enc.encrypt(recipients, plain, desc)
		if err != nil {
			t.Fatalf("%s encrypt: %v", enc.name, err)
		}
		if annotations[pgpAnnotation] == "" {
			t.Fatalf("%s encrypt: no %s annotation", enc.name, pgpAnnotation)
		}
		encDesc := encryptedDescriptor(desc, blob, annotations)
		for _, dec := range backends {
			got, _, err := dec.decrypt(files(pgpVectors+"alice.sec.gpg"), blob, encDesc)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%s->%s with Alice's keyring: %d bytes of %d, %v", enc.name, dec.name, len(got), len(plain), err)
			}
			got, err = decryptBob[dec.name](blob, encDesc)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%s->%s with Bob's keyring: %d bytes of %d, %v", enc.name, dec.name, len(got), len(plain), err)
			}
		}
	}
}
