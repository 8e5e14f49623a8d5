// Writes a deterministic random-weight llama2.c checkpoint for the qmesh demo model, and
// patches the context length of the GGUF that llama-convert-llama2c-to-ggml makes from it.
//
//   llama2c_random_checkpoint write OUT.bin SEQ_LEN
//   llama2c_random_checkpoint set-context-length MODEL.gguf N
//
// Why a program and not Python: a fresh Debian has g++ (build-essential) but maybe no Python.
// Why splitmix64 and explicit little-endian output: the bytes (and so the GGUF's sha256) must be
// identical on every machine and compiler; std::mt19937 is portable but the std distributions
// are not, so floats are made from the top 24 bits by hand (exact in binary32).
//
// The checkpoint layout is what examples/convert-llama2c-to-ggml reads: a 7 x int32 header
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a positive vocab_size
// means the classifier shares the token embedding), then float32 tensors in this order:
// token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, and the RoPE
// tables (seq_len * head_size floats, skipped by the converter).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// vocab_size must equal the vocab of models/ggml-vocab-llama-spm.gguf or the converter refuses.
constexpr int32_t kDim = 64, kHidden = 172, kLayers = 4, kHeads = 4, kKvHeads = 4, kVocab = 32000;
constexpr uint64_t kSeed = 0x716d657368646d6fULL;  // "qmeshdmo"

struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [-scale, scale): 24 random bits are exactly representable in a float.
  float uniform(float scale) {
    const float u = static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
    return (2.0f * u - 1.0f) * scale;
  }
};

void put_u32(std::FILE* f, uint32_t v) {
  const unsigned char b[4] = {static_cast<unsigned char>(v), static_cast<unsigned char>(v >> 8),
                              static_cast<unsigned char>(v >> 16), static_cast<unsigned char>(v >> 24)};
  std::fwrite(b, 1, 4, f);
}

void put_f32(std::FILE* f, float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  put_u32(f, bits);
}

void put_random(std::FILE* f, SplitMix64& rng, size_t n, float scale) {
  for (size_t i = 0; i < n; ++i) put_f32(f, rng.uniform(scale));
}

void put_const(std::FILE* f, size_t n, float v) {
  for (size_t i = 0; i < n; ++i) put_f32(f, v);
}

int write_checkpoint(const char* path, int32_t seq_len) {
  std::FILE* f = std::fopen(path, "wb");
  if (!f) { std::perror(path); return 1; }
  for (int32_t v : {kDim, kHidden, kLayers, kHeads, kKvHeads, kVocab, seq_len}) put_u32(f, static_cast<uint32_t>(v));

  SplitMix64 rng{kSeed};
  const size_t L = kLayers, D = kDim, H = kHidden, head = kDim / kHeads;
  // The embedding doubles as the classifier: +-0.2 gives logits with a spread of about 1, so
  // sampling wanders over the whole vocab (gibberish) instead of locking onto one token or EOS.
  put_random(f, rng, size_t(kVocab) * D, 0.2f);
  put_const(f, L * D, 1.0f);                         // rms_att: unit norms keep activations O(1)
  const float attn = 1.0f / std::sqrt(float(D));     // fan-in scaling: no growth, no NaNs
  put_random(f, rng, L * D * D, attn);               // wq
  put_random(f, rng, L * D * D, attn);               // wk (n_kv_heads == n_heads)
  put_random(f, rng, L * D * D, attn);               // wv
  put_random(f, rng, L * D * D, attn);               // wo
  put_const(f, L * D, 1.0f);                         // rms_ffn
  put_random(f, rng, L * H * D, attn);               // w1 (gate), fan-in D
  put_random(f, rng, L * D * H, 1.0f / std::sqrt(float(H)));  // w2 (down), fan-in H
  put_random(f, rng, L * H * D, attn);               // w3 (up), fan-in D
  put_const(f, D, 1.0f);                             // rms_final
  put_const(f, size_t(seq_len) * head, 0.0f);        // RoPE tables: unused by the converter
  const bool ok = std::ferror(f) == 0;
  return (std::fclose(f) == 0 && ok) ? 0 : 1;
}

// The converter hard-codes llama.context_length = 128, and llama-server caps every slot's
// context at the training context, so a 2048-token server would give 128-token slots.
// Rewrite the value in place: GGUF KV = u64 key length, key bytes, u32 type (4 = UINT32), u32.
int set_context_length(const char* path, uint32_t n) {
  std::FILE* f = std::fopen(path, "r+b");
  if (!f) { std::perror(path); return 1; }
  // The KVs follow the 32000-entry token list, so read the whole (small) file.
  std::vector<unsigned char> bytes(size_t(64) << 20);
  bytes.resize(std::fread(bytes.data(), 1, bytes.size(), f));
  const std::string key = "llama.context_length";
  std::string pattern(8, '\0');
  pattern[0] = static_cast<char>(key.size());
  pattern += key;
  pattern += std::string("\x04\0\0\0", 4);
  const std::string hay(bytes.begin(), bytes.end());
  const size_t at = hay.find(pattern);
  if (at == std::string::npos || hay.find(pattern, at + 1) != std::string::npos) {
    std::fprintf(stderr, "%s: expected exactly one uint32 %s key\n", path, key.c_str());
    std::fclose(f);
    return 1;
  }
  std::fseek(f, static_cast<long>(at + pattern.size()), SEEK_SET);
  put_u32(f, n);
  const bool ok = std::ferror(f) == 0;
  return (std::fclose(f) == 0 && ok) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "write") == 0) return write_checkpoint(argv[2], std::atoi(argv[3]));
  if (argc == 4 && std::strcmp(argv[1], "set-context-length") == 0)
    return set_context_length(argv[2], static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10)));
  std::fprintf(stderr, "usage: %s write OUT.bin SEQ_LEN | set-context-length MODEL.gguf N\n", argv[0]);
  return 2;
}
