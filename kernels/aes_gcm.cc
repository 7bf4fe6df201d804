// kernels/aes_gcm.cc: AES-GCM over ipsec-mb's direct (non-job) GCM API.
#include "kernels/aes_gcm.h"

#include <intel-ipsec-mb.h>

#include <cstring>

#include "kernels/secure_memory.h"

namespace layercrypt::kernels {

// ipsec-mb declares gcm_key_data 64-byte aligned only when LINUX is defined
// at include time, which is a build flag of the library, not ours. Its
// vector code may use aligned loads on the precomputed hash keys, so force
// the alignment here instead of relying on the header.
struct alignas(64) AesGcmKey::Material {
  gcm_key_data data;
};

struct alignas(64) AesGcmStream::Context {
  gcm_context_data data;
};

namespace {

// The per-key-size entry points of one manager. The IMB_AESxxx_GCM_* macros
// are plain member loads from the manager, so selecting the members once per
// call is the same thing without a switch around every macro.
struct GcmFns {
  aes_gcm_pre_t pre;
  aes_gcm_init_var_iv_t init;
  aes_gcm_enc_dec_update_t enc_update;
  aes_gcm_enc_dec_update_t dec_update;
  aes_gcm_enc_dec_finalize_t enc_finalize;
  aes_gcm_enc_dec_finalize_t dec_finalize;
};

bool gcm_fns(const IMB_MGR* m, size_t key_len, GcmFns* f) {
  switch (key_len) {
    case 16:
      *f = {m->gcm128_pre,        m->gcm128_init_var_iv,  m->gcm128_enc_update,
            m->gcm128_dec_update, m->gcm128_enc_finalize, m->gcm128_dec_finalize};
      return true;
    case 24:
      *f = {m->gcm192_pre,        m->gcm192_init_var_iv,  m->gcm192_enc_update,
            m->gcm192_dec_update, m->gcm192_enc_finalize, m->gcm192_dec_finalize};
      return true;
    case 32:
      *f = {m->gcm256_pre,        m->gcm256_init_var_iv,  m->gcm256_enc_update,
            m->gcm256_dec_update, m->gcm256_enc_finalize, m->gcm256_dec_finalize};
      return true;
    default:
      return false;
  }
}

bool valid_tag_len(size_t tag_len) {
  return tag_len >= AesGcmKey::kMinTagLen && tag_len <= AesGcmKey::kTagLen;
}

// ipsec-mb's SAFE_PARAM checks look at pointers, and report a failure only
// through a process-global errno; giving empty AAD a dummy non-null pointer
// keeps us independent of how each version treats (null, 0).
const uint8_t kEmpty[1] = {0};
const uint8_t* nonnull(const uint8_t* p) { return p != nullptr ? p : kEmpty; }

// Everything a call needs, checked up front: ipsec-mb's direct GCM calls
// return void and flag bad input only in a process-global errno, so nothing
// invalid may reach them.
bool common_args_ok(const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len,
                    const uint8_t* in, size_t len, const uint8_t* out) {
  if (iv == nullptr || iv_len == 0) return false;  // GCM needs a non-empty IV
  if (aad == nullptr && aad_len != 0) return false;
  if (len != 0 && (in == nullptr || out == nullptr)) return false;
  if (len > AesGcmKey::kMaxMessageLen) return false;
  return true;
}

}  // namespace

AesGcmKey::AesGcmKey(const uint8_t* key, size_t key_len, ImbTier tier) : tier_(tier) {
  if (key == nullptr) return;
  IMB_MGR* mgr = imb_manager(tier);
  if (mgr == nullptr) return;
  GcmFns f;
  if (!gcm_fns(mgr, key_len, &f)) return;
  material_ = std::make_unique<Material>();
  // GCM_PRE expands the AES key and precomputes the GHASH key powers in the
  // layout this manager's architecture expects.
  f.pre(key, &material_->data);
  key_len_ = key_len;
  arch_name_ = imb_manager_arch_name(mgr);
  ok_ = true;
}

AesGcmKey::~AesGcmKey() {
  if (material_) secure_wipe(&material_->data, sizeof(material_->data));
}

bool AesGcmKey::seal(const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len,
                     const uint8_t* in, size_t len, uint8_t* out, uint8_t* tag,
                     size_t tag_len) const {
  if (!ok_ || tag == nullptr || !valid_tag_len(tag_len)) return false;
  if (!common_args_ok(iv, iv_len, aad, aad_len, in, len, out)) return false;
  IMB_MGR* mgr = imb_manager(tier_);
  GcmFns f;
  if (mgr == nullptr || !gcm_fns(mgr, key_len_, &f)) return false;

  // The context holds GHASH state and a keystream block: wipe it on exit.
  alignas(64) gcm_context_data ctx;
  ScopedWipe wipe_ctx(&ctx, sizeof(ctx));
  uint8_t full_tag[kTagLen];
  ScopedWipe wipe_tag(full_tag, sizeof(full_tag));
  f.init(&material_->data, &ctx, iv, iv_len, nonnull(aad), aad_len);
  if (len != 0) f.enc_update(&material_->data, &ctx, out, in, len);
  // Always compute the full tag and truncate: GCM's short tags are the
  // leftmost bytes of the full one, so one finalize path serves every
  // tag length and open can compare exactly tag_len bytes.
  f.enc_finalize(&material_->data, &ctx, full_tag, kTagLen);
  std::memcpy(tag, full_tag, tag_len);
  return true;
}

bool AesGcmKey::open(const uint8_t* iv, size_t iv_len, const uint8_t* aad, size_t aad_len,
                     const uint8_t* in, size_t len, const uint8_t* tag, size_t tag_len,
                     uint8_t* out) const {
  auto fail = [&] {
    if (out != nullptr && len != 0) secure_wipe(out, len);  // zero-fill
    return false;
  };
  if (!ok_ || tag == nullptr || !valid_tag_len(tag_len)) return fail();
  if (!common_args_ok(iv, iv_len, aad, aad_len, in, len, out)) return fail();
  IMB_MGR* mgr = imb_manager(tier_);
  GcmFns f;
  if (mgr == nullptr || !gcm_fns(mgr, key_len_, &f)) return fail();

  alignas(64) gcm_context_data ctx;
  ScopedWipe wipe_ctx(&ctx, sizeof(ctx));
  uint8_t expected[kTagLen];
  ScopedWipe wipe_tag(expected, sizeof(expected));
  f.init(&material_->data, &ctx, iv, iv_len, nonnull(aad), aad_len);
  if (len != 0) f.dec_update(&material_->data, &ctx, out, in, len);
  f.dec_finalize(&material_->data, &ctx, expected, kTagLen);
  if (!constant_time_equal(expected, tag, tag_len)) return fail();
  return true;
}

AesGcmStream::AesGcmStream(const AesGcmKey& key) : key_(key), ctx_(std::make_unique<Context>()) {
  std::memset(&ctx_->data, 0, sizeof(ctx_->data));
}

AesGcmStream::~AesGcmStream() { reset(); }

void AesGcmStream::reset() {
  secure_wipe(&ctx_->data, sizeof(ctx_->data));
  total_len_ = 0;
  state_ = State::kIdle;
}

bool AesGcmStream::init(Direction dir, const uint8_t* iv, size_t iv_len, const uint8_t* aad,
                        size_t aad_len) {
  reset();
  if (!key_.ok() || !common_args_ok(iv, iv_len, aad, aad_len, nullptr, 0, nullptr)) return false;
  IMB_MGR* mgr = imb_manager(key_.tier_);
  GcmFns f;
  if (mgr == nullptr || !gcm_fns(mgr, key_.key_len_, &f)) return false;
  f.init(&key_.material_->data, &ctx_->data, iv, iv_len, nonnull(aad), aad_len);
  state_ = dir == Direction::kEncrypt ? State::kEncrypting : State::kDecrypting;
  return true;
}

bool AesGcmStream::update(const uint8_t* in, uint8_t* out, size_t len) {
  if (state_ == State::kIdle) return false;
  if (len == 0) return true;
  if (in == nullptr || out == nullptr) return false;
  if (len > AesGcmKey::kMaxMessageLen - total_len_) {
    reset();  // a message past the GCM limit can never be finished
    return false;
  }
  IMB_MGR* mgr = imb_manager(key_.tier_);
  GcmFns f;
  if (mgr == nullptr || !gcm_fns(mgr, key_.key_len_, &f)) {
    reset();
    return false;
  }
  // ipsec-mb keeps partial-block state in the context, so pieces of any
  // size (not only multiples of 16) chain correctly.
  if (state_ == State::kEncrypting)
    f.enc_update(&key_.material_->data, &ctx_->data, out, in, len);
  else
    f.dec_update(&key_.material_->data, &ctx_->data, out, in, len);
  total_len_ += len;
  return true;
}

bool AesGcmStream::finish_encrypt(uint8_t* tag, size_t tag_len) {
  const bool usable = state_ == State::kEncrypting && tag != nullptr && valid_tag_len(tag_len);
  IMB_MGR* mgr = usable ? imb_manager(key_.tier_) : nullptr;
  GcmFns f;
  if (mgr == nullptr || !gcm_fns(mgr, key_.key_len_, &f)) {
    reset();
    return false;
  }
  uint8_t full_tag[AesGcmKey::kTagLen];
  ScopedWipe wipe_tag(full_tag, sizeof(full_tag));
  f.enc_finalize(&key_.material_->data, &ctx_->data, full_tag, sizeof(full_tag));
  std::memcpy(tag, full_tag, tag_len);
  reset();
  return true;
}

bool AesGcmStream::finish_decrypt(const uint8_t* tag, size_t tag_len) {
  const bool usable = state_ == State::kDecrypting && tag != nullptr && valid_tag_len(tag_len);
  IMB_MGR* mgr = usable ? imb_manager(key_.tier_) : nullptr;
  GcmFns f;
  if (mgr == nullptr || !gcm_fns(mgr, key_.key_len_, &f)) {
    reset();
    return false;
  }
  uint8_t expected[AesGcmKey::kTagLen];
  ScopedWipe wipe_tag(expected, sizeof(expected));
  f.dec_finalize(&key_.material_->data, &ctx_->data, expected, sizeof(expected));
  const bool match = constant_time_equal(expected, tag, tag_len);
  reset();
  return match;
}

}  // namespace layercrypt::kernels
