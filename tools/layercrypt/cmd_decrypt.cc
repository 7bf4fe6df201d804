// tools/layercrypt/cmd_decrypt.cc: `layercrypt decrypt`.
#include <memory>

#include "tools/layercrypt/cli.h"

namespace layercrypt::cli {

std::vector<Command> add_decrypt_commands(CLI::App& app) {
  struct Options {
    std::vector<std::string> keys, platforms;
    std::vector<int> layers;
    std::string src, dst;
    bool json = false, stats = false;
    size_t jobs = kDefaultLayerJobs;
  };
  auto o = std::make_shared<Options>();
  auto* dec =
      app.add_subcommand("decrypt", "Decrypt the layers of an OCI image (layout or archive)");
  dec->add_option("-k,--key", o->keys,
                  "PRIVATE_KEY[:PASSWORD|:file=PASSWORD_FILE], a certificate for pkcs7, a pkcs11 "
                  "key YAML ([pkcs11:]FILE.yaml, module policy from OCICRYPT_CONFIG), an OpenPGP "
                  "secret keyring (FILE[:PASSPHRASE]), or "
                  "provider:NAME[:PARAMS]; repeatable")
      ->required();
  dec->add_option("-l,--layer", o->layers, "Layer index to decrypt; repeatable; default all");
  dec->add_option("--platform", o->platforms, "os/arch[/variant]; repeatable; default all");
  dec->add_flag("--json", o->json, "Print a JSON summary on stdout");
  dec->add_flag("--stats", o->stats, "Print each layer's pipeline statistics to stderr");
  dec->add_option("-j,--jobs", o->jobs, "Layers decrypted at once (1 = one after another)")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  dec->add_option("SRC", o->src, kSrcHelp)->required();
  dec->add_option("DST", o->dst, kDstHelp)->required();
  dec->footer(
      "Example:\n  layercrypt decrypt --key node.pem ./app-enc:v1 ./app-plain:v1\n"
      "  layercrypt decrypt --key node.pem oci-archive:app-enc.tar oci:./app-plain:v1");

  return {{dec, [o]() -> int {
             auto prepared = prepare_keys(o->keys);
             if (!prepared.ok()) return fail(prepared.status());
             auto src = layercrypt::parse_oci_ref(o->src);
             if (!src.ok()) return fail(src.status());
             if (auto st = check_dst(o->dst); !st.ok()) return fail(st);
             auto dst = layercrypt::parse_oci_ref(o->dst);
             if (!dst.ok()) return fail(dst.status());
             layercrypt::DecryptImageOptions opts;
             opts.keys = &*prepared;
             opts.layer_jobs = o->jobs;
             opts.select = selection(o->layers, o->platforms);
             opts.progress = print_layer;
             opts.bytes_progress = update_progress;
             auto rep = layercrypt::decrypt_image(*src, *dst, opts);
             if (!rep.ok()) return fail(rep.status());
             print_warnings(*rep);
             print_summary(*rep, "decrypted", o->dst, o->json, o->src);
             if (o->stats) print_stats(*rep);
             return 0;
           }}};
}

}  // namespace layercrypt::cli
