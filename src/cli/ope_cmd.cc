// `souk ope`: off-policy evaluation of a target policy from a decision log
// (souk JSONL or Open Bandit Dataset CSV), or on a synthetic log whose true
// value is known (--synthetic N). Prints every estimator with its bootstrap
// interval, as a table or --json.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "bandit/bandit.h"
#include "cli/commands.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace souk::cli {
namespace {

json ReportJson(const bandit::OpeReport& rep, const bandit::OpeOptions& o) {
  json j;
  j["n"] = rep.n;
  json est = json::object(), ci = json::object();
  for (const auto& e : rep.estimates) {
    est[e.name] = e.value;
    if (o.bootstrap > 0) ci[e.name] = {e.lo, e.hi};
  }
  j["estimators"] = est;
  j["ci95"] = ci;
  j["logged_value"] = rep.logged_value;
  j["max_weight"] = rep.max_weight;
  j["ess"] = rep.ess;
  j["clipped"] = rep.clipped;
  j["switched"] = rep.switched;
  j["reward_model"] = rep.reward_model;
  j["clip"] = o.clip;
  j["tau"] = o.tau;
  j["bootstrap"] = o.bootstrap;
  j["confidence"] = o.confidence;
  j["refit"] = o.refit;
  j["seed"] = o.seed;
  return j;
}

void PrintTable(const bandit::OpeReport& rep, const bandit::OpeOptions& o, double truth) {
  const bool has_truth = !std::isnan(truth);
  std::string head = fmt::format("{:<10} {:>10}  ", "estimator", "value");
  if (o.bootstrap > 0) head += fmt::format("{:<24}", fmt::format("{:.0f}% interval", o.confidence * 100));
  if (has_truth) head += fmt::format(" {:>9}", "error");
  while (!head.empty() && head.back() == ' ') head.pop_back();
  std::printf("%s\n", head.c_str());
  for (const auto& e : rep.estimates) {
    std::string line = fmt::format("{:<10} {:>10.6f}  ", e.name, e.value);
    if (o.bootstrap > 0) line += fmt::format("{:<24}", fmt::format("[{:.6f}, {:.6f}]", e.lo, e.hi));
    if (has_truth) line += fmt::format(" {:+9.6f}", e.value - truth);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
  if (has_truth) std::printf("%-10s %10.6f\n", "truth", truth);
  std::printf("logged value %.6f, max weight %.4g, ESS %.1f of %zu, clipped %zu, switched to DM %zu\n",
              rep.logged_value, rep.max_weight, rep.ess, rep.n, rep.clipped, rep.switched);
  std::printf("reward model %s\n", rep.reward_model.c_str());
}

}  // namespace

CLI::App* AddOpeCommand(CLI::App& app, OpeArgs* a) {
  auto* cmd = app.add_subcommand("ope", "Off-policy evaluation: a target policy's value from a decision log");
  cmd->add_option("--log", a->log, "decision log: souk JSONL or Open Bandit Dataset CSV");
  cmd->add_option("--format", a->format, "souk or obd (default: obd for .csv, else souk)")
      ->check(CLI::IsMember({"souk", "obd"}));
  cmd->add_option("--policy", a->policy, "target policy: uniform, arm:N or file:PATH (JSONL, K probabilities a line)");
  cmd->add_option("--item-context", a->item_context,
                  "obd: item features CSV (default: item_context.csv beside the log, if there; 'none' = none)");
  cmd->add_option("--clip", a->options.clip, "clip importance weights at this (0 = no clipping)")
      ->capture_default_str();
  cmd->add_option("--tau", a->options.tau, "switch-DR: DR correction only where the weight <= tau")
      ->capture_default_str();
  cmd->add_option("--reward-model", a->options.reward_model,
                  "auto (logistic for rewards in [0,1], else ridge), ridge or logistic")
      ->check(CLI::IsMember({"auto", "ridge", "logistic"}))
      ->capture_default_str();
  cmd->add_option("--lambda", a->options.lambda, "reward model's L2 penalty")->capture_default_str();
  cmd->add_option("--features", a->options.features,
                  "reward model features: arm, cross (context x arm) or auto (cross when dim*arms <= 512)")
      ->check(CLI::IsMember({"auto", "arm", "cross"}))
      ->capture_default_str();
  cmd->add_option("--folds", a->options.folds, "cross-fitting folds for the reward model (1 = none)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--bootstrap", a->options.bootstrap, "bootstrap resamples for the intervals (0 = none)")
      ->capture_default_str();
  cmd->add_flag("--refit", a->options.refit,
                "bootstrap: refit the reward model on every resample (slower; DM intervals then include the "
                "model's uncertainty)");
  cmd->add_option("--seed", a->options.seed, "seed of the folds, the bootstrap and --synthetic")->capture_default_str();
  cmd->add_option("--synthetic", a->synthetic,
                  "evaluate on a synthetic logistic log of N rounds whose true value is known (no --log)");
  auto& so = a->synthetic_options;
  cmd->add_option("--synthetic-arms", so.arms, "--synthetic: arms")->capture_default_str();
  cmd->add_option("--synthetic-dim", so.dim, "--synthetic: context features (the first is a constant 1)")
      ->capture_default_str();
  cmd->add_option("--synthetic-scale", so.scale, "--synthetic: spread of the true scores")->capture_default_str();
  cmd->add_option("--synthetic-intercept", so.intercept, "--synthetic: mean intercept of the true scores")
      ->capture_default_str();
  cmd->add_option("--synthetic-noise", so.noise, "--synthetic: noise in the logging policy's scores")
      ->capture_default_str();
  cmd->add_option("--synthetic-epsilon", so.epsilon, "--synthetic: the target policy's epsilon")->capture_default_str();
  cmd->add_flag("--json", a->json, "machine-readable output");
  return cmd;
}

int OpeCommand(const OpeArgs& a) {
  bandit::OpeOptions o = a.options;
  if (a.synthetic > 0) {
    if (!a.log.empty()) return Fail(Status::InvalidArgument("ope: give --log or --synthetic, not both"));
    bandit::SyntheticOpeOptions so = a.synthetic_options;
    so.rounds = a.synthetic;
    so.seed = o.seed;
    auto syn = bandit::MakeSyntheticOpe(so);
    if (!syn.ok()) return Fail(syn.status());
    auto rep = bandit::EvaluateOpe(syn->log, syn->target, o);
    if (!rep.ok()) return Fail(rep.status());
    if (a.json) {
      json j = ReportJson(*rep, o);
      j["synthetic"] = {
          {"rounds", so.rounds},       {"arms", so.arms},   {"dim", so.dim},         {"scale", so.scale},
          {"intercept", so.intercept}, {"noise", so.noise}, {"epsilon", so.epsilon}, {"temperature", so.temperature}};
      j["true_value"] = syn->true_value;
      j["logging_true_value"] = syn->logging_value;
      json err = json::object();
      for (const auto& e : rep->estimates) err[e.name] = e.value - syn->true_value;
      j["errors"] = err;
      PrintJson(j);
    } else {
      std::printf(
          "synthetic log: %llu rounds, %u arms, %u features; logging softmax of noisy true scores, target "
          "epsilon-greedy (%.2f) on the true model; logging policy's true value %.6f\n",
          static_cast<unsigned long long>(so.rounds), so.arms, so.dim, so.epsilon, syn->logging_value);
      PrintTable(*rep, o, syn->true_value);
    }
    return 0;
  }
  if (a.log.empty()) return Fail(Status::InvalidArgument("ope: --log FILE (or --synthetic N) is required"));
  if (a.policy.empty()) return Fail(Status::InvalidArgument("ope: --policy is required (uniform, arm:N, file:PATH)"));
  std::string format = a.format;
  if (format.empty()) format = fs::path(a.log).extension() == ".csv" ? "obd" : "souk";
  std::string item_context;
  Result<bandit::OpeLog> log = Status::Internal("unread");
  if (format == "obd") {
    if (a.item_context == "none") {
    } else if (!a.item_context.empty()) {
      item_context = a.item_context;
    } else {
      const fs::path beside = fs::path(a.log).parent_path() / "item_context.csv";
      std::error_code ec;
      if (fs::exists(beside, ec)) item_context = beside.string();
    }
    log = bandit::ReadObdLog(a.log, item_context);
  } else {
    if (!a.item_context.empty()) return Fail(Status::InvalidArgument("ope: --item-context is for --format obd"));
    log = bandit::ReadSoukLog(a.log);
  }
  if (!log.ok()) return Fail(log.status());
  auto target = bandit::TargetPolicy(*log, a.policy);
  if (!target.ok()) return Fail(target.status());
  auto rep = bandit::EvaluateOpe(*log, *target, o);
  if (!rep.ok()) return Fail(rep.status().WithContext("ope"));
  if (a.json) {
    json j = ReportJson(*rep, o);
    j["log"] = a.log;
    j["format"] = format;
    j["policy"] = a.policy;
    j["arms"] = log->arms;
    j["positions"] = log->positions;
    j["features"] = log->dim;
    j["rows"] = log->rows;
    j["skipped"] = log->skipped;
    if (format == "obd") j["item_context"] = item_context;
    PrintJson(j);
  } else {
    std::printf("%s (%s): %zu rounds (%llu without a reward skipped), %u arms, %u positions, %u context features%s\n",
                a.log.c_str(), format.c_str(), rep->n, static_cast<unsigned long long>(log->skipped), log->arms,
                log->positions, log->dim, item_context.empty() ? "" : (", items from " + item_context).c_str());
    std::printf("target policy %s\n", a.policy.c_str());
    PrintTable(*rep, o, std::nan(""));
  }
  return 0;
}

}  // namespace souk::cli
