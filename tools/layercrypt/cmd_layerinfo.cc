// tools/layercrypt/cmd_layerinfo.cc: `layercrypt layerinfo`.
#include <cstdio>
#include <memory>

#include "engine/image/image_json.h"
#include "tools/layercrypt/cli.h"

namespace layercrypt::cli {

std::vector<Command> add_info_commands(CLI::App& app) {
  struct Options {
    std::string ref;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* info =
      app.add_subcommand("layerinfo", "List the layers of an image and how they are encrypted");
  info->add_flag("--json", o->json, "JSON output");
  info->add_option("IMAGE", o->ref, kSrcHelp)->required();
  info->footer(
      "Example:\n  layercrypt layerinfo ./app-enc:v1\n  layercrypt layerinfo "
      "oci-archive:app-enc.tar");

  return {{info, [o]() -> int {
             auto ref = layercrypt::parse_oci_ref(o->ref);
             if (!ref.ok()) return fail(ref.status());
             auto rows = layercrypt::layer_info(*ref);
             if (!rows.ok()) return fail(rows.status());
             if (o->json) {
               std::printf("%s\n", layercrypt::layer_info_json(*rows, 2).c_str());
               return 0;
             }
             std::printf("%-3s %-71s %-14s %-10s %-10s %-24s %s\n", "#", "DIGEST", "PLATFORM",
                         "SIZE", "ENCRYPTION", "CIPHER", "RECIPIENTS");
             for (const auto& r : *rows) {
               std::string who;
               for (size_t i = 0; i < r.recipients.size(); ++i)
                 who += (i ? ", " : "") + r.recipients[i];
               std::printf(
                   "%-3zu %-71s %-14s %-10lld %-10s %-24s %s\n", r.index, r.digest.c_str(),
                   r.platform.empty() ? "-" : r.platform.c_str(), static_cast<long long>(r.size),
                   r.encryption.empty() ? "-" : r.encryption.c_str(),
                   r.cipher.empty() ? "-" : r.cipher.c_str(), who.empty() ? "-" : who.c_str());
             }
             return 0;
           }}};
}

}  // namespace layercrypt::cli
