// tools/layercrypt/cmd_keygen.cc: `layercrypt keygen`.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/keywrap/keygen.h"
#include "tools/layercrypt/cli.h"

namespace layercrypt::cli {

namespace {

// exists: is there anything (even a dangling link) at `path`?
bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found;
}

}  // namespace

std::vector<Command> add_keygen_commands(CLI::App& app) {
  struct Options {
    std::string type = "ec:p256", out, subject = "layercrypt recipient";
    int days = 3650;
    bool force = false, cert = false;
  };
  auto o = std::make_shared<Options>();
  auto* kg =
      app.add_subcommand("keygen", "Create a key pair for a recipient (NAME.pem, NAME.pub.pem)");
  auto* type_opt =
      kg->add_option("-t,--type", o->type,
                     "rsa:2048|rsa:3072|rsa:4096|ec:p256|ec:p384|ec:p521 (with --cert: rsa:3072)")
          ->capture_default_str();
  kg->add_flag(
      "--cert", o->cert,
      "Also write NAME.crt.pem, a self-signed certificate for pkcs7: recipients (RSA keys only)");
  kg->add_option("--subject", o->subject, "With --cert: the certificate's common name")
      ->capture_default_str();
  kg->add_option("--days", o->days, "With --cert: days the certificate is valid")
      ->capture_default_str()
      ->check(CLI::Range(1, 36500));
  kg->add_option("-o,--out", o->out,
                 "Output name: writes NAME.pem (PKCS#8, mode 0600) and NAME.pub.pem")
      ->required();
  kg->add_flag("-f,--force", o->force, "Overwrite existing files");
  kg->footer(
      "Example:\n  layercrypt keygen --type rsa:4096 --out node\n"
      "  layercrypt keygen --cert --out node   # node.crt.pem for -r pkcs7:node.crt.pem\n"
      "  # give node.pub.pem to image builders, put node.pem in the node's keys directory");

  return {
      {kg, [o, type_opt]() -> int {
         auto type =
             layercrypt::parse_key_type(o->cert && type_opt->count() == 0 ? "rsa:3072" : o->type);
         if (!type.ok()) return fail(type.status());
         auto key = layercrypt::generate_key(*type);
         if (!key.ok()) return fail(key.status());
         if (o->cert) {
           auto cert = layercrypt::make_self_signed_certificate(*key, {o->subject, o->days});
           if (!cert.ok()) return fail(cert.status());
           key->certificate_pem = std::move(*cert);
         }
         const auto st = layercrypt::write_key_files(*key, o->out, o->force);
         if (!st.ok() && !o->force && st.code() == layercrypt::StatusCode::kInvalidArgument &&
             (exists(o->out + ".pem") || exists(o->out + ".pub.pem") ||
              exists(o->out + ".crt.pem")))
           return fail(layercrypt::Status(st.code(), st.message() + "; use --force to overwrite"));
         if (!st.ok()) return fail(st);
         std::printf(
             "wrote %s.pem (private, keep on the node) and %s.pub.pem (give to builders)%s\n",
             o->out.c_str(), o->out.c_str(),
             o->cert ? (" and " + o->out + ".crt.pem (for pkcs7: recipients)").c_str() : "");
         return 0;
       }}};
}

}  // namespace layercrypt::cli
