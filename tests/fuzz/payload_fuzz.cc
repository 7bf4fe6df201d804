// tests/fuzz/payload_fuzz.cc: hostile stream-processor payloads, layer
// descriptors, layer annotations and layer options.
//
// Property: for any bytes, parse_payload, parse_payload_json,
// parse_descriptor, parse_public_options and parse_private_options never
// crash, trip a sanitizer or leak, and every failure is a non-empty one-line
// message. What parses is stable: encoding it and parsing the encoding again
// gives the same encoding. The annotations of a parsed payload's descriptor
// go through read_public_options, split_wrapped_keys, encryption_schemes and
// strip_encryption_annotations, which keep their contracts. And a nonce in
// the public options is never accepted: every public options value parsed
// here is validated against good private options, and where that passes it
// has no "nonce" and, with one added, fails with kIntegrityError; private
// options that validate against good public options have a 32-byte key and a
// 16-byte nonce.
//
// Input: the bytes, given to every parser. The corpus holds containerd's fd-3
// payloads from the vectors (node key model; keys, passwords and pkcs7
// certificates in the payload; two JWE recipients), a layer descriptor, and
// public and private options (a public nonce, byte-array and null members).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "engine/containerd/payload.h"
#include "engine/ocicrypt/annotations.h"
#include "engine/ocicrypt/layer_options.h"

namespace {

using layercrypt::PrivateLayerOptions;
using layercrypt::PublicLayerOptions;
using layercrypt::Status;
using layercrypt::kernels::SecretBytes;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "payload_fuzz: %s\n", what);
  std::abort();
}

// check_message aborts unless `s` is a failure with a one-line message.
void check_message(const Status& s) {
  if (s.ok()) fail("a failure was reported with an OK status");
  if (s.message().empty()) fail("empty error message");
  if (s.message().find_first_of("\r\n") != std::string::npos) fail("multi-line error message");
}

std::string_view text_of(const SecretBytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
std::string_view text_of(const std::string& s) { return s; }
std::span<const uint8_t> bytes_of(std::string_view t) {
  return {reinterpret_cast<const uint8_t*>(t.data()), t.size()};
}

// parse_stable runs `parse` on `text`. A failure must carry a one-line
// message (nullopt is returned); a success must encode to text that parses
// back to the same encoding, or the run aborts with `what`.
template <typename Parse, typename Encode>
auto parse_stable(std::string_view text, Parse parse, Encode encode, const char* what) {
  auto r = parse(text);
  std::optional<std::decay_t<decltype(*r)>> out;
  if (!r.ok()) {
    check_message(r.status());
    return out;
  }
  const auto encoded = encode(*r);
  auto again = parse(text_of(encoded));
  if (!again.ok() || text_of(encode(*again)) != text_of(encoded)) fail(what);
  out.emplace(std::move(*r));
  return out;
}

PublicLayerOptions good_public() {
  PublicLayerOptions pub;
  pub.cipher = std::string(layercrypt::kLayerCipherName);
  pub.hmac.assign(layercrypt::kLayerHmacLen, 0x5a);
  return pub;
}

PrivateLayerOptions good_private() {
  PrivateLayerOptions priv;
  priv.symkey.assign(layercrypt::kLayerKeyLen, 0xa5);
  priv.cipher_options[std::string(layercrypt::kNonceOption)].assign(layercrypt::kLayerNonceLen,
                                                                    0x3c);
  return priv;
}

// check_public validates `pub` as the decoder would and checks the nonce rule.
void check_public(const PublicLayerOptions& pub) {
  const std::string nonce(layercrypt::kNonceOption);
  const Status s = layercrypt::validate_for_decryption(pub, good_private());
  if (!s.ok()) {
    check_message(s);
    return;
  }
  if (pub.cipher != layercrypt::kLayerCipherName || pub.hmac.size() != layercrypt::kLayerHmacLen)
    fail("accepted public options without the cipher or a 32-byte hmac");
  if (pub.cipher_options.count(nonce) != 0) fail("accepted a nonce in the public options");
  PublicLayerOptions with_nonce = pub;
  with_nonce.cipher_options[nonce].assign(layercrypt::kLayerNonceLen, 0);
  if (layercrypt::validate_for_decryption(with_nonce, good_private()).code() !=
      layercrypt::StatusCode::kIntegrityError)
    fail("a public nonce was not refused as an integrity error");
}

void public_options(std::string_view text) {
  auto pub = parse_stable(
      text, [](std::string_view t) { return layercrypt::parse_public_options(t); },
      [](const PublicLayerOptions& o) { return layercrypt::serialize_public_options(o); },
      "public options do not survive serialisation");
  if (pub) check_public(*pub);
}

void private_options(std::string_view text) {
  auto priv = parse_stable(
      text, [](std::string_view t) { return layercrypt::parse_private_options(t); },
      [](const PrivateLayerOptions& o) { return layercrypt::serialize_private_options(o); },
      "private options do not survive serialisation");
  if (!priv) return;
  const Status s = layercrypt::validate_for_decryption(good_public(), *priv);
  if (!s.ok()) return check_message(s);
  if (priv->symkey.size() != layercrypt::kLayerKeyLen ||
      priv->cipher_options.at(std::string(layercrypt::kNonceOption)).size() !=
          layercrypt::kLayerNonceLen)
    fail("accepted private options without a 32-byte key and a 16-byte nonce");
}

void descriptor(std::string_view text) {
  (void)parse_stable(
      text, [](std::string_view t) { return layercrypt::parse_descriptor(t); },
      [](const layercrypt::Descriptor& d) { return layercrypt::encode_descriptor(d); },
      "a descriptor does not survive encoding");
}

// annotations checks the annotation functions on a parsed descriptor's map.
void annotations(const layercrypt::Annotations& a) {
  auto pub = layercrypt::read_public_options(a);
  if (pub.ok()) {
    check_public(*pub);
  } else {
    check_message(pub.status());
  }
  const auto schemes = layercrypt::encryption_schemes(a);
  if (layercrypt::has_wrapped_keys(a) == schemes.empty()) fail("has_wrapped_keys disagrees");
  for (const std::string& scheme : schemes) {
    auto it = a.find(layercrypt::keys_annotation(scheme));
    if (it == a.end()) fail("a listed scheme has no keys annotation");
    const auto blobs = layercrypt::split_wrapped_keys(it->second);
    size_t commas = 0;
    for (char c : it->second) commas += c == ',';
    if (blobs.size() != commas + 1) fail("split_wrapped_keys lost or invented a blob");
    for (size_t i = 0; i < blobs.size(); ++i) {
      if (blobs[i].index != i) fail("a wrapped key blob has the wrong index");
      if (!blobs[i].status.ok()) {
        check_message(blobs[i].status);
        if (!blobs[i].data.empty()) fail("a failed wrapped key blob holds data");
      }
    }
  }
  const auto kept = layercrypt::strip_encryption_annotations(a);
  for (const auto& [key, value] : a) {
    const bool enc = key.starts_with(layercrypt::kEncAnnotationPrefix);
    if (enc == (kept.count(key) != 0))
      fail("strip_encryption_annotations kept or lost the wrong key");
  }
}

// payload checks one way in: the fd-3 bytes, or the JSON alone.
void payload(std::string_view text,
             layercrypt::StatusOr<layercrypt::Payload> (*parse)(std::span<const uint8_t>),
             SecretBytes (*encode)(const layercrypt::Payload&)) {
  auto p = parse_stable(
      text, [parse](std::string_view t) { return parse(bytes_of(t)); }, encode,
      "a payload does not survive encoding");
  if (p) annotations(p->descriptor.annotations);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  payload(text, layercrypt::parse_payload, layercrypt::encode_payload);
  payload(text, layercrypt::parse_payload_json, layercrypt::encode_payload_json);
  descriptor(text);
  public_options(text);
  private_options(text);
  return 0;
}
