// qmesh-supervisor's exit codes. Documented in the README and in --help; scripts rely on them.
#pragma once

namespace qmesh::exit_code {

constexpr int kOk = 0;
constexpr int kRuntime = 1;         // unexpected failure at run time
constexpr int kConfig = 2;          // bad YAML, unknown key, wrong type or value, bad usage
constexpr int kModel = 3;           // a model file is missing, unreadable or not a valid GGUF
constexpr int kAddressInUse = 4;    // control address, router address or a fixed port is taken
constexpr int kNotRunning = 5;      // status/stop/restart: no supervisor answers
constexpr int kMissingBinary = 6;   // llama-server or qmesh-router not found / not executable
constexpr int kRefused = 7;         // stop/restart/keys: the supervisor refused the control token

}  // namespace qmesh::exit_code
