#include "supervisor/model_pull.h"

#include "common/logging.h"
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "supervisor/exit_codes.h"

namespace qmesh {

namespace fs = std::filesystem;

int exitCodeFor(FetchFailure f) {
  switch (f) {
    case FetchFailure::None: return exit_code::kOk;
    case FetchFailure::HttpStatus: return exit_code::kDownloadHttp;
    case FetchFailure::Connection: return exit_code::kDownloadConnection;
    case FetchFailure::Stalled: return exit_code::kDownloadStalled;
    case FetchFailure::DigestMismatch: return exit_code::kDownloadDigest;
    case FetchFailure::NotGguf: return exit_code::kModel;
    case FetchFailure::NoSpace: return exit_code::kNoSpace;
    case FetchFailure::Io: return exit_code::kRuntime;
  }
  return exit_code::kRuntime;
}

namespace {

int pullOne(const ModelConfig& m, FetchOptions options) {
  std::error_code ec;
  if (fs::exists(m.gguf, ec)) {
    spdlog::info("models: {}: already downloaded ({})", m.name, m.gguf.string());
    return exit_code::kOk;
  }
  const bool resuming = fs::exists(partialPathFor(m.gguf), ec);
  spdlog::info("models: {}: {} {} into {}", m.name, resuming ? "resuming" : "downloading", m.url,
               m.gguf.string());
  ProgressReporter reporter(
      m.name, ::isatty(STDERR_FILENO) == 1,
      [](const std::string& bar) { std::fputs(bar.c_str(), stderr); },
      [&](const std::string& line) { spdlog::info("models: {}: {}", m.name, line); });
  DownloadProgress last;
  auto outer = options.on_progress;
  options.on_progress = [&](const DownloadProgress& p) {
    last = p;
    reporter.update(p);
    if (outer) outer(p);
  };
  const FetchResult r = fetchModel(m.url, m.sha256, m.gguf, options);
  if (!r.ok()) {
    if (::isatty(STDERR_FILENO) == 1) std::fputs("\n", stderr);
    spdlog::error("models: {}: download failed: {}", m.name, r.message);
    return exitCodeFor(r.failure);
  }
  reporter.finish(last);
  spdlog::info("models: {}: sha256 {} verified, GGUF checked: {}", m.name, m.sha256, m.gguf.string());
  return exit_code::kOk;
}

}  // namespace

int pullModels(const NodeConfig& c, const std::vector<std::string>& names, const FetchOptions& options) {
  for (const auto& n : names)
    if (std::none_of(c.models.begin(), c.models.end(), [&](const ModelConfig& m) { return m.name == n; })) {
      spdlog::error("no model named '{}' in {}", n, c.file.string());
      return exit_code::kConfig;
    }
  for (const auto& m : c.models) {
    const bool named = std::find(names.begin(), names.end(), m.name) != names.end();
    if (!names.empty() && !named) continue;
    if (m.url.empty()) {
      if (named) spdlog::info("models: {}: a local file ({}), nothing to download", m.name, m.gguf.string());
      continue;
    }
    if (int code = pullOne(m, options); code != exit_code::kOk) return code;
  }
  return exit_code::kOk;
}

}  // namespace qmesh
