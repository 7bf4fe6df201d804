// engine/image/rewrap_image.cc: changing the recipients of layers and images, re-keying
// (image_crypt.h).
#include "engine/core/hex.h"
#include "engine/image/image_crypt.h"
#include "engine/image/image_walk.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "engine/core/base64.h"
#include "engine/core/ordered_jobs.h"
#include "engine/keywrap/key_wrapper.h"
#include "engine/ocicrypt/annotations.h"
#include "engine/ocicrypt/layer_options.h"
#include "engine/ocicrypt/layer_sniff.h"
#include "engine/ocicrypt/media_types.h"
#include "engine/stream/gzip_index.h"
#include "engine/stream/layer_compress.h"

namespace layercrypt {

using namespace image_internal;

StatusOr<ImageReport> remove_recipients_image(const OciRef& src, const OciRef& dst,
                                              const RewrapImageOptions& options) {
  if (options.remove_ids.empty()) return InvalidArgument("no recipients to remove");
  const std::vector<std::string>& ids = options.remove_ids;
  size_t removed = 0, encrypted = 0;
  LayerFn fn = [&ids, &removed, &encrypted](const OciLayout& s, const OciLayout& d,
                                            const Json& layer, const std::string& name,
                                            ImageLayerReport* r) -> StatusOr<Json> {
    LC_RETURN_IF_ERROR(d.copy_blob_from(s, json_string(layer, "digest"), json_size(layer)));
    Annotations ann = annotations_of(layer);
    r->action = "unchanged";
    if (!has_wrapped_keys(ann)) return layer;
    ++encrypted;
    auto n = remove_layer_recipients(&ann, ids);
    if (!n.ok()) return n.status().with_context(name);
    if (*n == 0) return layer;
    removed += *n;
    Json out = layer;
    set_annotations(out, ann);
    r->action = "recipients removed";
    return out;
  };
  return walk_image(src, dst, options.select, std::move(fn), options.progress, [&]() -> Status {
    if (encrypted == 0)
      return InvalidArgument("no selected layer of " + src.to_string() + " is encrypted");
    if (removed == 0)
      return InvalidArgument("no selected layer of " + src.to_string() +
                             " has any of these recipients (JWE recipients written by other tools "
                             "carry no key id and cannot be named)");
    return Status::Ok();
  });
}

StatusOr<std::string> rewrap_layer_annotations(Annotations* ann, const PreparedKeys& keys,
                                               const Recipients& rcpt, RewrapMode mode,
                                               const std::string& name,
                                               std::vector<std::string>* skipped) {
  if (mode == RewrapMode::kRemove)
    return InvalidArgument(
        "rewrap_layer_annotations: kRemove needs no keys; use remove_recipients");
  // The exact private-options bytes are wrapped again, as ocicrypt does,
  // after checking they really open this layer's options.
  auto priv_json = unwrap_layer_key(*ann, keys);
  if (!priv_json.ok()) return priv_json.status().with_context(name);
  LC_RETURN_IF_ERROR(open_layer_key(*ann, keys).status().with_context(name));
  Recipients to_add = rcpt;
  Annotations out = *ann;
  if (mode == RewrapMode::kSet) {
    strip_wrapped_keys(&out);
  } else {
    std::vector<std::string> local;
    LC_ASSIGN_OR_RETURN(to_add, new_recipients(rcpt, out, name, skipped ? skipped : &local));
    if (to_add.empty()) return std::string("unchanged");
  }
  const Status wrapped = wrap_for_recipients(
      std::span<const uint8_t>(priv_json->data(), priv_json->size()), to_add, &out);
  if (!wrapped.ok()) return wrapped.with_context(name + ": wrapping the layer key");
  *ann = std::move(out);
  return std::string(mode == RewrapMode::kSet ? "rewrapped" : "recipients added");
}

StatusOr<ImageReport> rewrap_image(const OciRef& src, const OciRef& dst,
                                   const RewrapImageOptions& options) {
  if (options.mode == RewrapMode::kRemove) return remove_recipients_image(src, dst, options);
  if (options.recipients == nullptr || options.recipients->empty()) return NoRecipients();
  if (options.keys == nullptr || !options.keys->can_unwrap())
    return KeyError(
        "no usable private key given: rewrapping needs a key "
        "that opens the layers");
  if (options.rekey && options.mode != RewrapMode::kSet)
    return InvalidArgument("re-keying replaces every recipient: it goes with set, not add");
  const PreparedKeys& keys = *options.keys;
  const Recipients& rcpt = *options.recipients;
  const RewrapMode mode = options.mode;
  const PipelineOptions pipeline = options.pipeline;
  const BytesProgressFn& bytes_progress = options.bytes_progress;
  size_t rewrapped = 0;
  LayerFn rekey = [&keys, &rcpt, &rewrapped, pipeline, &bytes_progress](
                      const OciLayout& s, const OciLayout& d, const Json& layer,
                      const std::string& name, ImageLayerReport* r) -> StatusOr<Json> {
    const std::string digest = json_string(layer, "digest");
    Annotations ann = annotations_of(layer);
    if (!has_wrapped_keys(ann)) {
      LC_RETURN_IF_ERROR(d.copy_blob_from(s, digest, json_size(layer)));
      r->action = "unchanged";
      return layer;
    }
    auto opened = open_layer_key(ann, keys);
    if (!opened.ok()) return opened.status().with_context(name);
    // Old blob (digest-checked) -> plaintext (HMAC-checked at its end) ->
    // new key -> a new blob, committed only if all of that held.
    LC_ASSIGN_OR_RETURN(auto blob, s.open_blob_source(digest, json_size(layer), /*verify=*/true));
    ProgressSource counted(*blob,
                           Progress(bytes_progress, name, static_cast<uint64_t>(json_size(layer))));
    DecryptingSource plain(counted, opened->key, opened->hmac, name);
    LC_ASSIGN_OR_RETURN(LayerKey fresh, new_layer_key());
    LC_ASSIGN_OR_RETURN(auto out, d.new_blob(/*hash=*/false));
    auto res = encrypt_layer(plain, *out, fresh, pipeline);
    if (!res.ok()) return res.status().with_context(name);
    const std::string plain_digest = sha256_digest_string(res->plain_sha256);
    if (!opened->plain_digest.empty() && opened->plain_digest != plain_digest)
      return IntegrityError(name + ": decrypted layer is " + plain_digest +
                            " but its private options say " + opened->plain_digest);
    LC_ASSIGN_OR_RETURN(std::string new_digest,
                        out->commit_as(sha256_digest_string(res->cipher_sha256)));
    strip_wrapped_keys(&ann);
    auto st = add_key_annotations(fresh, plain_digest, res->hmac, rcpt, &ann);
    if (!st.ok()) return st.with_context(name);
    Json out_desc = layer;
    out_desc["digest"] = new_digest;
    out_desc["size"] = static_cast<int64_t>(res->bytes);
    set_annotations(out_desc, ann);
    r->action = "rekeyed";
    r->bytes = res->bytes;
    r->pipeline_stats = res->stats.to_string();
    ++rewrapped;
    return out_desc;
  };
  std::vector<std::string> skipped;
  LayerFn fn = [&keys, &rcpt, mode, &rewrapped, &skipped](
                   const OciLayout& s, const OciLayout& d, const Json& layer,
                   const std::string& name, ImageLayerReport* r) -> StatusOr<Json> {
    const std::string digest = json_string(layer, "digest");
    LC_RETURN_IF_ERROR(d.copy_blob_from(s, digest, json_size(layer)));
    Annotations ann = annotations_of(layer);
    if (!has_wrapped_keys(ann)) {
      r->action = "unchanged";
      return layer;
    }
    LC_ASSIGN_OR_RETURN(r->action,
                        rewrap_layer_annotations(&ann, keys, rcpt, mode, name, &skipped));
    ++rewrapped;
    if (r->action == "unchanged") return layer;
    Json out = layer;
    set_annotations(out, ann);
    return out;
  };
  LC_ASSIGN_OR_RETURN(
      ImageReport rep,
      walk_image(
          src, dst, options.select, options.rekey ? std::move(rekey) : std::move(fn),
          options.progress,
          [&]() -> Status {
            if (rewrapped == 0)
              return InvalidArgument("no selected layer of " + src.to_string() + " is encrypted");
            return Status::Ok();
          },
          1, options.rekey ? "old ciphertext" : nullptr));
  rep.warnings.insert(rep.warnings.end(), skipped.begin(), skipped.end());
  return rep;
}

}  // namespace layercrypt
