// engine/image/image_json.h: the JSON forms of image reports and layer
// listings, shared by `layercrypt --json` and the C API (bindings/c), so
// both print the same members in the same order.
//
// Pure and thread-safe.
#ifndef LAYERCRYPT_ENGINE_IMAGE_IMAGE_JSON_H_
#define LAYERCRYPT_ENGINE_IMAGE_IMAGE_JSON_H_

#include <string>
#include <vector>

#include "engine/image/image_crypt.h"

namespace layercrypt {

// image_report_json: {"operation","source","destination","bytes","seconds",
// "manifests","layers":[{"platform","index","action","from","to",
// "fromMediaType","toMediaType","bytes","seconds"}],"warnings":[...]},
// indented by `indent` spaces per level (-1: one line).
std::string image_report_json(const ImageReport& report, const std::string& operation,
                              const std::string& source, const std::string& destination,
                              int indent);

// layer_info_json: [{"index","digest","platform","size","mediaType",
// "encryption","cipher","recipients"}...], as `layercrypt layerinfo --json`.
std::string layer_info_json(const std::vector<LayerInfoRow>& rows, int indent);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_IMAGE_IMAGE_JSON_H_
