#include "tests/support/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>

namespace qmesh::test {

namespace {

struct Ctx {
  HttpResponse* resp;
  const std::function<bool(const std::string&)>* onChunk;
};

size_t onBody(char* data, size_t, size_t n, void* user) {
  auto* ctx = static_cast<Ctx*>(user);
  std::string chunk(data, n);
  ctx->resp->body += chunk;
  if (ctx->onChunk && !(*ctx->onChunk)(chunk)) return 0;  // 0 makes curl abort the transfer
  return n;
}

size_t onHeader(char* data, size_t, size_t n, void* user) {
  auto* resp = static_cast<HttpResponse*>(user);
  std::string line(data, n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r\n") + 1);
    resp->headers[name] = value;
  }
  return n;
}

HttpResponse perform(const std::string& method, const std::string& url, const std::string& body,
                     const std::map<std::string, std::string>& headers,
                     std::chrono::milliseconds timeout,
                     const std::function<bool(const std::string&)>* onChunk) {
  HttpResponse resp;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  curl_slist* list = nullptr;
  for (const auto& [k, v] : headers) list = curl_slist_append(list, (k + ": " + v).c_str());
  Ctx ctx{&resp, onChunk};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &resp);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && onChunk)) {
    resp.error = curl_easy_strerror(rc);
    if (rc != CURLE_WRITE_ERROR) resp.status = resp.status ? resp.status : 0;
  }
  return resp;
}

}  // namespace

HttpResponse httpRequest(const std::string& method, const std::string& url, const std::string& body,
                         const std::map<std::string, std::string>& headers,
                         std::chrono::milliseconds timeout) {
  return perform(method, url, body, headers, timeout, nullptr);
}

HttpResponse httpPostStream(const std::string& url, const std::string& json,
                            const std::function<bool(const std::string&)>& onChunk,
                            std::map<std::string, std::string> headers,
                            std::chrono::milliseconds timeout) {
  headers.emplace("content-type", "application/json");
  return perform("POST", url, json, headers, timeout, &onChunk);
}

}  // namespace qmesh::test
