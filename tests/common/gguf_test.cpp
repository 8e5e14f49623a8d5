#include "common/gguf.h"

#include <gtest/gtest.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qmesh {
namespace {

namespace fs = std::filesystem;

// Tests link GoogleTest without gMock, so a message check is spelled out here.
::testing::AssertionResult contains(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message: " << message << "\nlacks:   " << part;
}

enum : uint32_t { kU8 = 0, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };
enum : uint32_t { kTensorF32 = 0, kTensorF16 = 1, kTensorFromNewerGgml = 50 };

// Little-endian encoders for the writer below.
template <class T>
std::string le(T v) {
  std::string s(sizeof v, '\0');
  std::memcpy(s.data(), &v, sizeof v);
  return s;
}
std::string gstr(std::string_view s) { return le<uint64_t>(s.size()) + std::string(s); }

struct Value {
  uint32_t type;
  std::string payload;
};
Value str(std::string_view s) { return {kString, gstr(s)}; }
Value u32(uint32_t v) { return {kU32, le(v)}; }
Value array(uint32_t elem_type, const std::vector<std::string>& elems) {
  std::string p = le(elem_type) + le<uint64_t>(elems.size());
  for (const auto& e : elems) p += e;
  return {kArray, p};
}

struct Tensor {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type;
  uint64_t data_bytes;
};

// A GGUF file described field by field, so each test can break exactly one thing.
struct Spec {
  uint32_t version = 3;
  std::optional<uint64_t> claimed_tensor_count, claimed_kv_count;
  std::vector<std::pair<std::string, Value>> kvs;
  std::vector<Tensor> tensors;
  uint32_t alignment = 32;  // must match general.alignment when a test sets that key
};

struct Built {
  std::string bytes;
  std::vector<uint64_t> kv_offsets, tensor_info_offsets;
  uint64_t infos_end = 0, data_start = 0;
};

Built build(const Spec& spec) {
  Built b;
  b.bytes = "GGUF" + le(spec.version) + le<uint64_t>(spec.claimed_tensor_count.value_or(spec.tensors.size())) +
            le<uint64_t>(spec.claimed_kv_count.value_or(spec.kvs.size()));
  for (const auto& [key, value] : spec.kvs) {
    b.kv_offsets.push_back(b.bytes.size());
    b.bytes += gstr(key) + le(value.type) + value.payload;
  }
  uint64_t offset = 0;
  for (const auto& t : spec.tensors) {
    b.tensor_info_offsets.push_back(b.bytes.size());
    b.bytes += gstr(t.name) + le<uint32_t>(t.dims.size());
    for (uint64_t d : t.dims) b.bytes += le(d);
    b.bytes += le(t.type) + le(offset);
    offset += (t.data_bytes + spec.alignment - 1) / spec.alignment * spec.alignment;
  }
  b.infos_end = b.bytes.size();
  if (!spec.tensors.empty()) {
    b.bytes.resize((b.bytes.size() + spec.alignment - 1) / spec.alignment * spec.alignment, '\0');
    b.data_start = b.bytes.size();
    b.bytes.resize(b.data_start + offset, '\x5a');
  }
  return b;
}

// Covers every scalar type, a string array and a nested array, which the reader must skip.
Spec tinyLlama() {
  Spec s;
  s.kvs = {
      {"general.architecture", str("llama")},
      {"general.name", str("tiny test model")},
      {"llama.context_length", u32(4096)},
      {"tokenizer.ggml.tokens", array(kString, {gstr("<s>"), gstr("</s>"), gstr("hello")})},
      {"tokenizer.ggml.scores", array(kF32, {le(0.0f), le(-1.5f), le(-2.0f)})},
      {"test.nested", array(kArray, {le(kU8) + le<uint64_t>(2) + "ab", le(kString) + le<uint64_t>(1) + gstr("x")})},
      {"test.u8", {kU8, le<uint8_t>(1)}},     {"test.i8", {kI8, le<int8_t>(-1)}},
      {"test.u16", {kU16, le<uint16_t>(2)}},  {"test.i16", {kI16, le<int16_t>(-2)}},
      {"test.i32", {kI32, le<int32_t>(-3)}},  {"llama.rope.freq_base", {kF32, le(10000.0f)}},
      {"test.bool", {kBool, le<uint8_t>(1)}}, {"test.u64", {kU64, le<uint64_t>(5)}},
      {"test.i64", {kI64, le<int64_t>(-5)}},  {"test.f64", {kF64, le(0.5)}},
  };
  s.tensors = {{"token_embd.weight", {4, 3}, kTensorF32, 48}, {"output.weight", {8, 2}, kTensorF16, 32}};
  return s;
}

class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("qmesh_gguf_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& bytes, const std::string& name = "model.gguf") {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
    return p;
  }
  fs::path write(const Spec& spec) { return write(build(spec).bytes); }

  // Every refusal is one line that starts with the path.
  std::string errorFor(const fs::path& p) {
    auto r = readGgufMetadata(p);
    if (r.ok()) {
      ADD_FAILURE() << p << " was accepted";
      return "";
    }
    const std::string& m = r.error().message;
    EXPECT_EQ(m.rfind(p.string(), 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    return m;
  }

  fs::path dir_;
};

TEST_F(GgufTest, ReadsArchitectureNameContextLengthAndCounts) {
  const Built b = build(tinyLlama());
  auto r = readGgufMetadata(write(b.bytes));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, 3u);
  EXPECT_EQ(r->tensor_count, 2u);
  EXPECT_EQ(r->kv_count, tinyLlama().kvs.size());
  EXPECT_EQ(r->architecture, "llama");
  EXPECT_EQ(r->name, "tiny test model");
  EXPECT_EQ(r->context_length, 4096u);
  EXPECT_EQ(r->file_size, b.bytes.size());
}

TEST_F(GgufTest, AcceptsVersion2AndU64ContextLengthStoredBeforeArchitecture) {
  Spec s;
  s.version = 2;
  s.kvs = {{"qwen2.context_length", {kU64, le<uint64_t>(32768)}}, {"general.architecture", str("qwen2")}};
  auto r = readGgufMetadata(write(s));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->architecture, "qwen2");
  EXPECT_EQ(r->context_length, 32768u);
  EXPECT_EQ(r->name, "");
  EXPECT_EQ(r->tensor_count, 0u);
}

TEST_F(GgufTest, IgnoresContextLengthOfAnotherArchitecture) {
  Spec s;
  s.kvs = {{"general.architecture", str("llama")}, {"bert.context_length", u32(512)}};
  auto r = readGgufMetadata(write(s));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->context_length, 0u);
}

TEST_F(GgufTest, ReplacesBytesUnsafeForLogsAndJsonInName) {
  Spec s;
  s.kvs = {{"general.architecture", str("llama")}, {"general.name", str("caf\xC3\xA9 \xC0\x80\n\xFF")}};
  auto r = readGgufMetadata(write(s));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->name, "caf\xC3\xA9 ????");
}

TEST_F(GgufTest, PlacesTensorDataByGeneralAlignment) {
  Spec s = tinyLlama();
  s.alignment = 64;
  s.kvs.push_back({"general.alignment", u32(64)});
  const Built b = build(s);
  ASSERT_NE(b.infos_end % 64 / 32, 0u) << "with alignment 32 the data would start 32 bytes earlier";
  ASSERT_TRUE(readGgufMetadata(write(b.bytes)).ok());
  // The last tensor's 32 bytes sit before 32 bytes of padding; a reader that ignored the key
  // would start the data 32 bytes early and miss a cut one byte into the tensor.
  EXPECT_TRUE(contains(errorFor(write(b.bytes.substr(0, b.bytes.size() - 33))), "'output.weight'"));
}

TEST_F(GgufTest, RejectsMissingFile) {
  EXPECT_TRUE(contains(errorFor(dir_ / "absent.gguf"), ": no such file"));
}

TEST_F(GgufTest, RejectsEmptyPath) {
  auto r = readGgufMetadata("");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "path is empty"));
}

TEST_F(GgufTest, RejectsDirectory) { EXPECT_TRUE(contains(errorFor(dir_), ": is a directory")); }

TEST_F(GgufTest, RejectsEmptyFile) { EXPECT_TRUE(contains(errorFor(write("")), ": file is empty")); }

TEST_F(GgufTest, RejectsFileWithWrongMagic) {
  EXPECT_TRUE(contains(errorFor(write(std::string("PK\x03\x04rest of a zip file", 22))),
              "not a GGUF model (file starts with 'PK\\x03\\x04', expected 'GGUF')"));
}

TEST_F(GgufTest, ExplainsPreGgufGgmlModel) {
  EXPECT_TRUE(contains(errorFor(write("tjgg" + std::string(40, '\0'))), "convert_llama_ggml_to_gguf.py"));
}

TEST_F(GgufTest, ExplainsWebPageSavedAsModel) {
  EXPECT_TRUE(contains(errorFor(write("<!DOCTYPE html><html>Not Found</html>")), "failed download"));
}

TEST_F(GgufTest, RejectsTruncatedHeader) {
  EXPECT_TRUE(contains(errorFor(write(build(tinyLlama()).bytes.substr(0, 12))),
              "truncated GGUF header (file is 12 bytes; the header needs at least 24)"));
  EXPECT_TRUE(contains(errorFor(write("GG")), "truncated GGUF header"));
}

TEST_F(GgufTest, RejectsVersion1AsTooOld) {
  Spec s = tinyLlama();
  s.version = 1;
  EXPECT_TRUE(contains(errorFor(write(s)), "GGUF version 1 is too old; re-convert"));
}

TEST_F(GgufTest, RejectsVersion4AsUnsupported) {
  Spec s = tinyLlama();
  s.version = 4;
  EXPECT_TRUE(contains(errorFor(write(s)), "GGUF version 4 is newer than this build supports"));
}

TEST_F(GgufTest, RejectsBigEndianFile) {
  Spec s = tinyLlama();
  s.version = 0x03000000;
  EXPECT_TRUE(contains(errorFor(write(s)), "big-endian"));
}

TEST_F(GgufTest, RejectsAbsurdKvCount) {
  Spec s = tinyLlama();
  s.claimed_kv_count = uint64_t(1) << 40;
  EXPECT_TRUE(contains(errorFor(write(s)), "claims 1099511627776 metadata keys (limit 1048576)"));
}

TEST_F(GgufTest, RejectsAbsurdTensorCount) {
  Spec s = tinyLlama();
  s.claimed_tensor_count = ~uint64_t(0);
  EXPECT_TRUE(contains(errorFor(write(s)), "claims 18446744073709551615 tensors"));
}

TEST_F(GgufTest, RejectsAbsurdKeyLength) {
  std::string bytes = build(tinyLlama()).bytes;
  const std::string huge = le(uint64_t(1) << 40);
  bytes.replace(24, 8, huge);  // length of the first key
  EXPECT_TRUE(contains(errorFor(write(bytes)), "metadata key 0's name is 1099511627776 bytes long (limit 1048576)"));
}

TEST_F(GgufTest, RejectsStringValueLongerThanTheFile) {
  Spec s = tinyLlama();
  s.kvs.insert(s.kvs.begin() + 1, {"tokenizer.chat_template", {kString, le(uint64_t(1) << 60)}});
  EXPECT_TRUE(contains(errorFor(write(s)),
              "metadata key 1 ('tokenizer.chat_template') runs past the end of the file (a string of "
                        "1152921504606846976 bytes"));
}

TEST_F(GgufTest, RejectsArrayCountLargerThanTheFile) {
  Spec s = tinyLlama();
  s.kvs.push_back({"tokenizer.ggml.token_type", {kArray, le(kI32) + le(uint64_t(1) << 62)}});
  EXPECT_TRUE(contains(errorFor(write(s)), "('tokenizer.ggml.token_type') runs past the end of the file (an array"));
}

TEST_F(GgufTest, RejectsFileTruncatedMidKeyValue) {
  const Built b = build(tinyLlama());
  const uint64_t cut = b.kv_offsets[3] + 8 + 10;  // inside the token list's key name
  EXPECT_TRUE(contains(errorFor(write(b.bytes.substr(0, cut))),
              "metadata key 3's name runs past the end of the file (a string of 21 bytes, but only 10 bytes remain)"));
  const uint64_t mid_value = b.kv_offsets[4] - 3;  // inside the token list's last string
  EXPECT_TRUE(contains(errorFor(write(b.bytes.substr(0, mid_value))),
              "metadata key 3 ('tokenizer.ggml.tokens') runs past the end of the file"));
}

TEST_F(GgufTest, RejectsFileTruncatedMidTensorInfo) {
  const Built b = build(tinyLlama());
  EXPECT_TRUE(contains(errorFor(write(b.bytes.substr(0, b.tensor_info_offsets[1] + 30))),
              "tensor 1 ('output.weight') runs past the end of the file"));
}

TEST_F(GgufTest, RejectsFileWhoseTensorDataIsCutShort) {
  const Built b = build(tinyLlama());
  EXPECT_TRUE(contains(errorFor(write(b.bytes.substr(0, b.bytes.size() - 1))),
              "tensor 1 ('output.weight', F16 8 x 2) needs 96 bytes of tensor data but the file holds "
                        "only 95: the file is truncated"));
}

TEST_F(GgufTest, RejectsEveryTruncationOfAValidFile) {
  const std::string bytes = build(tinyLlama()).bytes;
  const fs::path p = write(bytes);
  for (size_t len = bytes.size(); len-- > 0;) {
    fs::resize_file(p, len);
    SCOPED_TRACE("truncated to " + std::to_string(len) + " bytes");
    errorFor(p);
  }
}

TEST_F(GgufTest, RejectsOffsetPastDataForTypesWithoutSizeTable) {
  Spec s;
  s.kvs = {{"general.architecture", str("llama")}};
  s.tensors = {{"blk.0.ffn_up.weight", {32, 2}, kTensorFromNewerGgml, 0}};  // no data written at all
  EXPECT_TRUE(contains(errorFor(write(s)), "tensor 0 ('blk.0.ffn_up.weight', type 50 32 x 2) needs 1 bytes"));
}

TEST_F(GgufTest, RejectsDuplicateKey) {
  Spec s = tinyLlama();
  s.kvs.push_back({"general.name", str("again")});
  EXPECT_TRUE(contains(errorFor(write(s)), "('general.name') appears twice"));
}

TEST_F(GgufTest, RejectsUnknownValueType) {
  Spec s = tinyLlama();
  s.kvs.insert(s.kvs.begin(), {"test.weird", {13, le<uint32_t>(0)}});
  EXPECT_TRUE(contains(errorFor(write(s)), "metadata key 0 ('test.weird') has unknown value type 13"));
}

TEST_F(GgufTest, RejectsArchitectureThatIsNotAString) {
  Spec s = tinyLlama();
  s.kvs[0].second = u32(7);
  EXPECT_TRUE(contains(errorFor(write(s)), "('general.architecture') has type u32, expected string"));
}

TEST_F(GgufTest, RejectsTensorWithTooManyDimensions) {
  Spec s = tinyLlama();
  s.tensors[0].dims = {1, 1, 1, 1, 1};
  EXPECT_TRUE(contains(errorFor(write(s)), "tensor 0 ('token_embd.weight') has 5 dimensions"));
}

TEST_F(GgufTest, RejectsMisalignedTensorOffset) {
  Built b = build(tinyLlama());
  const uint64_t offset_at = b.tensor_info_offsets[1] + 8 + 13 + 4 + 2 * 8 + 4;  // output.weight's offset
  b.bytes.replace(offset_at, 8, le<uint64_t>(40));
  EXPECT_TRUE(contains(errorFor(write(b.bytes)), "has data offset 40, not a multiple of the alignment 32"));
}

// What readGgufMetadata(p) says to the unprivileged user nobody (65534). The suite runs as
// root, which reads a mode-000 file anyway, so a forked child drops its groups, gid and uid
// first; it sends back "ok" or "error: <message>" through a pipe, and makes no assertions.
std::string readAsNobody(const fs::path& p) {
  int out[2];
  if (::pipe(out) != 0) return std::string("pipe: ") + std::strerror(errno);
  const pid_t pid = ::fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    ::close(out[0]);
    std::string said;
    if (::geteuid() == 0 &&
        (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
      said = std::string("cannot become nobody: ") + std::strerror(errno);
    else if (::geteuid() == 0 || ::getegid() == 0)
      said = "still root after dropping privileges";
    else if (auto r = readGgufMetadata(p); r.ok())
      said = "ok";
    else
      said = "error: " + r.error().message;
    for (size_t at = 0; at < said.size();) {
      const ssize_t n = ::write(out[1], said.data() + at, said.size() - at);
      if (n <= 0) ::_exit(1);
      at += size_t(n);
    }
    ::_exit(0);
  }
  ::close(out[1]);
  std::string said;
  char buf[512];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    said.append(buf, size_t(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    said += " (the child failed: wait status " + std::to_string(status) + ")";
  return said;
}

TEST_F(GgufTest, RejectsUnreadableFile) {
  const fs::path p = write(tinyLlama());
  // Only the file's mode may stand in the way: nobody can reach and read it at 0644.
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  ASSERT_EQ(::chmod(p.c_str(), 0644), 0);
  ASSERT_EQ(readAsNobody(p), "ok")
      << "nobody cannot read " << p << " even at mode 0644: set TMPDIR to a directory every user can reach";

  ASSERT_EQ(::chmod(p.c_str(), 0), 0);
  EXPECT_TRUE(contains(readAsNobody(p), "error: " + p.string() +
                                            ": cannot open: Permission denied; make the file (and its "
                                            "directories) readable by the user qmesh runs as"));
}

// Set QMESH_TEST_REAL_GGUF to one or more ':'-separated GGUFs made by llama.cpp (e.g. its
// models/ggml-vocab-llama-spm.gguf, or third_party_bins/models/demo.gguf, which has tensors)
// to check the reader against a real writer and not only against the one above.
TEST_F(GgufTest, ReadsRealGgufNamedByEnvironment) {
  const char* env = std::getenv("QMESH_TEST_REAL_GGUF");
  if (env == nullptr || *env == '\0')
    GTEST_SKIP() << "QMESH_TEST_REAL_GGUF is not set; point it at llama.cpp-made .gguf files to run this check";
  std::string list = env;
  for (size_t begin = 0, end; begin <= list.size(); begin = end + 1) {
    end = std::min(list.find(':', begin), list.size());
    const fs::path real = list.substr(begin, end - begin);
    SCOPED_TRACE(real.string());
    auto r = readGgufMetadata(real);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_GE(r->version, 2u);
    EXPECT_FALSE(r->architecture.empty());
    EXPECT_GT(r->kv_count, 0u);
    EXPECT_EQ(r->file_size, fs::file_size(real));
    if (r->tensor_count == 0) continue;
    // The tensor sizes computed here must match what llama.cpp's writer laid out exactly.
    const fs::path cut = dir_ / "cut.gguf";
    fs::copy_file(real, cut, fs::copy_options::overwrite_existing);
    fs::resize_file(cut, r->file_size - 1);
    EXPECT_TRUE(contains(errorFor(cut), "the file is truncated"));
  }
}

}  // namespace
}  // namespace qmesh
