// Who reaches the console and /api/* (router/console/admin_access.h): admin keys apart from
// client keys, POST only for actions, foreign Origins refused, open without keys.
#include "router/console/admin_access.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace qmesh::router;

namespace {

const std::vector<std::string> kApiKeys = {"client-key-1"};
const std::vector<std::string> kAdminKeys = {"admin-key-1", "admin-key-2"};
const std::vector<std::string> kNone;

struct Req {
  std::string_view method = "GET";
  std::string_view target = "/api/events";
  std::string_view auth = "";
  std::string_view origin = "";
  std::string_view host = "127.0.0.1:8080";
};

Decision decide(const Req& r, const std::vector<std::string>& api, const std::vector<std::string>& admin) {
  RouteContext ctx{&api, {"demo"}, nullptr, &admin};
  return route(IncomingRequest{r.method, r.target, r.auth, "", r.host, r.origin}, ctx);
}

std::string codeOf(const Decision& d) { return d.code; }

}  // namespace

TEST(AdminAccess, NoKeysAtAllLeavesTheConsoleAndApiOpen) {
  EXPECT_EQ(decide({}, kNone, kNone).action, Action::Admin);
  EXPECT_EQ(decide({.method = "POST", .target = "/api/workers/demo/restart"}, kNone, kNone).action, Action::Admin);
  EXPECT_EQ(decide({.target = "/api/status"}, kNone, kNone).action, Action::ApiStatus);
}

TEST(AdminAccess, AdminKeyOpensEveryAdminEndpoint) {
  for (auto key : {"Bearer admin-key-1", "bearer admin-key-2"}) {
    EXPECT_EQ(decide({.auth = key}, kApiKeys, kAdminKeys).action, Action::Admin) << key;
    EXPECT_EQ(decide({.target = "/api/mesh", .auth = key}, kApiKeys, kAdminKeys).action, Action::ApiMesh);
    EXPECT_EQ(decide({.method = "POST", .target = "/api/invites", .auth = key}, kApiKeys, kAdminKeys).action,
              Action::Admin);
  }
}

TEST(AdminAccess, WithAdminKeysAMissingOrWrongKeyIs401) {
  auto none = decide({}, kNone, kAdminKeys);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(codeOf(none), "invalid_admin_key");
  EXPECT_EQ(decide({.auth = "Bearer admin-key-3"}, kNone, kAdminKeys).status, 401);
  EXPECT_EQ(decide({.auth = "Bearer admin-key-"}, kNone, kAdminKeys).status, 401);
  EXPECT_EQ(decide({.target = "/api/status"}, kNone, kAdminKeys).status, 401);
}

TEST(AdminAccess, ClientKeyIsRefusedOnAdminEndpointsWhenAdminKeysAreSet) {
  for (auto target : {"/api/events", "/api/status", "/api/mesh", "/api/console"}) {
    auto d = decide({.target = target, .auth = "Bearer client-key-1"}, kApiKeys, kAdminKeys);
    EXPECT_EQ(d.status, 403) << target;
    EXPECT_EQ(codeOf(d), "admin_key_required") << target;
  }
  // ... while it still works where it belongs.
  EXPECT_NE(decide({.method = "POST", .target = "/v1/chat/completions", .auth = "Bearer client-key-1"}, kApiKeys,
                   kAdminKeys)
                .status,
            401);
}

TEST(AdminAccess, AdminKeyIsNotAClientKey) {
  auto d = decide({.method = "POST", .target = "/v1/chat/completions", .auth = "Bearer admin-key-1"}, kApiKeys,
                  kAdminKeys);
  EXPECT_EQ(d.status, 401);
}

TEST(AdminAccess, ApiKeysWithoutAdminKeysKeepOldPagesButRefuseAdminActions) {
  EXPECT_EQ(decide({.target = "/api/status", .auth = "Bearer client-key-1"}, kApiKeys, kNone).action,
            Action::ApiStatus);
  EXPECT_EQ(decide({.target = "/api/status"}, kApiKeys, kNone).status, 401);
  auto events = decide({.auth = "Bearer client-key-1"}, kApiKeys, kNone);
  EXPECT_EQ(events.status, 403);
  EXPECT_EQ(codeOf(events), "admin_keys_not_set");
  EXPECT_EQ(decide({.method = "POST", .target = "/api/workers/demo/restart", .auth = "Bearer client-key-1"}, kApiKeys,
                   kNone)
                .status,
            403);
}

TEST(AdminAccess, ConsolePageIsServedWithoutAKeyButOnlyToGet) {
  EXPECT_EQ(decide({.target = "/console"}, kApiKeys, kAdminKeys).action, Action::Admin);
  EXPECT_EQ(decide({.target = "/console/console.js"}, kApiKeys, kAdminKeys).action, Action::Admin);
  EXPECT_EQ(decide({.method = "POST", .target = "/console"}, kApiKeys, kAdminKeys).status, 405);
}

TEST(AdminAccess, ActionsTakePostOnly) {
  auto d = decide({.method = "PUT", .target = "/api/invites", .auth = "Bearer admin-key-1"}, kNone, kAdminKeys);
  EXPECT_EQ(d.status, 405);
  EXPECT_EQ(decide({.method = "DELETE", .target = "/api/requests/x/cancel"}, kNone, kNone).status, 405);
}

TEST(AdminAccess, ForeignOriginIsRefusedOnActionsEvenWithTheAdminKey) {
  auto d = decide({.method = "POST", .target = "/api/workers/demo/restart", .auth = "Bearer admin-key-1",
                   .origin = "http://evil.example"},
                  kApiKeys, kAdminKeys);
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(codeOf(d), "forbidden_origin");
  // The router's own page: Origin is http:// + the Host it was loaded from.
  EXPECT_EQ(decide({.method = "POST", .target = "/api/workers/demo/restart", .auth = "Bearer admin-key-1",
                    .origin = "http://127.0.0.1:8080"},
                   kApiKeys, kAdminKeys)
                .action,
            Action::Admin);
  // Same host, another port: another origin.
  EXPECT_EQ(decide({.method = "POST", .target = "/api/invites", .auth = "Bearer admin-key-1",
                    .origin = "http://127.0.0.1:9999"},
                   kApiKeys, kAdminKeys)
                .status,
            403);
}
