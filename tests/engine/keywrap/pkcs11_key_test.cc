// tests/engine/keywrap/pkcs11_key_test.cc: pkcs11 URIs, key YAMLs, the
// module policy (OCICRYPT_CONFIG) and module resolution
// (engine/keywrap/pkcs11/pkcs11_key.h), with module files made in a
// temporary directory. No message shows a PIN.
#include "engine/keywrap/pkcs11/pkcs11_key.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <string>

#include "tests/support/test_util.h"

namespace layercrypt {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string str(const kernels::SecretBytes& b) { return std::string(b.begin(), b.end()); }

TEST(Pkcs11UriTest, ParsesPathAndQueryAttributes) {
  auto uri = parse_pkcs11_uri(
      "pkcs11:token=My%20Token;object=key1;id=%01%02;slot-id=7;x-vendor=a"
      "?pin-value=12%334&module-name=softhsm2&module-path=/usr/lib/softhsm/");
  ASSERT_TRUE(uri.ok()) << uri.status().message();
  EXPECT_EQ(uri->token, "My Token");
  EXPECT_EQ(uri->object, "key1");
  EXPECT_EQ(uri->id, (std::vector<uint8_t>{1, 2}));
  ASSERT_TRUE(uri->slot);
  EXPECT_EQ(*uri->slot, 7u);
  EXPECT_TRUE(uri->has_pin_value);
  EXPECT_EQ(str(uri->pin_value), "1234");
  EXPECT_EQ(uri->module_name, "softhsm2");
  EXPECT_EQ(uri->module_path, "/usr/lib/softhsm/");
  const std::string shown = uri->redacted();
  EXPECT_EQ(shown.find("1234"), std::string::npos) << shown;
  EXPECT_NE(shown.find("pin-value=***"), std::string::npos) << shown;
  EXPECT_NE(shown.find("x-vendor=a"), std::string::npos) << shown;
  auto again = parse_pkcs11_uri(shown);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->token, "My Token");
  EXPECT_EQ(again->id, uri->id);
}

TEST(Pkcs11UriTest, RejectsMalformedUrisWithoutShowingThePin) {
  for (const char* bad : {
           "pkcs12:token=t;object=k",
           "token=t;object=k",
           "pkcs11:token=t;object",
           "pkcs11:token=t;token=u",
           "pkcs11:token=t;bogus=1",
           "pkcs11:token=t;id=%zz?pin-value=secret99",
           "pkcs11:token=t;id=%0",
           "pkcs11:slot-id=abc",
           "pkcs11:slot-id=-1",
           "pkcs11:token=t?pin-value=secret99&pin-source=file:/x",
           "pkcs11:token=t?module-path=relative/lib.so&pin-value=secret99",
           "pkcs11:token=t?pin-value=secret99&what=1",
           "pkcs11:token=t?pin-value",
       }) {
    auto uri = parse_pkcs11_uri(bad);
    ASSERT_FALSE(uri.ok()) << bad;
    EXPECT_EQ(uri.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(uri.status().message().find("secret99"), std::string::npos) << uri.status().message();
    EXPECT_EQ(uri.status().message().find('\n'), std::string::npos);
  }
  EXPECT_TRUE(parse_pkcs11_uri("pkcs11:").ok());  // empty, as in go-pkcs11uri
}

TEST(Pkcs11UriTest, PinFromValueOrFile) {
  testing::TempDir dir;
  testing::write_file(dir.file("pin"), testing::Bytes{'5', '6', '7', '8', '\n'});
  auto v = parse_pkcs11_uri("pkcs11:token=t;object=k?pin-value=1234");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(str(pkcs11_pin(*v).value()), "1234");
  for (const std::string& src : {"file:" + dir.file("pin"), dir.file("pin")}) {
    auto f = parse_pkcs11_uri("pkcs11:token=t;object=k?pin-source=" + src);
    ASSERT_TRUE(f.ok()) << f.status().message();
    auto pin = pkcs11_pin(*f);
    ASSERT_TRUE(pin.ok()) << pin.status().message();
    EXPECT_EQ(str(*pin), "5678");
  }
  auto none = pkcs11_pin(parse_pkcs11_uri("pkcs11:token=t;object=k").value());
  EXPECT_EQ(none.status().code(), StatusCode::kKeyError);
  auto rel = pkcs11_pin(parse_pkcs11_uri("pkcs11:token=t;object=k?pin-source=pin").value());
  EXPECT_EQ(rel.status().code(), StatusCode::kInvalidArgument);
  auto http =
      pkcs11_pin(parse_pkcs11_uri("pkcs11:token=t;object=k?pin-source=https://x/pin").value());
  EXPECT_EQ(http.status().code(), StatusCode::kInvalidArgument);
  auto missing = pkcs11_pin(
      parse_pkcs11_uri("pkcs11:token=t;object=k?pin-source=" + dir.file("nope")).value());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
}

TEST(Pkcs11KeyFileTest, ParsesTheDocumentedForm) {
  const std::string yaml =
      "pkcs11:\n"
      "  uri: pkcs11:token=test;object=key1;id=%01?pin-value=hunter22&module-name=softhsm2\n"
      "module:\n"
      "  env:\n"
      "    SOFTHSM2_CONF: /tmp/softhsm2.conf\n"
      "    OTHER: x\n";
  auto kf = parse_pkcs11_key_file(bytes(yaml));
  ASSERT_TRUE(kf.ok()) << kf.status().message();
  EXPECT_EQ(kf->uri.token, "test");
  EXPECT_EQ(kf->uri.object, "key1");
  EXPECT_EQ(str(kf->uri.pin_value), "hunter22");
  ASSERT_EQ(kf->env.size(), 2u);
  EXPECT_EQ(kf->env[0].first, "SOFTHSM2_CONF");
  EXPECT_EQ(kf->env[0].second, "/tmp/softhsm2.conf");
  EXPECT_TRUE(is_pkcs11_key_file(bytes(yaml)));
  EXPECT_TRUE(is_pkcs11_key_file(bytes("pkcs11:\n  uri: pkcs11:slot-id=3;id=%aa\n")));
}

TEST(Pkcs11KeyFileTest, RejectsOtherTextWithoutShowingThePin) {
  for (const std::string& bad : {
           std::string(""),
           std::string("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"),
           std::string("{\"kty\":\"RSA\"}"),
           std::string("pkcs11: [\n"),
           std::string("pkcs11:\n  uri: http://x/?pin-value=hunter22\n"),
           std::string("pkcs11:\n  url: pkcs11:token=t;object=k\n"),
           std::string("pkcs11:\n  uri: [a]\n"),
           std::string("pkcs11:\n  uri: pkcs11:token=t;object=k?pin-value=hunter22\nextra: 1\n"),
           std::string("pkcs11:\n  uri: pkcs11:token=t?pin-value=hunter22\n"),
           std::string("pkcs11:\n  uri: pkcs11:object=k?pin-value=hunter22\n"),
           std::string("pkcs11:\n  uri: pkcs11:token=t;object=k\nmodule:\n  env: [a]\n"),
           std::string("pkcs11:\n  uri: pkcs11:token=t;object=k\nmodule:\n  env:\n    A=B: c\n"),
           std::string("pkcs11:\n  uri: pkcs11:token=t;object=k\nmodule:\n  path: /x\n"),
       }) {
    auto kf = parse_pkcs11_key_file(bytes(bad));
    ASSERT_FALSE(kf.ok()) << bad;
    EXPECT_FALSE(is_pkcs11_key_file(bytes(bad)));
    EXPECT_EQ(kf.status().message().find("hunter22"), std::string::npos) << kf.status().message();
    EXPECT_EQ(kf.status().message().find('\n'), std::string::npos) << kf.status().message();
  }
}

TEST(Pkcs11PolicyTest, ParsesFileAndBareFormsAndWritesTheBareOne) {
  const std::string file =
      "other: 1\n"
      "pkcs11:\n"
      "  module-directories:\n    - /opt/p11/\n"
      "  allowed-module-paths: [/opt/p11/libx.so, /opt/more/]\n";
  auto p = parse_pkcs11_config_file(bytes(file), "f.conf");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->module_directories, std::vector<std::string>{"/opt/p11/"});
  EXPECT_EQ(p->allowed_module_paths, (std::vector<std::string>{"/opt/p11/libx.so", "/opt/more/"}));
  EXPECT_EQ(p->source, "f.conf");
  const std::string bare = pkcs11_config_yaml(*p);
  auto q = parse_pkcs11_config(bytes(bare), "payload");
  ASSERT_TRUE(q.ok()) << q.status().message() << "\n" << bare;
  EXPECT_EQ(q->module_directories, p->module_directories);
  EXPECT_EQ(q->allowed_module_paths, p->allowed_module_paths);
  EXPECT_TRUE(parse_pkcs11_config_file(bytes(""), "empty").value().allowed_module_paths.empty());
  EXPECT_FALSE(parse_pkcs11_config_file(bytes("pkcs11:\n  modules: []\n"), "x").ok());
  EXPECT_FALSE(parse_pkcs11_config_file(bytes("pkcs11:\n  module-directories: /a\n"), "x").ok());
  EXPECT_FALSE(parse_pkcs11_config_file(bytes("- a\n"), "x").ok());
  EXPECT_FALSE(parse_pkcs11_config(bytes("module-directories: [[a]]\n"), "x").ok());
}

using testing::ScopedEnv;

TEST(Pkcs11PolicyTest, LoadsFromTheEnvironmentInGosOrder) {
  testing::TempDir dir;
  const std::string conf = "pkcs11:\n  allowed-module-paths: [/a/]\n";
  testing::write_file(dir.file("env.conf"), testing::Bytes(conf.begin(), conf.end()));
  ::mkdir(dir.file("xdg").c_str(), 0700);
  const std::string xdg = "pkcs11:\n  allowed-module-paths: [/xdg/]\n";
  testing::write_file(dir.file("xdg/ocicrypt.conf"), testing::Bytes(xdg.begin(), xdg.end()));
  ScopedEnv home("HOME", dir.file("home").c_str());
  {
    ScopedEnv e("OCICRYPT_CONFIG", "internal");
    auto p = load_pkcs11_policy();
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->source, "OCICRYPT_CONFIG=internal");
    EXPECT_EQ(p->module_directories, pkcs11_internal_policy().module_directories);
  }
  {
    ScopedEnv e("OCICRYPT_CONFIG", dir.file("env.conf").c_str());
    ScopedEnv x("XDG_CONFIG_HOME", dir.file("xdg").c_str());
    EXPECT_EQ(load_pkcs11_policy().value().allowed_module_paths, std::vector<std::string>{"/a/"});
  }
  {
    ScopedEnv e("OCICRYPT_CONFIG", dir.file("missing.conf").c_str());
    ScopedEnv x("XDG_CONFIG_HOME", dir.file("xdg").c_str());
    EXPECT_EQ(load_pkcs11_policy().value().allowed_module_paths, std::vector<std::string>{"/xdg/"});
  }
  {
    ScopedEnv e("OCICRYPT_CONFIG", nullptr);
    ScopedEnv x("XDG_CONFIG_HOME", nullptr);
    auto p = load_pkcs11_policy();
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), StatusCode::kKeyError);
    EXPECT_NE(p.status().message().find("no ocicrypt config file was found"), std::string::npos);
  }
}

TEST(Pkcs11PolicyTest, LoadsANamedFileWithoutFallingBack) {
  testing::TempDir dir;
  const std::string conf = "pkcs11:\n  allowed-module-paths: [/a/]\n";
  testing::write_file(dir.file("my.conf"), testing::Bytes(conf.begin(), conf.end()));
  auto p = load_pkcs11_policy_file(dir.file("my.conf"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->allowed_module_paths, std::vector<std::string>{"/a/"});
  EXPECT_EQ(p->source, dir.file("my.conf"));
  EXPECT_EQ(load_pkcs11_policy_file("internal").value().allowed_module_paths,
            pkcs11_internal_policy().allowed_module_paths);
  ScopedEnv e("OCICRYPT_CONFIG", "internal");  // not consulted
  auto missing = load_pkcs11_policy_file(dir.file("missing.conf"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_NE(missing.status().message().find(dir.file("missing.conf")), std::string::npos);
  const std::string bad = "pkcs11:\n  allowed-module-paths: 7\n";
  testing::write_file(dir.file("bad.conf"), testing::Bytes(bad.begin(), bad.end()));
  EXPECT_EQ(load_pkcs11_policy_file(dir.file("bad.conf")).status().code(), StatusCode::kDataError);
}

TEST(Pkcs11ModuleTest, ResolvesAsGoPkcs11UriDoes) {
  testing::TempDir dir;
  ::mkdir(dir.file("mods").c_str(), 0700);
  ::mkdir(dir.file("mods/sub").c_str(), 0700);
  for (const char* f : {"libsofthsm2.so", "libSoftHSM.so.2", "libsofthsm2x.so", "sub/libother.so"})
    testing::write_file(dir.file(std::string("mods/") + f), testing::Bytes{1});
  const std::string mods = dir.file("mods") + "/";
  Pkcs11ModulePolicy policy;
  policy.module_directories = {dir.file("nothing"), mods};
  policy.allowed_module_paths = {mods};
  policy.source = "test.conf";
  auto resolve = [&](const std::string& query) {
    return resolve_pkcs11_module(parse_pkcs11_uri("pkcs11:token=t;object=k?" + query).value(),
                                 policy);
  };
  EXPECT_EQ(resolve("module-name=softhsm2").value(), mods + "libsofthsm2.so");
  // Case-insensitive; the name must end the file name or be followed by '.'.
  EXPECT_EQ(resolve("module-name=SOFTHSM").value(), mods + "libSoftHSM.so.2");
  EXPECT_EQ(resolve("module-name=libsofthsm2.so").value(), mods + "libsofthsm2.so");
  EXPECT_EQ(resolve("module-name=nothing").status().code(), StatusCode::kKeyError);
  EXPECT_EQ(resolve("module-path=" + mods + "libsofthsm2.so").value(), mods + "libsofthsm2.so");
  EXPECT_EQ(resolve("module-path=" + mods + "sub&module-name=other").status().code(),
            StatusCode::kKeyError);  // inside an allowed directory's subdirectory
  EXPECT_EQ(resolve("module-path=" + mods + "nope.so").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(resolve("pin-value=1234").status().code(), StatusCode::kInvalidArgument);
  policy.allowed_module_paths = {mods + "libSoftHSM.so.2"};
  auto denied = resolve("module-name=softhsm2&pin-value=secret99");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().message(),
            "module " + mods +
                "libsofthsm2.so is not allowed by OCICRYPT_CONFIG (test.conf): add it, or its "
                "directory with a trailing '/', to allowed-module-paths");
  policy.allowed_module_paths.clear();  // no list: nothing is allowed
  EXPECT_EQ(resolve("module-name=softhsm").status().code(), StatusCode::kKeyError);
}

}  // namespace
}  // namespace layercrypt
