// Interactions, the model factory, spec parsing, top-k and model files.
#include "rec/rec.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <thread>
#include <unordered_map>

#include "rec/internal.h"

namespace souk::rec {

namespace {
constexpr char kMagic[8] = {'S', 'O', 'U', 'K', 'R', 'E', 'C', '1'};
constexpr int64_t kSessionGapMs = 30 * 60 * 1000;
}  // namespace

// ---- Interactions ------------------------------------------------------------

Interactions BuildInteractions(std::span<const Interaction> data, uint32_t num_users, uint32_t num_items) {
  Interactions m;
  m.num_users = num_users;
  m.num_items = num_items;
  const size_t n = data.size();

  // Sequences: stable sort of indices by (user, ts).
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (data[a].user != data[b].user) return data[a].user < data[b].user;
    return data[a].ts_ms < data[b].ts_ms;
  });
  m.seq_ptr.assign(num_users + 1, 0);
  m.seq_items.resize(n);
  m.seq_ts.resize(n);
  for (size_t k = 0; k < n; ++k) {
    const Interaction& x = data[order[k]];
    assert(x.user < num_users && x.item < num_items);
    m.seq_ptr[x.user + 1]++;
    m.seq_items[k] = x.item;
    m.seq_ts[k] = x.ts_ms;
    m.max_ts_ms = std::max(m.max_ts_ms, x.ts_ms);
  }
  for (uint32_t u = 0; u < num_users; ++u) m.seq_ptr[u + 1] += m.seq_ptr[u];

  // CSR by user: distinct items per user with summed weights.
  m.user_ptr.assign(num_users + 1, 0);
  {
    std::vector<std::pair<uint32_t, float>> row;
    for (uint32_t u = 0; u < num_users; ++u) {
      row.clear();
      for (uint64_t k = m.seq_ptr[u]; k < m.seq_ptr[u + 1]; ++k)
        row.emplace_back(data[order[k]].item, data[order[k]].weight);
      std::sort(row.begin(), row.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (size_t j = 0; j < row.size();) {
        size_t e = j;
        float w = 0;
        while (e < row.size() && row[e].first == row[j].first) w += row[e++].second;
        m.user_items.push_back(row[j].first);
        m.user_weights.push_back(w);
        j = e;
      }
      m.user_ptr[u + 1] = m.user_items.size();
    }
  }

  // CSC by item (counting sort keeps users ascending).
  m.item_ptr.assign(num_items + 1, 0);
  for (uint32_t i : m.user_items) m.item_ptr[i + 1]++;
  for (uint32_t i = 0; i < num_items; ++i) m.item_ptr[i + 1] += m.item_ptr[i];
  m.item_users.resize(m.user_items.size());
  m.item_weights.resize(m.user_items.size());
  {
    std::vector<uint64_t> next(m.item_ptr.begin(), m.item_ptr.end() - 1);
    for (uint32_t u = 0; u < num_users; ++u) {
      for (uint64_t k = m.user_ptr[u]; k < m.user_ptr[u + 1]; ++k) {
        const uint64_t pos = next[m.user_items[k]]++;
        m.item_users[pos] = u;
        m.item_weights[pos] = m.user_weights[k];
      }
    }
  }

  // Sessions: explicit keys, else cut a user's sequence at inactivity gaps.
  {
    std::unordered_map<uint64_t, uint32_t> key_to_session;  // (user<<32|key) -> session
    std::vector<std::vector<std::pair<int64_t, uint32_t>>> sessions;
    for (uint32_t u = 0; u < num_users; ++u) {
      int64_t last_ts = 0;
      uint32_t implicit = kNone;
      for (uint64_t k = m.seq_ptr[u]; k < m.seq_ptr[u + 1]; ++k) {
        const Interaction& x = data[order[k]];
        uint32_t s;
        if (x.session != 0) {
          // Session keys are global (a session id names one visit); keep the
          // user in the key anyway so two users never share a session.
          const uint64_t key = (uint64_t{u} << 32) | x.session;
          auto [it, fresh] = key_to_session.try_emplace(key, static_cast<uint32_t>(sessions.size()));
          if (fresh) sessions.emplace_back();
          s = it->second;
        } else {
          if (implicit == kNone || x.ts_ms - last_ts > kSessionGapMs) {
            implicit = static_cast<uint32_t>(sessions.size());
            sessions.emplace_back();
          }
          s = implicit;
          last_ts = x.ts_ms;
        }
        sessions[s].emplace_back(x.ts_ms, x.item);
      }
    }
    m.sess_ptr.assign(sessions.size() + 1, 0);
    m.sess_ts.resize(sessions.size());
    for (size_t s = 0; s < sessions.size(); ++s) {
      auto& v = sessions[s];
      std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [ts, item] : v) m.sess_items.push_back(item);
      m.sess_ts[s] = v.empty() ? 0 : v.back().first;
      m.sess_ptr[s + 1] = m.sess_items.size();
    }
  }
  return m;
}

// ---- Model defaults --------------------------------------------------------

Result<std::vector<ScoredItem>> Model::Similar(uint32_t, size_t) const {
  return Status::FailedPrecondition(Name() + " has no item-to-item similarity; use itemknn, ease, ials or bpr");
}

Status Model::EmbedQueries(std::span<const std::string>, std::vector<float>*) const {
  return Status::FailedPrecondition(Name() + " cannot embed search queries; train a twotower model");
}

void Model::ScoreBatch(std::span<const History* const> histories, std::span<float> scores) const {
  const size_t n = num_items();
  for (size_t r = 0; r < histories.size(); ++r) Score(*histories[r], scores.subspan(r * n, n));
}

// ---- factory -----------------------------------------------------------------

namespace {
std::vector<std::pair<std::string, ModelFactory>>& Registry() {
  static std::vector<std::pair<std::string, ModelFactory>> registry;
  return registry;
}
}  // namespace

ModelLoader& Loader() {
  static ModelLoader loader;
  return loader;
}

void SetModelLoader(ModelLoader loader) { Loader() = std::move(loader); }

void RegisterModelFactory(const std::string& name, ModelFactory factory) {
  for (auto& [n, f] : Registry()) {
    if (n == name) {
      f = std::move(factory);
      return;
    }
  }
  Registry().emplace_back(name, std::move(factory));
}

std::vector<std::string> ModelNames() {
  std::vector<std::string> names = {"pop", "trending", "itemknn", "sknn", "ease", "ials", "bpr"};
  for (const auto& [n, f] : Registry()) names.push_back(n);
  return names;
}

namespace {
bool Registered(const std::string& name) {
  return std::any_of(Registry().begin(), Registry().end(), [&](const auto& r) { return r.first == name; });
}
}  // namespace

Result<std::unique_ptr<Model>> MakeModel(std::string_view text) {
  SOUK_ASSIGN_OR_RETURN(Spec spec, Spec::Parse(text));
  const std::vector<std::string> builtin = {"pop",   "popularity", "trending", "itemknn", "sknn",
                                            "vsknn", "ials",       "als",      "bpr",     "ease"};
  if (std::find(builtin.begin(), builtin.end(), spec.name()) == builtin.end() && !Registered(spec.name()) && Loader()) {
    SOUK_RETURN_IF_ERROR(Loader()(spec.name()));
  }
  std::unique_ptr<Model> model;
  const std::string& name = spec.name();
  if (name == "pop" || name == "popularity") {
    model = NewPopularity(spec);
  } else if (name == "trending") {
    model = NewTrending(spec);
  } else if (name == "itemknn") {
    model = NewItemKnn(spec);
  } else if (name == "sknn" || name == "vsknn") {
    model = NewSessionKnn(spec);
  } else if (name == "ials" || name == "als") {
    model = NewIals(spec);
  } else if (name == "bpr") {
    model = NewBpr(spec);
  } else if (name == "ease") {
    model = NewEase(spec);
  } else if (auto it =
                 std::find_if(Registry().begin(), Registry().end(), [&](const auto& r) { return r.first == name; });
             it != Registry().end()) {
    model = it->second(spec);
  } else {
    std::string names;
    for (const std::string& n : ModelNames()) names += (names.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("unknown model '" + name + "' (models: " + names + ")");
  }
  SOUK_RETURN_IF_ERROR(spec.Finish());
  return model;
}

Status SaveModel(const Model& model, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError("cannot write " + tmp);
    out.write(kMagic, sizeof(kMagic));
    const std::string spec = model.Describe();
    WritePod<uint32_t>(out, static_cast<uint32_t>(spec.size()));
    out.write(spec.data(), static_cast<std::streamsize>(spec.size()));
    SOUK_RETURN_IF_ERROR(model.SaveState(out));
    out.flush();
    if (!out) return Status::IoError("cannot write " + tmp + " (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::IoError("cannot rename " + tmp + " to " + path);
  return Status::Ok();
}

Result<std::unique_ptr<Model>> LoadModel(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("no model file " + path + " (run `souk train`)");
  char magic[sizeof(kMagic)];
  uint32_t len = 0;
  if (!in.read(magic, sizeof(magic)) || !std::equal(magic, magic + sizeof(magic), kMagic) || !ReadPod(in, &len) ||
      len > 4096) {
    return Status::Corruption(path + " is not a souk model file");
  }
  std::string spec(len, '\0');
  if (!in.read(spec.data(), len)) return Status::Corruption(path + " is truncated");
  auto model = MakeModel(spec);
  if (!model.ok()) return Status::Corruption(path + ": " + model.status().message());
  Status s = (*model)->LoadState(in);
  if (!s.ok()) return Status::Corruption(path + ": " + s.message());
  return model;
}

// ---- ranking -----------------------------------------------------------------

std::vector<ScoredItem> TopK(std::span<const float> scores, size_t k) {
  auto better = [](const ScoredItem& a, const ScoredItem& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  };
  std::vector<ScoredItem> heap;  // min-heap by `better`: worst on top
  if (k == 0) return heap;
  heap.reserve(k + 1);
  for (size_t i = 0; i < scores.size(); ++i) {
    const float s = scores[i];
    if (!(s > kNegInf)) continue;  // -inf and NaN
    const ScoredItem x{static_cast<uint32_t>(i), s};
    if (heap.size() < k) {
      heap.push_back(x);
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (better(x, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = x;
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
  std::sort(heap.begin(), heap.end(), better);
  return heap;
}

std::vector<ScoredItem> Recommend(const Model& model, const History& history, const RecommendOptions& options,
                                  std::vector<float>* buffer) {
  std::vector<float> local;
  std::vector<float>& scores = buffer ? *buffer : local;
  scores.assign(model.num_items(), 0.0f);
  model.Score(history, scores);
  if (options.exclude_seen) {
    for (uint32_t i : history.items) {
      if (i < scores.size()) scores[i] = kNegInf;
    }
  }
  if (!options.filter) return TopK(scores, options.k);
  // Filter lazily: take more than k and refill until k pass or nothing is left.
  std::vector<ScoredItem> out;
  size_t want = options.k;
  while (true) {
    std::vector<ScoredItem> top = TopK(scores, want);
    out.clear();
    for (const ScoredItem& x : top) {
      if (options.filter(x.item)) out.push_back(x);
      if (out.size() == options.k) return out;
    }
    if (top.size() < want) return out;  // every candidate seen
    want *= 4;
  }
}

// ---- Spec ----------------------------------------------------------------------

Result<Spec> Spec::Parse(std::string_view text) {
  Spec spec;
  const size_t colon = text.find(':');
  spec.name_ = std::string(Trim(text.substr(0, colon)));
  if (spec.name_.empty()) return Status::InvalidArgument("empty model spec (expected e.g. 'ials:f=64')");
  if (colon != std::string_view::npos) {
    for (std::string_view piece : SplitTrimmed(text.substr(colon + 1), ',')) {
      const std::string part(piece);
      const size_t eq = part.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Status::InvalidArgument("model spec '" + std::string(text) + "': expected key=value, got '" + part +
                                       "'");
      }
      spec.kv_.emplace_back(std::string(Trim(std::string_view(part).substr(0, eq))),
                            std::string(Trim(std::string_view(part).substr(eq + 1))));
    }
  }
  spec.used_.assign(spec.kv_.size(), false);
  return spec;
}

std::string Spec::String(const std::string& key, const std::string& fallback) {
  for (size_t i = 0; i < kv_.size(); ++i) {
    if (kv_[i].first == key) {
      used_[i] = true;
      return kv_[i].second;
    }
  }
  return fallback;
}

double Spec::Double(const std::string& key, double fallback) {
  const std::string v = String(key, "");
  if (v.empty()) return fallback;
  double out = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || !std::isfinite(out)) {
    if (error_.ok()) error_ = Status::InvalidArgument(name_ + ": " + key + "=" + v + " is not a number");
    return fallback;
  }
  return out;
}

int64_t Spec::Int(const std::string& key, int64_t fallback) {
  const std::string v = String(key, "");
  if (v.empty()) return fallback;
  int64_t out = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    if (error_.ok()) error_ = Status::InvalidArgument(name_ + ": " + key + "=" + v + " is not an integer");
    return fallback;
  }
  return out;
}

Status Spec::Finish() const {
  if (!error_.ok()) return error_;
  for (size_t i = 0; i < kv_.size(); ++i) {
    if (!used_[i]) return Status::InvalidArgument(name_ + ": unknown parameter '" + kv_[i].first + "'");
  }
  return Status::Ok();
}

std::string FormatNumber(double value) {
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, value);
    const double back = std::strtod(buf, nullptr);
    // "1e+01" round-trips but reads badly: take more digits for plain form
    // (%g uses plain form once the precision covers the exponent).
    const bool plain = std::strchr(buf, 'e') == nullptr || std::fabs(value) >= 1e15 || std::fabs(value) < 1e-4;
    if (plain && (back == value || std::fabs(back - value) <= 1e-6 * std::fabs(value))) break;
  }
  return buf;
}

void ParallelFor(size_t n, int threads, const std::function<void(size_t, size_t)>& fn) {
  if (threads <= 1 || n < 2) {
    fn(0, n);
    return;
  }
  const size_t t = std::min<size_t>(static_cast<size_t>(threads), n);
  std::vector<std::thread> pool;
  pool.reserve(t);
  for (size_t j = 0; j < t; ++j) {
    const size_t b = n * j / t, e = n * (j + 1) / t;
    pool.emplace_back([&fn, b, e] { fn(b, e); });
  }
  for (auto& th : pool) th.join();
}

}  // namespace souk::rec
