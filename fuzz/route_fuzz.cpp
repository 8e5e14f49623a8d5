// route() (router/proxy/routes.h): the whole request -> decision, on any method, target,
// Authorization and body a client can send. Input:
//   [flags u8][method] \n [target] \n [authorization] \n [body]
// flags bit 0: the node has an API key ("sk-fuzz-key"). Beyond "no crash": a local answer
// is an OpenAI-shaped error with a 4xx/5xx status; a forward names a model the node has;
// with an API key set, nothing under /v1/ or /api/ gets through without it.
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "router/proxy/routes.h"

using namespace qmesh::router;

namespace {

std::string_view nextLine(std::string_view& in) {
  const auto nl = in.find('\n');
  const std::string_view line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  return line;
}

const std::vector<std::string> kKeys = {"sk-fuzz-key"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool withKey = data[0] & 1;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  IncomingRequest req;
  req.method = nextLine(in);
  req.target = nextLine(in);
  req.authorization = nextLine(in);
  req.body = in;
  RouteContext ctx;
  ctx.api_keys = withKey ? &kKeys : nullptr;
  ctx.models = {"demo", "embed"};

  const Decision d = route(req, ctx);
  if (d.action == Action::Respond) {
    FUZZ_CHECK(d.status >= 400 && d.status < 600);
    const auto body = nlohmann::json::parse(d.body, nullptr, false);
    FUZZ_CHECK(body.is_object() && body.contains("error") && body["error"].contains("message"));
  }
  if (d.action == Action::Forward)
    FUZZ_CHECK(d.model == "demo" || d.model == "embed");
  const std::string_view path = pathOf(req.target);
  const bool guarded = path.substr(0, 4) == "/v1/" || path.substr(0, 5) == "/api/";
  if (withKey && guarded && d.action != Action::Respond)
    FUZZ_CHECK(req.authorization.find(kKeys[0]) != std::string_view::npos);
  return 0;
}
