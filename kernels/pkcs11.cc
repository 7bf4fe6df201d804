// kernels/pkcs11.cc: see pkcs11.h.
#include "kernels/pkcs11.h"

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#include <cstdio>
#include <functional>
#include <map>
#include <mutex>

namespace layercrypt::kernels {

// Pkcs11Module is one dlopen'ed, initialised module, shared by its sessions.
class Pkcs11Module {
 public:
  Pkcs11Module(void* handle, CK_FUNCTION_LIST* fns) : handle_(handle), fns_(fns) {}
  ~Pkcs11Module() {
    fns_->C_Finalize(nullptr);
    dlclose(handle_);
  }
  Pkcs11Module(const Pkcs11Module&) = delete;
  Pkcs11Module& operator=(const Pkcs11Module&) = delete;
  CK_FUNCTION_LIST* fns() const { return fns_; }

 private:
  void* handle_;
  CK_FUNCTION_LIST* fns_;
};

namespace {

bool fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

bool fail_rv(std::string* error, const char* function, CK_RV rv) {
  return fail(error, std::string(function) + ": " + pkcs11_rv_name(rv));
}

// The modules loaded now, by path. A weak reference: the last session to
// close finalises its module, so a later open re-reads its configuration.
std::mutex& modules_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::weak_ptr<Pkcs11Module>>& modules() {
  static std::map<std::string, std::weak_ptr<Pkcs11Module>> m;
  return m;
}

std::shared_ptr<Pkcs11Module> load_module(const std::string& path, std::string* error) {
  std::lock_guard<std::mutex> lock(modules_mutex());
  if (auto live = modules()[path].lock()) return live;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    fail(error, "cannot load PKCS#11 module " + path + ": " + (why ? why : "dlopen failed"));
    return nullptr;
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* fns = nullptr;
  if (get_list == nullptr || get_list(&fns) != CKR_OK || fns == nullptr) {
    dlclose(handle);
    fail(error, path + " is not a PKCS#11 module (no C_GetFunctionList)");
    return nullptr;
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  const CK_RV rv = fns->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    dlclose(handle);
    fail(error, path + ": C_Initialize: " + pkcs11_rv_name(rv));
    return nullptr;
  }
  auto module = std::make_shared<Pkcs11Module>(handle, fns);
  modules()[path] = module;
  return module;
}

std::string trimmed_label(const unsigned char* label, size_t len) {
  std::string s(reinterpret_cast<const char*>(label), len);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, void* value, size_t len) {
  CK_ATTRIBUTE a;
  a.type = type;
  a.pValue = value;
  a.ulValueLen = len;
  return a;
}

}  // namespace

std::string pkcs11_rv_name(unsigned long rv) {
  switch (rv) {
#define LC_RV(name) \
  case name:        \
    return #name;
    LC_RV(CKR_OK)
    LC_RV(CKR_HOST_MEMORY)
    LC_RV(CKR_SLOT_ID_INVALID)
    LC_RV(CKR_GENERAL_ERROR)
    LC_RV(CKR_FUNCTION_FAILED)
    LC_RV(CKR_ARGUMENTS_BAD)
    LC_RV(CKR_ATTRIBUTE_SENSITIVE)
    LC_RV(CKR_ATTRIBUTE_TYPE_INVALID)
    LC_RV(CKR_ATTRIBUTE_VALUE_INVALID)
    LC_RV(CKR_DATA_INVALID)
    LC_RV(CKR_DATA_LEN_RANGE)
    LC_RV(CKR_DEVICE_ERROR)
    LC_RV(CKR_DEVICE_MEMORY)
    LC_RV(CKR_DEVICE_REMOVED)
    LC_RV(CKR_ENCRYPTED_DATA_INVALID)
    LC_RV(CKR_ENCRYPTED_DATA_LEN_RANGE)
    LC_RV(CKR_FUNCTION_NOT_SUPPORTED)
    LC_RV(CKR_KEY_HANDLE_INVALID)
    LC_RV(CKR_KEY_TYPE_INCONSISTENT)
    LC_RV(CKR_KEY_FUNCTION_NOT_PERMITTED)
    LC_RV(CKR_MECHANISM_INVALID)
    LC_RV(CKR_MECHANISM_PARAM_INVALID)
    LC_RV(CKR_OPERATION_ACTIVE)
    LC_RV(CKR_PIN_INCORRECT)
    LC_RV(CKR_PIN_INVALID)
    LC_RV(CKR_PIN_LEN_RANGE)
    LC_RV(CKR_PIN_EXPIRED)
    LC_RV(CKR_PIN_LOCKED)
    LC_RV(CKR_SESSION_HANDLE_INVALID)
    LC_RV(CKR_SESSION_READ_ONLY)
    LC_RV(CKR_TEMPLATE_INCOMPLETE)
    LC_RV(CKR_TEMPLATE_INCONSISTENT)
    LC_RV(CKR_TOKEN_NOT_PRESENT)
    LC_RV(CKR_TOKEN_NOT_RECOGNIZED)
    LC_RV(CKR_TOKEN_WRITE_PROTECTED)
    LC_RV(CKR_USER_NOT_LOGGED_IN)
    LC_RV(CKR_USER_PIN_NOT_INITIALIZED)
    LC_RV(CKR_USER_TYPE_INVALID)
    LC_RV(CKR_BUFFER_TOO_SMALL)
    LC_RV(CKR_CRYPTOKI_NOT_INITIALIZED)
    LC_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED)
    LC_RV(CKR_USER_ALREADY_LOGGED_IN)
    LC_RV(CKR_OBJECT_HANDLE_INVALID)
#undef LC_RV
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR_0x%lx", rv);
      return buf;
    }
  }
}

Pkcs11Session::Pkcs11Session(std::shared_ptr<Pkcs11Module> module, unsigned long session)
    : module_(std::move(module)), session_(session) {}

Pkcs11Session::~Pkcs11Session() {
  module_->fns()->C_CloseSession(session_);
  // The module is finalised (and closed) under the registry's lock, so that
  // no open() can pick it up in between.
  std::lock_guard<std::mutex> lock(modules_mutex());
  module_.reset();
}

namespace {

// SlotChooser picks the slot to open among those with a token.
using SlotChooser = std::function<bool(CK_FUNCTION_LIST* f, const std::vector<CK_SLOT_ID>& slots,
                                       CK_SLOT_ID* out, std::string* error)>;

// open_session loads `module_path`, lets `choose` pick a slot and opens a
// session there; on failure the module reference is dropped again.
bool open_session(const std::string& module_path, const SlotChooser& choose, bool read_write,
                  std::shared_ptr<Pkcs11Module>* out_module, CK_SESSION_HANDLE* out_session,
                  std::string* error) {
  auto module = load_module(module_path, error);
  if (!module) return false;
  CK_FUNCTION_LIST* f = module->fns();
  auto drop = [&module] {
    std::lock_guard<std::mutex> lock(modules_mutex());
    module.reset();
    return false;
  };
  CK_ULONG count = 0;
  CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &count);
  std::vector<CK_SLOT_ID> slots(count);
  if (rv == CKR_OK && count > 0) rv = f->C_GetSlotList(CK_TRUE, slots.data(), &count);
  if (rv != CKR_OK) {
    fail_rv(error, "C_GetSlotList", rv);
    return drop();
  }
  slots.resize(count);
  CK_SLOT_ID slot = 0;
  if (!choose(f, slots, &slot, error)) return drop();
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  rv = f->C_OpenSession(slot, flags, nullptr, nullptr, out_session);
  if (rv != CKR_OK) {
    fail_rv(error, "C_OpenSession", rv);
    return drop();
  }
  *out_module = std::move(module);
  return true;
}

}  // namespace

std::unique_ptr<Pkcs11Session> Pkcs11Session::open(const std::string& module_path,
                                                   std::string_view token_label, bool read_write,
                                                   std::string* error) {
  auto by_label = [&](CK_FUNCTION_LIST* f, const std::vector<CK_SLOT_ID>& slots, CK_SLOT_ID* out,
                      std::string* err) {
    std::vector<CK_SLOT_ID> found;
    std::string others;  // the initialized tokens' labels, for the message
    for (CK_SLOT_ID slot : slots) {
      CK_TOKEN_INFO info{};
      if (f->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
      const std::string label = trimmed_label(info.label, sizeof info.label);
      if (label == token_label) {
        found.push_back(slot);
      } else if ((info.flags & CKF_TOKEN_INITIALIZED) != 0) {
        others += (others.empty() ? "\"" : ", \"") + label + "\"";
      }
    }
    if (found.size() == 1) {
      *out = found[0];
      return true;
    }
    if (!found.empty())
      return fail(err, std::to_string(found.size()) + " tokens labelled \"" +
                           std::string(token_label) + "\" in " + module_path);
    return fail(err, "no token labelled \"" + std::string(token_label) + "\" in " + module_path +
                         (others.empty() ? " (it has no initialized token)"
                                         : " (its tokens: " + others + ")"));
  };
  std::shared_ptr<Pkcs11Module> module;
  CK_SESSION_HANDLE session = 0;
  if (!open_session(module_path, by_label, read_write, &module, &session, error)) return nullptr;
  return std::unique_ptr<Pkcs11Session>(new Pkcs11Session(std::move(module), session));
}

std::unique_ptr<Pkcs11Session> Pkcs11Session::open_slot(const std::string& module_path,
                                                        uint64_t slot_id, bool read_write,
                                                        std::string* error) {
  auto by_id = [&](CK_FUNCTION_LIST*, const std::vector<CK_SLOT_ID>& slots, CK_SLOT_ID* out,
                   std::string* err) {
    for (CK_SLOT_ID slot : slots) {
      if (slot != slot_id) continue;
      *out = slot;
      return true;
    }
    return fail(err, "no token in slot " + std::to_string(slot_id) + " of " + module_path + " (" +
                         std::to_string(slots.size()) + " tokens present)");
  };
  std::shared_ptr<Pkcs11Module> module;
  CK_SESSION_HANDLE session = 0;
  if (!open_session(module_path, by_id, read_write, &module, &session, error)) return nullptr;
  return std::unique_ptr<Pkcs11Session>(new Pkcs11Session(std::move(module), session));
}

bool Pkcs11Session::login(std::span<const uint8_t> pin, std::string* error) {
  SecretBytes copy(pin.begin(), pin.end());  // C_Login takes a non-const pointer
  const CK_RV rv = module_->fns()->C_Login(session_, CKU_USER, copy.data(), copy.size());
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) return true;
  return fail_rv(error, "C_Login", rv);
}

bool Pkcs11Session::find_secret_key(std::string_view label, std::span<const uint8_t> id,
                                    uint64_t* out_handle, std::string* error) {
  return find_key(Pkcs11ObjectClass::kSecretKey, label, id, out_handle, error);
}

bool Pkcs11Session::find_key(Pkcs11ObjectClass cls_in, std::string_view label,
                             std::span<const uint8_t> id, uint64_t* out_handle,
                             std::string* error) {
  if (label.empty() && id.empty()) return fail(error, "a key needs a label or an id to be found");
  CK_FUNCTION_LIST* f = module_->fns();
  CK_OBJECT_CLASS cls = cls_in == Pkcs11ObjectClass::kSecretKey    ? CKO_SECRET_KEY
                        : cls_in == Pkcs11ObjectClass::kPrivateKey ? CKO_PRIVATE_KEY
                                                                   : CKO_PUBLIC_KEY;
  const char* kind = cls_in == Pkcs11ObjectClass::kSecretKey    ? "secret key"
                     : cls_in == Pkcs11ObjectClass::kPrivateKey ? "private key"
                                                                : "public key";
  std::vector<CK_ATTRIBUTE> tmpl{attr(CKA_CLASS, &cls, sizeof cls)};
  std::string label_copy(label);
  std::vector<uint8_t> id_copy(id.begin(), id.end());
  if (!label.empty()) tmpl.push_back(attr(CKA_LABEL, label_copy.data(), label_copy.size()));
  if (!id.empty()) tmpl.push_back(attr(CKA_ID, id_copy.data(), id_copy.size()));
  CK_RV rv = f->C_FindObjectsInit(session_, tmpl.data(), tmpl.size());
  if (rv != CKR_OK) return fail_rv(error, "C_FindObjectsInit", rv);
  CK_OBJECT_HANDLE found[2];
  CK_ULONG n = 0;
  rv = f->C_FindObjects(session_, found, 2, &n);
  f->C_FindObjectsFinal(session_);
  if (rv != CKR_OK) return fail_rv(error, "C_FindObjects", rv);
  const std::string what = label.empty() ? "with that id" : "labelled \"" + label_copy + "\"";
  if (n == 0)
    return fail(error, std::string("no ") + kind + " " + what + " in the token (or not logged in)");
  if (n > 1)
    return fail(error, std::string("more than one ") + kind + " " + what + " in the token");
  *out_handle = found[0];
  return true;
}

bool Pkcs11Session::generate_aes_key(std::string_view label, std::span<const uint8_t> id,
                                     size_t key_len, uint64_t* out_handle, std::string* error) {
  if (key_len != 16 && key_len != 24 && key_len != 32)
    return fail(error, "an AES key is 16, 24 or 32 bytes");
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE type = CKK_AES;
  CK_ULONG len = key_len;
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  std::string label_copy(label);
  std::vector<uint8_t> id_copy(id.begin(), id.end());
  std::vector<CK_ATTRIBUTE> tmpl{attr(CKA_CLASS, &cls, sizeof cls),
                                 attr(CKA_KEY_TYPE, &type, sizeof type),
                                 attr(CKA_VALUE_LEN, &len, sizeof len),
                                 attr(CKA_TOKEN, &yes, sizeof yes),
                                 attr(CKA_PRIVATE, &yes, sizeof yes),
                                 attr(CKA_SENSITIVE, &yes, sizeof yes),
                                 attr(CKA_EXTRACTABLE, &no, sizeof no),
                                 attr(CKA_ENCRYPT, &yes, sizeof yes),
                                 attr(CKA_DECRYPT, &yes, sizeof yes),
                                 attr(CKA_WRAP, &no, sizeof no),
                                 attr(CKA_UNWRAP, &no, sizeof no),
                                 attr(CKA_SIGN, &no, sizeof no),
                                 attr(CKA_VERIFY, &no, sizeof no),
                                 attr(CKA_DERIVE, &no, sizeof no),
                                 attr(CKA_LABEL, label_copy.data(), label_copy.size())};
  if (!id_copy.empty()) tmpl.push_back(attr(CKA_ID, id_copy.data(), id_copy.size()));
  CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE handle = 0;
  const CK_RV rv =
      module_->fns()->C_GenerateKey(session_, &mech, tmpl.data(), tmpl.size(), &handle);
  if (rv != CKR_OK) return fail_rv(error, "C_GenerateKey", rv);
  *out_handle = handle;
  return true;
}

bool Pkcs11Session::generate_rsa_key_pair(std::string_view label, std::span<const uint8_t> id,
                                          size_t bits, uint64_t* out_public, uint64_t* out_private,
                                          std::string* error) {
  if (bits < 2048 || bits > 4096 || bits % 8 != 0)
    return fail(error, "an RSA key is 2048 to 4096 bits, a multiple of 8");
  CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY;
  CK_KEY_TYPE type = CKK_RSA;
  CK_ULONG modulus_bits = bits;
  CK_BYTE exponent[] = {0x01, 0x00, 0x01};
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  std::string label_copy(label);
  std::vector<uint8_t> id_copy(id.begin(), id.end());
  std::vector<CK_ATTRIBUTE> pub{attr(CKA_CLASS, &pub_cls, sizeof pub_cls),
                                attr(CKA_KEY_TYPE, &type, sizeof type),
                                attr(CKA_TOKEN, &yes, sizeof yes),
                                attr(CKA_PRIVATE, &no, sizeof no),
                                attr(CKA_ENCRYPT, &yes, sizeof yes),
                                attr(CKA_VERIFY, &no, sizeof no),
                                attr(CKA_WRAP, &no, sizeof no),
                                attr(CKA_MODULUS_BITS, &modulus_bits, sizeof modulus_bits),
                                attr(CKA_PUBLIC_EXPONENT, exponent, sizeof exponent),
                                attr(CKA_LABEL, label_copy.data(), label_copy.size())};
  std::vector<CK_ATTRIBUTE> priv{attr(CKA_CLASS, &priv_cls, sizeof priv_cls),
                                 attr(CKA_KEY_TYPE, &type, sizeof type),
                                 attr(CKA_TOKEN, &yes, sizeof yes),
                                 attr(CKA_PRIVATE, &yes, sizeof yes),
                                 attr(CKA_SENSITIVE, &yes, sizeof yes),
                                 attr(CKA_EXTRACTABLE, &no, sizeof no),
                                 attr(CKA_DECRYPT, &yes, sizeof yes),
                                 attr(CKA_SIGN, &no, sizeof no),
                                 attr(CKA_UNWRAP, &no, sizeof no),
                                 attr(CKA_LABEL, label_copy.data(), label_copy.size())};
  if (!id_copy.empty()) {
    pub.push_back(attr(CKA_ID, id_copy.data(), id_copy.size()));
    priv.push_back(attr(CKA_ID, id_copy.data(), id_copy.size()));
  }
  CK_MECHANISM mech{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pub_handle = 0, priv_handle = 0;
  const CK_RV rv = module_->fns()->C_GenerateKeyPair(
      session_, &mech, pub.data(), pub.size(), priv.data(), priv.size(), &pub_handle, &priv_handle);
  if (rv != CKR_OK) return fail_rv(error, "C_GenerateKeyPair", rv);
  *out_public = pub_handle;
  *out_private = priv_handle;
  return true;
}

bool Pkcs11Session::rsa_public_key(uint64_t handle, std::vector<uint8_t>* out_modulus,
                                   std::vector<uint8_t>* out_exponent, std::string* error) {
  CK_FUNCTION_LIST* f = module_->fns();
  CK_ATTRIBUTE sizes[] = {attr(CKA_MODULUS, nullptr, 0), attr(CKA_PUBLIC_EXPONENT, nullptr, 0)};
  CK_RV rv = f->C_GetAttributeValue(session_, handle, sizes, std::size(sizes));
  if (rv != CKR_OK) return fail_rv(error, "C_GetAttributeValue", rv);
  if (sizes[0].ulValueLen == CK_UNAVAILABLE_INFORMATION || sizes[0].ulValueLen == 0 ||
      sizes[0].ulValueLen > 1024 || sizes[1].ulValueLen == CK_UNAVAILABLE_INFORMATION ||
      sizes[1].ulValueLen == 0 || sizes[1].ulValueLen > 1024)
    return fail(error, "the key object has no usable RSA modulus and public exponent");
  std::vector<uint8_t> modulus(sizes[0].ulValueLen), exponent(sizes[1].ulValueLen);
  CK_ATTRIBUTE values[] = {attr(CKA_MODULUS, modulus.data(), modulus.size()),
                           attr(CKA_PUBLIC_EXPONENT, exponent.data(), exponent.size())};
  rv = f->C_GetAttributeValue(session_, handle, values, std::size(values));
  if (rv != CKR_OK) return fail_rv(error, "C_GetAttributeValue", rv);
  modulus.resize(values[0].ulValueLen);
  exponent.resize(values[1].ulValueLen);
  *out_modulus = std::move(modulus);
  *out_exponent = std::move(exponent);
  return true;
}

namespace {

// OaepMechanism holds CKM_RSA_PKCS_OAEP's parameters: `hash` for the
// digest and MGF1, no label (what Go's rsa.EncryptOAEP does with a nil label).
struct OaepMechanism {
  explicit OaepMechanism(Pkcs11OaepHash hash) {
    params.hashAlg = hash == Pkcs11OaepHash::kSha1 ? CKM_SHA_1 : CKM_SHA256;
    params.mgf = hash == Pkcs11OaepHash::kSha1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256;
    params.source = CKZ_DATA_SPECIFIED;
    params.pSourceData = nullptr;
    params.ulSourceDataLen = 0;
    mech.mechanism = CKM_RSA_PKCS_OAEP;
    mech.pParameter = &params;
    mech.ulParameterLen = sizeof params;
  }
  CK_RSA_PKCS_OAEP_PARAMS params{};
  CK_MECHANISM mech{};
};

}  // namespace

bool Pkcs11Session::rsa_oaep_encrypt(uint64_t key, Pkcs11OaepHash hash, std::span<const uint8_t> in,
                                     std::vector<uint8_t>* out, std::string* error) {
  CK_FUNCTION_LIST* f = module_->fns();
  OaepMechanism m(hash);
  CK_RV rv = f->C_EncryptInit(session_, &m.mech, key);
  if (rv != CKR_OK) return fail_rv(error, "C_EncryptInit", rv);
  SecretBytes plain(in.begin(), in.end());
  CK_ULONG ct_len = 0;
  rv = f->C_Encrypt(session_, plain.data(), plain.size(), nullptr, &ct_len);
  if (rv != CKR_OK) return fail_rv(error, "C_Encrypt", rv);
  std::vector<uint8_t> ct(ct_len);
  rv = f->C_Encrypt(session_, plain.data(), plain.size(), ct.data(), &ct_len);
  if (rv != CKR_OK) return fail_rv(error, "C_Encrypt", rv);
  ct.resize(ct_len);
  *out = std::move(ct);
  return true;
}

bool Pkcs11Session::rsa_oaep_decrypt(uint64_t key, Pkcs11OaepHash hash, std::span<const uint8_t> in,
                                     SecretBytes* out, std::string* error) {
  out->clear();
  CK_FUNCTION_LIST* f = module_->fns();
  OaepMechanism m(hash);
  CK_RV rv = f->C_DecryptInit(session_, &m.mech, key);
  if (rv != CKR_OK) return fail_rv(error, "C_DecryptInit", rv);
  std::vector<uint8_t> ct(in.begin(), in.end());
  // The plaintext is shorter than the modulus, which is the ciphertext's
  // size; a buffer that large avoids the size query (a second decryption).
  SecretBytes plain(in.size());
  CK_ULONG plain_len = plain.size();
  rv = f->C_Decrypt(session_, ct.data(), ct.size(), plain.data(), &plain_len);
  if (rv != CKR_OK) return fail_rv(error, "C_Decrypt", rv);
  if (plain_len > in.size()) return fail(error, "C_Decrypt: the module overran its buffer");
  plain.resize(plain_len);
  *out = std::move(plain);
  return true;
}

bool Pkcs11Session::key_info(uint64_t handle, Pkcs11KeyInfo* out, std::string* error) {
  CK_KEY_TYPE type = 0;
  CK_ULONG len = 0;
  CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, token = CK_FALSE, enc = CK_FALSE,
           dec = CK_FALSE;
  CK_ATTRIBUTE tmpl[] = {attr(CKA_KEY_TYPE, &type, sizeof type),
                         attr(CKA_VALUE_LEN, &len, sizeof len),
                         attr(CKA_SENSITIVE, &sensitive, sizeof sensitive),
                         attr(CKA_EXTRACTABLE, &extractable, sizeof extractable),
                         attr(CKA_TOKEN, &token, sizeof token),
                         attr(CKA_ENCRYPT, &enc, sizeof enc),
                         attr(CKA_DECRYPT, &dec, sizeof dec)};
  const CK_RV rv = module_->fns()->C_GetAttributeValue(session_, handle, tmpl, std::size(tmpl));
  if (rv != CKR_OK) return fail_rv(error, "C_GetAttributeValue", rv);
  out->is_aes = type == CKK_AES;
  out->value_len = len;
  out->sensitive = sensitive == CK_TRUE;
  out->extractable = extractable == CK_TRUE;
  out->on_token = token == CK_TRUE;
  out->can_encrypt = enc == CK_TRUE;
  out->can_decrypt = dec == CK_TRUE;
  return true;
}

namespace {

// GcmMechanism holds CKM_AES_GCM's parameters (the module takes non-const
// pointers, so the IV and AAD are copied).
struct GcmMechanism {
  GcmMechanism(std::span<const uint8_t> iv_in, std::span<const uint8_t> aad_in)
      : iv(iv_in.begin(), iv_in.end()), aad(aad_in.begin(), aad_in.end()) {
    params.iv_ptr = iv.data();
    params.iv_len = iv.size();
    params.iv_bits = iv.size() * 8;
    params.aad_ptr = aad.empty() ? nullptr : aad.data();
    params.aad_len = aad.size();
    params.tag_bits = kPkcs11GcmTagLen * 8;
    mech.mechanism = CKM_AES_GCM;
    mech.pParameter = &params;
    mech.ulParameterLen = sizeof params;
  }
  std::vector<uint8_t> iv, aad;
  CK_GCM_PARAMS params{};
  CK_MECHANISM mech{};
};

}  // namespace

bool Pkcs11Session::aes_gcm_seal(uint64_t key, std::span<const uint8_t> iv,
                                 std::span<const uint8_t> aad, std::span<const uint8_t> in,
                                 std::vector<uint8_t>* out, std::string* error) {
  if (iv.empty()) return fail(error, "AES-GCM needs an IV");
  CK_FUNCTION_LIST* f = module_->fns();
  GcmMechanism m(iv, aad);
  CK_RV rv = f->C_EncryptInit(session_, &m.mech, key);
  if (rv != CKR_OK) return fail_rv(error, "C_EncryptInit", rv);
  SecretBytes plain(in.begin(), in.end());
  std::vector<uint8_t> ct(in.size() + kPkcs11GcmTagLen);
  CK_ULONG ct_len = ct.size();
  rv = f->C_Encrypt(session_, plain.data(), plain.size(), ct.data(), &ct_len);
  if (rv != CKR_OK) return fail_rv(error, "C_Encrypt", rv);
  if (ct_len != in.size() + kPkcs11GcmTagLen)
    return fail(error, "C_Encrypt: the module returned " + std::to_string(ct_len) +
                           " bytes, not ciphertext and a 16-byte tag");
  *out = std::move(ct);
  return true;
}

bool Pkcs11Session::aes_gcm_open(uint64_t key, std::span<const uint8_t> iv,
                                 std::span<const uint8_t> aad, std::span<const uint8_t> in,
                                 SecretBytes* out, std::string* error) {
  out->clear();
  if (iv.empty()) return fail(error, "AES-GCM needs an IV");
  if (in.size() < kPkcs11GcmTagLen) return fail(error, "AES-GCM input shorter than its tag");
  CK_FUNCTION_LIST* f = module_->fns();
  GcmMechanism m(iv, aad);
  CK_RV rv = f->C_DecryptInit(session_, &m.mech, key);
  if (rv != CKR_OK) return fail_rv(error, "C_DecryptInit", rv);
  std::vector<uint8_t> ct(in.begin(), in.end());
  SecretBytes plain(in.size());  // at least the plaintext's size
  CK_ULONG plain_len = plain.size();
  rv = f->C_Decrypt(session_, ct.data(), ct.size(), plain.data(), &plain_len);
  if (rv != CKR_OK) return fail_rv(error, "C_Decrypt", rv);
  if (plain_len != in.size() - kPkcs11GcmTagLen)
    return fail(error, "C_Decrypt: the module returned " + std::to_string(plain_len) +
                           " bytes for " + std::to_string(in.size()) + " bytes in");
  plain.resize(plain_len);
  *out = std::move(plain);
  return true;
}

}  // namespace layercrypt::kernels
