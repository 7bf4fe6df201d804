package layercrypt_test

// Key providers through the binding: the test binary itself, run with
// LAYERCRYPT_GO_TEST_PROVIDER set, is a cmd key provider (a toy that
// reverses the private options: it protects nothing) named in an
// OCICRYPT_KEYPROVIDER_CONFIG file. "provider:toy" recipients wrap, a
// "provider:toy:PARAMS" key unwraps and only its PARAMS reach the
// provider; without OCICRYPT_KEYPROVIDER_CONFIG the recipient is refused.

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	layercrypt "github.com/layercrypt/layercrypt/bindings/go"
)

func TestMain(m *testing.M) {
	if os.Getenv("LAYERCRYPT_GO_TEST_PROVIDER") != "" {
		os.Exit(toyProvider())
	}
	os.Exit(m.Run())
}

// toyProvider answers one ocicrypt key-provider request on stdin.
func toyProvider() int {
	var req struct {
		Op              string
		KeyWrapParams   struct{ OptsData []byte } `json:"keywrapparams"`
		KeyUnwrapParams struct {
			Dc         json.RawMessage
			Annotation []byte
		} `json:"keyunwrapparams"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return 1
	}
	reverse := func(b []byte) []byte {
		out := make([]byte, len(b))
		for i := range b {
			out[len(b)-1-i] = b[i]
		}
		return out
	}
	var reply interface{}
	switch req.Op {
	case "keywrap":
		reply = map[string]interface{}{"keywrapresults": map[string][]byte{"annotation": reverse(req.KeyWrapParams.OptsData)}}
	case "keyunwrap":
		if f, err := os.OpenFile(os.Getenv("LAYERCRYPT_GO_TEST_PROVIDER"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			f.Write(append(req.KeyUnwrapParams.Dc, '\n'))
			f.Close()
		}
		reply = map[string]interface{}{"keyunwrapresults": map[string][]byte{"optsdata": reverse(req.KeyUnwrapParams.Annotation)}}
	default:
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(reply); err != nil {
		return 1
	}
	return 0
}

func TestKeyProviders(t *testing.T) {
	d := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	requests := filepath.Join(d, "requests")
	conf := filepath.Join(d, "keyprovider.json")
	if err := os.WriteFile(conf, []byte(`{"key-providers":{"toy":{"cmd":{"path":"`+self+`"}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	plain, desc := testLayer(t, mediaTypeTarGzip, 11)

	// Not configured: the recipient is refused, not dropped.
	t.Setenv("OCICRYPT_KEYPROVIDER_CONFIG", "")
	if _, _, err := layercrypt.EncryptLayer(mustCrypto(t, []string{"provider:toy"}, nil).EncryptConfig,
		bytes.NewReader(plain), desc); err == nil || !strings.Contains(err.Error(), "toy") {
		t.Fatalf("provider recipient without OCICRYPT_KEYPROVIDER_CONFIG: %v", err)
	}

	t.Setenv("OCICRYPT_KEYPROVIDER_CONFIG", conf)
	t.Setenv("LAYERCRYPT_GO_TEST_PROVIDER", requests)
	cc := mustCrypto(t, []string{"provider:toy"}, []string{"provider:toy:node-7"})
	blob, res := encryptAll(t, cc.EncryptConfig, plain, desc, layercrypt.EncryptOptions{})
	if res.Descriptor.Annotations["org.opencontainers.image.enc.keys.provider.toy"] == "" {
		t.Fatalf("no provider annotation: %v", res.Descriptor.Annotations)
	}
	r, _, err := layercrypt.DecryptLayer(cc.DecryptConfig, bytes.NewReader(blob), res.Descriptor, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	log, err := os.ReadFile(requests)
	if err != nil {
		t.Fatal(err)
	}
	// The provider got its own parameter only ("node-7"), as base64.
	if want := `{"Parameters":{"toy":["bm9kZS03"]}}`; !strings.Contains(strings.ReplaceAll(string(log), " ", ""), want) {
		t.Errorf("the provider's requests %q lack %s", log, want)
	}
}
