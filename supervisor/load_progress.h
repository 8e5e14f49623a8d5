// How far llama-server has got in loading its model, read from its output. /health only says
// "503 Loading model"; but while llama.cpp loads the tensors its default progress callback
// writes one '.' per percent on a line of its own (and a newline at 100 %), so the dots of
// that line, counted as they arrive (before the line ends), are the share loaded. After the
// tensors llama-server still builds its context and warms up: 1.0 can precede `ready` by a
// moment. Fed by the output pump with every chunk it reads; single-threaded (the loop).
//
// `onMoved` runs once per chunk that moved the value: at most 100 times per load (a dot is
// a percent and the value never moves back), so the supervisor can tell its long polls (and
// through the router, the console) of every percent without a flood.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>

namespace qmesh {

class LoadProgress {
 public:
  explicit LoadProgress(std::function<void()> onMoved = nullptr) : onMoved_(std::move(onMoved)) {}
  void feed(std::string_view bytes);
  // Its owner is going away (the pump may outlive it): no more onMoved.
  void disarm() { onMoved_ = nullptr; }
  // 0..1 once the dots began; nullopt before.
  std::optional<double> value() const { return value_; }

 private:
  std::size_t dots_ = 0;         // of the current line, while it holds nothing but dots
  bool lineIsDots_ = true;       // the current line so far is only dots (or empty)
  std::optional<double> value_;
  std::function<void()> onMoved_;
};

}  // namespace qmesh
