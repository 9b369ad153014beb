// The HTTP front end of `souk serve` (module-internal): libevent's evhttp
// on a few event loops that share one listening socket. Each loop reads
// requests without blocking, runs the handler in place and writes the
// answer; a keep-alive connection costs no thread of its own, and a
// request no thread switch. Requests and answers are cpp-httplib's plain
// structs, so the route handlers do not know the transport.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace souk::server {

struct FrontOptions {
  std::string host = "127.0.0.1";
  int port = 7700;            // 0 = any free port
  int loops = 2;              // event loops (threads); each serves many connections
  size_t max_body = 8 << 20;  // larger bodies get 413 before any handler runs
  int timeout_s = 10;         // a connection idle, or a request unfinished, this long is closed
};

// Runs on a loop thread: fills `res` (status, headers, body) for `req`.
using FrontHandler = std::function<void(const httplib::Request& req, httplib::Response& res)>;

class Front {
 public:
  Front();
  ~Front();
  Front(const Front&) = delete;
  Front& operator=(const Front&) = delete;

  // Binds host:port (port 0 picks one; *bound says which).
  Status Bind(const FrontOptions& options, int* bound);
  // Serves until Stop: blocks. After Stop, stops accepting, lets answers
  // already computed reach their clients (up to a few seconds), returns.
  Status Run(FrontHandler handler);
  // Safe from any thread, also before Run.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace souk::server
