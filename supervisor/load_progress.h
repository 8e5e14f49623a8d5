// How far llama-server has got in loading its model, read from its output. /health only says
// "503 Loading model"; but while llama.cpp loads the tensors its default progress callback
// writes one '.' per percent on a line of its own (and a newline at 100 %), so the dots of
// that line, counted as they arrive (before the line ends), are the share loaded. After the
// tensors llama-server still builds its context and warms up: 1.0 can precede `ready` by a
// moment. Fed by the output pump with every chunk it reads; single-threaded (the loop).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace qmesh {

class LoadProgress {
 public:
  void feed(std::string_view bytes);
  // 0..1 once the dots began; nullopt before.
  std::optional<double> value() const { return value_; }

 private:
  std::size_t dots_ = 0;         // of the current line, while it holds nothing but dots
  bool lineIsDots_ = true;       // the current line so far is only dots (or empty)
  std::optional<double> value_;
};

}  // namespace qmesh
