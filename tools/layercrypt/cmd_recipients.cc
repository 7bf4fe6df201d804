// tools/layercrypt/cmd_recipients.cc: `layercrypt recipients add|set|remove|list`.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/keywrap/recipient_list.h"
#include "engine/keywrap/recipients.h"
#include "tools/layercrypt/cli.h"

namespace layercrypt::cli {

std::vector<Command> add_recipients_commands(CLI::App& app) {
  struct Options {
    std::vector<std::string> keys, recipients, platforms, remove;
    std::vector<int> layers;
    std::string image, dst;
    bool json = false, rekey = false;
  };
  auto o = std::make_shared<Options>();
  auto* rc =
      app.add_subcommand("recipients",
                         "Change who can decrypt an encrypted image: add or replace the recipients "
                         "(the layers' wrapped keys), or re-encrypt the layers to revoke");
  rc->require_subcommand(1);
  rc->footer(
      "Example:\n"
      "  layercrypt recipients add --key node.pem --recipient jwe:node2.pub.pem ./app-enc:v1\n"
      "  layercrypt recipients set --key node.pem --recipient jwe:new.pub.pem ./app-enc:v1\n"
      "  # revoke: new layer keys, new blobs; old keys open nothing of the new image\n"
      "  layercrypt recipients set --rekey --key node.pem --recipient jwe:new.pub.pem "
      "./app-enc:v1");
  auto add_rc = [&, o](const char* name, const char* what, const char* example) {
    auto* c = rc->add_subcommand(name, what);
    c->add_option("-k,--key", o->keys,
                  "A private key that opens the layers (FILE[:PASSWORD]), a pkcs11 key YAML, an "
                  "OpenPGP secret keyring, or "
                  "provider:NAME[:PARAMS]; repeatable")
        ->required();
    c->add_option("-r,--recipient", o->recipients,
                  "jwe:PUBLIC_KEY, pkcs7:CERT, pkcs11:KEY_YAML|RSA_PUBLIC_KEY, pgp:NAME_OR_EMAIL "
                  "or provider:NAME[:PARAMS]; repeatable")
        ->required();
    c->add_option("-l,--layer", o->layers, "Layer index; repeatable; default all");
    c->add_option("--platform", o->platforms, "os/arch[/variant]; repeatable; default all");
    c->add_option("-o,--output", o->dst,
                  "Write to this image (layout or archive, as DST of encrypt) instead of updating "
                  "IMAGE in place");
    c->add_flag("--json", o->json, "Print a JSON summary on stdout");
    c->add_option("IMAGE", o->image, kSrcHelp)->required();
    c->footer(example);
    return c;
  };
  auto* rc_add = add_rc("add", "Give more recipients access (old recipients keep it)",
                        "Example:\n  layercrypt recipients add --key node.pem --recipient "
                        "jwe:node2.pub.pem ./app-enc:v1");
  auto* rc_set = add_rc(
      "set",
      "Replace all recipients. Without --rekey only the wrapped layer keys change: the layer "
      "key, blobs and digests stay, so a removed recipient who kept the old manifest or the "
      "layer key can still decrypt (a new key-encryption key, not a revocation). With --rekey "
      "every layer is re-encrypted under a fresh key (new digests, same plaintext): that revokes",
      "Example:\n  layercrypt recipients set --key old.pem --recipient jwe:new.pub.pem "
      "./app-enc:v1\n"
      "  layercrypt recipients set --rekey --key old.pem --recipient jwe:new.pub.pem ./app-enc:v1");
  // recipients remove
  auto* rc_rm = rc->add_subcommand(
      "remove",
      "Take recipients off the layers (their wrapped keys go; no key needed). Like set "
      "without --rekey this does not revoke: the layer keys and blobs stay");
  rc_rm
      ->add_option(
          "-r,--recipient", o->remove,
          "jwe:PUBLIC_KEY, pkcs7:CERT, or an id as `recipients list` prints it; repeatable")
      ->required();
  rc_rm->add_option("-l,--layer", o->layers, "Layer index; repeatable; default all");
  rc_rm->add_option("--platform", o->platforms, "os/arch[/variant]; repeatable; default all");
  rc_rm->add_option("-o,--output", o->dst,
                    "Write to this image instead of updating IMAGE in place");
  rc_rm->add_flag("--json", o->json, "Print a JSON summary on stdout");
  rc_rm->add_option("IMAGE", o->image, kSrcHelp)->required();
  rc_rm->footer(
      "Example:\n  layercrypt recipients remove --recipient jwe:node2.pub.pem ./app-enc:v1\n"
      "  layercrypt recipients list ./app-enc:v1   # the ids remove also takes");
  // recipients list
  auto* rc_ls = rc->add_subcommand("list", "List each layer's recipients with their ids");
  rc_ls->add_flag("--json", o->json, "JSON output");
  rc_ls->add_option("IMAGE", o->image, kSrcHelp)->required();
  rc_ls->footer(
      "Example:\n  layercrypt recipients list ./app-enc:v1\n"
      "  layercrypt recipients list --json oci-archive:app-enc.tar | jq '.[].recipients'");
  rc_set->add_flag("--rekey", o->rekey,
                   "Re-encrypt every selected layer under a fresh layer key (revokes old keys; "
                   "old blobs are deleted unless another tag uses them)");

  auto add_or_set = [o, rc_set]() -> int {
    auto prepared = prepare_keys(o->keys);
    if (!prepared.ok()) return fail(prepared.status());
    auto parsed = parse_recipients(o->recipients);
    if (!parsed.ok()) return fail(parsed.status());
    const layercrypt::Recipients& rcpt = *parsed;
    auto refs = image_and_output(o->image, o->dst);
    if (!refs.ok()) return fail(refs.status());
    const auto& [src, dst] = *refs;
    layercrypt::RewrapImageOptions opts;
    opts.keys = &*prepared;
    opts.recipients = &rcpt;
    opts.mode = *rc_set ? layercrypt::RewrapMode::kSet : layercrypt::RewrapMode::kAdd;
    opts.rekey = o->rekey;
    opts.select = selection(o->layers, o->platforms);
    opts.progress = print_layer;
    opts.bytes_progress = update_progress;
    auto rep = layercrypt::rewrap_image(src, dst, opts);
    if (!rep.ok()) return fail(rep.status());
    print_warnings(*rep);
    print_summary(*rep,
                  o->rekey  ? "re-encrypted"
                  : *rc_set ? "rewrapped"
                            : "added recipients to",
                  o->dst.empty() ? o->image : o->dst, o->json, o->image);
    return 0;
  };
  return {
      {rc_add, add_or_set},
      {rc_set, add_or_set},
      {rc_rm,
       [o]() -> int {
         std::vector<std::string> ids;
         for (const auto& spec : o->remove) {
           const size_t colon = spec.find(':');
           const std::string file = colon == std::string::npos ? spec : spec.substr(colon + 1);
           if (access(file.c_str(), F_OK) != 0) {  // an id, as `recipients list` prints it
             ids.push_back(spec);
             continue;
           }
           layercrypt::Recipients one;
           if (auto st = layercrypt::add_recipient(spec, &one); !st.ok()) return fail(st);
           auto these = layercrypt::recipient_ids(one);
           if (!these.ok()) return fail(these.status());
           ids.insert(ids.end(), these->begin(), these->end());
         }
         auto refs = image_and_output(o->image, o->dst);
         if (!refs.ok()) return fail(refs.status());
         const auto& [src, dst] = *refs;
         layercrypt::RewrapImageOptions opts;
         opts.mode = layercrypt::RewrapMode::kRemove;
         opts.remove_ids = ids;
         opts.select = selection(o->layers, o->platforms);
         opts.progress = print_layer;
         auto rep = layercrypt::rewrap_image(src, dst, opts);
         if (!rep.ok()) return fail(rep.status());
         print_warnings(*rep);
         print_summary(*rep, "removed recipients from", o->dst.empty() ? o->image : o->dst, o->json,
                       o->image);
         if (!o->json)
           std::fprintf(stderr,
                        "layercrypt: note: the layer keys are unchanged; to revoke, re-encrypt "
                        "with `layercrypt recipients set --rekey`\n");
         return 0;
       }},
      {rc_ls,
       [o]() -> int {
         auto ref = layercrypt::parse_oci_ref(o->image);
         if (!ref.ok()) return fail(ref.status());
         auto rows = layercrypt::layer_info(*ref);
         if (!rows.ok()) return fail(rows.status());
         if (o->json) {
           nlohmann::ordered_json j = nlohmann::ordered_json::array();
           for (const auto& r : *rows) {
             nlohmann::ordered_json who = nlohmann::ordered_json::array();
             for (const auto& w : r.who)
               who.push_back({{"scheme", w.scheme},
                              {"blob", w.blob},
                              {"index", w.index},
                              {"alg", w.alg},
                              {"id", w.id}});
             j.push_back({{"index", r.index},
                          {"digest", r.digest},
                          {"platform", r.platform},
                          {"recipients", who}});
           }
           std::printf("%s\n", j.dump(2).c_str());
           return 0;
         }
         std::printf("%-3s %-14s %-19s %-7s %-16s %s\n", "#", "PLATFORM", "DIGEST", "SCHEME", "ALG",
                     "ID");
         for (const auto& r : *rows) {
           if (r.who.empty())
             std::printf("%-3zu %-14s %-19.19s %-7s %-16s %s\n", r.index,
                         r.platform.empty() ? "-" : r.platform.c_str(), r.digest.c_str(), "-", "-",
                         "(not encrypted)");
           for (const auto& w : r.who)
             std::printf("%-3zu %-14s %-19.19s %-7s %-16s %s\n", r.index,
                         r.platform.empty() ? "-" : r.platform.c_str(), r.digest.c_str(),
                         w.scheme.c_str(), w.alg.empty() ? "-" : w.alg.c_str(),
                         w.id.empty() ? "(unnamed: written without a key id)" : w.id.c_str());
         }
         return 0;
       }},
  };
}

}  // namespace layercrypt::cli
