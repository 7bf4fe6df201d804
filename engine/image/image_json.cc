// engine/image/image_json.cc
#include "engine/image/image_json.h"

#include <nlohmann/json.hpp>

namespace layercrypt {

std::string image_report_json(const ImageReport& rep, const std::string& operation,
                              const std::string& source, const std::string& destination,
                              int indent) {
  nlohmann::ordered_json j;
  j["operation"] = operation;
  j["source"] = source;
  j["destination"] = destination;
  j["bytes"] = rep.bytes_processed;
  j["seconds"] = rep.seconds;
  j["manifests"] = rep.manifests;
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : rep.layers) {
    j["layers"].push_back({{"platform", l.platform},
                           {"index", l.index},
                           {"action", l.action},
                           {"from", l.from_digest},
                           {"to", l.to_digest},
                           {"fromMediaType", l.from_media_type},
                           {"toMediaType", l.to_media_type},
                           {"bytes", l.bytes},
                           {"seconds", l.seconds}});
  }
  j["warnings"] = rep.warnings;
  return j.dump(indent);
}

std::string layer_info_json(const std::vector<LayerInfoRow>& rows, int indent) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const auto& r : rows)
    j.push_back({{"index", r.index},
                 {"digest", r.digest},
                 {"platform", r.platform},
                 {"size", r.size},
                 {"mediaType", r.media_type},
                 {"encryption", r.encryption},
                 {"cipher", r.cipher},
                 {"recipients", r.recipients}});
  return j.dump(indent);
}

}  // namespace layercrypt
