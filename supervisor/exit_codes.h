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
// Downloading a model (models[].gguf a URL; `pull`, and `start` before it spawns):
constexpr int kDownloadHttp = 8;        // the server answered with an error (404, 403, 5xx)
constexpr int kDownloadConnection = 9;  // DNS, refused, TLS, or the transfer was cut (resumable)
constexpr int kDownloadStalled = 10;    // the server sent nothing for 30 s (resumable)
constexpr int kDownloadDigest = 11;     // the file is not the pinned sha256 (deleted)
constexpr int kNoSpace = 12;            // not enough free disk space for the model

}  // namespace qmesh::exit_code
