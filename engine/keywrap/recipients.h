// engine/keywrap/recipients.h: parsing encryption recipients given on the command
// line, the way skopeo's and ctr-enc's `--encryption-key` / `--recipient`
// take them (spec §3 "Recipient syntax", §4, §9).
//
// A recipient spec is one of
//   jwe:FILE    a public key: PEM or DER SubjectPublicKeyInfo, or a JWK
//               public key (Go's IsPublicKey). Like Go, a PKCS#1
//               `BEGIN RSA PUBLIC KEY` and an X.509 certificate are refused
//               here, with the command that converts them;
//   pkcs7:FILE  an X.509 certificate, PEM or DER, with an RSA key (ocicrypt's
//               PKCS7 wrapping uses RSA key transport only);
//   pkcs11:FILE a pkcs11 key YAML (pkcs11/pkcs11_key.h), whose RSA public
//               key is read from its token here, under the module policy
//               (Recipients::pkcs11_policy, else OCICRYPT_CONFIG's,
//               load_pkcs11_policy), or an RSA public key (PEM or DER
//               SubjectPublicKeyInfo, JWK), wrapped in software. Unlike Go,
//               a plain public key needs no module policy. Only in builds
//               with LAYERCRYPT_WITH_PKCS11;
//   pgp:NAME    every key of Recipients::pgp_pubring with a user id whose
//               name or email address is exactly NAME (pgp/pgp_keyring.h,
//               Go's matching), each key once however many recipients
//               match it; no match is kKeyError. Only in builds with
//               LAYERCRYPT_WITH_PGP;
//   provider:NAME[:PARAMS]
//               the key provider NAME of the key-provider config
//               (provider/key_providers.h), with PARAMS (everything after
//               the second ':', "Enabled" when absent, as in Go) as its
//               parameter. Several for one NAME make one call with all their
//               PARAMS. Whether NAME is configured is checked when wrapping;
//   FILE        (our extension) decided by content: a certificate is a pkcs7
//               recipient; a public key (SubjectPublicKeyInfo PEM or DER, a
//               JWK, or a PKCS#1 RSA public key, PEM or DER) is a jwe one.
// A spec whose text before the first ':' is not jwe, pkcs7, pkcs11, pgp or
// provider but looks like a scheme name (letters, digits, '.', '-', '_') is
// an unsupported scheme unless the whole spec names an existing file.
//
// A file that holds a private key is always refused, even though the public
// key could be derived from it: handing private keys to the encrypting side
// is the mistake this guards against. The check looks at every PEM block in
// the file, not just the first.
//
// Thread-safety: add_recipient is reentrant; a Recipients object is not
// thread-safe.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_RECIPIENTS_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_RECIPIENTS_H_

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"
#include "engine/keywrap/keys/private_key.h"
#include "engine/keywrap/pkcs11/pkcs11_key.h"
#include "engine/keywrap/provider/keyprovider_protocol.h"

namespace layercrypt {

class KeyProviders;

// PgpRecipient is one key a pgp:NAME recipient matched (pgp/pgp_keyring.h:
// a NAME may match several keys, each gets its own session-key packet).
struct PgpRecipient {
  std::string name;         // NAME as given after pgp:
  std::string fingerprint;  // of the matched primary key, as librnp prints it
  std::string key_id;       // "0x" + 16 hex: the (sub)key the session key goes to
  std::shared_ptr<const std::vector<uint8_t>> pubring;  // the keyring it was found in
};

// ProviderRecipient is one provider:NAME[:PARAMS] recipient.
struct ProviderRecipient {
  std::string name;             // the provider's name in the config
  kernels::SecretBytes params;  // PARAMS, or "Enabled"
};

// Recipients collects the keys a layer's options are wrapped for.
struct Recipients {
  std::vector<PublicKey> jwe;                // for the JWE wrapper, in the order given
  std::vector<Certificate> pkcs7;            // for the PKCS7 wrapper, in the order given
  std::vector<ProviderRecipient> providers;  // for the provider.NAME wrappers
  // For the pkcs11 wrapper, in the order given: RSA public keys, given as
  // such or read from the token a key YAML names.
  std::vector<PublicKey> pkcs11;
  // For the pgp wrapper: the keys pgp:NAME recipients matched, in the order
  // given, and the public keyring (binary or armored, e.g. `gpg --export`)
  // they are looked up in, which must be set before they are added.
  std::vector<PgpRecipient> pgp;
  std::shared_ptr<const std::vector<uint8_t>> pgp_pubring;
  // The module policy key YAMLs are read under; null until the first one
  // is added (then OCICRYPT_CONFIG's, load_pkcs11_policy). A library caller
  // may set it first.
  std::shared_ptr<const Pkcs11ModulePolicy> pkcs11_policy;
  // The configured providers (provider/key_providers.h); needed to wrap for
  // `providers` and kept for the image operations that unwrap first.
  std::shared_ptr<const KeyProviders> key_providers;
  // One entry per recipient added, in the order given: the scheme it was
  // used with and the file, e.g. "jwe:keys/a.pub.pem", "pkcs7:cert.pem"
  // (a bare FILE shows the scheme its content selected).
  std::vector<std::string> sources;

  // size returns how many recipients there are, of every scheme.
  size_t size() const {
    return jwe.size() + pkcs7.size() + pkcs11.size() + pgp.size() + providers.size();
  }
  bool empty() const { return size() == 0; }
};

// filter_recipients returns the recipients of `in` for which
// keep(scheme, i) is true, i counting each scheme's recipients from 0 in
// the order its wrapper takes them (sources are not carried over; the key
// providers are). A provider is one recipient of scheme provider.NAME
// (i = 0) however many PARAMS it was given.
Recipients filter_recipients(const Recipients& in,
                             const std::function<bool(std::string_view scheme, size_t i)>& keep);

// add_recipient parses `spec` (see the file comment), reads its file and
// appends the key or certificate to `out`, and its source to out->sources.
// Returns OK, or an error whose one-line message names the file and leaves
// `out` unchanged:
//   kInvalidArgument  empty spec or no file after the scheme; a private key
//                     (says to use the matching .pub.pem or
//                     `openssl pkey -pubout`); a certificate given as jwe:;
//                     a public key given as pkcs7:; a PKCS#1 RSA public key
//                     given as jwe:;
//   kUnsupported      a scheme other than jwe/pkcs7/pkcs11 (names it); a key
//                     type or curve we do not support; a non-RSA pkcs7
//                     certificate or pkcs11 key;
//   kKeyError         (pkcs11 key YAML) no module policy, a module outside
//                     it, no such token or key, a wrong PIN;
//   kIoError          the file is missing, unreadable, a directory, or larger
//                     than 1 MiB (pipes such as jwe:<(...) are read);
//   kDataError        the file is empty, or neither a key nor a certificate.
Status add_recipient(std::string_view spec, Recipients* out);

// parse_provider_spec parses "provider:NAME[:PARAMS]" (a recipient, or a
// decryption key as ctr-enc's --key takes it). kInvalidArgument when NAME
// is empty. The PARAMS are not quoted in any message.
StatusOr<ProviderRecipient> parse_provider_spec(std::string_view spec);

// add_recipient_data is add_recipient for a key or certificate given as
// bytes (PEM, DER or JWK), as library callers hold them: `scheme` is "jwe",
// "pkcs7", "pkcs11" or "" (the content selects it, as for a bare FILE), and `name`
// stands for the file in messages and out->sources. The same errors as
// add_recipient, except kIoError; kDataError for empty data.
Status add_recipient_data(std::string_view scheme, std::span<const uint8_t> data,
                          const std::string& name, Recipients* out);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_RECIPIENTS_H_
