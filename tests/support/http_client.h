// A small blocking libcurl client for tests: plain requests and SSE streams read chunk by
// chunk as they arrive (so a test can see events one at a time, and hang up mid-stream).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

namespace qmesh::test {

struct HttpResponse {
  long status = 0;            // 0 when the request failed below HTTP
  std::string error;          // curl's message then
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

HttpResponse httpRequest(const std::string& method, const std::string& url,
                         const std::string& body = "",
                         const std::map<std::string, std::string>& headers = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));
inline HttpResponse httpGet(const std::string& url,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return httpRequest("GET", url, "", {}, timeout);
}
inline HttpResponse httpPostJson(const std::string& url, const std::string& json,
                                 std::map<std::string, std::string> headers = {},
                                 std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  headers.emplace("content-type", "application/json");
  return httpRequest("POST", url, json, headers, timeout);
}

// Streams a POST; onChunk sees each piece of body as it arrives and returns false to hang up.
HttpResponse httpPostStream(const std::string& url, const std::string& json,
                            const std::function<bool(const std::string&)>& onChunk,
                            std::map<std::string, std::string> headers = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace qmesh::test
