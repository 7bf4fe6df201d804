// Tests for engine/ocicrypt/media_types.h (spec §6).
#include "engine/ocicrypt/media_types.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace layercrypt {
namespace {

struct Row {
  const char* encrypted;
  const char* decrypted;
  Compression compression;
};
constexpr Row kDecryptable[] = {
    {"application/vnd.oci.image.layer.v1.tar+encrypted", "application/vnd.oci.image.layer.v1.tar",
     Compression::kNone},
    {"application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
     "application/vnd.oci.image.layer.v1.tar+gzip", Compression::kGzip},
    {"application/vnd.oci.image.layer.v1.tar+zstd+encrypted",
     "application/vnd.oci.image.layer.v1.tar+zstd", Compression::kZstd},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+encrypted",
     "application/vnd.oci.image.layer.nondistributable.v1.tar", Compression::kNone},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip+encrypted",
     "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", Compression::kGzip},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd+encrypted",
     "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", Compression::kZstd},
    {"application/vnd.docker.image.rootfs.diff.tar.gzip+encrypted",
     "application/vnd.docker.image.rootfs.diff.tar.gzip", Compression::kGzip},
};

TEST(MediaTypes, DecryptableTypes) {
  for (const Row& r : kDecryptable) {
    SCOPED_TRACE(r.encrypted);
    EXPECT_TRUE(is_encrypted_media_type(r.encrypted));
    EXPECT_TRUE(is_decryptable_media_type(r.encrypted));
    EXPECT_FALSE(is_layer_media_type(r.encrypted));
    auto d = decrypted_media_type(r.encrypted);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, r.decrypted);
    auto c = compression_of(r.encrypted);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(*c, r.compression);
    auto pc = compression_of(r.decrypted);
    ASSERT_TRUE(pc.ok());
    EXPECT_EQ(*pc, r.compression);
    EXPECT_TRUE(is_layer_media_type(r.decrypted));
    EXPECT_FALSE(is_encrypted_media_type(r.decrypted));
    EXPECT_FALSE(is_decryptable_media_type(r.decrypted));
  }
}

TEST(MediaTypes, NotDecryptable) {
  for (const char* t : {
           "application/vnd.oci.image.layer.v1.tar",
           "application/vnd.wasm.content.layer.v1+wasm+encrypted",  // encrypted, not ours
           "application/vnd.docker.image.rootfs.diff.tar+encrypted",
           "application/vnd.oci.image.layer.v1.tar+gzip+encrypted ",
           "APPLICATION/VND.OCI.IMAGE.LAYER.V1.TAR+ENCRYPTED",
           "application/vnd.oci.image.layer.v1.tar+encrypted+encrypted",
           "",
       }) {
    SCOPED_TRACE(t);
    EXPECT_FALSE(is_decryptable_media_type(t));
    auto d = decrypted_media_type(t);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), StatusCode::kUnsupported);
  }
  EXPECT_TRUE(is_encrypted_media_type("application/vnd.wasm.content.layer.v1+wasm+encrypted"));
  auto d = decrypted_media_type("application/x\x01y+encrypted");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message().find('\x01'), std::string::npos);
}

TEST(MediaTypes, EncryptMapping) {
  struct E {
    const char* in;
    const char* out;
  };
  const E rows[] = {
      {"application/vnd.oci.image.layer.v1.tar",
       "application/vnd.oci.image.layer.v1.tar+encrypted"},
      {"application/vnd.oci.image.layer.v1.tar+gzip",
       "application/vnd.oci.image.layer.v1.tar+gzip+encrypted"},
      {"application/vnd.oci.image.layer.v1.tar+zstd",
       "application/vnd.oci.image.layer.v1.tar+zstd+encrypted"},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar",
       "application/vnd.oci.image.layer.nondistributable.v1.tar+encrypted"},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
       "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip+encrypted"},
      {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
       "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd+encrypted"},
      // imgcrypt: Docker layers become OCI encrypted layers.
      {"application/vnd.docker.image.rootfs.diff.tar.gzip",
       "application/vnd.oci.image.layer.v1.tar+gzip+encrypted"},
      {"application/vnd.docker.image.rootfs.diff.tar",
       "application/vnd.oci.image.layer.v1.tar+encrypted"},
  };
  for (const E& r : rows) {
    auto e = encrypted_media_type(r.in);
    ASSERT_TRUE(e.ok()) << r.in;
    EXPECT_EQ(*e, r.out);
    EXPECT_TRUE(is_decryptable_media_type(*e));
  }
  for (const char* t : {"application/vnd.oci.image.layer.v1.tar+encrypted",
                        "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
                        "application/vnd.docker.image.rootfs.diff.tar.gzip+encrypted"}) {
    auto e = encrypted_media_type(t);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(e.status().message().find("already encrypted"), std::string::npos);
  }
  for (const char* t :
       {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "application/vnd.in-toto+json",
        "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.manifest.v1+json",
        "application/octet-stream", ""}) {
    auto e = encrypted_media_type(t);
    ASSERT_FALSE(e.ok()) << t;
    EXPECT_EQ(e.status().code(), StatusCode::kUnsupported) << t;
  }
}

TEST(MediaTypes, CompressionOfPlainTypes) {
  EXPECT_EQ(*compression_of("application/vnd.docker.image.rootfs.diff.tar"), Compression::kNone);
  EXPECT_EQ(*compression_of("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Compression::kGzip);
  EXPECT_EQ(*compression_of("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"),
            Compression::kGzip);
  for (const char* t : {"application/vnd.oci.image.config.v1+json", "application/json", "",
                        "application/vnd.wasm.content.layer.v1+wasm+encrypted"}) {
    auto c = compression_of(t);
    ASSERT_FALSE(c.ok()) << t;
    EXPECT_EQ(c.status().code(), StatusCode::kUnsupported);
  }
  EXPECT_STREQ(compression_name(Compression::kNone), "none");
  EXPECT_STREQ(compression_name(Compression::kGzip), "gzip");
  EXPECT_STREQ(compression_name(Compression::kZstd), "zstd");
}

TEST(MediaTypes, Constants) {
  EXPECT_EQ(std::string(kOciLayerTarGzip) + std::string(kEncryptedSuffix), kOciLayerTarGzipEnc);
  EXPECT_EQ(std::string(kOciLayerTar) + std::string(kEncryptedSuffix), kOciLayerTarEnc);
  EXPECT_EQ(std::string(kOciLayerTarZstd) + std::string(kEncryptedSuffix), kOciLayerTarZstdEnc);
  EXPECT_EQ(std::string(kDockerLayerTarGzip) + std::string(kEncryptedSuffix),
            kDockerLayerTarGzipEnc);
}

// Compressing an uncompressed tar layer: OCI types keep their family,
// Docker's tar becomes the OCI type (Docker has no zstd type, and imgcrypt
// maps Docker layers to OCI when encrypting); anything else has no mapping.
TEST(MediaTypes, CompressedTypeOfTar) {
  struct Case {
    std::string_view in;
    std::optional<std::string_view> gzip, zstd;
  };
  const Case cases[] = {
      {kOciLayerTar, kOciLayerTarGzip, kOciLayerTarZstd},
      {kOciLayerNondistTar, kOciLayerNondistTarGzip, kOciLayerNondistTarZstd},
      {kDockerLayerTar, kOciLayerTarGzip, kOciLayerTarZstd},
      {kOciLayerTarGzip, std::nullopt, std::nullopt},
      {kOciLayerTarZstd, std::nullopt, std::nullopt},
      {kDockerLayerTarGzip, std::nullopt, std::nullopt},
      {kOciLayerTarEnc, std::nullopt, std::nullopt},
      {"application/vnd.oci.image.config.v1+json", std::nullopt, std::nullopt},
      {"", std::nullopt, std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.in));
    const auto gz = gzip_media_type(c.in);
    const auto zs = zstd_media_type(c.in);
    ASSERT_EQ(gz.has_value(), c.gzip.has_value());
    ASSERT_EQ(zs.has_value(), c.zstd.has_value());
    if (gz) {
      EXPECT_EQ(*gz, *c.gzip);
    }
    if (zs) {
      EXPECT_EQ(*zs, *c.zstd);
      auto comp = compression_of(*zs);
      ASSERT_TRUE(comp.ok());
      EXPECT_EQ(*comp, Compression::kZstd);
      EXPECT_TRUE(encrypted_media_type(*zs).ok());
    }
  }
}

}  // namespace
}  // namespace layercrypt
