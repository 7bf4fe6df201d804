// engine/keyrelease/key_release.cc: see key_release.h (handle() is in
// key_release_handle.cc, with the protocol).
#include "engine/keyrelease/key_release.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>

#include "engine/keyrelease/wrapped_key.h"
#include "kernels/random.h"

namespace layercrypt {

namespace {

std::string utc_now() {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  tm t{};
  ::gmtime_r(&tv.tv_sec, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                static_cast<int>(tv.tv_usec / 1000));
  return buf;
}

bool allowed(const std::vector<std::string>& list, const Caller& who) {
  for (const std::string& p : list)
    if (who.matches(p)) return true;
  return false;
}

}  // namespace

StatusOr<std::string> chosen_key(const std::vector<kernels::SecretBytes>& entries) {
  std::string chosen;
  for (const kernels::SecretBytes& e : entries) {
    std::string_view s(reinterpret_cast<const char*>(e.data()), e.size());
    if (s == "Enabled") continue;
    if (s.substr(0, 4) == "key=") s.remove_prefix(4);
    if (!is_valid_key_id(s))
      return DataError(
          "provider parameter is not key=ID or a key id (1-128 of A-Z a-z 0-9 . _ : @ / + -)");
    if (!chosen.empty() && chosen != s)
      return KeyError("two keys asked for (" + chosen + ", " + std::string(s) +
                      "): one provider call wraps under one key");
    chosen = std::string(s);
  }
  return chosen;
}

KeyRelease::KeyRelease(KeyReleaseOptions options)
    : options_(std::move(options)), store_(options_.policy_path, [this](const std::string& line) {
        emit(utc_now() + " " + line);
      }) {}

void KeyRelease::emit(const std::string& line) {
  if (!options_.log) return;
  std::lock_guard<std::mutex> lock(log_mutex_);
  options_.log(line);
}

void KeyRelease::decide(const char* op, const Caller& who, const std::string& key,
                        const Status& outcome) {
  if (!options_.log) return;
  std::string line = utc_now() + " " + op + " transport=" + who.transport +
                     " peer=" + quoted_for_message(who.peer) +
                     " identity=" + quoted_for_message(who.identity()) +
                     " key=" + (key.empty() ? "-" : key);
  if (outcome.ok()) {
    line += " allowed";
  } else {
    line +=
        std::string(" refused (") + status_code_name(outcome.code()) + "): " + outcome.message();
  }
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  emit(line);
}

StatusOr<std::vector<uint8_t>> KeyRelease::wrap(const ProviderParams& params,
                                                std::span<const uint8_t> optsdata,
                                                const Caller& who) {
  std::string key_id;
  auto refuse = [&](Status s) {
    decide("keywrap", who, key_id, s);
    return s;
  };
  auto policy = store_.current();
  if (!policy.ok()) return refuse(KeyError("no usable policy: " + policy.status().message()));
  auto it = params.find(options_.name);
  if (it != params.end()) {
    auto chosen = chosen_key(it->second);
    if (!chosen.ok()) return refuse(chosen.status());
    key_id = *chosen;
  }
  if (key_id.empty()) key_id = (*policy)->default_key;
  if (key_id.empty())
    return refuse(KeyError("no key chosen (provider:" + options_.name +
                           ":key=ID) and no default-key in " + (*policy)->source));
  const PolicyKey* key = (*policy)->find(key_id);
  if (key == nullptr) return refuse(KeyError("no key " + key_id + " in " + (*policy)->source));
  if (key->wrap_by && !allowed(*key->wrap_by, who))
    return refuse(KeyError("key " + key_id + " may not wrap for " + who.identity() +
                           " (not in keys." + key_id + ".wrap-by of " + (*policy)->source + ")"));
  if (optsdata.empty() || optsdata.size() > kMaxWrappedPlaintext)
    return refuse(DataError("the private options are " + std::to_string(optsdata.size()) +
                            " bytes (1 to " + std::to_string(kMaxWrappedPlaintext) +
                            " are wrapped)"));
  auto kek = store_.kek(*key);
  if (!kek.ok()) return refuse(kek.status().with_context("key " + key_id));
  WrappedKey out;
  out.key_id = key_id;
  out.kek = key->kek.kind;
  if (!kernels::random_bytes(out.nonce.data(), out.nonce.size()))
    return refuse(Internal("OpenSSL's random generator failed"));
  auto sealed = (*kek)->seal(out.nonce, wrapped_key_aad(key_id, out.kek), optsdata);
  if (!sealed.ok()) return refuse(sealed.status().with_context("key " + key_id));
  out.sealed = std::move(*sealed);
  decide("keywrap", who, key_id, Status::Ok());
  return serialize_wrapped_key(out);
}

StatusOr<kernels::SecretBytes> KeyRelease::unwrap(std::span<const uint8_t> annotation,
                                                  const Caller& who) {
  std::string key_id;
  auto refuse = [&](Status s) {
    decide("keyunwrap", who, key_id, s);
    return s;
  };
  auto policy = store_.current();
  if (!policy.ok()) return refuse(KeyError("no usable policy: " + policy.status().message()));
  auto blob = parse_wrapped_key(annotation);
  if (!blob.ok()) return refuse(blob.status());
  key_id = blob->key_id;
  const PolicyKey* key = (*policy)->find(key_id);
  if (key == nullptr) return refuse(KeyError("no key " + key_id + " in " + (*policy)->source));
  // The allow-list is checked before anything is decrypted.
  if (!allowed(key->release_to, who))
    return refuse(KeyError("key " + key_id + " may not be released to " + who.identity() +
                           " (not in keys." + key_id + ".release-to of " + (*policy)->source +
                           ")"));
  if (key->kek.kind != blob->kek)
    return refuse(KeyError(std::string("key ") + key_id + " was sealed by a " +
                           kek_kind_name(blob->kek) + " KEK; the policy has a " +
                           kek_kind_name(key->kek.kind) + " KEK for it"));
  auto kek = store_.kek(*key);
  if (!kek.ok()) return refuse(kek.status().with_context("key " + key_id));
  auto plain = (*kek)->open(blob->nonce, wrapped_key_aad(key_id, blob->kek), blob->sealed);
  if (!plain.ok()) {
    if (plain.status().code() == StatusCode::kIntegrityError)
      return refuse(IntegrityError("the wrapped key for " + key_id + " does not open under " +
                                   key->kek.describe() +
                                   ": tampered with, or sealed by another KEK"));
    return refuse(plain.status().with_context("key " + key_id));
  }
  decide("keyunwrap", who, key_id, Status::Ok());
  return plain;
}

}  // namespace layercrypt
