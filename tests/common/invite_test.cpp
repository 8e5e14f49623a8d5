// Invite tokens: round trip, and every kind of damage is caught with a message that says
// what happened (mistyped, truncated, not a token, newer format).
#include "common/invite.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "tests/common/config_test_util.h"

namespace qmesh {
namespace {

using test::Contains;

Invite sample() {
  Invite i;
  for (std::size_t b = 0; b < i.key.size(); ++b) i.key[b] = static_cast<uint8_t>(b * 7 + 1);
  i.seeds = {"192.168.1.10:7946", "[fe80::1]:7946", "node-b.lan:17946"};
  return i;
}

// A token from raw payload bytes, with a correct checksum appended: for payloads the
// encoder would never produce.
std::string tokenFromPayload(std::vector<uint8_t> p) {
  if (sodium_init() < 0) std::abort();
  std::array<uint8_t, crypto_generichash_BYTES_MIN> h{};
  crypto_generichash(h.data(), h.size(), p.data(), p.size(), nullptr, 0);
  p.insert(p.end(), h.begin(), h.begin() + 4);
  std::string out(sodium_base64_ENCODED_LEN(p.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), p.data(), p.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return "qmesh1." + std::string(out.c_str());
}

std::vector<uint8_t> payloadWithSeed(uint8_t version, const std::string& seed) {
  std::vector<uint8_t> p = {version};
  p.insert(p.end(), 32, 0x42);
  p.push_back(1);
  p.push_back(static_cast<uint8_t>(seed.size()));
  p.insert(p.end(), seed.begin(), seed.end());
  return p;
}

TEST(InviteTest, RoundTripsTheKeyAndEverySeed) {
  const auto token = encodeInvite(sample());
  ASSERT_TRUE(token) << token.error().message;
  const auto back = decodeInvite(*token);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->key, sample().key);
  EXPECT_EQ(back->seeds, sample().seeds);
}

TEST(InviteTest, RoundTripsWithoutSeeds) {
  Invite i = sample();
  i.seeds.clear();
  const auto back = decodeInvite(*encodeInvite(i));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->key, i.key);
  EXPECT_TRUE(back->seeds.empty());
}

TEST(InviteTest, TokenIsPrefixedAndSafeToPasteAnywhere) {
  const std::string token = *encodeInvite(sample());
  EXPECT_EQ(token.rfind("qmesh1.", 0), 0u);
  EXPECT_EQ(token.find_first_not_of(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", 7),
            std::string::npos)
      << token;
}

TEST(InviteTest, WhitespaceFromLineWrappingIsIgnored) {
  const std::string token = *encodeInvite(sample());
  const std::string wrapped = "  " + token.substr(0, 20) + "\n  " + token.substr(20, 30) + "\r\n" +
                              token.substr(50) + "\n";
  const auto back = decodeInvite(wrapped);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->seeds, sample().seeds);
}

TEST(InviteTest, EveryTruncationIsRejectedAsMistypedOrTruncated) {
  const std::string token = *encodeInvite(sample());
  for (std::size_t len = 7; len < token.size(); ++len) {
    const auto r = decodeInvite(token.substr(0, len));
    ASSERT_FALSE(r) << "a token cut to " << len << " characters was accepted";
    EXPECT_TRUE(Contains(r.error().message, "the token was mistyped or truncated")) << len;
  }
}

TEST(InviteTest, EverySingleCharacterChangeIsRejected) {
  const std::string token = *encodeInvite(sample());
  for (std::size_t i = 7; i < token.size(); ++i) {
    std::string bad = token;
    bad[i] = bad[i] == 'x' ? 'y' : 'x';
    const auto r = decodeInvite(bad);
    ASSERT_FALSE(r) << "a change at " << i << " was accepted";
    EXPECT_TRUE(Contains(r.error().message, "the token was mistyped or truncated")) << i;
  }
}

TEST(InviteTest, BadChecksumSaysMistypedOrTruncated) {
  std::string token = *encodeInvite(sample());
  token[10] = token[10] == 'Q' ? 'R' : 'Q';
  EXPECT_TRUE(Contains(decodeInvite(token).error().message,
                       "bad checksum: the token was mistyped or truncated"));
}

TEST(InviteTest, WrongPrefixIsNotAToken) {
  EXPECT_TRUE(Contains(decodeInvite("hello").error().message,
                       "not a qmesh invite token: a token starts with 'qmesh1.'"));
  EXPECT_TRUE(Contains(decodeInvite(encodeMeshKey(sample().key)).error().message,
                       "not a qmesh invite token"));
  EXPECT_EQ(decodeInvite("").error().message, "the invite token is empty");
}

TEST(InviteTest, NewerFormatPrefixAsksForAnUpgrade) {
  EXPECT_EQ(decodeInvite("qmesh2.AAAA").error().message,
            "invite token format 'qmesh2' is not supported (this qmesh reads 'qmesh1'): upgrade "
            "this node's qmesh");
}

TEST(InviteTest, CharactersOutsideBase64urlAreReported) {
  EXPECT_TRUE(Contains(decodeInvite("qmesh1.abc+def/").error().message,
                       "not valid base64url after 'qmesh1.'"));
}

TEST(InviteTest, UnsupportedVersionWithAValidChecksumAsksForAnUpgrade) {
  EXPECT_EQ(decodeInvite(tokenFromPayload(payloadWithSeed(2, "10.0.0.1:7946"))).error().message,
            "invite format version 2 is not supported (this qmesh reads version 1): upgrade this "
            "node's qmesh");
  EXPECT_TRUE(decodeInvite(tokenFromPayload(payloadWithSeed(1, "10.0.0.1:7946"))));
}

TEST(InviteTest, SeedThatIsNotHostPortIsRejectedEvenWithAValidChecksum) {
  EXPECT_TRUE(Contains(decodeInvite(tokenFromPayload(payloadWithSeed(1, "nohost"))).error().message,
                       "seed 1: 'nohost' is not HOST:PORT"));
}

TEST(InviteTest, SeedRunningPastTheEndOrTrailingBytesAreRejected) {
  auto p = payloadWithSeed(1, "10.0.0.1:7946");
  p[1 + 32] = 2;  // claims two seeds, holds one
  EXPECT_TRUE(Contains(decodeInvite(tokenFromPayload(p)).error().message, "seed 2 is cut short"));
  p[1 + 32] = 1;
  p.push_back(0);
  EXPECT_TRUE(Contains(decodeInvite(tokenFromPayload(p)).error().message,
                       "unexpected bytes after the seeds"));
}

TEST(InviteTest, EncodeRefusesSeedsTheFormatCannotHold) {
  Invite i = sample();
  i.seeds = {"nohost"};
  EXPECT_TRUE(Contains(encodeInvite(i).error().message, "'nohost' is not HOST:PORT"));
  i.seeds = {std::string(250, 'a') + ".lan:7946"};
  EXPECT_TRUE(Contains(encodeInvite(i).error().message, "longer than 255 bytes"));
  i.seeds.assign(256, "10.0.0.1:7946");
  EXPECT_EQ(encodeInvite(i).error().message, "an invite holds at most 255 seeds, got 256");
}

}  // namespace
}  // namespace qmesh
