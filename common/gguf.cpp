#include "common/gguf.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <string_view>
#include <unordered_set>

namespace qmesh {

namespace {

// GGUF is little endian; integers are read straight into host integers.
static_assert(std::endian::native == std::endian::little, "gguf.cpp assumes a little-endian host");

constexpr uint64_t kHeaderBytes = 24;  // magic, version, tensor_count, kv_count
// Far above any real model (hundreds to tens of thousands of tensors, a few dozen keys) yet
// low enough that a corrupt count is reported as such, not as a truncation far later.
constexpr uint64_t kMaxTensors = 1ull << 20;
constexpr uint64_t kMaxKvs = 1ull << 20;
constexpr uint64_t kMaxKeyBytes = 1ull << 20;
constexpr uint64_t kMaxKeptStringBytes = 1ull << 20;  // general.architecture, general.name
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS: llama.cpp refuses more
constexpr uint64_t kMaxTensorName = 63;  // GGML_MAX_NAME minus the NUL
constexpr int kMaxArrayDepth = 8;        // the spec allows nesting; bound the recursion
// ggml has 43 tensor types (2025) and adds a few a year. A type far beyond that is corruption;
// one just beyond may come from a newer llama.cpp, and llama-server is left to judge it.
constexpr uint32_t kMaxPlausibleTensorType = 128;
constexpr uint32_t kDefaultAlignment = 32;
constexpr const char* kRedownload = "the file is truncated or corrupt; download or convert it again";

enum ValueType : uint32_t { kU8, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };

std::string num(uint64_t v) { return std::to_string(v); }

// Indexed by ValueType: names for messages, and sizes of fixed-size values (0: string, array).
constexpr const char* kValueTypeNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                           "bool", "string", "array", "u64", "i64", "f64"};
constexpr uint8_t kValueSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

std::string typeName(uint32_t t) { return t <= kF64 ? kValueTypeNames[t] : "unknown type " + num(t); }
uint64_t fixedSize(uint32_t t) { return t <= kF64 ? kValueSizes[t] : 0; }
// Smallest encoding of one array element (a string's length; an array's type and count):
// bounds an element count by the bytes left.
uint64_t minEncodedSize(uint32_t t) { return t == kString ? 8 : t == kArray ? 12 : fixedSize(t); }

// ggml's tensor types as of the llama.cpp qmesh ships: {id, name, elements per block, bytes
// per block}, checked against ggml_blck_size()/ggml_type_size(). A type missing here (newer
// or removed) is still accepted; only its offset is checked.
struct TensorType {
  uint32_t id;
  const char* name;
  uint64_t block, bytes;
};
constexpr TensorType kTensorTypes[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},      {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},      {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},
    {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
    {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},   {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},
    {22, "IQ2_S", 256, 82},   {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},        {29, "IQ1_M", 256, 56},
    {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},   {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
    {40, "NVFP4", 64, 36},    {41, "Q1_0", 128, 18},    {42, "Q2_0", 64, 18},
};

const TensorType* findTensorType(uint32_t id) {
  for (const auto& t : kTensorTypes)
    if (t.id == id) return &t;
  return nullptr;
}

// Bytes from the file go into one-line messages: escape anything unprintable (and the
// backslash, so an escape is unambiguous), cut long ones.
std::string escaped(std::string_view s, size_t max_chars = 64) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s.substr(0, max_chars)) {
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out += static_cast<char>(c);
    else
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
  }
  return s.size() > max_chars ? out + "..." : out;
}

// general.architecture and general.name end up in log lines and in JSON, whose encoder
// (nlohmann) throws on invalid UTF-8: control characters and every byte that does not start a
// well-formed UTF-8 sequence (overlong, surrogate, beyond U+10FFFF) become '?'.
std::string printableUtf8(std::string s) {
  for (size_t i = 0; i < s.size();) {
    const auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned c = at(i);
    const size_t n = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    bool ok = n == 1 ? c >= 0x20 && c != 0x7F : n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (at(i + k) & 0xC0) == 0x80;
    const unsigned c1 = ok && n > 2 ? at(i + 1) : 0x80;  // the second byte's range depends on the first
    ok = ok && !((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
                 (c == 0xF4 && c1 > 0x8F));
    if (!ok) s[i] = '?';
    i += ok ? n : 1;
  }
  return s;
}

// Sole owner of the model's stream; stdio buffers the many small reads. Every request is
// checked against the size taken from fstat, so a corrupt length fails before any I/O.
class FileReader {
 public:
  explicit FileReader(std::FILE* f) : f_(f) {}
  ~FileReader() { std::fclose(f_); }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  void setSize(uint64_t size) { size_ = size; }
  uint64_t size() const { return size_; }
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const std::string& ioProblem() const { return io_problem_; }

  bool read(void* dst, uint64_t n) {
    if (n > remaining()) return false;
    if (std::fread(dst, 1, n, f_) != n) return failed();
    pos_ += n;
    return true;
  }
  template <class T> bool read(T& value) { return read(&value, sizeof value); }
  bool skip(uint64_t n) {
    if (n > remaining()) return false;
    // glibc's fseeko costs an lseek even inside its buffer: 780k of them (2.7 s) for a
    // 262k-token vocabulary. Short skips, nearly all of them, read through the buffer instead.
    if (n <= sizeof scratch_ ? std::fread(scratch_, 1, n, f_) != n
                             : ::fseeko(f_, static_cast<off_t>(n), SEEK_CUR) != 0)
      return failed();
    pos_ += n;
    return true;
  }

 private:
  bool failed() {
    io_problem_ = std::ferror(f_) ? std::strerror(errno) : "the file got shorter while it was being read";
    return false;
  }

  std::FILE* f_;
  char scratch_[4096];
  uint64_t size_ = 0, pos_ = 0;
  std::string io_problem_;
};

class GgufParser {
 public:
  GgufParser(std::string path, FileReader& reader) : path_(std::move(path)), r_(reader) {}

  Result<GgufMetadata> run() {
    meta_.file_size = r_.size();
    if (auto s = header(); !s) return s.error();
    for (uint64_t i = 0; i < meta_.kv_count; ++i)
      if (auto s = keyValue(i); !s) return s.error();
    meta_.context_length = archNumber("context_length");
    meta_.block_count = archNumber("block_count");
    meta_.embedding_length = archNumber("embedding_length");
    meta_.head_count = archNumber("attention.head_count");
    meta_.head_count_kv = archNumber("attention.head_count_kv");
    meta_.key_length = archNumber("attention.key_length");
    meta_.value_length = archNumber("attention.value_length");
    for (uint64_t i = 0; i < meta_.tensor_count; ++i)
      if (auto s = tensorInfo(i); !s) return s.error();
    if (auto s = tensorData(); !s) return s.error();
    meta_.tensor_bytes = furthest_end_;
    return meta_;
  }

 private:
  Error fail(const std::string& what) const { return makeError(path_ + ": " + what); }
  Error corrupt(const std::string& what) const {
    return fail(what + ": the file is corrupt; download or convert it again");
  }
  // A read failed: either the file ended (the usual cause) or the disk said no.
  Error readFailed(const std::string& what, const std::string& detail = "") const {
    if (!r_.ioProblem().empty())
      return fail("read error at byte " + num(r_.pos()) + " while reading " + what + ": " + r_.ioProblem() +
                  "; check the disk and the file");
    return fail(what + " runs past the end of the file" + (detail.empty() ? "" : " (" + detail + ")") + ": " +
                kRedownload);
  }
  std::string onlyRemain() const { return " but only " + num(r_.remaining()) + " bytes remain"; }

  Status header() {
    const uint64_t size = r_.size();
    if (size == 0) return fail("file is empty; download or convert the model again");
    char magic[4] = {};
    const size_t n = static_cast<size_t>(std::min<uint64_t>(4, size));
    if (!r_.read(magic, n)) return readFailed("the GGUF header");
    if (std::memcmp(magic, "GGUF", n) != 0) return notGguf(std::string_view(magic, n));
    if (size < kHeaderBytes)
      return fail("truncated GGUF header (file is " + num(size) + " bytes; the header needs at least " +
                  num(kHeaderBytes) + "): " + kRedownload);
    if (!r_.read(meta_.version) || !r_.read(meta_.tensor_count) || !r_.read(meta_.kv_count))
      return readFailed("the GGUF header");
    if (auto s = checkVersion(meta_.version); !s) return s;
    if (meta_.tensor_count > kMaxTensors)
      return corrupt("the header claims " + num(meta_.tensor_count) + " tensors (limit " +
                     num(kMaxTensors) + ")");
    if (meta_.kv_count > kMaxKvs)
      return corrupt("the header claims " + num(meta_.kv_count) + " metadata keys (limit " +
                     num(kMaxKvs) + ")");
    return Ok{};
  }

  Error notGguf(std::string_view magic) const {
    std::string hint = "point the model at a .gguf file";
    // The pre-GGUF formats wrote their magic as a little-endian uint32, hence reversed.
    if (magic == "lmgg" || magic == "fmgg" || magic == "tjgg")
      hint = "this is a pre-GGUF GGML model; convert it with llama.cpp's convert_llama_ggml_to_gguf.py";
    else if (magic[0] == '<' || magic[0] == '{')
      hint = "it looks like a web page or JSON saved by a failed download; download the model again";
    return fail("not a GGUF model (file starts with '" + escaped(magic) + "', expected 'GGUF'); " + hint);
  }

  Status checkVersion(uint32_t v) const {
    const std::string at = "GGUF version " + num(v);
    if (v == 0) return corrupt(at + " is invalid");
    if (v == 1) return fail(at + " is too old; re-convert the model with a current llama.cpp");
    // llama.cpp's own test: a big-endian file's 2 or 3 reads as 0x02000000 or 0x03000000 here.
    if ((v & 0xFFFF) == 0)
      return fail(at + " is a byte-swapped version number: this is a big-endian GGUF; use a "
                       "little-endian conversion of the model");
    if (v > 3)
      return fail(at + " is newer than this build supports (2 and 3); re-convert the model with "
                       "the llama.cpp that qmesh ships, or update qmesh");
    return Ok{};
  }

  // A length-prefixed string that is kept; `limit` stops a corrupt length being trusted.
  Status readString(const std::string& what, uint64_t limit, std::string& out) {
    uint64_t len = 0;
    if (!r_.read(len)) return readFailed(what);
    if (len > limit) return corrupt(what + " is " + num(len) + " bytes long (limit " + num(limit) + ")");
    out.assign(static_cast<size_t>(std::min(len, r_.remaining())), '\0');
    if (!r_.read(out.data(), len))
      return readFailed(what, "a string of " + num(len) + " bytes," + onlyRemain());
    return Ok{};
  }

  Status keyValue(uint64_t index) {
    const std::string at = "metadata key " + num(index);
    std::string key;
    if (auto s = readString(at + "'s name", kMaxKeyBytes, key); !s) return s;
    if (key.empty()) return corrupt(at + " has an empty name");
    const std::string label = at + " ('" + escaped(key) + "')";
    if (!seen_keys_.insert(key).second) return corrupt(label + " appears twice");
    uint32_t type = 0;
    if (!r_.read(type)) return readFailed(label);
    if (key == "general.architecture") return keptString(label, type, meta_.architecture);
    if (key == "general.name") return keptString(label, type, meta_.name);
    if (key == "general.alignment") return alignment(label, type);
    // Kept for every architecture: general.architecture need not come first.
    if (isKeptArchNumber(key)) return archNumberValue(key, label, type);
    return skipValue(label, type, 0);
  }

  Status keptString(const std::string& label, uint32_t type, std::string& out) {
    if (type != kString) return corrupt(label + " has type " + typeName(type) + ", expected string");
    if (auto s = readString(label, kMaxKeptStringBytes, out); !s) return s;
    out = printableUtf8(std::move(out));
    return Ok{};
  }

  // llama.cpp accepts only a u32 power of two here, and places tensor data by it.
  Status alignment(const std::string& label, uint32_t type) {
    if (type != kU32) return corrupt(label + " has type " + typeName(type) + ", expected u32");
    uint32_t value = 0;
    if (!r_.read(value)) return readFailed(label);
    if (!std::has_single_bit(value))
      return corrupt(label + " is " + num(value) + ", which is not a power of two");
    alignment_ = value;
    return Ok{};
  }

  // The <architecture>.KEY numbers kept (for the memory estimate, common/model_memory.h);
  // general.architecture need not come first, so they are kept for every prefix.
  static bool isKeptArchNumber(const std::string& key) {
    for (const char* k : {".context_length", ".block_count", ".embedding_length", ".attention.head_count",
                          ".attention.head_count_kv", ".attention.key_length", ".attention.value_length"})
      if (key.ends_with(k)) return true;
    return false;
  }
  uint64_t archNumber(const std::string& key) const {
    if (meta_.architecture.empty()) return 0;
    auto it = arch_numbers_.find(meta_.architecture + "." + key);
    return it == arch_numbers_.end() ? 0 : it->second;
  }

  // Any type but u32 or u64 counts as absent here and is left for llama-server to judge.
  Status archNumberValue(const std::string& key, const std::string& label, uint32_t type) {
    if (type != kU32 && type != kU64) return skipValue(label, type, 0);
    uint64_t value = 0;  // little endian: a u32 read into the low bytes is the same number
    if (!r_.read(&value, type == kU32 ? 4 : 8)) return readFailed(label);
    arch_numbers_[key] = value;
    return Ok{};
  }

  Status skip(const std::string& label, uint64_t n) {
    return r_.skip(n) ? Status(Ok{}) : Status(readFailed(label));
  }

  Status skipValue(const std::string& label, uint32_t type, int depth) {
    if (const uint64_t n = fixedSize(type)) return skip(label, n);
    if (type == kString) {
      uint64_t len = 0;
      if (!r_.read(len)) return readFailed(label);
      if (!r_.skip(len)) return readFailed(label, "a string of " + num(len) + " bytes," + onlyRemain());
      return Ok{};
    }
    if (type != kArray) return corrupt(label + " has unknown value type " + num(type));
    if (depth >= kMaxArrayDepth)
      return corrupt(label + " nests arrays more than " + num(kMaxArrayDepth) + " deep");
    uint32_t elem = 0;
    uint64_t count = 0;
    if (!r_.read(elem) || !r_.read(count)) return readFailed(label);
    const uint64_t min_size = minEncodedSize(elem);
    if (min_size == 0) return corrupt(label + " is an array of unknown value type " + num(elem));
    if (count > r_.remaining() / min_size)
      return readFailed(label,
                        "an array of " + num(count) + " " + typeName(elem) + " elements," + onlyRemain());
    if (const uint64_t n = fixedSize(elem)) return skip(label, count * n);
    for (uint64_t i = 0; i < count; ++i)
      if (auto s = skipValue(label, elem, depth + 1); !s) return s;
    return Ok{};
  }

  Status tensorInfo(uint64_t index) {
    std::string name;
    if (auto s = readString("tensor info " + num(index) + "'s name", kMaxTensorName, name); !s) return s;
    const std::string label = "tensor " + num(index) + " ('" + escaped(name) + "')";
    if (!seen_tensors_.insert(name).second) return corrupt(label + " appears twice");

    uint32_t n_dims = 0;
    if (!r_.read(n_dims)) return readFailed(label);
    if (n_dims > kMaxDims)
      return corrupt(label + " has " + num(n_dims) + " dimensions (llama.cpp allows " + num(kMaxDims) + ")");
    uint64_t elements = 1, row = 1;
    std::string shape;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = 0;
      if (!r_.read(dim)) return readFailed(label);
      if (dim > uint64_t(INT64_MAX) || __builtin_mul_overflow(elements, dim, &elements) ||
          elements > uint64_t(INT64_MAX))
        return corrupt(label + " has a shape too large to address");
      if (d == 0) row = dim;
      shape += (d ? " x " : " ") + num(dim);
    }
    uint32_t type = 0;
    uint64_t offset = 0;
    if (!r_.read(type) || !r_.read(offset)) return readFailed(label);
    if (type >= kMaxPlausibleTensorType) return corrupt(label + " has implausible tensor type " + num(type));
    if (offset % alignment_ != 0)
      return corrupt(label + " has data offset " + num(offset) + ", not a multiple of the alignment " +
                     num(alignment_));
    // llama.cpp wants each tensor's data right after the previous one's, padded; that is
    // checkable while every tensor so far had a type whose size is known here.
    if (next_offset_known_ && offset != next_offset_)
      return corrupt(label + " has data offset " + num(offset) + ", expected " + num(next_offset_) +
                     " (right after the previous tensor)");

    uint64_t bytes = elements == 0 ? 0 : 1;  // unknown type: at least its first byte must exist
    const TensorType* t = findTensorType(type);
    if (t && row % t->block != 0)
      return corrupt(label + " is " + t->name + " with rows of " + num(row) +
                     " elements, not a multiple of its block size " + num(t->block));
    uint64_t end = 0;
    if ((t && __builtin_mul_overflow(elements / t->block, t->bytes, &bytes)) ||
        __builtin_add_overflow(offset, bytes, &end))
      return corrupt(label + " has a data offset or shape too large to address");
    const uint64_t padded = end + (alignment_ - end % alignment_) % alignment_;
    next_offset_known_ = t != nullptr && padded >= end;  // padded < end: it wrapped around
    next_offset_ = padded;
    if (end > furthest_end_ || furthest_label_.empty()) {
      furthest_end_ = end;
      furthest_label_ =
          label.substr(0, label.size() - 1) + ", " + (t ? t->name : "type " + num(type)) + shape + ")";
    }
    return Ok{};
  }

  // Tensor data starts at the next multiple of the alignment after the infos (llama.cpp pads
  // only when there are tensors); llama-server mmaps it and fails late if it is cut short.
  Status tensorData() {
    if (meta_.tensor_count == 0) return Ok{};
    const uint64_t start = (r_.pos() + alignment_ - 1) / alignment_ * alignment_;
    if (start > r_.size())
      return fail("the tensor data section (at byte " + num(start) + ") starts past the end of the file (" +
                  num(r_.size()) + " bytes): " + kRedownload);
    const uint64_t available = r_.size() - start;
    if (furthest_end_ > available)
      return fail(furthest_label_ + " needs " + num(furthest_end_) +
                  " bytes of tensor data but the file holds only " + num(available) +
                  ": the file is truncated (an interrupted download?); download or convert it again");
    return Ok{};
  }

  std::string path_;
  FileReader& r_;
  GgufMetadata meta_;
  uint32_t alignment_ = kDefaultAlignment;
  std::unordered_set<std::string> seen_keys_, seen_tensors_;
  std::map<std::string, uint64_t> arch_numbers_;
  bool next_offset_known_ = true;
  uint64_t next_offset_ = 0;
  uint64_t furthest_end_ = 0;   // of the tensor whose data reaches furthest,
  std::string furthest_label_;  // so only it needs checking against the file size
};

Error openError(const std::string& path, int err) {
  if (err == ENOENT) return makeError(path + ": no such file");
  if (err == ENOTDIR) return makeError(path + ": no such file (a part of the path is not a directory)");
  if (err == EACCES || err == EPERM)
    return makeError(path + ": cannot open: " + std::strerror(err) +
                     "; make the file (and its directories) readable by the user qmesh runs as");
  return makeError(path + ": cannot open: " + std::strerror(err));
}

}  // namespace

Result<GgufMetadata> readGgufMetadata(const std::filesystem::path& path) {
  const std::string p = path.string();
  if (p.empty()) return makeError("model path is empty; set it to a .gguf file");
  // O_NONBLOCK so a FIFO at the path cannot hang startup; it changes nothing for regular files.
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return openError(p, errno);
  std::FILE* f = ::fdopen(fd, "rb");
  if (f == nullptr) {
    const int err = errno;
    ::close(fd);
    return openError(p, err);
  }
  FileReader reader(f);
  std::setvbuf(f, nullptr, _IOFBF, 1 << 16);  // the default 4 KiB costs a syscall per page
  struct stat st {};
  if (::fstat(fd, &st) != 0) return makeError(p + ": cannot stat: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode))
    return makeError(p + ": is a directory; point the model at a .gguf file inside it");
  if (!S_ISREG(st.st_mode)) return makeError(p + ": is not a regular file; point the model at a .gguf file");
  reader.setSize(static_cast<uint64_t>(st.st_size));
  return GgufParser(p, reader).run();
}

}  // namespace qmesh
