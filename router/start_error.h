// Why the router (or its mesh side) could not start: the exit code main returns and the
// message an operator needs. Its own header so that mesh/ can report one without
// including router.h (which includes mesh/).
#pragma once

#include <string>

namespace qmesh::router {

struct StartError {
  int exit_code;  // 2 config, 4 listen address in use
  std::string message;
};

}  // namespace qmesh::router
