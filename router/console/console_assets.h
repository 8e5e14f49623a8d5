// The console's files (router/console/web/), compiled into the router: nothing is fetched
// from elsewhere, and the page works on a machine with no internet. The definitions are
// generated at build time by embed_assets.cmake from the files themselves.
#pragma once

#include <string_view>

namespace qmesh::router {

struct ConsoleAsset {
  std::string_view path;         // "/console/console.js"; the page itself is "/console"
  std::string_view contentType;
  std::string_view body;
};

// "/console" and "/console/" are the page; nullptr for anything not compiled in.
const ConsoleAsset* findConsoleAsset(std::string_view path);

}  // namespace qmesh::router
