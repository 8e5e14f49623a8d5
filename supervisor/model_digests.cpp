#include "supervisor/model_digests.h"

#include <boost/asio/post.hpp>
#include "common/logging.h"

namespace qmesh {

ModelDigests::ModelDigests(boost::asio::io_context& io, std::function<void()> onDigest)
    : io_(io), shared_(std::make_shared<Shared>()) {
  shared_->onDigest = std::move(onDigest);
}

ModelDigests::~ModelDigests() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ModelDigests::start(std::vector<std::pair<std::string, std::filesystem::path>> models) {
  thread_ = std::thread([this, models = std::move(models), weak = std::weak_ptr<Shared>(shared_)] {
    for (const auto& [name, path] : models) {
      auto d = cache_.digest(path, [this] { return stop_.load(); });
      if (stop_) return;
      if (!d) {
        spdlog::warn("[{}] cannot hash {}: {}; its streams will not be continued on other workers", name,
                     path.string(), d.error().message);
        continue;
      }
      // The loop owns the map; a result arriving after the supervisor is gone is dropped.
      boost::asio::post(io_, [weak, name = name, digest = *d] {
        if (auto s = weak.lock()) {
          s->digests[name] = digest;
          if (s->onDigest) s->onDigest();
        }
      });
    }
  });
}

std::optional<std::string> ModelDigests::of(const std::string& model) const {
  const auto it = shared_->digests.find(model);
  if (it == shared_->digests.end()) return std::nullopt;
  return it->second;
}

}  // namespace qmesh
