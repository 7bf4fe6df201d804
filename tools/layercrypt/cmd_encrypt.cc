// tools/layercrypt/cmd_encrypt.cc: `layercrypt encrypt` and
// `layercrypt encrypt-layer`.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/keywrap/recipients.h"
#include "tools/layercrypt/cli.h"

namespace layercrypt::cli {

std::vector<Command> add_encrypt_commands(CLI::App& app) {
  struct Options {
    std::vector<std::string> recipients, platforms;
    std::vector<int> layers;
    std::string src, dst, compress;
    bool json = false, stats = false;
    size_t jobs = kDefaultLayerJobs;
  };
  auto o = std::make_shared<Options>();
  auto* enc = app.add_subcommand(
      "encrypt", "Encrypt the layers of an OCI image (layout or archive) for recipients");
  enc->add_option(
         "-r,--recipient", o->recipients,
         "jwe:PUBLIC_KEY (PEM/DER SPKI or JWK), pkcs7:CERT, pkcs11:KEY_YAML|RSA_PUBLIC_KEY, "
         "pgp:NAME_OR_EMAIL (see --gpg-pubring) or provider:NAME[:PARAMS]; repeatable")
      ->required();
  enc->add_option("-l,--layer", o->layers,
                  "Layer index to encrypt (0 = bottom, -1 = top); repeatable; default all");
  enc->add_option("--platform", o->platforms,
                  "os/arch[/variant] to encrypt; repeatable; default all");
  enc->add_option("--compress", o->compress,
                  "gzip[:LEVEL] or zstd[:LEVEL]: compress uncompressed tar layers while encrypting "
                  "them, on every core (ISA-L level 0-3, default 1; zstd 1-19, default 3); "
                  "compressed layers are encrypted as they are");
  enc->add_flag("--json", o->json, "Print a JSON summary on stdout");
  enc->add_flag("--stats", o->stats, "Print each layer's pipeline statistics to stderr");
  enc->add_option("-j,--jobs", o->jobs, "Layers encrypted at once (1 = one after another)")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  enc->add_option("SRC", o->src, kSrcHelp)->required();
  enc->add_option("DST", o->dst, kDstHelp)->required();
  enc->footer(
      "Example:\n  layercrypt keygen --type ec:p256 --out node\n"
      "  layercrypt encrypt --recipient jwe:node.pub.pem ./app:v1 ./app-enc:v1\n"
      "  layercrypt encrypt -r jwe:node.pub.pem oci-archive:app.tar:v1 oci-archive:app-enc.tar:v1\n"
      "  # layers kept as tar (umoci, skopeo --dest-oci-accept-uncompressed-layers):\n"
      "  layercrypt encrypt --compress gzip -r jwe:node.pub.pem ./app:v1 ./app-enc:v1");

  struct LayerOptions {
    std::vector<std::string> recipients;
    std::string in = "-", out, compress, media_type;
  };
  auto l = std::make_shared<LayerOptions>();
  auto* el =
      app.add_subcommand("encrypt-layer",
                         "Encrypt one layer (a tar, or a layer blob) for recipients, outside an "
                         "image; print its descriptor and diff_id as JSON");
  el->add_option("-r,--recipient", l->recipients,
                 "jwe:PUBLIC_KEY, pkcs7:CERT, pkcs11:KEY_YAML|RSA_PUBLIC_KEY, pgp:NAME_OR_EMAIL "
                 "or provider:NAME[:PARAMS]; repeatable")
      ->required();
  el->add_option("--compress", l->compress,
                 "gzip[:LEVEL] or zstd[:LEVEL]: compress the tar on the way");
  el->add_option("--media-type", l->media_type,
                 "Media type of the input (default: what its first bytes are: tar, tar+gzip or "
                 "tar+zstd); must agree with them");
  el->add_option("-o,--output", l->out,
                 "Where to write the encrypted blob (written in full, then renamed into place); "
                 "- for stdout (the descriptor JSON then goes to stderr)")
      ->required();
  el->add_option("INPUT", l->in, "The layer: a tar, or a gzip or zstd of one; - for stdin")
      ->capture_default_str();
  el->footer(
      "Example:\n  tar -C rootfs -cf - . | layercrypt encrypt-layer --compress gzip "
      "-r jwe:node.pub.pem -o layer.enc > layer.json");

  return {
      {enc,
       [o]() -> int {
         auto parsed = parse_recipients(o->recipients);
         if (!parsed.ok()) return fail(parsed.status());
         const layercrypt::Recipients& rcpt = *parsed;
         auto src = layercrypt::parse_oci_ref(o->src);
         if (!src.ok()) return fail(src.status());
         if (auto st = check_dst(o->dst); !st.ok()) return fail(st);
         auto dst = layercrypt::parse_oci_ref(o->dst);
         if (!dst.ok()) return fail(dst.status());
         layercrypt::EncryptImageOptions opts;
         if (!o->compress.empty()) {
           auto c = parse_compress(o->compress);
           if (!c.ok()) return fail(c.status());
           opts.compress = *c;
         }
         opts.recipients = &rcpt;
         opts.layer_jobs = o->jobs;
         opts.select = selection(o->layers, o->platforms);
         opts.progress = print_layer;
         opts.bytes_progress = update_progress;
         auto rep = layercrypt::encrypt_image(*src, *dst, opts);
         if (!rep.ok()) return fail(rep.status());
         print_warnings(*rep);
         print_summary(*rep, "encrypted", o->dst, o->json, o->src);
         if (o->stats) print_stats(*rep);
         return 0;
       }},
      {el,
       [l]() -> int {
         auto parsed = parse_recipients(l->recipients);
         if (!parsed.ok()) return fail(parsed.status());
         const layercrypt::Recipients& rcpt = *parsed;
         std::optional<layercrypt::LayerCompression> compress;
         if (!l->compress.empty()) {
           auto c = parse_compress(l->compress);
           if (!c.ok()) return fail(c.status());
           compress = *c;
         }
         auto rep = layercrypt::encrypt_layer_file(l->in, l->out, l->media_type, rcpt, compress);
         if (!rep.ok()) return fail(rep.status());
         nlohmann::ordered_json desc;
         desc["mediaType"] = rep->media_type;
         desc["digest"] = rep->digest;
         desc["size"] = rep->size;
         desc["annotations"] = nlohmann::ordered_json(rep->annotations);
         nlohmann::ordered_json j;
         j["descriptor"] = desc;
         if (!rep->diff_id.empty()) j["diffID"] = rep->diff_id;
         j["plainDigest"] = rep->plain_digest;
         std::fprintf(l->out == "-" ? stderr : stdout, "%s\n", j.dump(2).c_str());
         return 0;
       }},
  };
}

}  // namespace layercrypt::cli
