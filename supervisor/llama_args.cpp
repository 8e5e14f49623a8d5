#include "supervisor/llama_args.h"

#include <algorithm>

namespace qmesh {

std::vector<std::string> buildLlamaServerArgs(const std::filesystem::path& binary,
                                              const ModelConfig& model, uint16_t port) {
  std::vector<std::string> args = {
      binary.string(),
      "--model", model.gguf.string(),
      "--alias", model.name,
      "--host", "127.0.0.1",
      "--port", std::to_string(port),
      "--ctx-size", std::to_string(model.ctx_size),
      "--parallel", std::to_string(model.parallel),
      "--n-gpu-layers", std::to_string(model.gpu_layers),
      "--metrics",   // the router and operators read load from /metrics
      "--no-ui",     // an API worker; the UI would only widen what is exposed
  };
  if (model.threads > 0) {
    args.push_back("--threads");
    args.push_back(std::to_string(model.threads));
  }
  if (model.embeddings) {
    args.push_back("--embeddings");
    // /v1/embeddings refuses pooling "none" (the default for generative models) as not
    // OpenAI-compatible; mean pooling is the usual choice. extra_args may set another.
    const bool poolingGiven = std::any_of(model.extra_args.begin(), model.extra_args.end(),
                                          [](const std::string& a) { return a.rfind("--pooling", 0) == 0; });
    if (!poolingGiven) {
      args.push_back("--pooling");
      args.push_back("mean");
    }
  }
  args.insert(args.end(), model.extra_args.begin(), model.extra_args.end());
  return args;
}

}  // namespace qmesh
