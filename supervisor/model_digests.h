// The sha256 of each model's GGUF, for /status and from there the router and gossip: a stream
// only moves mid-generation between workers of the same file (issue 12). Hashing a big model
// takes minutes, so it runs on a thread of its own, never the loop, each file once
// (FileDigestCache); each result is posted back to the loop, which then reports it.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/file_digest.h"

namespace qmesh {

class ModelDigests {
 public:
  // `onDigest` runs on the loop after each digest arrives.
  ModelDigests(boost::asio::io_context& io, std::function<void()> onDigest);
  // Stops hashing (between two 1 MiB reads) and joins the thread.
  ~ModelDigests();
  ModelDigests(const ModelDigests&) = delete;
  ModelDigests& operator=(const ModelDigests&) = delete;

  // Hashes these (model name, GGUF path) pairs, in order, on the hashing thread.
  void start(std::vector<std::pair<std::string, std::filesystem::path>> models);
  // Loop thread only.
  std::optional<std::string> of(const std::string& model) const;

 private:
  struct Shared {
    std::map<std::string, std::string> digests;  // touched on the loop only
    std::function<void()> onDigest;
  };
  boost::asio::io_context& io_;
  std::shared_ptr<Shared> shared_;
  FileDigestCache cache_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace qmesh
