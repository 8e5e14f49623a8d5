// The node config parser: defaults, every field, path resolution and every validation error,
// asserting on what a user needs from the message (file:line, key path, the bad value).
#include "common/node_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <sstream>

#include "common/invite.h"
#include "common/yaml_util.h"
#include "tests/common/config_test_util.h"
#include "tests/support/test_env.h"

namespace qmesh {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kFile = "/cfg/node.yaml";

using test::Contains;
using test::yaml;

// A valid invite token for mesh.join (parsed and checked at load time).
const std::string& validToken() {
  static const std::string token = [] {
    Invite invite;
    invite.key.fill(7);
    invite.seeds = {"10.0.0.9:7946"};
    return *encodeInvite(invite);
  }();
  return token;
}

// Sets (or unsets) an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value->c_str(), 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class NodeConfigTest : public ::testing::Test {
 protected:
  Result<NodeConfig> parse(const std::string& text) { return parseNodeConfig(text, kFile); }

  NodeConfig parseOk(const std::string& text) {
    auto r = parse(text);
    if (!r) ADD_FAILURE() << "unexpected error:\n" << r.error().message;
    return r ? *r : NodeConfig{};
  }

  std::string parseError(const std::string& text) {
    auto r = parse(text);
    if (r) {
      ADD_FAILURE() << "expected an error, the config was accepted:\n" << text;
      return "";
    }
    return r.error().message;
  }

  const std::string& home() const { return home_; }

  const std::string home_ = "/qmesh-home";
  const std::string state_ = "/xdg-state";
  ScopedEnv qmeshHome_{"QMESH_HOME", home_};
  ScopedEnv xdgState_{"XDG_STATE_HOME", state_};
};

const std::string kMinimal = yaml({
    "models:",
    "  - name: demo",
    "    gguf: builtin:demo",
});

std::string hostName() {
  char buf[256] = {};
  gethostname(buf, sizeof(buf) - 1);
  return buf[0] ? buf : "node";
}

// ---------------------------------------------------------------- defaults and round trip

TEST_F(NodeConfigTest, MinimalConfigGetsDocumentedDefaults) {
  const NodeConfig c = parseOk(kMinimal);
  EXPECT_EQ(c.file, fs::path(kFile));
  EXPECT_EQ(c.node.name, hostName());
  EXPECT_EQ(c.node.data_dir, fs::path(state_) / "qmesh" / hostName());
  EXPECT_EQ(c.node.control.str(), "127.0.0.1:7070");
  EXPECT_EQ(c.node.log_level, "info");
  EXPECT_EQ(c.node.log_format, "text");
  EXPECT_TRUE(c.node.llama_server.empty());

  EXPECT_EQ(c.supervisor.health.interval, seconds(1));
  EXPECT_EQ(c.supervisor.health.timeout, seconds(2));
  EXPECT_EQ(c.supervisor.health.failure_threshold, 3);
  EXPECT_EQ(c.supervisor.health.startup_timeout, minutes(10));
  EXPECT_EQ(c.supervisor.restart.backoff_initial, Millis(250));
  EXPECT_EQ(c.supervisor.restart.backoff_max, seconds(30));
  EXPECT_DOUBLE_EQ(c.supervisor.restart.backoff_multiplier, 2.0);
  EXPECT_DOUBLE_EQ(c.supervisor.restart.jitter, 0.2);
  EXPECT_EQ(c.supervisor.restart.max_restarts, 5);
  EXPECT_EQ(c.supervisor.restart.window, minutes(1));
  EXPECT_EQ(c.supervisor.stop_grace, seconds(5));

  ASSERT_EQ(c.models.size(), 1u);
  const ModelConfig& m = c.models[0];
  EXPECT_EQ(m.name, "demo");
  EXPECT_EQ(m.ctx_size, 2048);
  EXPECT_EQ(m.parallel, 4);
  EXPECT_EQ(m.threads, 0);
  EXPECT_EQ(m.gpu_layers, 0);
  EXPECT_EQ(m.port, 0);
  EXPECT_FALSE(m.embeddings);
  EXPECT_TRUE(m.extra_args.empty());

  EXPECT_TRUE(c.router.enabled);
  EXPECT_EQ(c.router.listen.str(), "127.0.0.1:8080");
  EXPECT_TRUE(c.router.api_keys.empty());
  EXPECT_EQ(c.router.max_body_bytes, 8 << 20);
  EXPECT_EQ(c.router.queue_depth, 64);
  EXPECT_EQ(c.router.queue_timeout, seconds(30));
  EXPECT_EQ(c.router.header_timeout, seconds(10));
  EXPECT_EQ(c.router.body_timeout, seconds(30));
  EXPECT_EQ(c.router.keepalive_interval, seconds(15));

  EXPECT_EQ(c.mesh.gossip.str(), "0.0.0.0:0");
  EXPECT_TRUE(c.mesh.seeds.empty());
  EXPECT_TRUE(c.mesh.join.empty());
  EXPECT_FALSE(c.mesh.enabled());
  EXPECT_FALSE(c.mesh.advertise);
  EXPECT_EQ(c.mesh.key_file, c.node.data_dir / "mesh.keys");
  EXPECT_EQ(c.mesh.identity_file, c.node.data_dir / "node.id");
}

TEST_F(NodeConfigTest, EmptyMappingIsAValidMeshOfNoModels) {
  const NodeConfig c = parseOk("{}\n");
  EXPECT_TRUE(c.models.empty());
  EXPECT_EQ(c.node.name, hostName());
}

TEST_F(NodeConfigTest, DataDirDefaultsUnderHomeWithoutXdgStateHome) {
  ScopedEnv noXdg("XDG_STATE_HOME", std::nullopt);
  ScopedEnv homeDir("HOME", "/home/alice");
  const NodeConfig c = parseOk(yaml({"node:", "  name: n1"}));
  EXPECT_EQ(c.node.data_dir, fs::path("/home/alice/.local/state/qmesh/n1"));
}

TEST_F(NodeConfigTest, DataDirWithoutHomeOrXdgStateHomeIsAnErrorNotTmp) {
  ScopedEnv noXdg("XDG_STATE_HOME", std::nullopt);
  ScopedEnv noHome("HOME", std::nullopt);
  for (const std::string& text : {yaml({"node:", "  name: n1"}), std::string("{}\n")}) {
    const std::string e = parseError(text);
    EXPECT_TRUE(Contains(e, "node.data_dir: not set, and neither $XDG_STATE_HOME nor $HOME is set"));
    EXPECT_TRUE(Contains(e, "set node.data_dir to a folder"));
  }
  EXPECT_TRUE(Contains(parseOk(yaml({"node:", "  data_dir: /var/lib/qmesh"})).node.data_dir.string(),
                       "/var/lib/qmesh"));
}

TEST_F(NodeConfigTest, FullConfigRoundTripsEveryField) {
  const NodeConfig c = parseOk(yaml({
      "node:",
      "  name: box-1",
      "  data_dir: /var/lib/qmesh",
      "  control: '[::1]:7171'",
      "  log_level: debug",
      "  log_format: json",
      "  llama_server: /opt/llama/llama-server",
      "supervisor:",
      "  stop_grace: 3s",
      "  health:",
      "    interval: 500ms",
      "    timeout: 1500ms",
      "    failure_threshold: 7",
      "    startup_timeout: 2m",
      "  restart:",
      "    backoff_initial: 100ms",
      "    backoff_max: 1m",
      "    backoff_multiplier: 1.5",
      "    jitter: 0.1",
      "    max_restarts: 9",
      "    window: 1h",
      "models:",
      "  - name: qwen2.5:0.5b",
      "    gguf: /models/qwen.gguf",
      "    ctx_size: 4096",
      "    parallel: 8",
      "    threads: 6",
      "    gpu_layers: -1",
      "    port: 9001",
      "    embeddings: true",
      "    extra_args: [--temp=0.5, --no-mmap]",
      "  - name: embed/small",
      "    gguf: /models/embed.gguf",
      "    embeddings: no",
      "router:",
      "  enabled: false",
      "  listen: 0.0.0.0:8181",
      "  api_keys: [secret-key-1, secret-key-2]",
      "  max_body_bytes: 2048",
      "  queue_depth: 0",
      "  queue_timeout: 0ms",
      "  header_timeout: 5s",
      "  body_timeout: 20s",
      "  keepalive_interval: 1s",
      "mesh:",
      "  gossip: 0.0.0.0:7946",
      "  seeds: [10.0.0.2:7946, '[fe80::1]:7946']",
      "  advertise: 203.0.113.7:17946",
      "  data: 0.0.0.0:7000",
      "  join: " + validToken(),
      "  key_file: /etc/qmesh/key",
      "  identity_file: /etc/qmesh/id",
  }));
  EXPECT_EQ(c.node.name, "box-1");
  EXPECT_EQ(c.node.data_dir, fs::path("/var/lib/qmesh"));
  EXPECT_EQ(c.node.control.host, "::1");
  EXPECT_EQ(c.node.control.port, 7171);
  EXPECT_EQ(c.node.log_level, "debug");
  EXPECT_EQ(c.node.log_format, "json");
  EXPECT_EQ(c.node.llama_server, fs::path("/opt/llama/llama-server"));

  EXPECT_EQ(c.supervisor.stop_grace, seconds(3));
  EXPECT_EQ(c.supervisor.health.interval, Millis(500));
  EXPECT_EQ(c.supervisor.health.timeout, Millis(1500));
  EXPECT_EQ(c.supervisor.health.failure_threshold, 7);
  EXPECT_EQ(c.supervisor.health.startup_timeout, minutes(2));
  EXPECT_EQ(c.supervisor.restart.backoff_initial, Millis(100));
  EXPECT_EQ(c.supervisor.restart.backoff_max, minutes(1));
  EXPECT_DOUBLE_EQ(c.supervisor.restart.backoff_multiplier, 1.5);
  EXPECT_DOUBLE_EQ(c.supervisor.restart.jitter, 0.1);
  EXPECT_EQ(c.supervisor.restart.max_restarts, 9);
  EXPECT_EQ(c.supervisor.restart.window, hours(1));

  ASSERT_EQ(c.models.size(), 2u);
  const ModelConfig& m = c.models[0];
  EXPECT_EQ(m.name, "qwen2.5:0.5b");
  EXPECT_EQ(m.gguf, fs::path("/models/qwen.gguf"));
  EXPECT_EQ(m.ctx_size, 4096);
  EXPECT_EQ(m.parallel, 8);
  EXPECT_EQ(m.threads, 6);
  EXPECT_EQ(m.gpu_layers, -1);
  EXPECT_EQ(m.port, 9001);
  EXPECT_TRUE(m.embeddings);
  EXPECT_EQ(m.extra_args, (std::vector<std::string>{"--temp=0.5", "--no-mmap"}));
  EXPECT_EQ(c.models[1].name, "embed/small");
  EXPECT_FALSE(c.models[1].embeddings);

  EXPECT_FALSE(c.router.enabled);
  EXPECT_EQ(c.router.listen.str(), "0.0.0.0:8181");
  EXPECT_EQ(c.router.api_keys, (std::vector<std::string>{"secret-key-1", "secret-key-2"}));
  EXPECT_EQ(c.router.max_body_bytes, 2048);
  EXPECT_EQ(c.router.queue_depth, 0);
  EXPECT_EQ(c.router.queue_timeout, Millis(0));
  EXPECT_EQ(c.router.header_timeout, seconds(5));
  EXPECT_EQ(c.router.body_timeout, seconds(20));
  EXPECT_EQ(c.router.keepalive_interval, seconds(1));

  EXPECT_EQ(c.mesh.gossip.str(), "0.0.0.0:7946");
  EXPECT_EQ(c.mesh.seeds, (std::vector<std::string>{"10.0.0.2:7946", "[fe80::1]:7946"}));
  EXPECT_EQ(c.mesh.advertise->str(), "203.0.113.7:17946");
  EXPECT_EQ(c.mesh.data.str(), "0.0.0.0:7000");
  EXPECT_EQ(c.mesh.join, validToken());
  EXPECT_EQ(c.mesh.key_file, fs::path("/etc/qmesh/key"));
  EXPECT_EQ(c.mesh.identity_file, fs::path("/etc/qmesh/id"));
}

// ---------------------------------------------------------------- paths

TEST_F(NodeConfigTest, ResolvesRelativePathsAgainstTheConfigFilesFolder) {
  test::TempDir dir;
  const fs::path file = dir.write("etc/node.yaml", yaml({
      "node:",
      "  data_dir: ../state",
      "  llama_server: bin/llama-server",
      "models:",
      "  - name: m",
      "    gguf: models/./m.gguf",
      "  - name: abs",
      "    gguf: /srv/abs.gguf",
      "mesh:",
      "  key_file: keys/mesh.key",
      "  identity_file: ../state/node.id",
  }));
  auto r = loadNodeConfig(file);
  ASSERT_TRUE(r) << r.error().message;
  const fs::path etc = dir.path() / "etc";
  EXPECT_EQ(r->file, file);
  EXPECT_EQ(r->node.data_dir, dir.path() / "state");
  EXPECT_EQ(r->node.llama_server, etc / "bin/llama-server");
  EXPECT_EQ(r->models[0].gguf, etc / "models/m.gguf");
  EXPECT_EQ(r->models[1].gguf, fs::path("/srv/abs.gguf"));
  EXPECT_EQ(r->mesh.key_file, etc / "keys/mesh.key");
  EXPECT_EQ(r->mesh.identity_file, dir.path() / "state/node.id");
}

TEST_F(NodeConfigTest, ExpandsTildeToHome) {
  ScopedEnv homeDir("HOME", "/home/bob");
  const NodeConfig c = parseOk(yaml({"models:", "  - name: m", "    gguf: ~/models/m.gguf"}));
  EXPECT_EQ(c.models[0].gguf, fs::path("/home/bob/models/m.gguf"));
}

TEST_F(NodeConfigTest, BuiltinDemoResolvesUnderQmeshHome) {
  const NodeConfig c = parseOk(kMinimal);
  EXPECT_EQ(c.models[0].gguf, fs::path(home()) / "third_party_bins/models/demo.gguf");
}

// ---------------------------------------------------------------- YAML shape

TEST_F(NodeConfigTest, ReportsInvalidYamlWithFileLineAndColumn) {
  const std::string err = parseError(yaml({
      "node:",
      "  name: a",
      "  control: [1, 2",
  }));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:4:1: invalid YAML"));
  EXPECT_TRUE(Contains(err, "end of sequence flow not found"));
  EXPECT_TRUE(Contains(parseError("a: b: c\n"), "/cfg/node.yaml:1:5: invalid YAML: illegal map value"));
}

TEST_F(NodeConfigTest, RejectsDocumentThatIsNotAMapping) {
  EXPECT_TRUE(Contains(parseError(""), "/cfg/node.yaml: expected a mapping with node:"));
  EXPECT_TRUE(Contains(parseError("- a\n- b\n"), "/cfg/node.yaml: expected a mapping with node:"));
}

TEST_F(NodeConfigTest, RejectsUnknownTopLevelKeyWithLineAndKnownKeys) {
  const std::string err = parseError(yaml({"node:", "  name: a", "modles: []"}));
  EXPECT_EQ(err, "/cfg/node.yaml:3: unknown key 'modles' (known keys: node, supervisor, models, router, mesh)");
}

TEST_F(NodeConfigTest, RejectsUnknownKeyInNodeWithLine) {
  const std::string err = parseError(yaml({"node:", "  name: a", "  nmae: b"}));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:3: node: unknown key 'nmae'"));
  EXPECT_TRUE(Contains(err, "known keys: name, data_dir, control, log_level, log_format, llama_server"));
}

TEST_F(NodeConfigTest, RejectsUnknownKeyInModelWithLine) {
  const std::string err = parseError(yaml({
      "models:",
      "  - name: a",
      "    gguf: a.gguf",
      "  - name: b",
      "    gguf: b.gguf",
      "    ctx: 100",
  }));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:6: models[1]: unknown key 'ctx'"));
  EXPECT_TRUE(Contains(err, "known keys: name, gguf, ctx_size, parallel"));
}

TEST_F(NodeConfigTest, RejectsUnknownKeyInSupervisorHealthWithLine) {
  const std::string err = parseError(yaml({"supervisor:", "  health:", "    interval: 1s", "    intervall: 2s"}));
  EXPECT_EQ(err, "/cfg/node.yaml:4: supervisor.health: unknown key 'intervall' (known keys: interval, "
                 "timeout, failure_threshold, startup_timeout)");
}

TEST_F(NodeConfigTest, RejectsSectionThatIsNotAMapping) {
  EXPECT_TRUE(Contains(parseError("router: yes\n"), "/cfg/node.yaml:1: router: expected a mapping of keys, got 'yes'"));
  EXPECT_TRUE(Contains(parseError(yaml({"supervisor:", "  restart: [1]"})),
                       "/cfg/node.yaml:2: supervisor.restart: expected a mapping of keys, got a list"));
  EXPECT_TRUE(Contains(parseError("models: {name: a}\n"), "/cfg/node.yaml:1: models: expected a list of models"));
  EXPECT_TRUE(Contains(parseError(yaml({"models:", "  - just-a-name"})),
                       "/cfg/node.yaml:2: models[0]: expected a mapping of keys, got 'just-a-name'"));
}

// ---------------------------------------------------------------- types and ranges

TEST_F(NodeConfigTest, RejectsStringForIntegerNamingKeyPathAndLine) {
  const std::string err = parseError(yaml({"models:", "  - name: a", "    gguf: a.gguf", "    parallel: four"}));
  EXPECT_EQ(err, "/cfg/node.yaml:4: models[0].parallel: expected a whole number, got 'four'");
  EXPECT_TRUE(Contains(parseError(yaml({"router:", "  queue_depth: 1.5"})),
                       "/cfg/node.yaml:2: router.queue_depth: expected a whole number, got '1.5'"));
}

TEST_F(NodeConfigTest, RejectsListForStringNamingKeyPathAndLine) {
  EXPECT_EQ(parseError(yaml({"node:", "  log_level: [info]"})),
            "/cfg/node.yaml:2: node.log_level: expected a string, got a list");
}

TEST_F(NodeConfigTest, RejectsMappingForListNamingKeyPathAndLine) {
  const std::string err =
      parseError(yaml({"models:", "  - name: a", "    gguf: a.gguf", "    extra_args: {temp: 1}"}));
  EXPECT_EQ(err, "/cfg/node.yaml:4: models[0].extra_args: expected a list, got a mapping");
}

TEST_F(NodeConfigTest, RejectsNonStringListItemWithIndex) {
  EXPECT_TRUE(Contains(parseError(yaml({"router:", "  api_keys:", "    - [nested]"})),
                       "/cfg/node.yaml:3: router.api_keys[0]: expected a string, got a list"));
}

TEST_F(NodeConfigTest, RejectsNonBooleanForFlag) {
  EXPECT_EQ(parseError(yaml({"router:", "  enabled: maybe"})),
            "/cfg/node.yaml:2: router.enabled: expected true or false, got 'maybe'");
}

TEST_F(NodeConfigTest, RejectsNonNumberAndNanForFraction) {
  EXPECT_EQ(parseError(yaml({"supervisor:", "  restart:", "    jitter: lots"})),
            "/cfg/node.yaml:3: supervisor.restart.jitter: expected a number, got 'lots'");
  // strtod accepts "nan"; a NaN jitter would poison every backoff, so it must not pass the range check.
  EXPECT_TRUE(Contains(parseError(yaml({"supervisor:", "  restart:", "    jitter: nan"})),
                       "/cfg/node.yaml:3: supervisor.restart.jitter: nan is out of range (0 to 1)"));
}

TEST_F(NodeConfigTest, RejectsOutOfRangeValuesWithTheBadValueAndLimits) {
  const std::string err = parseError(yaml({
      "models:",
      "  - name: a",
      "    gguf: a.gguf",
      "    parallel: 0",
      "    port: 70000",
      "supervisor:",
      "  restart:",
      "    jitter: 1.5",
  }));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:4: models[0].parallel: 0 is out of range (1 to 256)"));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:5: models[0].port: 70000 is out of range (0 to 65535)"));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:8: supervisor.restart.jitter: 1.5 is out of range (0 to 1)"));
}

TEST_F(NodeConfigTest, RejectsInvalidHostPortWithTheBadValue) {
  EXPECT_EQ(parseError(yaml({"router:", "  listen: 127.0.0.1:70000"})),
            "/cfg/node.yaml:2: router.listen: '127.0.0.1:70000' has no valid port (0 to 65535)");
  EXPECT_TRUE(Contains(parseError(yaml({"mesh:", "  seeds: [10.0.0.1:7946, nohost]"})),
                       "/cfg/node.yaml:2: mesh.seeds: 'nohost' is not HOST:PORT"));
}

// ---------------------------------------------------------------- durations

TEST_F(NodeConfigTest, AcceptsDurationWithUnit) {
  EXPECT_EQ(parseOk(yaml({"supervisor:", "  stop_grace: 2s"})).supervisor.stop_grace, seconds(2));
}

// Issue 12: node.drain_timeout, 20 s unless set; a value that is no duration names the key.
TEST_F(NodeConfigTest, DrainTimeoutDefaultsTo20sAndIsADuration) {
  EXPECT_EQ(parseOk(yaml({"node:", "  name: n"})).node.drain_timeout, seconds(20));
  EXPECT_EQ(parseOk(yaml({"node:", "  drain_timeout: 0s"})).node.drain_timeout, seconds(0));
  EXPECT_EQ(parseOk(yaml({"node:", "  drain_timeout: 2m"})).node.drain_timeout, minutes(2));
  EXPECT_TRUE(Contains(parseError(yaml({"node:", "  drain_timeout: soon"})), "/cfg/node.yaml:2: node.drain_timeout:"));
}

TEST_F(NodeConfigTest, RejectsDurationWithoutUnitNegativeOrUnknownUnit) {
  for (const char* bad : {"2", "-1s", "1x"}) {
    const std::string err = parseError("supervisor:\n  stop_grace: " + std::string(bad) + "\n");
    EXPECT_EQ(err, "/cfg/node.yaml:2: supervisor.stop_grace: expected a duration such as 250ms, 2s, 5m or 1h, got '" +
                       std::string(bad) + "'");
  }
}

TEST_F(NodeConfigTest, RejectsDurationOutsideItsRangeNamingTheLimits) {
  EXPECT_EQ(parseError(yaml({"supervisor:", "  health:", "    interval: 10ms"})),
            "/cfg/node.yaml:3: supervisor.health.interval: 10ms is out of range (50ms to 1h)");
}

TEST(DurationTest, ParsesEachUnitAndRejectsEverythingElse) {
  struct Case { const char* text; std::optional<long long> ms; };
  const Case cases[] = {
      {"0ms", 0}, {"250ms", 250}, {"2s", 2000}, {"5m", 300000}, {"1h", 3600000}, {"0s", 0},
      {"2", std::nullopt}, {"-1s", std::nullopt}, {"1x", std::nullopt}, {"", std::nullopt},
      {"s", std::nullopt}, {"1.5s", std::nullopt}, {" 2s", std::nullopt}, {"2 s", std::nullopt},
      {"2S", std::nullopt}, {"1d", std::nullopt}, {"+2s", std::nullopt},
      // value * unit does not fit in int64 milliseconds: rejected, not wrapped around
      {"9223372036854775807h", std::nullopt}, {"2562047788015216h", std::nullopt},
      {"99999999999999999999ms", std::nullopt},
  };
  for (const auto& c : cases) {
    const auto d = parseDuration(c.text);
    if (c.ms) {
      ASSERT_TRUE(d.has_value()) << c.text;
      EXPECT_EQ(d->count(), *c.ms) << c.text;
    } else {
      EXPECT_FALSE(d.has_value()) << c.text << " parsed as " << (d ? d->count() : 0) << "ms";
    }
  }
}

TEST(DurationTest, FormatsWithTheLargestExactUnit) {
  struct Case { long long ms; const char* text; };
  const Case cases[] = {{0, "0ms"}, {1, "1ms"}, {250, "250ms"}, {1000, "1s"}, {1500, "1500ms"},
                        {90000, "90s"}, {60000, "1m"}, {3600000, "1h"}, {7200000, "2h"},
                        {5400000, "90m"}};
  for (const auto& c : cases) EXPECT_EQ(formatDuration(Millis(c.ms)), c.text) << c.ms;
  for (const char* t : {"250ms", "2s", "5m", "1h"}) EXPECT_EQ(formatDuration(*parseDuration(t)), t);
}

// ---------------------------------------------------------------- models

TEST_F(NodeConfigTest, RejectsModelWithoutName) {
  EXPECT_EQ(parseError(yaml({"models:", "  - gguf: a.gguf"})),
            "/cfg/node.yaml:2: models[0]: missing 'name' (the model name clients send)");
}

TEST_F(NodeConfigTest, RejectsModelWithoutGguf) {
  EXPECT_EQ(parseError(yaml({"models:", "  - name: a", "  - name: b", "    gguf: b.gguf"})),
            "/cfg/node.yaml:2: models[0]: missing 'gguf' (path to the model file, a URL, or builtin:demo)");
}

TEST_F(NodeConfigTest, RejectsEmptyModelEntry) {
  EXPECT_TRUE(Contains(parseError(yaml({"models:", "  -", "  - name: b", "    gguf: b.gguf"})),
                       "models[0]: empty model entry: give it at least name and gguf"));
}

TEST_F(NodeConfigTest, RejectsInvalidModelAndNodeNames) {
  EXPECT_TRUE(Contains(parseError(yaml({"models:", "  - name: bad name!", "    gguf: a.gguf"})),
                       "/cfg/node.yaml:2: models[0].name: 'bad name!' is not a valid model name"));
  EXPECT_TRUE(Contains(parseError(yaml({"node:", "  name: -leading-dash"})),
                       "/cfg/node.yaml:2: node.name: '-leading-dash' is not a valid name"));
}

TEST_F(NodeConfigTest, RejectsDuplicateModelNamesAtTheSecondUse) {
  EXPECT_EQ(parseError(yaml({
                "models:",
                "  - name: a",
                "    gguf: a.gguf",
                "  - name: a",
                "    gguf: b.gguf",
            })),
            "/cfg/node.yaml:4: models[1].name: model name 'a' is used twice");
}

TEST_F(NodeConfigTest, RejectsManagedFlagsInExtraArgs) {
  const std::string err = parseError(yaml({
      "models:",
      "  - name: a",
      "    gguf: a.gguf",
      "    extra_args: [--port, '9000']",
      "  - name: b",
      "    gguf: b.gguf",
      "    extra_args: [--temp=0.5, -m=/other.gguf]",
  }));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:4: models[0].extra_args: '--port' is set by qmesh"));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:7: models[1].extra_args: '-m' is set by qmesh"));
  EXPECT_TRUE(Contains(err, "use those instead"));
}

// ---------------------------------------------------------------- ports and addresses

TEST_F(NodeConfigTest, RejectsSameFixedPortOnTwoModels) {
  EXPECT_EQ(parseError(yaml({
                "models:",
                "  - {name: a, gguf: a.gguf, port: 9000}",
                "  - name: b",
                "    gguf: b.gguf",
                "    port: 9000",
            })),
            "/cfg/node.yaml:5: models[1].port: port 9000 is already used by another model, the router "
            "or the control API");
}

TEST_F(NodeConfigTest, RejectsModelPortEqualToRouterOrControlPort) {
  EXPECT_TRUE(Contains(parseError(yaml({"models:", "  - {name: a, gguf: a.gguf, port: 8080}"})),
                       "/cfg/node.yaml:2: models[0].port: port 8080 is already used"));
  EXPECT_TRUE(Contains(parseError(yaml({"models:", "  - {name: a, gguf: a.gguf, port: 7070}"})),
                       "/cfg/node.yaml:2: models[0].port: port 7070 is already used"));
}

TEST_F(NodeConfigTest, DisabledRouterDoesNotReserveItsPort) {
  const NodeConfig c = parseOk(yaml({"router: {enabled: false}", "models:", "  - {name: a, gguf: a.gguf, port: 8080}"}));
  EXPECT_EQ(c.models[0].port, 8080);
}

TEST_F(NodeConfigTest, RejectsRouterOnTheControlPort) {
  EXPECT_EQ(parseError(yaml({"node:", "  control: 127.0.0.1:9999", "router:", "  listen: 0.0.0.0:9999"})),
            "/cfg/node.yaml:4: router.listen: uses the same port as node.control (9999)");
  // The router's default port counts too, even when no router section is written.
  EXPECT_EQ(parseError(yaml({"node:", "  control: 127.0.0.1:8080"})),
            "/cfg/node.yaml: router.listen: uses the same port as node.control (8080)");
}

TEST_F(NodeConfigTest, ReportsRouterOfWrongTypeInsteadOfThrowing) {
  // crossCheck used to index "listen" into the scalar and throw YAML::BadSubscript.
  const std::string err = parseError(yaml({"node:", "  control: 127.0.0.1:8080", "router: on"}));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:3: router: expected a mapping of keys, got 'on'"));
}

TEST_F(NodeConfigTest, RejectsControlOnNonLoopbackHost) {
  EXPECT_EQ(parseError(yaml({"node:", "  control: 0.0.0.0:7070"})),
            "/cfg/node.yaml:2: node.control: the control API must listen on a loopback address "
            "(127.0.0.1 or ::1), got 0.0.0.0");
  EXPECT_TRUE(Contains(parseError(yaml({"node:", "  control: 192.168.1.5:7070"})), "got 192.168.1.5"));
}

TEST_F(NodeConfigTest, AcceptsControlOnLoopbackForms) {
  EXPECT_EQ(parseOk(yaml({"node:", "  control: localhost:7071"})).node.control.str(), "127.0.0.1:7071");
  EXPECT_EQ(parseOk(yaml({"node:", "  control: ':7072'"})).node.control.str(), "127.0.0.1:7072");
  EXPECT_EQ(parseOk(yaml({"node:", "  control: '[::1]:7073'"})).node.control.str(), "[::1]:7073");
  EXPECT_EQ(parseOk(yaml({"node:", "  control: 127.0.0.2:7074"})).node.control.str(), "127.0.0.2:7074");
}

// ---------------------------------------------------------------- node and supervisor rules

TEST_F(NodeConfigTest, RejectsUnknownLogLevel) {
  EXPECT_EQ(parseError(yaml({"node:", "  log_level: verbose"})),
            "/cfg/node.yaml:2: node.log_level: 'verbose' is not one of trace, debug, info, warn, error");
}

TEST_F(NodeConfigTest, RejectsUnknownLogFormat) {
  EXPECT_EQ(parseError(yaml({"node:", "  log_format: xml"})),
            "/cfg/node.yaml:2: node.log_format: 'xml' is not text or json");
}

TEST_F(NodeConfigTest, RejectsBackoffMaxBelowBackoffInitial) {
  EXPECT_EQ(parseError(yaml({"supervisor:", "  restart:", "    backoff_initial: 10s", "    backoff_max: 1s"})),
            "/cfg/node.yaml:4: supervisor.restart.backoff_max: must not be smaller than backoff_initial (10s)");
  // The default backoff_max (30s) is checked against a raised initial too.
  EXPECT_TRUE(Contains(parseError(yaml({"supervisor:", "  restart:", "    backoff_initial: 1m"})),
                       "supervisor.restart.backoff_max: must not be smaller than backoff_initial (1m)"));
}

TEST_F(NodeConfigTest, RejectsShortApiKeys) {
  EXPECT_EQ(parseError(yaml({"router:", "  api_keys: [long-enough, short]"})),
            "/cfg/node.yaml:2: router.api_keys: every key needs at least 8 characters");
}

TEST_F(NodeConfigTest, ReportsEveryErrorInOneMessageOnePerLine) {
  const std::string err = parseError(yaml({
      "node:",
      "  log_level: loud",
      "  colour: red",
      "models:",
      "  - name: a",
      "    gguf: a.gguf",
      "    parallel: 0",
      "router:",
      "  enabled: perhaps",
  }));
  std::vector<std::string> lines;
  std::istringstream in(err);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 4u) << err;
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:3: node: unknown key 'colour'"));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:2: node.log_level: 'loud'"));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:7: models[0].parallel: 0 is out of range"));
  EXPECT_TRUE(Contains(err, "/cfg/node.yaml:9: router.enabled: expected true or false, got 'perhaps'"));
  for (const auto& l : lines) EXPECT_EQ(l.rfind("/cfg/node.yaml:", 0), 0u) << l;
}

// ---------------------------------------------------------------- parseHostPort

TEST(HostPortTest, ParsesHostPortForms) {
  struct Case { const char* text; const char* host; uint16_t port; };
  const Case cases[] = {
      {"127.0.0.1:80", "127.0.0.1", 80}, {":80", "127.0.0.1", 80},   {"[::1]:8080", "::1", 8080},
      {"localhost:1", "127.0.0.1", 1},   {"0.0.0.0:0", "0.0.0.0", 0}, {"10.1.2.3:65535", "10.1.2.3", 65535},
      {"example.com:443", "example.com", 443},
  };
  for (const auto& c : cases) {
    auto hp = parseHostPort(c.text);
    ASSERT_TRUE(hp) << c.text << ": " << hp.error().message;
    EXPECT_EQ(hp->host, c.host) << c.text;
    EXPECT_EQ(hp->port, c.port) << c.text;
  }
}

TEST(HostPortTest, RejectsMalformedOrOutOfRangeWithTheText) {
  struct Case { const char* text; const char* message; };
  const Case cases[] = {
      {"nohost", "'nohost' is not HOST:PORT"},
      {"", "'' is not HOST:PORT"},
      {"1.2.3.4:99999", "'1.2.3.4:99999' has no valid port (0 to 65535)"},
      {"1.2.3.4:", "'1.2.3.4:' has no valid port"},
      {"1.2.3.4:http", "'1.2.3.4:http' has no valid port"},
      {"1.2.3.4:-1", "'1.2.3.4:-1' has no valid port"},
      {"1.2.3.4:99999999999999999999", "has no valid port"},
      {"[::1]", "'[::1]' is not HOST:PORT (IPv6 is written [::1]:8080)"},
      {"[::1:80", "is not HOST:PORT (IPv6"},
      {"[::1]80", "is not HOST:PORT (IPv6"},
  };
  for (const auto& c : cases) {
    auto hp = parseHostPort(c.text);
    ASSERT_FALSE(hp) << c.text << " parsed as " << hp->str();
    EXPECT_TRUE(Contains(hp.error().message, c.message)) << c.text;
  }
}

TEST(HostPortTest, FormatsIpv6InBrackets) {
  EXPECT_EQ((HostPort{"::1", 80}).str(), "[::1]:80");
  EXPECT_EQ((HostPort{"10.0.0.1", 7946}).str(), "10.0.0.1:7946");
}

TEST(HostPortTest, RecognisesLoopbackHosts) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) EXPECT_TRUE(isLoopbackHost(h)) << h;
  for (const char* h : {"0.0.0.0", "10.0.0.1", "::", "192.168.0.127", ""}) EXPECT_FALSE(isLoopbackHost(h)) << h;
}

// ---------------------------------------------------------------- loadNodeConfig

TEST_F(NodeConfigTest, LoadReportsMissingFile) {
  test::TempDir dir;
  auto r = loadNodeConfig(dir / "absent.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, (dir / "absent.yaml").string() + ": config file not found");
}

TEST_F(NodeConfigTest, LoadReportsDirectory) {
  test::TempDir dir;
  auto r = loadNodeConfig(dir.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, dir.path().string() + ": is a directory, expected a YAML file");
}

TEST_F(NodeConfigTest, LoadNamesTheRealFileInErrors) {
  test::TempDir dir;
  const fs::path file = dir.write("node.yaml", yaml({"node:", "  log_format: xml"}));
  auto r = loadNodeConfig(file);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, file.string() + ":2: node.log_format: 'xml' is not text or json");
}

// ---------------------------------------------------------------- issue 12

TEST_F(NodeConfigTest, ReplicasAndContinuationKeysHaveDefaultsAndParse) {
  const NodeConfig d = parseOk(kMinimal);
  EXPECT_EQ(d.models[0].replicas, 1);
  EXPECT_EQ(d.router.stall_timeout, std::chrono::seconds(30));
  EXPECT_EQ(d.router.max_continuations, 2);
  const NodeConfig c = parseOk(kMinimal + yaml({"    replicas: 3", "router:", "  stall_timeout: 2s", "  max_continuations: 0"}));
  EXPECT_EQ(c.models[0].replicas, 3);
  EXPECT_EQ(c.router.stall_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c.router.max_continuations, 0);
  EXPECT_EQ(replicaName("demo", 0), "demo");
  EXPECT_EQ(replicaName("demo", 2), "demo#3");
}

TEST_F(NodeConfigTest, PrefixAffinityIsOnByDefaultAndTakesOnlyABoolean) {
  EXPECT_TRUE(parseOk(kMinimal).router.prefix_affinity);
  EXPECT_FALSE(parseOk(kMinimal + yaml({"router:", "  prefix_affinity: false"})).router.prefix_affinity);
  EXPECT_TRUE(Contains(parseError(kMinimal + yaml({"router:", "  prefix_affinity: sometimes"})),
                       "router.prefix_affinity: expected true or false, got 'sometimes'"));
}

TEST_F(NodeConfigTest, RejectsReplicasWithAFixedPort) {
  const std::string err = parseError(kMinimal + yaml({"    replicas: 2", "    port: 9000"}));
  EXPECT_TRUE(Contains(err, "models[0].port: must be 0 (a free port for each) when replicas is 2"));
}

TEST_F(NodeConfigTest, RejectsReplicasOutOfRange) {
  EXPECT_TRUE(Contains(parseError(kMinimal + yaml({"    replicas: 0"})), "models[0].replicas"));
}

}  // namespace

TEST_F(NodeConfigTest, AdminKeysAreReadApartFromApiKeys) {
  const NodeConfig c = parseOk(yaml({"router:", "  api_keys: [client-key-1]", "  admin_keys: [admin-key-1]"}));
  EXPECT_EQ(c.router.api_keys, (std::vector<std::string>{"client-key-1"}));
  EXPECT_EQ(c.router.admin_keys, (std::vector<std::string>{"admin-key-1"}));
  EXPECT_TRUE(parseOk(kMinimal).router.admin_keys.empty());
}

TEST_F(NodeConfigTest, RejectsAShortAdminKeyAndOneThatIsAlsoAnApiKey) {
  EXPECT_TRUE(Contains(parseError(yaml({"router:", "  admin_keys: [short]"})),
                       "router.admin_keys: every key needs at least 8 characters"));
  EXPECT_TRUE(Contains(parseError(yaml({"router:", "  api_keys: [same-key-1]", "  admin_keys: [same-key-1]"})),
                       "router.admin_keys: a key is both an admin key and an API key"));
}

}  // namespace qmesh
