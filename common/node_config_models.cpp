// models[].gguf and models[].sha256: where a model's file comes from. A path (relative to the
// config file), builtin:NAME (a packaged model), or a URL that the supervisor downloads
// (supervisor/model_fetch.h) and checks against the sha256 the operator pinned.
#include <algorithm>
#include <cctype>

#include "common/install_paths.h"
#include "common/node_config_parse.h"

namespace qmesh::config_detail {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// "" when `url` is one we download, else what is wrong with it.
std::string urlProblem(const std::string& url) {
  for (unsigned char c : url)
    if (c <= 0x20 || c == 0x7f) return "contains a space or control character: percent-encode it (%20)";
  const auto sep = url.find("://");
  const std::string scheme = lower(url.substr(0, sep));
  const std::string rest = url.substr(sep + 3);
  if (scheme == "file")
    return rest.empty() || rest[0] != '/' ? "a file:// URL needs an absolute path: file:///srv/models/x.gguf" : "";
  if (scheme != "https" && scheme != "http")
    return "uses " + scheme + "://: only https://, http:// and file:// URLs are downloaded (or give a local path)";
  const std::string host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty()) return "has no host: write it as " + scheme + "://HOST/PATH";
  return "";
}

bool isHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

}  // namespace

void parseModelSource(YamlReader& r, const YAML::Node& m, const std::string& path, const fs::path& base,
                      const fs::path& dataDir, ModelConfig& out) {
  std::string gguf, sha;
  r.read(m, path, "gguf", gguf);
  r.read(m, path, "sha256", sha);
  const bool isUrl = gguf.find("://") != std::string::npos;
  if (!sha.empty()) {
    // "sha256:HEX" is how registries (Ollama, OCI) print digests: accept it as pasted.
    if (lower(sha).rfind("sha256:", 0) == 0) sha = sha.substr(7);
    if (!isHex64(sha))
      r.fail(m["sha256"], joinPath(path, "sha256"),
             "'" + sha + "' is not a SHA-256 digest (64 hex digits, as `sha256sum FILE` prints)");
    else if (!isUrl)
      r.fail(m["sha256"], joinPath(path, "sha256"),
             "only a downloaded model (gguf: https://, http:// or file:// URL) is checked against "
             "sha256; remove it for a local path");
    else out.sha256 = lower(sha);
  }
  if (gguf.empty()) return r.fail(m, path, "missing 'gguf' (path to the model file, a URL, or builtin:demo)");
  if (gguf.rfind(kBuiltinPrefix, 0) == 0) {
    out.gguf = builtinModelPath(gguf.substr(8));
    return;
  }
  if (!isUrl) {
    out.gguf = resolveAgainst(base, gguf);
    return;
  }
  if (const std::string problem = urlProblem(gguf); !problem.empty())
    return r.fail(m["gguf"], joinPath(path, "gguf"), "'" + gguf + "' " + problem);
  out.url = gguf;
  if (sha.empty())
    return r.fail(m["gguf"], joinPath(path, "sha256"),
                  "a model downloaded from a URL needs sha256: its 64-hex-digit SHA-256 (from the "
                  "publisher, or `sha256sum FILE` of a copy you trust), so a corrupted or "
                  "substituted download is refused");
  // Named by content: a new digest is a new file, and two models pinning the same digest
  // share one download.
  if (!out.sha256.empty()) out.gguf = dataDir / "models" / ("sha256-" + out.sha256 + ".gguf");
}

}  // namespace qmesh::config_detail
