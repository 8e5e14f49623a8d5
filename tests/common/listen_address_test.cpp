// router.listen: an IP literal to bind (IPv6 in brackets), checked when the config is loaded
// with a message naming file:line and the fix; and router.max_connections.
#include <gtest/gtest.h>

#include "common/node_config.h"
#include "tests/common/config_test_util.h"

namespace qmesh {
namespace {

using test::Contains;
using test::yaml;

TEST(ListenAddressTest, AcceptsIpLiteralsAndBracketedIpv6) {
  struct Case { const char* text; const char* host; uint16_t port; };
  const Case cases[] = {
      {"127.0.0.1:8080", "127.0.0.1", 8080}, {"0.0.0.0:80", "0.0.0.0", 80}, {"[::]:8080", "::", 8080},
      {"[::1]:0", "::1", 0},                  {"localhost:9", "127.0.0.1", 9}, {"[fe80::1]:1", "fe80::1", 1},
      {":8080", "127.0.0.1", 8080},
  };
  for (const auto& c : cases) {
    auto hp = parseListenAddress(c.text);
    ASSERT_TRUE(hp) << c.text << ": " << hp.error().message;
    EXPECT_EQ(hp->host, c.host) << c.text;
    EXPECT_EQ(hp->port, c.port) << c.text;
  }
}

TEST(ListenAddressTest, RejectsNamesUnbracketedIpv6AndJunkSayingWhatToWrite) {
  struct Case { const char* text; const char* message; };
  const Case cases[] = {
      {"::1:8080", "write an IPv6 address in brackets, e.g. [::]:8080"},
      {":::8080", "write an IPv6 address in brackets"},
      {"example.com:8080", "'example.com' is not an IP address; listen on an address such as 127.0.0.1:8080"},
      {"1.2.3:80", "'1.2.3' is not an IP address"},
      {"[nonsense]:80", "'nonsense' is not an IP address"},
      {"127.0.0.1 :80", "is not an IP address"},
      {"127.0.0.1", "is not HOST:PORT"},
  };
  for (const auto& c : cases) {
    auto hp = parseListenAddress(c.text);
    ASSERT_FALSE(hp) << c.text << " parsed as " << hp->str();
    EXPECT_TRUE(Contains(hp.error().message, c.message)) << c.text;
  }
}

TEST(ListenAddressTest, ConfigLoadNamesFileAndLineOfABadRouterListen) {
  auto r = parseNodeConfig(yaml({"router:", "  enabled: true", "  listen: my-box.lan:8080"}), "/cfg/node.yaml");
  ASSERT_FALSE(r);
  EXPECT_TRUE(Contains(r.error().message, "/cfg/node.yaml:3: router.listen: 'my-box.lan:8080': 'my-box.lan' is not an IP"));
  auto ok = parseNodeConfig(yaml({"router:", "  listen: \"[::]:8181\""}), "/cfg/node.yaml");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->router.listen.host, "::");
  EXPECT_EQ(ok->router.listen.port, 8181);
}

TEST(ListenAddressTest, MaxConnectionsDefaultsTo1024AndIsRangeChecked) {
  auto d = parseNodeConfig("{}", "/cfg/node.yaml");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->router.max_connections, 1024);
  auto set = parseNodeConfig(yaml({"router:", "  max_connections: 16"}), "/cfg/node.yaml");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->router.max_connections, 16);
  auto zero = parseNodeConfig(yaml({"router:", "  max_connections: 0"}), "/cfg/node.yaml");
  ASSERT_FALSE(zero);
  EXPECT_TRUE(Contains(zero.error().message, "/cfg/node.yaml:2: router.max_connections"));
}

}  // namespace
}  // namespace qmesh
