// engine/keywrap/pkcs7/pkcs7.h: the `org.opencontainers.image.enc.keys.pkcs7` blob, decrypted
// and written: a DER CMS/PKCS#7 ContentInfo(EnvelopedData) as smallstep/pkcs7
// writes it for ocicrypt (spec §4): RSAES-PKCS1-v1_5 key transport to a
// recipient named by IssuerAndSerialNumber, AES-128-GCM content with
// GCMParameters (12-byte nonce, ICV length 16), tag appended to the
// ciphertext.
//
// encryptedContent is written as Go's writers (smallstep/pkcs7,
// fullsailor/pkcs7) write it, `[0] { OCTET STRING }` (constructed, 0xA0
// around 0x04), the one form every Go reader opens: go.mozilla.org/pkcs7,
// which imgcrypt 1.1.x release binaries use, reads the field as
// `tag:0,optional,explicit` and sees a primitive `[0] IMPLICIT` (0x80, which
// layercrypt wrote before) as empty. Both forms are read. See docs/pkcs7.md.
//
// Why not OpenSSL's CMS_decrypt: OpenSSL 3.0 cannot even parse what
// smallstep writes. smallstep encodes the AlgorithmIdentifier parameters as
// a *primitive* tag 0x10 (asn1.RawValue{Tag: 16} without IsCompound) whose
// contents are the DER of `SEQUENCE { [4] IMPLICIT OCTET STRING nonce,
// INTEGER icvLen }`, so d2i_CMS_ContentInfo fails ("type not constructed").
// Even with that byte patched, OpenSSL's CMS EnvelopedData path does not
// handle GCM (GCM belongs in AuthEnvelopedData, RFC 5083/5084): it fails
// while unpacking the parameters. So we walk the DER with OpenSSL's ASN.1
// primitives (ASN1_get_object, d2i_ASN1_OBJECT, d2i_ASN1_INTEGER), do the
// RSA key transport with EVP_PKEY_decrypt (PKCS#1 v1.5) and the content
// with kernels/aes_gcm.h. Both the smallstep parameter form and the RFC 5084
// form (a constructed SEQUENCE { OCTET STRING nonce, INTEGER icvLen }) are
// accepted. AES-CBC content (which smallstep can also write; parameter = IV)
// is decrypted with OpenSSL. DES content, non-RSA key transport and
// indefinite-length (BER) encodings are rejected as unsupported.
//
// Like Go ocicrypt, decryption needs the private key AND the recipient
// certificate: every (key × certificate) pair is tried; the certificate
// selects the RecipientInfo by issuer + serial number (smallstep compares the
// raw issuer bytes and the serial). A key without any certificate fails.
//
// Against padding oracles: a PKCS#1 v1.5 failure is replaced by a random
// content key of the right size (RFC 3218 §2.3.2), so it goes down the same
// path as a wrong key and fails at the GCM tag; messages never distinguish.
// OpenSSL 3.0 has no implicit rejection, so OpenSSL's own RSA timing is what
// it is.
//
// Thread-safety: reentrant; keys and certificates may be shared.
#ifndef LAYERCRYPT_ENGINE_KEYWRAP_PKCS7_PKCS7_H_
#define LAYERCRYPT_ENGINE_KEYWRAP_PKCS7_PKCS7_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/core/status.h"
#include "engine/keywrap/keys/private_key.h"
#include "kernels/secure_memory.h"

namespace layercrypt {

// Pkcs7Summary describes an EnvelopedData for messages (no key material).
struct Pkcs7Summary {
  std::string content_alg;                   // "aes-128-gcm", ...
  std::vector<std::string> recipient_kinds;  // "rsaEncryption" per KeyTransRecipientInfo
  // recipient_ids names each recipient's certificate as pkcs7_recipient_id
  // does ("" for a recipient not named by issuer and serial).
  std::vector<std::string> recipient_ids;
  // to_string returns e.g. "PKCS7 EnvelopedData, aes-128-gcm, 1 recipient".
  std::string to_string() const;
};

// pkcs7_describe parses `der` and returns its summary, or kDataError if it is
// not a DER ContentInfo(EnvelopedData).
StatusOr<Pkcs7Summary> pkcs7_describe(std::span<const uint8_t> der);

// pkcs7_recipient_id returns how a RecipientInfo names `cert`: its issuer
// (one line, RFC 2253) and serial number in hex, e.g.
// "CN=layercrypt recipient/serial=5a1f...". No key material.
std::string pkcs7_recipient_id(const Certificate& cert);

// pkcs7_remove_recipients returns `der` without the RecipientInfos at the
// positions in `drop` (as pkcs7_describe lists them), or std::nullopt when
// none would remain. The content key and ciphertext are shared by all
// recipients and stay as they are; everything else is copied byte for
// byte. kDataError if `der` does not parse.
StatusOr<std::optional<std::vector<uint8_t>>> pkcs7_remove_recipients(
    std::span<const uint8_t> der, const std::vector<size_t>& drop);

// pkcs7_decrypt decrypts the EnvelopedData `der` with the first (key,
// certificate) pair that works, keys in order, certificates in order.
// encryptedContent may be primitive `[0] IMPLICIT` or constructed `[0]`
// holding one or more OCTET STRINGs.
// Returns the content (the private-options JSON) on success. Failures:
// kDataError (malformed DER), kUnsupported (content or key-transport
// algorithm), kKeyError when no pair works — including "no certificate
// given" (the message says that pkcs7 needs the recipient certificate too)
// and empty `keys`; the message names the summary and the counts tried.
StatusOr<kernels::SecretBytes> pkcs7_decrypt(std::span<const uint8_t> der,
                                             std::span<const PrivateKey> keys,
                                             std::span<const Certificate> certs);

// pkcs7_encrypt wraps `content` (the private-options JSON) for the RSA
// certificates `recipients` exactly as smallstep/pkcs7 does for ocicrypt: a
// fresh AES-128 key and 12-byte nonce, AES-128-GCM with the tag appended,
// smallstep's GCMParameters form (see the file comment), one RecipientInfo
// per certificate (version 0, IssuerAndSerialNumber, rsaEncryption without
// parameters, PKCS#1 v1.5), encryptedContent as `[0] { OCTET STRING }`, DER
// ContentInfo(envelopedData): node for node the tree Go writes. Fails with
// kInvalidArgument for no recipients or a certificate whose key is not RSA,
// kInternal if OpenSSL fails.
StatusOr<std::vector<uint8_t>> pkcs7_encrypt(std::span<const uint8_t> content,
                                             std::span<const Certificate> recipients);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_KEYWRAP_PKCS7_PKCS7_H_
