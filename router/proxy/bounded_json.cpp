#include "router/proxy/bounded_json.h"

namespace qmesh::router {

namespace {

using nlohmann::json;

// A SAX pass that only counts depth and stops the parse (returns false) the moment it
// exceeds the limit; everything else is accepted and thrown away.
class DepthGuard final : public json::json_sax_t {
 public:
  explicit DepthGuard(int maxDepth) : max_(maxDepth) {}
  bool tooDeep() const { return tooDeep_; }

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return enter(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return leave(); }
  bool start_array(std::size_t) override { return enter(); }
  bool end_array() override { return leave(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool enter() {
    if (++depth_ <= max_) return true;
    tooDeep_ = true;
    return false;
  }
  bool leave() {
    --depth_;
    return true;
  }
  int max_;
  int depth_ = 0;
  bool tooDeep_ = false;
};

}  // namespace

BoundedJson parseBoundedJson(std::string_view text, int maxDepth) {
  BoundedJson out;
  DepthGuard guard(maxDepth);
  const bool wellFormed = json::sax_parse(text, &guard, json::input_format_t::json, /*strict=*/true);
  if (guard.tooDeep()) {
    out.outcome = BoundedJson::Outcome::TooDeep;
    return out;
  }
  if (!wellFormed) return out;
  // Known well-formed and shallow: the DOM parse cannot fail or go deep.
  out.value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  out.outcome = out.value.is_discarded() ? BoundedJson::Outcome::Invalid : BoundedJson::Outcome::Ok;
  return out;
}

}  // namespace qmesh::router
