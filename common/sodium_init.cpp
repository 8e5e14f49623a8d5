#include "common/sodium_init.h"

#include <sodium.h>

#include <cstdlib>

namespace qmesh {

void ensureSodium() {
  if (sodium_init() < 0) std::abort();  // no usable randomness: nothing safe to do
}

}  // namespace qmesh
