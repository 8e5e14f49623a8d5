#include "router/proxy/bounded_json.h"

namespace qmesh::router {

namespace {

using nlohmann::json;

// Builds the DOM as it parses (nlohmann's own DOM builder inside) and stops the parse the
// moment an object or array opens beyond the limit. One pass: a separate depth-checking pass
// before json::parse lexed every request body twice.
class BoundedDomBuilder {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  BoundedDomBuilder(json& root, int maxDepth) : dom_(root, /*allow_exceptions=*/false), max_(maxDepth) {}
  bool tooDeep() const { return tooDeep_; }

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(number_float_t v, const string_t& s) { return dom_.number_float(v, s); }
  bool string(string_t& v) { return dom_.string(v); }
  bool binary(binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) { return enter() && dom_.start_object(n); }
  bool key(string_t& v) { return dom_.key(v); }
  bool end_object() { return leave() && dom_.end_object(); }
  bool start_array(std::size_t n) { return enter() && dom_.start_array(n); }
  bool end_array() { return leave() && dom_.end_array(); }
  bool parse_error(std::size_t position, const std::string& token, const nlohmann::detail::exception& e) {
    return dom_.parse_error(position, token, e);
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
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  int max_;
  int depth_ = 0;
  bool tooDeep_ = false;
};

}  // namespace

BoundedJson parseBoundedJson(std::string_view text, int maxDepth) {
  BoundedJson out;
  BoundedDomBuilder builder(out.value, maxDepth);
  const bool ok = json::sax_parse(text, &builder, json::input_format_t::json, /*strict=*/true);
  if (builder.tooDeep()) {
    out.value = json(json::value_t::discarded);
    out.outcome = BoundedJson::Outcome::TooDeep;
    return out;
  }
  if (!ok) {
    out.value = json(json::value_t::discarded);
    return out;
  }
  out.outcome = BoundedJson::Outcome::Ok;
  return out;
}

}  // namespace qmesh::router
