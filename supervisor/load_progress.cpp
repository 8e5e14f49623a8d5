#include "supervisor/load_progress.h"

#include <algorithm>

namespace qmesh {

void LoadProgress::feed(std::string_view bytes) {
  const std::optional<double> before = value_;
  for (const char c : bytes) {
    if (c == '\n' || c == '\r') {
      dots_ = 0;
      lineIsDots_ = true;
      continue;
    }
    if (c != '.') {
      lineIsDots_ = false;
      continue;
    }
    if (!lineIsDots_) continue;  // a dot inside a sentence, not the progress line
    ++dots_;
    // Percent by percent; a later, shorter dot line (another phase) never moves it back.
    value_ = std::max(value_.value_or(0.0), std::min(1.0, static_cast<double>(dots_) / 100.0));
  }
  if (value_ != before && onMoved_) onMoved_();
}

}  // namespace qmesh
