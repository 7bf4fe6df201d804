// engine/image/encrypt_image.cc: encrypting one layer and whole images (image_crypt.h).
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

StatusOr<LayerCompression> parse_layer_compression(std::string_view arg) {
  const bool zstd = arg.rfind("zstd", 0) == 0;
  LayerCompression c{zstd ? Compression::kZstd : Compression::kGzip,
                     zstd ? kDefaultZstdLevel : kDefaultGzipLevel};
  const std::string name = zstd ? "zstd" : "gzip";
  const int lo = zstd ? kMinZstdLevel : 0, hi = zstd ? kMaxZstdLevel : 3;
  if (arg == name) return c;
  if (arg.rfind(name + ":", 0) == 0 && arg.size() > 5 && arg.size() <= 7 &&
      arg.find_first_not_of("0123456789", 5) == std::string_view::npos) {
    c.level = std::atoi(std::string(arg.substr(5)).c_str());
    if (c.level >= lo && c.level <= hi) return c;
  }
  return InvalidArgument(quoted_for_message(arg) +
                         ": use gzip[:LEVEL] with LEVEL 0 (fastest) to 3, or zstd[:LEVEL] with "
                         "LEVEL 1 to 19 (default 3)");
}

Descriptor EncryptedLayer::descriptor() const {
  Descriptor d;
  d.media_type = media_type;
  d.digest = digest;
  d.size = static_cast<int64_t>(size);
  d.annotations = annotations;
  return d;
}

StatusOr<EncryptedLayer> encrypt_layer_blob(ByteSource& in, ByteSink& out,
                                            std::string_view media_type,
                                            const Recipients& recipients,
                                            std::optional<LayerCompression> compress,
                                            const PipelineOptions& pipeline) {
  if (recipients.empty()) return NoRecipients();
  // With compression, an uncompressed tar layer is encrypted as the
  // tar+gzip or tar+zstd layer it becomes.
  std::optional<std::string> gzip_mt;
  if (compress)
    gzip_mt = compress->kind == Compression::kZstd ? zstd_media_type(media_type)
                                                   : gzip_media_type(media_type);
  LC_ASSIGN_OR_RETURN(std::string enc_mt, encrypted_media_type(gzip_mt ? *gzip_mt : media_type));
  LC_ASSIGN_OR_RETURN(LayerKey key, new_layer_key());
  LC_ASSIGN_OR_RETURN(LayerEncryptResult res,
                      !gzip_mt ? encrypt_layer(in, out, key, pipeline)
                      : compress->kind == Compression::kZstd
                          ? encrypt_layer_zstd(in, out, key, compress->level, pipeline)
                          : encrypt_layer_gzip(in, out, key, compress->level, pipeline));

  EncryptedLayer layer;
  layer.media_type = std::move(enc_mt);
  layer.digest = sha256_digest_string(res.cipher_sha256);
  layer.size = res.bytes;
  layer.compressed = gzip_mt.has_value();
  layer.plain_digest = sha256_digest_string(res.plain_sha256);
  // What was read: the tar when it was compressed on the way, else the blob.
  layer.input_digest = gzip_mt ? sha256_digest_string(res.tar_sha256) : layer.plain_digest;
  layer.input_bytes = gzip_mt ? res.tar_bytes : res.bytes;
  if (gzip_mt) {
    layer.diff_id = sha256_digest_string(res.tar_sha256);
  } else if (auto c = compression_of(media_type); c.ok() && *c == Compression::kNone) {
    layer.diff_id = layer.plain_digest;  // an uncompressed tar is its own diff_id
  }

  // The plaintext blob's digest (the gzip member's when compressed).
  LC_RETURN_IF_ERROR(
      add_key_annotations(key, layer.plain_digest, res.hmac, recipients, &layer.annotations));
  if (res.gzip_index) layer.annotations[kGzipIndexAnnotation] = format_gzip_index(*res.gzip_index);
  layer.pipeline_stats = res.stats.to_string();
  return layer;
}

StatusOr<EncryptedLayer> encrypt_layer_file(const std::string& in_path, const std::string& out_path,
                                            std::string_view media_type,
                                            const Recipients& recipients,
                                            std::optional<LayerCompression> compress) {
  int fd = STDIN_FILENO;
  if (in_path != "-") {
    fd = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError("cannot open " + in_path + ": " + std::strerror(errno));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd != STDIN_FILENO) ::close(fd);
    }
  } closer{fd};
  const std::string in_name = in_path == "-" ? "stdin" : in_path;
  FdSource raw(fd, in_name);
  if (out_path == "-") {
    FdSink out(STDOUT_FILENO, "stdout");
    return encrypt_layer_sniffed(raw, in_name, out, media_type, recipients, compress, {});
  }
  LC_ASSIGN_OR_RETURN(auto out, AtomicFileSink::create(out_path));
  auto layer = encrypt_layer_sniffed(raw, in_name, *out, media_type, recipients, compress, {});
  if (!layer.ok()) return layer.status();
  LC_RETURN_IF_ERROR(out->commit());
  return layer;
}

StatusOr<EncryptedLayer> encrypt_layer_sniffed(ByteSource& raw, const std::string& in_name,
                                               ByteSink& out, std::string_view media_type,
                                               const Recipients& recipients,
                                               std::optional<LayerCompression> compress,
                                               const PipelineOptions& pipeline) {
  if (!media_type.empty()) LC_RETURN_IF_ERROR(encrypted_media_type(media_type).status());
  LC_ASSIGN_OR_RETURN(auto in, PeekSource::make(raw, kLayerSniffLen));
  LC_ASSIGN_OR_RETURN(std::string sniffed,
                      sniffed_layer_media_type(in->head(), in->head_len(), in_name));
  std::string mt(media_type);
  if (mt.empty()) {
    mt = sniffed;
  } else {
    LC_ASSIGN_OR_RETURN(Compression said, compression_of(mt));
    LC_ASSIGN_OR_RETURN(Compression is, compression_of(sniffed));
    if (said != is)
      return InvalidArgument(
          in_name + " is " +
          (is == Compression::kNone ? std::string("a tar") : compression_name(is)) +
          ", but its media type says " + compression_name(said) + " (" + mt + ")");
  }
  return encrypt_layer_blob(*in, out, mt, recipients, compress, pipeline);
}

StatusOr<ImageReport> encrypt_image(const OciRef& src, const OciRef& dst,
                                    const EncryptImageOptions& options) {
  if (options.recipients == nullptr || options.recipients->empty()) return NoRecipients();
  const Recipients& rcpt = *options.recipients;
  const PipelineOptions pipeline = options.pipeline;
  const BytesProgressFn& bytes_progress = options.bytes_progress;
  const std::optional<LayerCompression> compress = options.compress;
  LayerFn fn = [&rcpt, pipeline, &bytes_progress, compress](
                   const OciLayout& src_layout, const OciLayout& dst_layout, const Json& layer,
                   const std::string& name, ImageLayerReport* r) -> StatusOr<Json> {
    const std::string mt = json_string(layer, "mediaType");
    if (is_encrypted_media_type(mt) || has_wrapped_keys(annotations_of(layer)))
      return InvalidArgument(name +
                             " is already encrypted; to give more recipients access use "
                             "`layercrypt recipients add`");
    if (auto enc_mt = encrypted_media_type(mt); !enc_mt.ok()) {
      const Status& st = enc_mt.status();
      if (st.code() == StatusCode::kUnsupported) {
        // Foreign and non-layer blobs are never encrypted (imgcrypt neither).
        LC_RETURN_IF_ERROR(
            dst_layout.copy_blob_from(src_layout, json_string(layer, "digest"), json_size(layer)));
        r->action = "unchanged";
        return layer;
      }
      return st.with_context(name);
    }
    const std::string digest = json_string(layer, "digest");
    // The layer encryption hashes its input and output in its pipeline, so
    // the source is checked against its digest (and the new blob named) from
    // those; the new blob is only committed once the input verified.
    LC_ASSIGN_OR_RETURN(auto blob_in, src_layout.open_blob_source(digest, json_size(layer), false));
    ProgressSource in(*blob_in,
                      Progress(bytes_progress, name, static_cast<uint64_t>(json_size(layer))));
    LC_ASSIGN_OR_RETURN(auto out, dst_layout.new_blob(/*hash=*/false));
    auto enc = encrypt_layer_blob(in, *out, mt, rcpt, compress, pipeline);
    if (!enc.ok()) return enc.status().with_context(name);
    if (enc->input_digest != digest || static_cast<int64_t>(enc->input_bytes) != json_size(layer))
      return IntegrityError(name + ": blob " + digest + " does not match its digest (content is " +
                            enc->input_digest + ", " + std::to_string(enc->input_bytes) +
                            " bytes)");
    LC_ASSIGN_OR_RETURN(std::string cipher_digest, out->commit_as(enc->digest));

    Annotations a = annotations_of(layer);
    for (const auto& [key_name, value] : enc->annotations) a[key_name] = value;
    Json out_desc = layer;
    out_desc["mediaType"] = enc->media_type;
    out_desc["digest"] = cipher_digest;
    out_desc["size"] = static_cast<int64_t>(enc->size);
    set_annotations(out_desc, a);
    r->action = enc->compressed ? "compressed+encrypted" : "encrypted";
    r->bytes = enc->input_bytes;
    r->pipeline_stats = enc->pipeline_stats;
    return out_desc;
  };
  return walk_image(src, dst, options.select, std::move(fn), options.progress, {},
                    options.layer_jobs, "plaintext");
}

}  // namespace layercrypt
