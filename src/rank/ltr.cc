// LambdaMART through XGBoost's C API (libxgboost-dev): rank:ndcg with
// early stopping on a validation period, the best round kept.
#include <xgboost/c_api.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <cstdlib>
#include <fmt/format.h>
#include <mutex>
#include <string>

#include "rank/rank.h"

namespace souk::rank {

namespace {

Status XgbError(const std::string& what) { return Status::Internal(fmt::format("xgboost {}: {}", what, XGBGetLastError())); }

#define XGB_CHECK(call, what)                     \
  do {                                            \
    if ((call) != 0) return XgbError(what);       \
  } while (0)

struct Matrix {
  DMatrixHandle h = nullptr;
  ~Matrix() {
    if (h) XGDMatrixFree(h);
  }
};

Status MakeMatrix(const RankingData& d, const std::vector<std::string>& names, Matrix* m) {
  XGB_CHECK(XGDMatrixCreateFromMat(d.x.data(), d.rows(), d.num_features, std::numeric_limits<float>::quiet_NaN(), &m->h),
            "matrix");
  XGB_CHECK(XGDMatrixSetFloatInfo(m->h, "label", d.label.data(), d.label.size()), "labels");
  XGB_CHECK(XGDMatrixSetUIntInfo(m->h, "group", d.group_sizes.data(), d.group_sizes.size()), "groups");
  if (!d.group_weight.empty())
    XGB_CHECK(XGDMatrixSetFloatInfo(m->h, "weight", d.group_weight.data(), d.group_weight.size()), "weights");
  std::vector<const char*> c;
  for (const auto& n : names) c.push_back(n.c_str());
  XGB_CHECK(XGDMatrixSetStrFeatureInfo(m->h, "feature_name", c.data(), c.size()), "feature names");
  return Status::Ok();
}

// "[3]\ttrain-ndcg@10:0.81\tvalid-ndcg@10:0.74" -> the value after `name-ndcg@10:`.
double Metric(const char* line, const std::string& name) {
  const std::string key = name + "-ndcg@10:";
  const char* p = std::strstr(line, key.c_str());
  return p ? std::atof(p + key.size()) : 0.0;
}

}  // namespace

struct Ranker::Rep {
  BoosterHandle booster = nullptr;
  size_t features = 0;
  mutable std::mutex mu;
  ~Rep() {
    if (booster) XGBoosterFree(booster);
  }
};

Ranker::Ranker(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Ranker::~Ranker() = default;
size_t Ranker::num_features() const { return rep_->features; }

Result<std::unique_ptr<Ranker>> Ranker::Train(const RankingData& train, const RankingData& valid,
                                              const std::vector<std::string>& names, const LtrOptions& o,
                                              LtrReport* report) {
  if (train.rows() == 0 || train.group_sizes.empty()) return Status::InvalidArgument("no training queries");
  if (train.num_features != names.size() || (valid.rows() && valid.num_features != names.size()))
    return Status::InvalidArgument("feature count does not match the names");
  Matrix dtrain, dvalid;
  SOUK_RETURN_IF_ERROR(MakeMatrix(train, names, &dtrain));
  const bool has_valid = valid.rows() > 0 && !valid.group_sizes.empty();
  if (has_valid) SOUK_RETURN_IF_ERROR(MakeMatrix(valid, names, &dvalid));
  DMatrixHandle cache[2] = {dtrain.h, dvalid.h};
  BoosterHandle b = nullptr;
  XGB_CHECK(XGBoosterCreate(cache, has_valid ? 2 : 1, &b), "booster");
  auto rep = std::make_unique<Rep>();
  rep->booster = b;
  rep->features = names.size();
  const std::pair<const char*, std::string> params[] = {
      {"objective", "rank:ndcg"},
      {"eval_metric", "ndcg@10"},
      {"eta", fmt::format("{}", o.eta)},
      {"max_depth", std::to_string(o.max_depth)},
      {"min_child_weight", fmt::format("{}", o.min_child_weight)},
      {"subsample", fmt::format("{}", o.subsample)},
      {"tree_method", "hist"},
      {"nthread", std::to_string(o.threads)},
      {"seed", std::to_string(o.seed)},
      {"verbosity", "0"},
  };
  for (const auto& [k, v] : params) XGB_CHECK(XGBoosterSetParam(b, k, v.c_str()), "parameters");
  std::vector<const char*> cnames;
  for (const auto& nm : names) cnames.push_back(nm.c_str());
  XGB_CHECK(XGBoosterSetStrFeatureInfo(b, "feature_name", cnames.data(), cnames.size()), "feature names");
  DMatrixHandle evals[2] = {dtrain.h, dvalid.h};
  const char* evnames[2] = {"train", "valid"};
  int best = 0;
  double best_valid = -1, best_train = 0;
  for (int it = 0; it < o.rounds; ++it) {
    XGB_CHECK(XGBoosterUpdateOneIter(b, it, dtrain.h), "update");
    const char* line = nullptr;
    XGB_CHECK(XGBoosterEvalOneIter(b, it, evals, evnames, has_valid ? 2 : 1, &line), "eval");
    const double tr = Metric(line, "train");
    const double va = has_valid ? Metric(line, "valid") : tr;
    if (va > best_valid) best_valid = va, best_train = tr, best = it + 1;
    if (it + 1 - best >= o.early_stop) break;
  }
  int rounds = 0;
  XGB_CHECK(XGBoosterBoostedRounds(b, &rounds), "rounds");
  if (best < rounds) {
    BoosterHandle sliced = nullptr;
    XGB_CHECK(XGBoosterSlice(b, 0, best, 1, &sliced), "slice");
    XGBoosterFree(b);
    rep->booster = sliced;
    XGB_CHECK(XGBoosterSetStrFeatureInfo(sliced, "feature_name", cnames.data(), cnames.size()), "feature names");
  }
  XGB_CHECK(XGBoosterSetParam(rep->booster, "nthread", "1"), "threads");  // scoring from here on
  if (report) {
    report->rounds = best;
    report->train_ndcg10 = best_train;
    report->valid_ndcg10 = best_valid;
    report->importance.clear();
    bst_ulong n = 0, dim = 0;
    const char** fnames = nullptr;
    const bst_ulong* shape = nullptr;
    const float* scores = nullptr;
    if (XGBoosterFeatureScore(rep->booster, R"({"importance_type":"total_gain"})", &n, &fnames, &dim, &shape,
                              &scores) == 0) {
      double total = 0;
      for (bst_ulong i = 0; i < n; ++i) total += scores[i];
      for (bst_ulong i = 0; i < n; ++i) report->importance.emplace_back(fnames[i], total > 0 ? scores[i] / total : 0);
      std::sort(report->importance.begin(), report->importance.end(),
                [](const auto& a, const auto& c) { return a.second > c.second; });
    }
  }
  return std::unique_ptr<Ranker>(new Ranker(std::move(rep)));
}

Status Ranker::Save(const std::string& path) const {
  std::lock_guard lock(rep_->mu);
  XGB_CHECK(XGBoosterSaveModel(rep_->booster, path.c_str()), "save " + path);
  return Status::Ok();
}

namespace {

// The feature names a loaded booster was trained on must be ours.
Status CheckNames(BoosterHandle b, const std::string& where, const std::vector<std::string>& names) {
  bst_ulong n = 0;
  const char** got = nullptr;
  XGB_CHECK(XGBoosterGetStrFeatureInfo(b, "feature_name", &n, &got), "feature names");
  bool same = n == names.size();
  for (bst_ulong i = 0; same && i < n; ++i) same = names[i] == got[i];
  if (!same)
    return Status::FailedPrecondition(
        fmt::format("{}: trained on other features ({} of them, {} now); retrain it", where, n, names.size()));
  // Scoring a page of candidates on one thread: OpenMP's team start-up
  // costs more than the trees for tens of rows.
  XGB_CHECK(XGBoosterSetParam(b, "nthread", "1"), "threads");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Ranker>> Ranker::Load(const std::string& path, const std::vector<std::string>& names) {
  if (FILE* f = std::fopen(path.c_str(), "rb"))
    std::fclose(f);
  else
    return Status::NotFound("no ranker model at " + path);
  auto rep = std::make_unique<Rep>();
  XGB_CHECK(XGBoosterCreate(nullptr, 0, &rep->booster), "booster");
  if (XGBoosterLoadModel(rep->booster, path.c_str()) != 0)
    return Status::Corruption(fmt::format("{}: not an XGBoost model ({})", path, XGBGetLastError()));
  SOUK_RETURN_IF_ERROR(CheckNames(rep->booster, path, names));
  rep->features = names.size();
  return std::unique_ptr<Ranker>(new Ranker(std::move(rep)));
}

Result<std::string> Ranker::SaveToString() const {
  std::lock_guard lock(rep_->mu);
  bst_ulong len = 0;
  const char* buf = nullptr;
  XGB_CHECK(XGBoosterSaveModelToBuffer(rep_->booster, R"({"format":"json"})", &len, &buf), "save to buffer");
  return std::string(buf, len);
}

Result<std::unique_ptr<Ranker>> Ranker::LoadFromString(const std::string& bytes, const std::vector<std::string>& names) {
  auto rep = std::make_unique<Rep>();
  XGB_CHECK(XGBoosterCreate(nullptr, 0, &rep->booster), "booster");
  if (XGBoosterLoadModelFromBuffer(rep->booster, bytes.data(), bytes.size()) != 0)
    return Status::Corruption(fmt::format("ranker: not an XGBoost model ({})", XGBGetLastError()));
  SOUK_RETURN_IF_ERROR(CheckNames(rep->booster, "ranker", names));
  rep->features = names.size();
  return std::unique_ptr<Ranker>(new Ranker(std::move(rep)));
}

Result<std::vector<float>> Ranker::Score(const float* x, size_t rows) const {
  std::vector<float> out;
  if (rows == 0) return out;
  Matrix m;
  XGB_CHECK(XGDMatrixCreateFromMat(x, rows, rep_->features, std::numeric_limits<float>::quiet_NaN(), &m.h), "matrix");
  std::lock_guard lock(rep_->mu);
  bst_ulong len = 0;
  const float* res = nullptr;
  XGB_CHECK(XGBoosterPredict(rep_->booster, m.h, 0, 0, 0, &len, &res), "predict");
  if (len != rows) return Status::Internal("xgboost predict: unexpected output size");
  out.assign(res, res + len);
  return out;
}

}  // namespace souk::rank
