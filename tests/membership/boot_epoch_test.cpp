#include "router/membership/boot_epoch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace qmesh::membership {
namespace {

namespace fs = std::filesystem;

class BootEpochTest : public ::testing::Test {
 protected:
  BootEpochTest() {
    dir_ = fs::temp_directory_path() /
           ("qmesh-boot-epoch-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_ = bootEpochFileFor(dir_ / "node.id");
  }
  ~BootEpochTest() override { fs::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(file_) << text; }
  std::string stored() const {
    std::ifstream in(file_);
    std::string line;
    std::getline(in, line);
    return line;
  }

  fs::path dir_;
  fs::path file_;
};

TEST_F(BootEpochTest, LivesBesideTheIdentityFile) {
  EXPECT_EQ(bootEpochFileFor("/var/lib/qmesh/a/node.id"), fs::path("/var/lib/qmesh/a/boot.epoch"));
}

TEST_F(BootEpochTest, FirstBootTakesTheClockAndRemembersIt) {
  auto e = nextBootEpoch(file_, 1'700'000'000'000'000);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(*e, 1'700'000'000'000'000u);
  EXPECT_EQ(stored(), "1700000000000000");
}

TEST_F(BootEpochTest, GrowsEvenWhenTheClockWentBackwards) {
  write("5000\n");
  auto first = nextBootEpoch(file_, 100);  // the clock jumped back past our last start
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, 5001u);
  auto second = nextBootEpoch(file_, 100);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, 5002u);
  auto later = nextBootEpoch(file_, 9000);  // the clock is ahead again: it wins
  ASSERT_TRUE(later);
  EXPECT_EQ(*later, 9000u);
  EXPECT_EQ(stored(), "9000");
}

TEST_F(BootEpochTest, AMalformedCounterIsAnErrorNamingTheFileAndTheFix) {
  for (const char* text : {"", "12x\n", "-4\n", "18446744073709551615\n", "99999999999999999999999\n"}) {
    write(text);
    auto e = nextBootEpoch(file_, 100);
    ASSERT_FALSE(e) << "accepted '" << text << "'";
    EXPECT_NE(e.error().message.find(file_.string()), std::string::npos) << e.error().message;
    EXPECT_NE(e.error().message.find("delete it"), std::string::npos) << e.error().message;
  }
}

TEST_F(BootEpochTest, LeavesNoTemporaryFileBehind) {
  for (int i = 0; i < 2; ++i) {
    auto e = nextBootEpoch(file_, 7);
    ASSERT_TRUE(e) << e.error().message;
  }
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

}  // namespace
}  // namespace qmesh::membership
