// Helpers shared by the tests: a private temporary directory per test and
// small file utilities. Tests never touch fixed paths.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace souk::testing {

// A fresh directory under the system temp dir, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "souk";
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("souk-test-" + name + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the built `souk` binary (SOUK_BINARY) with `args` (a shell command
// line), stdin closed; stdout and stderr go through files in `dir`.
struct CmdResult {
  int code;
  std::string out, err;
};

inline CmdResult RunSouk(const TempDir& dir, const std::string& args) {
  std::string out = dir / "stdout.txt", err = dir / "stderr.txt";
  std::string cmd = std::string(SOUK_BINARY) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  int status = std::system(cmd.c_str());
  return CmdResult{WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadText(out), ReadText(err)};
}

}  // namespace souk::testing
