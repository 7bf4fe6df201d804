// engine/image/layer_info.cc: listing the layers of an image and their encryption (image_crypt.h).
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

StatusOr<std::vector<LayerInfoRow>> layer_info(const OciRef& ref) {
  LC_ASSIGN_OR_RETURN(OciLayout layout, OciLayout::open(ref));
  std::vector<LayerInfoRow> rows;
  std::function<Status(const Json&, const std::string&)> visit =
      [&](const Json& desc, const std::string& platform) -> Status {
    const std::string mt = json_string(desc, "mediaType");
    LC_ASSIGN_OR_RETURN(Json j,
                        layout.read_json_blob(json_string(desc, "digest"), json_size(desc)));
    if (is_index_type(mt) || (mt.empty() && j.contains("manifests"))) {
      for (const auto& c : j["manifests"]) LC_RETURN_IF_ERROR(visit(c, platform_string(c)));
      return Status::Ok();
    }
    size_t i = 0;
    for (const auto& l : j.value("layers", Json::array())) {
      LayerInfoRow row;
      row.index = i++;
      row.digest = json_string(l, "digest");
      row.platform = platform;
      row.size = json_size(l);
      row.media_type = json_string(l, "mediaType");
      const Annotations a = annotations_of(l);
      row.who = layer_recipients(a);
      const auto schemes = encryption_schemes(a);
      for (size_t k = 0; k < schemes.size(); ++k) row.encryption += (k ? "," : "") + schemes[k];
      if (!schemes.empty()) {
        auto pub = read_public_options(a);
        row.cipher = pub.ok() ? pub->cipher : "unreadable pubopts";
        // "jwe:RSA-OAEP", "pkcs7:rsaEncryption" per recipient; a key
        // provider, or a scheme this build cannot read, once per blob.
        // A pgp recipient shows its key id ("pgp:0x<keyid>"), as ctr-enc does.
        for (const auto& w : row.who)
          row.recipients.push_back(w.scheme == "pgp" && !w.id.empty()     ? w.id
                                   : w.alg.empty() || w.alg == "provider" ? w.scheme
                                                                          : w.scheme + ":" + w.alg);
      }
      rows.push_back(std::move(row));
    }
    return Status::Ok();
  };
  bool any = false;
  for (const auto& e : layout.index()["manifests"]) {
    if (ref.tag) {
      const auto a = annotations_of(e);
      const auto it = a.find(std::string(kRefNameAnnotation));
      if (it == a.end() || it->second != *ref.tag) continue;
    }
    any = true;
    LC_RETURN_IF_ERROR(visit(e, platform_string(e)));
  }
  if (!any) return InvalidArgument("no image " + ref.to_string());
  return rows;
}

}  // namespace layercrypt
