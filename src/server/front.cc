// The HTTP front end: evhttp event loops on one shared listening socket.
#include "server/front.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace souk::server {

namespace {

const char* MethodName(evhttp_cmd_type t) {
  switch (t) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_TRACE:
      return "TRACE";
    case EVHTTP_REQ_CONNECT:
      return "CONNECT";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
  }
  return "?";
}

// How long a stop waits for computed answers to be written out.
constexpr auto kDrainCap = std::chrono::seconds(3);
constexpr timeval kDrainTick{0, 20 * 1000};

}  // namespace

struct Loop {
  event_base* base = nullptr;
  evhttp* http = nullptr;
  evhttp_bound_socket* bound = nullptr;
  event* drain = nullptr;
  const FrontHandler* handler = nullptr;
  const std::atomic<bool>* stopping = nullptr;
  int pending = 0;  // answers handed to evhttp and not yet written (loop thread only)
  std::chrono::steady_clock::time_point stop_at;
};

struct Front::Impl {
  FrontOptions options;
  int fd = -1;
  std::atomic<bool> stopping{false};
  std::mutex mu;  // guards loops between Run and Stop
  std::vector<std::unique_ptr<Loop>> loops;
  bool running = false;

  static void OnComplete(evhttp_request*, void* arg) { --static_cast<Loop*>(arg)->pending; }

  static void OnRequest(evhttp_request* ev, void* arg) {
    Loop* loop = static_cast<Loop*>(arg);
    httplib::Request req;
    httplib::Response res;
    req.method = MethodName(evhttp_request_get_command(ev));
    req.version = "HTTP/1.1";
    const char* uri = evhttp_request_get_uri(ev);
    const std::string_view u = uri ? uri : "/";
    const size_t q = u.find('?');
    const std::string raw_path(u.substr(0, q));
    size_t n = 0;
    if (char* decoded = evhttp_uridecode(raw_path.c_str(), 0, &n)) {
      req.path.assign(decoded, n);
      std::free(decoded);
    }
    if (q != std::string_view::npos) httplib::detail::parse_query_text(std::string(u.substr(q + 1)), req.params);
    const evkeyvalq* in = evhttp_request_get_input_headers(ev);
    for (const evkeyval* kv = in->tqh_first; kv != nullptr; kv = kv->next.tqe_next)
      req.headers.emplace(kv->key, kv->value);
    evbuffer* body = evhttp_request_get_input_buffer(ev);
    if (const size_t len = evbuffer_get_length(body); len > 0) {
      req.body.resize(len);
      evbuffer_copyout(body, req.body.data(), len);
    }
    if (evhttp_connection* conn = evhttp_request_get_connection(ev)) {
      char* addr = nullptr;
      ev_uint16_t port = 0;
      evhttp_connection_get_peer(conn, &addr, &port);
      if (addr) req.remote_addr = addr;
      req.remote_port = port;
    }
    try {
      (*loop->handler)(req, res);
    } catch (const std::exception& e) {
      res = httplib::Response();
      res.status = 500;
      res.set_content(R"({"error":"internal error","status":500})", "application/json");
    }
    evkeyvalq* out = evhttp_request_get_output_headers(ev);
    for (const auto& [k, v] : res.headers) {
      if (strcasecmp(k.c_str(), "Content-Length") == 0 || strcasecmp(k.c_str(), "Connection") == 0) continue;
      evhttp_add_header(out, k.c_str(), v.c_str());
    }
    // Stopping: answer, then close (the client reconnects elsewhere).
    if (loop->stopping->load()) evhttp_add_header(out, "Connection", "close");
    evbuffer_add(evhttp_request_get_output_buffer(ev), res.body.data(), res.body.size());
    ++loop->pending;
    evhttp_request_set_on_complete_cb(ev, &Impl::OnComplete, loop);
    evhttp_send_reply(ev, res.status, nullptr, nullptr);
  }

  // On the loop's thread: stop accepting, then drain.
  static void OnStop(evutil_socket_t, short, void* arg) {
    Loop* loop = static_cast<Loop*>(arg);
    if (loop->bound) evhttp_del_accept_socket(loop->http, loop->bound);  // closes this loop's fd
    loop->bound = nullptr;
    loop->stop_at = std::chrono::steady_clock::now();
    loop->drain = event_new(loop->base, -1, EV_PERSIST, &Impl::OnDrain, loop);
    event_add(loop->drain, &kDrainTick);
  }
  static void OnDrain(evutil_socket_t, short, void* arg) {
    Loop* loop = static_cast<Loop*>(arg);
    const auto waited = std::chrono::steady_clock::now() - loop->stop_at;
    if ((loop->pending <= 0 && waited >= std::chrono::milliseconds(50)) || waited >= kDrainCap)
      event_base_loopexit(loop->base, nullptr);
  }
};

Front::Front() : impl_(std::make_unique<Impl>()) {}

Front::~Front() {
  if (impl_->fd >= 0) ::close(impl_->fd);
}

Status Front::Bind(const FrontOptions& options, int* bound) {
  impl_->options = options;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(options.port);
  if (int rc = getaddrinfo(options.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return Status::IoError(fmt::format("cannot resolve {}: {}", options.host, gai_strerror(rc)));
  std::string error = "no address";
  int fd = -1;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) break;
    error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return Status::IoError(fmt::format("cannot bind {}:{} ({})", options.host, options.port, error));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                    : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  impl_->fd = fd;
  return Status::Ok();
}

Status Front::Run(FrontHandler handler) {
  if (impl_->fd < 0) return Status::FailedPrecondition("the server is not bound");
  static std::once_flag threads_once;
  std::call_once(threads_once, [] { evthread_use_pthreads(); });  // Stop wakes loops from other threads
  signal(SIGPIPE, SIG_IGN);  // a client gone mid-answer is an error return, not a signal
  const FrontOptions& o = impl_->options;
  {
    std::lock_guard lock(impl_->mu);
    for (int i = 0; i < std::max(1, o.loops); ++i) {
      auto loop = std::make_unique<Loop>();
      loop->base = event_base_new();
      loop->http = loop->base ? evhttp_new(loop->base) : nullptr;
      const int fd = ::fcntl(impl_->fd, F_DUPFD_CLOEXEC, 0);  // evhttp closes its own copy
      if (!loop->http || fd < 0) {
        if (fd >= 0) ::close(fd);
        if (loop->base) event_base_free(loop->base);
        for (auto& l : impl_->loops) evhttp_free(l->http), event_base_free(l->base);
        impl_->loops.clear();
        return Status::IoError("cannot start the event loops");
      }
      evhttp_set_max_body_size(loop->http, static_cast<ev_ssize_t>(o.max_body));
      evhttp_set_max_headers_size(loop->http, 64 << 10);
      evhttp_set_timeout(loop->http, o.timeout_s);
      evhttp_set_allowed_methods(loop->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                                 EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
      // A body over the limit is read and dropped after the 413, so the
      // client sees the answer instead of a reset connection.
      evhttp_set_flags(loop->http, EVHTTP_SERVER_LINGERING_CLOSE);
      loop->handler = &handler;
      loop->stopping = &impl_->stopping;
      evhttp_set_gencb(loop->http, &Impl::OnRequest, loop.get());
      loop->bound = evhttp_accept_socket_with_handle(loop->http, fd);
      impl_->loops.push_back(std::move(loop));
    }
    impl_->running = true;
    if (impl_->stopping)  // stopped before the loops existed
      for (auto& l : impl_->loops) event_base_once(l->base, -1, EV_TIMEOUT, &Impl::OnStop, l.get(), nullptr);
  }
  std::vector<std::thread> threads;
  for (size_t i = 1; i < impl_->loops.size(); ++i)
    threads.emplace_back([b = impl_->loops[i]->base] { event_base_dispatch(b); });
  event_base_dispatch(impl_->loops[0]->base);
  for (auto& t : threads) t.join();
  std::lock_guard lock(impl_->mu);
  for (auto& l : impl_->loops) {
    if (l->drain) event_free(l->drain);
    evhttp_free(l->http);  // closes what connections are left
    event_base_free(l->base);
  }
  impl_->loops.clear();
  impl_->running = false;
  ::close(impl_->fd);
  impl_->fd = -1;
  return Status::Ok();
}

void Front::Stop() {
  std::lock_guard lock(impl_->mu);
  if (impl_->stopping.exchange(true)) return;
  for (auto& l : impl_->loops) event_base_once(l->base, -1, EV_TIMEOUT, &Impl::OnStop, l.get(), nullptr);
}

}  // namespace souk::server
