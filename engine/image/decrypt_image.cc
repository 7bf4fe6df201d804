// engine/image/decrypt_image.cc: decrypting whole images (image_crypt.h).
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

StatusOr<ImageReport> decrypt_image(const OciRef& src, const OciRef& dst,
                                    const DecryptImageOptions& options) {
  if (options.keys == nullptr || !options.keys->can_unwrap()) {
    std::string why = "no usable private key given";
    if (options.keys != nullptr && !options.keys->problems.empty())
      why += ": " + options.keys->problems.front();
    return KeyError(why);
  }
  const PreparedKeys& keys = *options.keys;
  // One pass: the plaintext goes to a temporary blob that is committed only
  // after the MAC verified at the end, so nothing unverified is ever
  // published; verify-first would read the layer twice for no gain here.
  LayerDecryptOptions dopts = options.decrypt;
  dopts.policy = ReleasePolicy::kStream;
  const BytesProgressFn& bytes_progress = options.bytes_progress;
  LayerFn fn = [&keys, dopts, &bytes_progress](const OciLayout& s, const OciLayout& d,
                                               const Json& layer, const std::string& name,
                                               ImageLayerReport* r) -> StatusOr<Json> {
    const std::string mt = json_string(layer, "mediaType");
    const Annotations ann = annotations_of(layer);
    if (!is_encrypted_media_type(mt) && !has_wrapped_keys(ann)) {
      LC_RETURN_IF_ERROR(d.copy_blob_from(s, json_string(layer, "digest"), json_size(layer)));
      r->action = "unchanged";
      return layer;
    }
    auto plain_mt = decrypted_media_type(mt);
    if (!plain_mt.ok()) return plain_mt.status().with_context(name);
    auto opened = open_layer_key(ann, keys);
    if (!opened.ok()) return opened.status().with_context(name);

    const std::string digest = json_string(layer, "digest");
    // Without decompression the pipeline digests the blob and the plaintext
    // in the stage that MACs it (one multi-lane pass); otherwise the source
    // and the blob writer hash them.
    LayerDecryptOptions lopts = dopts;
    const bool hash_in_pipeline = !lopts.decompress;
    if (hash_in_pipeline) lopts.expected_blob_digest = digest;
    LC_ASSIGN_OR_RETURN(auto in_ptr,
                        s.open_blob_source(digest, json_size(layer), !hash_in_pipeline));
    ByteSource& in = *in_ptr;
    LC_ASSIGN_OR_RETURN(auto out, d.new_blob(!hash_in_pipeline));
    ProgressSink sink(*out,
                      Progress(bytes_progress, name, static_cast<uint64_t>(json_size(layer))));
    auto res = decrypt_layer(in, sink, opened->key, opened->hmac, lopts);
    if (!res.ok()) return res.status().with_context(name);
    if (hash_in_pipeline && static_cast<int64_t>(res->bytes) != json_size(layer))
      return IntegrityError(name + ": blob " + digest + " is " + std::to_string(res->bytes) +
                            " bytes, its descriptor says " + std::to_string(json_size(layer)));
    LC_ASSIGN_OR_RETURN(
        std::string plain_digest,
        hash_in_pipeline ? out->commit_as(sha256_digest_string(res->plain_sha256)) : out->commit());
    if (!opened->plain_digest.empty() && opened->plain_digest != plain_digest)
      return IntegrityError(name + ": decrypted layer is " + plain_digest +
                            " but its private options say " + opened->plain_digest);
    Json out_desc = layer;
    out_desc["mediaType"] = *plain_mt;
    out_desc["digest"] = plain_digest;
    out_desc["size"] = static_cast<int64_t>(res->bytes);
    Annotations plain_ann = strip_encryption_annotations(ann);
    plain_ann.erase(kRecipientIdsAnnotation);
    set_annotations(out_desc, plain_ann);
    r->action = "decrypted";
    r->bytes = res->bytes;
    r->pipeline_stats = res->decrypt_stats.to_string();
    return out_desc;
  };
  LC_ASSIGN_OR_RETURN(ImageReport rep, walk_image(src, dst, options.select, std::move(fn),
                                                  options.progress, {}, options.layer_jobs));
  if (std::none_of(rep.layers.begin(), rep.layers.end(),
                   [](const ImageLayerReport& l) { return l.action == "decrypted"; }))
    rep.warnings.push_back("no selected layer of " + src.to_string() +
                           " is encrypted: nothing was decrypted, " + dst.to_string() +
                           " holds the same layers");
  return rep;
}

// remove_recipients_image is rewrap_image for RewrapMode::kRemove.

}  // namespace layercrypt
