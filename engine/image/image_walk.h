// engine/image/image_walk.h: what the image operations (encrypt_image.cc,
// decrypt_image.cc, rewrap_image.cc, layer_info.cc) share: the walk over an
// image's index and manifests that hands every selected layer to a LayerFn
// and publishes the result, descriptor helpers, progress counting, and
// wrapping a layer key for recipients. Internal to engine/image: the public
// API of the operations is image_crypt.h.
#ifndef LAYERCRYPT_ENGINE_IMAGE_IMAGE_WALK_H_
#define LAYERCRYPT_ENGINE_IMAGE_IMAGE_WALK_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/io.h"
#include "engine/core/layer_key.h"
#include "engine/core/status.h"
#include "engine/image/image_crypt.h"
#include "engine/image/oci_layout.h"
#include "engine/keywrap/recipients.h"
#include "engine/ocicrypt/annotations.h"

namespace layercrypt::image_internal {

using Clock = std::chrono::steady_clock;
// since returns the seconds since `t0`.
double since(Clock::time_point t0);

// json_string returns the string member `key` of `j`, or "".
std::string json_string(const Json& j, const char* key);
// json_size returns the integer "size" of a descriptor, or -1.
int64_t json_size(const Json& j);
// annotations_of returns a descriptor's string annotations.
Annotations annotations_of(const Json& desc);
// set_annotations replaces a descriptor's annotations (none: the member goes).
void set_annotations(Json& desc, const Annotations& a);
// platform_string returns "os/arch[/variant]" of a descriptor's platform, or "".
std::string platform_string(const Json& desc);
// is_index_type: an OCI index or a Docker manifest list.
bool is_index_type(std::string_view mt);

// ProgressSink forwards to a blob writer and reports the bytes written.
// Progress counts a layer's bytes for a BytesProgressFn.
class Progress {
 public:
  Progress(const BytesProgressFn& fn, std::string name, uint64_t total)
      : fn_(fn), name_(std::move(name)), total_(total) {}
  void add(size_t n) {
    done_ += n;
    if (fn_ && n != 0) fn_(name_, done_, total_);
  }

 private:
  const BytesProgressFn& fn_;
  std::string name_;
  uint64_t total_;
  uint64_t done_ = 0;
};

// ProgressSource reports the bytes read (the layer's own bytes, which the
// progress total counts, whatever the output becomes); ProgressSink the
// bytes written.
class ProgressSource final : public ByteSource {
 public:
  ProgressSource(ByteSource& inner, Progress progress)
      : inner_(inner), progress_(std::move(progress)) {}
  StatusOr<size_t> read(uint8_t* out, size_t cap) override {
    auto n = inner_.read(out, cap);
    if (n.ok()) progress_.add(*n);
    return n;
  }

 private:
  ByteSource& inner_;
  Progress progress_;
};

class ProgressSink final : public ByteSink {
 public:
  ProgressSink(ByteSink& inner, Progress progress)
      : inner_(inner), progress_(std::move(progress)) {}
  Status write(const uint8_t* data, size_t len) override {
    LC_RETURN_IF_ERROR(inner_.write(data, len));
    progress_.add(len);
    return Status::Ok();
  }

 private:
  ByteSink& inner_;
  Progress progress_;
};

// wrap_for_recipients wraps the private-options JSON once per scheme (all
// of a scheme's recipients in one blob, as ocicrypt does) and adds each
// blob to the scheme's keys annotation of `ann` (ocicrypt's ',' list), and
// who the JWE recipients are to the ids annotation (recipient_list.h).
Status wrap_for_recipients(std::span<const uint8_t> priv_json, const Recipients& rcpt,
                           Annotations* ann);
// NoRecipients is the error of an operation given no recipient.
Status NoRecipients();
// add_key_annotations sets the wrapped-key annotations (one per scheme) and
// the public options of a layer encrypted with `key` whose plaintext blob
// is `plain_digest` and whose ciphertext has `hmac`.
Status add_key_annotations(const LayerKey& key, const std::string& plain_digest,
                           const std::array<uint8_t, kLayerHmacLen>& hmac,
                           const Recipients& recipients, Annotations* out);
// strip_wrapped_keys removes every org.opencontainers.image.enc.keys.*
// annotation and the recipient ids.
void strip_wrapped_keys(Annotations* ann);
// new_recipients returns the recipients of `rcpt` that the layer with
// annotations `ann` does not have yet (as far as recipient_list.h can name
// them), and appends a line for each one skipped to `skipped`.
StatusOr<Recipients> new_recipients(const Recipients& rcpt, const Annotations& ann,
                                    const std::string& name, std::vector<std::string>* skipped);

// LayerFn turns one selected layer descriptor of `src` into its
// replacement (writing any new blob into `dst`) and fills the report.
using LayerFn =
    std::function<StatusOr<Json>(const OciLayout& src, const OciLayout& dst, const Json& layer,
                                 const std::string& name, ImageLayerReport* report)>;

// walk_image runs `fn` on every selected layer of `src_ref`, `jobs`
// layers of a manifest at a time (one at a time into an archive, whose
// members are appended one by one anyway), and writes the result as
// `dst_ref`. Afterwards, or when it fails, blobs of DST that nothing
// references are deleted (oci_layout.h), so a failed run leaves DST as it
// was. `before_index`, when set, runs before the index is written and may
// stop the run. `replaced` ("plaintext", "old ciphertext"), when set, names
// what the layers' old blobs are, for the warning that another tag still
// uses one.
StatusOr<ImageReport> walk_image(const OciRef& src_ref, const OciRef& dst_ref,
                                 const LayerSelection& select, LayerFn fn, ProgressFn progress,
                                 const std::function<Status()>& before_index = {}, size_t jobs = 1,
                                 const char* replaced = nullptr);

}  // namespace layercrypt::image_internal

#endif  // LAYERCRYPT_ENGINE_IMAGE_IMAGE_WALK_H_
