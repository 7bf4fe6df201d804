// engine/image/image_walk.cc: see image_walk.h.
#include "engine/image/image_walk.h"
#include "engine/core/hex.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "engine/core/base64.h"
#include "engine/core/ordered_jobs.h"
#include "engine/keywrap/key_wrapper.h"
#include "engine/keywrap/provider/key_providers.h"
#include "engine/ocicrypt/annotations.h"
#include "engine/ocicrypt/layer_options.h"
#include "engine/ocicrypt/layer_sniff.h"
#include "engine/ocicrypt/media_types.h"
#include "engine/stream/gzip_index.h"
#include "engine/stream/layer_compress.h"

namespace layercrypt::image_internal {

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string json_string(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t json_size(const Json& j) {
  const auto it = j.find("size");
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

Annotations annotations_of(const Json& desc) {
  Annotations a;
  const auto it = desc.find("annotations");
  if (it == desc.end() || !it->is_object()) return a;
  for (const auto& [k, v] : it->items())
    if (v.is_string()) a[k] = v.get<std::string>();
  return a;
}

void set_annotations(Json& desc, const Annotations& a) {
  if (a.empty()) {
    desc.erase("annotations");
    return;
  }
  Json obj = Json::object();
  for (const auto& [k, v] : a) obj[k] = v;  // sorted, as Go writes maps
  desc["annotations"] = std::move(obj);
}

std::string platform_string(const Json& desc) {
  const auto it = desc.find("platform");
  if (it == desc.end() || !it->is_object()) return "";
  std::string s = json_string(*it, "os") + "/" + json_string(*it, "architecture");
  const std::string v = json_string(*it, "variant");
  if (!v.empty()) s += "/" + v;
  return s;
}

// normalize_platform spells the architecture of "os/arch[/variant]" as Go
// does (GOARCH): what uname and some configs call x86_64 is amd64, aarch64
// is arm64.
std::string normalize_platform(const std::string& p) {
  const size_t a = p.find('/');
  if (a == std::string::npos) return p;
  const size_t b = p.find('/', a + 1);
  std::string arch = p.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  if (arch == "x86_64" || arch == "x86-64")
    arch = "amd64";
  else if (arch == "aarch64")
    arch = "arm64";
  return p.substr(0, a + 1) + arch + (b == std::string::npos ? "" : p.substr(b));
}

bool platform_selected(const std::string& platform, const std::vector<std::string>& wanted) {
  if (wanted.empty()) return true;
  const std::string have = normalize_platform(platform);
  for (const auto& w : wanted) {
    const std::string want = normalize_platform(w);
    if (want == have) return true;
    // "linux/arm64" matches "linux/arm64/v8".
    if (have.rfind(want + "/", 0) == 0) return true;
  }
  return false;
}

// effective_platform returns a manifest descriptor's platform, or, when it
// has none (a single-platform image), the os/architecture/variant of the
// manifest's config, as ctr-enc does; "" if neither says.
std::string effective_platform(const OciLayout& src, const Json& desc) {
  std::string p = platform_string(desc);
  if (!p.empty()) return p;
  auto m = src.read_json_blob(json_string(desc, "digest"), json_size(desc));
  if (!m.ok() || !m->contains("config") || !(*m)["config"].is_object()) return "";
  const Json& c = (*m)["config"];
  auto config = src.read_json_blob(json_string(c, "digest"), json_size(c));
  if (!config.ok() || json_string(*config, "os").empty()) return "";
  p = json_string(*config, "os") + "/" + json_string(*config, "architecture");
  if (!json_string(*config, "variant").empty()) p += "/" + json_string(*config, "variant");
  return p;
}

bool is_index_type(std::string_view mt) {
  return mt == kOciIndexMediaType || mt == kDockerManifestListMediaType;
}

std::string layer_name(const std::string& platform, size_t i, const std::string& digest) {
  std::string s = "layer " + std::to_string(i);
  if (!platform.empty()) s += " (" + platform + ")";
  return s + " " + digest;
}

// wrap_for_recipients wraps the private-options JSON once per scheme (all
// of a scheme's recipients in one blob, as ocicrypt does) and adds each
// blob to the scheme's keys annotation of `ann` (ocicrypt's ',' list), and
// who the JWE recipients are to the ids annotation (recipient_list.h).
Status wrap_for_recipients(std::span<const uint8_t> priv_json, const Recipients& rcpt,
                           Annotations* ann) {
  auto append = [ann](const std::string& key, std::span<const uint8_t> blob) {
    const auto it = ann->find(key);
    (*ann)[key] = append_wrapped_key(it == ann->end() ? "" : it->second, blob);
  };
  for (const auto& p : rcpt.providers) {  // stricter than Go, which drops them
    const std::string scheme = std::string(kProviderSchemePrefix) + p.name;
    if (find_key_wrapper(scheme, rcpt.key_providers.get()) == nullptr) {
      const KeyProviders none{KeyProviderConfig{}};
      return InvalidArgument(
          "recipient provider:" + p.name + ": " +
          (rcpt.key_providers ? *rcpt.key_providers : none).not_configured(scheme));
    }
  }
  for (const KeyWrapper* w : key_wrappers(rcpt.key_providers.get())) {
    if (w->recipient_count(rcpt) == 0) continue;
    LC_ASSIGN_OR_RETURN(std::vector<uint8_t> blob, w->wrap(priv_json, rcpt));
    append(keys_annotation(w->scheme()), blob);
    LC_RETURN_IF_ERROR(note_recipients(w->scheme(), blob, rcpt, ann));
  }
  return Status::Ok();
}

// NoRecipients is the error of an operation given no recipient.
Status NoRecipients() { return InvalidArgument("no recipients to wrap the layer keys for"); }

// add_key_annotations sets the wrapped-key annotations (one per scheme) and
// the public options of a layer encrypted with `key` whose plaintext blob
// is `plain_digest` and whose ciphertext has `hmac`.
Status add_key_annotations(const LayerKey& key, const std::string& plain_digest,
                           const std::array<uint8_t, kLayerHmacLen>& hmac,
                           const Recipients& recipients, Annotations* out) {
  PrivateLayerOptions priv;
  priv.symkey = key.symkey;
  priv.digest = plain_digest;
  priv.cipher_options.emplace(std::string(kNonceOption), key.nonce);
  const kernels::SecretBytes priv_json = serialize_private_options(priv);
  const Status wrapped = wrap_for_recipients(
      std::span<const uint8_t>(priv_json.data(), priv_json.size()), recipients, out);
  if (!wrapped.ok()) return wrapped.with_context("wrapping the layer key");
  PublicLayerOptions pub;
  pub.cipher = kLayerCipherName;
  pub.hmac.assign(hmac.begin(), hmac.end());
  (*out)["org.opencontainers.image.enc.pubopts"] = public_options_annotation(pub);
  return Status::Ok();
}

// strip_wrapped_keys removes every org.opencontainers.image.enc.keys.*
// annotation and the ids of their recipients.
void strip_wrapped_keys(Annotations* ann) {
  for (auto it = ann->begin(); it != ann->end();) {
    if (it->first.rfind("org.opencontainers.image.enc.keys.", 0) == 0)
      it = ann->erase(it);
    else
      ++it;
  }
  ann->erase(kRecipientIdsAnnotation);
}

// new_recipients returns the recipients of `rcpt` that the layer with
// annotations `ann` does not have yet (as far as recipient_list.h can name
// them), and appends a line for each one skipped to `skipped`.
StatusOr<Recipients> new_recipients(const Recipients& rcpt, const Annotations& ann,
                                    const std::string& name, std::vector<std::string>* skipped) {
  std::vector<std::string> have;
  for (const auto& r : layer_recipients(ann))
    if (!r.id.empty()) have.push_back(r.id);
  std::map<std::string, std::vector<std::string>> ids;  // scheme -> ids of rcpt's
  for (const KeyWrapper* w : key_wrappers(rcpt.key_providers.get())) {
    LC_ASSIGN_OR_RETURN(ids[std::string(w->scheme())], w->recipient_ids(rcpt));
  }
  return filter_recipients(rcpt, [&](std::string_view scheme, size_t i) {
    const std::string& id = ids[std::string(scheme)].at(i);
    if (std::find(have.begin(), have.end(), id) == have.end()) return true;
    skipped->push_back(name + ": " + id + " is a recipient already; not added again");
    return false;
  });
}

struct Walk {
  const OciLayout* src;
  const OciLayout* dst;
  const LayerSelection* select;
  LayerFn fn;
  ProgressFn progress;
  ImageReport report;
  size_t touched = 0;                    // selected layers
  size_t jobs = 1;                       // layers processed at once (ordered_jobs.h)
  std::set<std::string> platforms_seen;  // for the message when nothing matched
};

// copy_manifest carries a manifest that is not selected, and its blobs, to
// DST unchanged.
Status copy_manifest(Walk& w, const Json& desc) {
  const std::string cd = json_string(desc, "digest");
  LC_ASSIGN_OR_RETURN(Json m, w.src->read_json_blob(cd, json_size(desc)));
  LC_RETURN_IF_ERROR(w.dst->copy_blob_from(*w.src, cd, json_size(desc)));
  if (m.contains("config"))
    LC_RETURN_IF_ERROR(
        w.dst->copy_blob_from(*w.src, json_string(m["config"], "digest"), json_size(m["config"])));
  for (const auto& l : m.value("layers", Json::array()))
    LC_RETURN_IF_ERROR(w.dst->copy_blob_from(*w.src, json_string(l, "digest"), json_size(l)));
  return Status::Ok();
}

// manifest_selected says whether the manifest `desc` passes the platform
// filter (its own platform, else its config's).
bool manifest_selected(Walk& w, const Json& desc) {
  if (w.select->platforms.empty()) return true;
  const std::string p = effective_platform(*w.src, desc);
  w.platforms_seen.insert(p.empty() ? "(no platform)" : normalize_platform(p));
  return platform_selected(p, w.select->platforms);
}

// convert_docker_manifest rewrites a Docker schema2 manifest as an OCI one.
void convert_docker_manifest(Json& m) {
  m["mediaType"] = std::string(kOciManifestMediaType);
  if (m.contains("config") && json_string(m["config"], "mediaType") == kDockerConfigMediaType)
    m["config"]["mediaType"] = std::string(kOciConfigMediaType);
  if (!m.contains("layers")) return;
  for (auto& l : m["layers"]) {
    const std::string mt = json_string(l, "mediaType");
    if (mt == "application/vnd.docker.image.rootfs.diff.tar.gzip")
      l["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip";
    else if (mt == "application/vnd.docker.image.rootfs.diff.tar")
      l["mediaType"] = "application/vnd.oci.image.layer.v1.tar";
  }
}

StatusOr<Json> process_manifest(Walk& w, const Json& desc, const std::string& platform) {
  const std::string digest = json_string(desc, "digest");
  LC_ASSIGN_OR_RETURN(Json m, w.src->read_json_blob(digest, json_size(desc)));
  const std::string mt = json_string(m, "mediaType").empty() ? json_string(desc, "mediaType")
                                                             : json_string(m, "mediaType");
  if (mt == kDockerManifestMediaType)
    convert_docker_manifest(m);
  else if (!mt.empty() && mt != kOciManifestMediaType)
    return Unsupported("manifest " + digest + " has media type " + mt +
                       "; only OCI and Docker schema2 manifests are supported");
  if (!m.contains("layers") || !m["layers"].is_array())
    return DataError("manifest " + digest + " has no layers array");
  if (m.contains("config")) {
    const Json& c = m["config"];
    LC_RETURN_IF_ERROR(w.dst->copy_blob_from(*w.src, json_string(c, "digest"), json_size(c)));
  }
  Json& layers = m["layers"];
  const int n = static_cast<int>(layers.size());
  std::set<int> chosen;
  if (w.select->layers.empty()) {
    for (int i = 0; i < n; ++i) chosen.insert(i);
  } else {
    for (int i : w.select->layers) {
      if (i >= n || i < -n)
        return InvalidArgument("layer index " + std::to_string(i) + " is out of range: manifest " +
                               digest + (platform.empty() ? "" : " (" + platform + ")") + " has " +
                               std::to_string(n) + " layers");
      chosen.insert((n + i) % n);
    }
  }
  std::vector<size_t> todo;  // selected layers, processed up to w.jobs at a time
  for (int i = 0; i < n; ++i) {
    const Json& layer = layers[static_cast<size_t>(i)];
    if (chosen.count(i))
      todo.push_back(static_cast<size_t>(i));
    else
      LC_RETURN_IF_ERROR(
          w.dst->copy_blob_from(*w.src, json_string(layer, "digest"), json_size(layer)));
  }
  const std::vector<Json> originals(layers.begin(), layers.end());
  std::vector<ImageLayerReport> reports(todo.size());
  std::vector<Json> replaced(todo.size());
  LC_RETURN_IF_ERROR(run_ordered(
      todo.size(), w.jobs,
      [&](size_t k) -> Status {
        const size_t i = todo[k];
        const Json& layer = originals[i];
        const std::string ld = json_string(layer, "digest");
        ImageLayerReport& r = reports[k];
        r.platform = platform;
        r.index = i;
        r.from_digest = ld;
        r.from_media_type = json_string(layer, "mediaType");
        const auto t0 = Clock::now();
        LC_ASSIGN_OR_RETURN(replaced[k],
                            w.fn(*w.src, *w.dst, layer, layer_name(platform, i, ld), &r));
        r.seconds = since(t0);
        r.to_digest = json_string(replaced[k], "digest");
        r.to_media_type = json_string(replaced[k], "mediaType");
        return Status::Ok();
      },
      [&](size_t k) -> Status {
        ++w.touched;
        const ImageLayerReport& r = reports[k];
        if (r.action != "unchanged") w.report.bytes_processed += r.bytes;
        layers[todo[k]] = std::move(replaced[k]);
        w.report.layers.push_back(r);
        if (w.progress) w.progress(r);
        return Status::Ok();
      }));
  LC_ASSIGN_OR_RETURN(std::string new_digest, w.dst->put_json_blob(m));
  w.report.manifests.push_back(new_digest);
  Json out = desc;
  out["mediaType"] = json_string(m, "mediaType").empty() ? std::string(kOciManifestMediaType)
                                                         : json_string(m, "mediaType");
  out["digest"] = new_digest;
  out["size"] = static_cast<int64_t>(m.dump().size());
  return out;
}

StatusOr<Json> process_index(Walk& w, const Json& desc) {
  const std::string digest = json_string(desc, "digest");
  LC_ASSIGN_OR_RETURN(Json idx, w.src->read_json_blob(digest, json_size(desc)));
  if (!idx.contains("manifests") || !idx["manifests"].is_array())
    return DataError("image index " + digest + " has no manifests array");
  for (auto& child : idx["manifests"]) {
    const std::string platform = platform_string(child);
    const std::string cmt = json_string(child, "mediaType");
    if (is_index_type(cmt)) {
      LC_ASSIGN_OR_RETURN(child, process_index(w, child));
    } else if (manifest_selected(w, child)) {
      LC_ASSIGN_OR_RETURN(child, process_manifest(w, child, platform));
    } else {
      LC_RETURN_IF_ERROR(copy_manifest(w, child));  // not selected: carried over unchanged
    }
  }
  if (json_string(idx, "mediaType") == kDockerManifestListMediaType)
    idx["mediaType"] = std::string(kOciIndexMediaType);
  LC_ASSIGN_OR_RETURN(std::string new_digest, w.dst->put_json_blob(idx));
  Json out = desc;
  out["mediaType"] = std::string(kOciIndexMediaType);
  out["digest"] = new_digest;
  out["size"] = static_cast<int64_t>(idx.dump().size());
  return out;
}

// tags_of lists the ref names of `index`'s entries, for messages.
std::string tags_of(const Json& index) {
  std::string tags;
  for (const auto& e : index["manifests"]) {
    const auto a = annotations_of(e);
    const auto it = a.find(std::string(kRefNameAnnotation));
    if (it != a.end()) tags += (tags.empty() ? "" : ", ") + it->second;
  }
  return tags.empty() ? "it has no tags" : "its tags: " + tags;
}

// still_referenced warns about each layer blob this run replaced (a layer's
// plaintext after encrypt, its old ciphertext after a re-key) that an entry
// of the index about to be written still reaches.
void still_referenced(const OciLayout& dst, const Json& index, const std::string& what,
                      const OciRef& dst_ref, ImageReport* report) {
  auto reach = dst.reachable_blobs(index);
  if (!reach.ok()) return;
  std::map<std::string, std::vector<std::string>> by_digest(reach->begin(), reach->end());
  for (const auto& l : report->layers) {
    if (l.from_digest == l.to_digest) continue;
    const auto it = by_digest.find(l.from_digest);
    if (it == by_digest.end()) continue;
    std::string names;
    for (const auto& n : it->second)
      names += (names.empty() ? "" : ", ") +
               (n.empty() ? std::string("an untagged entry") : "'" + n + "'");
    report->warnings.push_back(layer_name(l.platform, l.index, l.from_digest) + ": its " + what +
                               " is still in " + dst_ref.path + ", referenced by " + names +
                               "; process or remove that image too");
  }
}

// walk_image applies `fn` to the selected layers of `src_ref`, up to `jobs`
// layers of a manifest at a time (one at a time into an archive, whose
// members are appended one by one anyway), and writes the result as
// `dst_ref`. Afterwards, or when it fails, blobs of DST that nothing
// references are deleted (oci_layout.h), so a failed run leaves DST as it
// was. `replaced` ("plaintext", "old ciphertext"), when set, names what the
// layers' old blobs are, for the warning that another tag still uses one.
StatusOr<ImageReport> walk_image(const OciRef& src_ref, const OciRef& dst_ref,
                                 const LayerSelection& select, LayerFn fn, ProgressFn progress,
                                 const std::function<Status()>& before_index, size_t jobs,
                                 const char* replaced) {
  const auto t0 = Clock::now();
  LC_ASSIGN_OR_RETURN(OciLayout src, OciLayout::open(src_ref));
  // The entries to process: those with the tag, or all of them.
  std::vector<Json> entries;
  for (const auto& e : src.index()["manifests"]) {
    if (src_ref.tag) {
      const auto a = annotations_of(e);
      const auto it = a.find(std::string(kRefNameAnnotation));
      if (it == a.end() || it->second != *src_ref.tag) continue;
    }
    entries.push_back(e);
  }
  if (entries.empty())
    return InvalidArgument(src_ref.tag ? "no image tagged '" + *src_ref.tag + "' in " +
                                             src_ref.path + " (" + tags_of(src.index()) + ")"
                                       : "image " + src_ref.path + " has no manifests");
  if (dst_ref.tag && entries.size() != 1)
    return InvalidArgument("SRC " + src_ref.to_string() + " has " + std::to_string(entries.size()) +
                           " entries; give SRC a tag to pick one (" + tags_of(src.index()) + ")");

  const bool same_dir = src_ref.path == dst_ref.path;
  StatusOr<OciLayout> dst_or = OciLayout::open_for_write(dst_ref, /*create=*/!same_dir);
  if (!dst_or.ok()) return dst_or.status();
  OciLayout& dst = *dst_or;

  Walk w{
      &src, &dst, &select, std::move(fn), std::move(progress), {}, 0, dst.is_archive() ? 1 : jobs,
      {}};
  auto run = [&]() -> Status {
    std::vector<Json> done;
    for (const auto& e : entries) {
      const std::string mt = json_string(e, "mediaType");
      if (is_index_type(mt)) {
        LC_ASSIGN_OR_RETURN(Json out, process_index(w, e));
        done.push_back(std::move(out));
      } else if (manifest_selected(w, e)) {
        LC_ASSIGN_OR_RETURN(Json out, process_manifest(w, e, platform_string(e)));
        done.push_back(std::move(out));
      } else {
        LC_RETURN_IF_ERROR(copy_manifest(w, e));
        done.push_back(e);
      }
    }
    if (w.touched == 0) {
      std::string msg =
          "the layer and platform selection matches no layer of " + src_ref.to_string();
      if (!select.platforms.empty()) {
        std::string seen;
        for (const auto& p : w.platforms_seen) seen += (seen.empty() ? "" : ", ") + p;
        msg += " (its platforms: " + seen + ")";
      }
      return InvalidArgument(msg);
    }
    if (before_index) LC_RETURN_IF_ERROR(before_index());

    // The new index: DST's entries minus those being replaced, plus ours.
    std::set<std::string> new_names;
    for (auto& d : done) {
      Annotations a = annotations_of(d);
      if (dst_ref.tag) a[std::string(kRefNameAnnotation)] = *dst_ref.tag;
      const auto it = a.find(std::string(kRefNameAnnotation));
      if (it != a.end()) new_names.insert(it->second);
      set_annotations(d, a);
    }
    Json index = dst.index();
    Json kept = Json::array();
    for (const auto& e : index["manifests"]) {
      const auto a = annotations_of(e);
      const auto it = a.find(std::string(kRefNameAnnotation));
      const bool gone = (it != a.end() && new_names.count(it->second)) ||
                        (same_dir && !src_ref.tag && !dst_ref.tag);  // whole layout rewritten
      if (!gone) kept.push_back(e);
    }
    for (auto& d : done) kept.push_back(std::move(d));
    index["manifests"] = std::move(kept);
    if (!index.contains("schemaVersion")) index["schemaVersion"] = 2;
    if (replaced != nullptr) still_referenced(dst, index, replaced, dst_ref, &w.report);
    // Publishing the index and deleting what it no longer references are one
    // step for a signal (io.h): a SIGTERM waits for both, so it never leaves
    // the replaced blobs behind.
    TemporaryRegistration publishing;
    LC_RETURN_IF_ERROR(dst.write_index(index));
    const Status gc = dst.collect_garbage(&w.report.blobs_removed);
    if (!gc.ok())
      w.report.warnings.push_back("unreferenced blobs were left in " + dst_ref.path + ": " +
                                  gc.message());
    return Status::Ok();
  };
  const Status st = run();
  if (!st.ok()) {
    (void)dst.collect_garbage();  // what this run wrote into an existing layout
    return st;
  }
  w.report.seconds = since(t0);
  return std::move(w.report);
}

}  // namespace layercrypt::image_internal
