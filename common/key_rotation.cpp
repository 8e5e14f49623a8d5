#include "common/key_rotation.h"

namespace qmesh {

KeyEditVerdict installVerdict(std::optional<std::size_t> at) {
  return at ? KeyEditVerdict::kAlreadySo : KeyEditVerdict::kApply;
}

KeyEditVerdict useVerdict(std::optional<std::size_t> at) {
  if (!at) return KeyEditVerdict::kNotInstalled;
  return *at == 0 ? KeyEditVerdict::kAlreadySo : KeyEditVerdict::kApply;
}

KeyEditVerdict removeVerdict(std::optional<std::size_t> at) {
  if (!at) return KeyEditVerdict::kNotInstalled;
  return *at == 0 ? KeyEditVerdict::kIsPrimary : KeyEditVerdict::kApply;
}

}  // namespace qmesh
