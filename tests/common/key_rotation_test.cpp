#include "common/key_rotation.h"

#include <gtest/gtest.h>

namespace qmesh {
namespace {

using V = KeyEditVerdict;

TEST(KeyRotation, InstallAddsOnlyAKeyNotYetInTheList) {
  EXPECT_EQ(installVerdict(std::nullopt), V::kApply);
  EXPECT_EQ(installVerdict(0), V::kAlreadySo);
  EXPECT_EQ(installVerdict(2), V::kAlreadySo);
}

TEST(KeyRotation, UseMovesAnInstalledKeyToTheFrontAndNeedsItInstalled) {
  EXPECT_EQ(useVerdict(std::nullopt), V::kNotInstalled);
  EXPECT_EQ(useVerdict(0), V::kAlreadySo);
  EXPECT_EQ(useVerdict(1), V::kApply);
}

TEST(KeyRotation, RemoveNeverTakesThePrimary) {
  EXPECT_EQ(removeVerdict(std::nullopt), V::kNotInstalled);
  EXPECT_EQ(removeVerdict(0), V::kIsPrimary);
  EXPECT_EQ(removeVerdict(1), V::kApply);
}

}  // namespace
}  // namespace qmesh
