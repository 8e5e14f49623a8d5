#include "supervisor/control_client.h"

#include <curl/curl.h>

#include <memory>

#include "supervisor/control_token.h"

namespace qmesh {

namespace {
size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}
}  // namespace

ControlReply controlRequest(const HostPort& control, const std::string& method,
                            const std::string& path, Millis timeout, const std::string& token) {
  ControlReply reply;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, curl_slist_free_all);
  if (!token.empty()) {
    headers.reset(curl_slist_append(nullptr, ("Authorization: Bearer " + token).c_str()));
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  }
  const std::string url = "http://" + control.str() + path;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST") curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, "");
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &reply.body);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    reply.error = curl_easy_strerror(rc);
    return reply;
  }
  reply.reached = true;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

ControlPostReply controlPost(const NodeConfig& config, const std::string& path) {
  ControlPostReply out;
  auto token = readControlToken(config.node.data_dir);
  if (!token) out.token_error = token.error().message;
  out.reply = controlRequest(config.node.control, "POST", path, Millis(3000), token ? *token : "");
  return out;
}

std::string ControlPostReply::refusal() const {
  if (!reply.reached || (reply.status != 401 && reply.status != 403)) return "";
  if (!token_error.empty()) return "the supervisor refused the request: " + token_error;
  return "the supervisor refused the request (HTTP " + std::to_string(reply.status) + ": " + reply.body +
         "): is node.data_dir the one the running supervisor uses?";
}

}  // namespace qmesh
