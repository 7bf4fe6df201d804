package layercrypt_test

// PKCS#11 keys through the binding, with an RSA key pair in a SoftHSM2
// token made for the test: EncryptWithPkcs11 (a key YAML, a plain public
// key) and DecryptWithPkcs11Yaml round-trip with the key inside the token;
// the module policy comes from the pkcs11-config parameter (the
// environment's OCICRYPT_CONFIG allows nothing) or, for a nil
// Pkcs11Config, from OCICRYPT_CONFIG; a policy that does not allow the
// module fails naming it, never the PIN. Skipped without SoftHSM2.

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	layercrypt "github.com/layercrypt/layercrypt/bindings/go"
	lcconfig "github.com/layercrypt/layercrypt/bindings/go/config"
)

const (
	softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"
	tokenPin      = "31415926"
)

// softhsmToken makes a token with one imported RSA-2048 key under a new
// directory and returns the key YAML that names it and its public key.
func softhsmToken(t *testing.T) (yaml, pub []byte) {
	t.Helper()
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		t.Skip("SoftHSM2 is not installed (apt-get install softhsm2)")
	}
	if _, err := os.Stat(softhsmModule); err != nil {
		t.Skip("SoftHSM2 is not installed (apt-get install softhsm2)")
	}
	d := t.TempDir()
	conf := filepath.Join(d, "softhsm2.conf")
	if err := os.MkdirAll(filepath.Join(d, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+d+"/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) []byte {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
		return out
	}
	key := filepath.Join(d, "key.pem")
	run("softhsm2-util", "--init-token", "--free", "--label", "lc-go", "--so-pin", "1234", "--pin", tokenPin)
	run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
	run("softhsm2-util", "--import", key, "--token", "lc-go", "--label", "layer-key", "--id", "01", "--pin", tokenPin)
	pub = run("openssl", "pkey", "-in", key, "-pubout")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	yaml = []byte("pkcs11:\n  uri: pkcs11:token=lc-go;object=layer-key;id=%01?pin-value=" + tokenPin +
		"&module-name=softhsm2\nmodule:\n  env:\n    SOFTHSM2_CONF: " + conf + "\n")
	return yaml, pub
}

func TestPkcs11RoundTrip(t *testing.T) {
	yaml, pub := softhsmToken(t)
	d := t.TempDir()
	strict := filepath.Join(d, "strict.conf")
	if err := os.WriteFile(strict, []byte("pkcs11:\n  module-directories: [/usr/lib/softhsm/]\n  allowed-module-paths: [/opt/pkcs11/]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OCICRYPT_CONFIG", strict) // allows nothing: the parameter's policy must be used
	t.Setenv("OCICRYPT_OAEP_HASHALG", "sha1")
	policy := &lcconfig.Pkcs11Config{
		ModuleDirectories:  []string{"/usr/lib/softhsm/"},
		AllowedModulePaths: []string{softhsmModule},
	}
	plain, desc := testLayer(t, mediaTypeTarGzip, 7)
	for name, recipients := range map[string][2][][]byte{
		"key YAML":   {nil, {yaml}},
		"public key": {{pub}, nil},
	} {
		enc, err := lcconfig.EncryptWithPkcs11(policy, recipients[0], recipients[1])
		if err != nil {
			t.Fatal(err)
		}
		blob, res := encryptAll(t, enc.EncryptConfig, plain, desc, layercrypt.EncryptOptions{})
		if res.Descriptor.Annotations["org.opencontainers.image.enc.keys.pkcs11"] == "" {
			t.Fatalf("%s: no pkcs11 annotation: %v", name, res.Descriptor.Annotations)
		}
		dc, err := lcconfig.DecryptWithPkcs11Yaml(policy, [][]byte{yaml})
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := layercrypt.DecryptLayer(dc.DecryptConfig, bytes.NewReader(blob), res.Descriptor, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}

		// No Pkcs11Config: OCICRYPT_CONFIG's policy, which allows nothing.
		nilPolicy, _ := lcconfig.DecryptWithPkcs11Yaml(nil, [][]byte{yaml})
		_, _, err = layercrypt.DecryptLayer(nilPolicy.DecryptConfig, bytes.NewReader(blob), res.Descriptor, true)
		if err == nil {
			t.Fatalf("%s: decrypted under a policy that allows no module", name)
		}
		want := "module " + softhsmModule + " is not allowed by OCICRYPT_CONFIG (" + strict + ")"
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), tokenPin) {
			t.Errorf("%s: error %q: want it to contain %q and no PIN", name, err, want)
		}
	}
}

// TestPkcs11Helpers: "pkcs11:FILE" recipients and key YAML files given as
// keys, as skopeo spells them, under OCICRYPT_CONFIG's policy.
func TestPkcs11Helpers(t *testing.T) {
	yaml, pub := softhsmToken(t)
	d := t.TempDir()
	files := map[string][]byte{
		"ocicrypt.conf": []byte("pkcs11:\n  module-directories: [/usr/lib/softhsm/]\n  allowed-module-paths: [" + softhsmModule + "]\n"),
		"key.yaml":      yaml,
		"key.pub.pem":   pub,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(d, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("OCICRYPT_CONFIG", filepath.Join(d, "ocicrypt.conf"))
	t.Setenv("OCICRYPT_OAEP_HASHALG", "sha1")
	cc := mustCrypto(t, []string{"pkcs11:" + filepath.Join(d, "key.yaml"), "pkcs11:" + filepath.Join(d, "key.pub.pem")},
		[]string{filepath.Join(d, "key.yaml")})
	p := cc.EncryptConfig.Parameters
	if len(p[layercrypt.ParamPkcs11Yamls]) != 1 || len(p[layercrypt.ParamPkcs11Pubkeys]) != 1 {
		t.Fatalf("%d pkcs11-yamls, %d pkcs11-pubkeys; want 1 and 1", len(p[layercrypt.ParamPkcs11Yamls]), len(p[layercrypt.ParamPkcs11Pubkeys]))
	}
	dp := cc.DecryptConfig.Parameters
	if len(dp[layercrypt.ParamPkcs11Yamls]) != 1 || len(dp[layercrypt.ParamPrivKeys]) != 0 {
		t.Fatalf("keys: %d pkcs11-yamls, %d privkeys; want 1 and 0", len(dp[layercrypt.ParamPkcs11Yamls]), len(dp[layercrypt.ParamPrivKeys]))
	}
	plain, desc := testLayer(t, mediaTypeTarGzip, 9)
	blob, res := encryptAll(t, cc.EncryptConfig, plain, desc, layercrypt.EncryptOptions{})
	r, _, err := layercrypt.DecryptLayer(cc.DecryptConfig, bytes.NewReader(blob), res.Descriptor, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("%d bytes, %v", len(got), err)
	}
}
