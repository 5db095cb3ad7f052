//===- Progress.cpp - A long task's progress on stderr --------------------===//
#include "birkhoff/Progress.h"
#include "birkhoff/Log.h"

#include <algorithm>
#include <cstdio>
#include <unistd.h>

namespace birkhoff {
namespace {

// -1: ask isatty; 0/1: forced (tests).
std::atomic<int> gTerminal{-1};

bool terminal() {
  int t = gTerminal.load();
  return t < 0 ? ::isatty(2) == 1 : t == 1;
}

constexpr double kTerminalEvery = 0.1;
std::atomic<double> gTerminalDelay{0.5}, gPlainEvery{10.0};

std::string amount(double v, Progress::Unit unit) {
  char buf[32];
  if (unit == Progress::Unit::Items) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  const char *units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

} // namespace

void Progress::setTerminal(bool t) { gTerminal.store(t ? 1 : 0); }

void Progress::setIntervals(double terminalDelay, double plainEvery) {
  gTerminalDelay.store(terminalDelay);
  gPlainEvery.store(plainEvery);
}

Progress::Progress(std::string what, uint64_t total, Unit unit)
    : what_(std::move(what)), total_(total), unit_(unit), start_(Clock::now()),
      lastShown_(start_) {}

Progress::~Progress() { finish(); }

void Progress::add(uint64_t n) {
  done_.fetch_add(n);
  if (!logs(LogLevel::Info))
    return;
  const auto now = Clock::now();
  const double since = std::chrono::duration<double>(now - start_).count();
  const bool term = terminal();
  if (since < (term ? gTerminalDelay.load() : gPlainEvery.load()))
    return;
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_)
    return; // another thread is showing it
  const double sinceShown =
      std::chrono::duration<double>(now - lastShown_).count();
  if (shown_ && sinceShown < (term ? kTerminalEvery : gPlainEvery.load()))
    return;
  lastShown_ = now;
  show(false);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_)
    return;
  finished_ = true;
  if (shown_ && logs(LogLevel::Info))
    show(true);
}

void Progress::show(bool last) {
  const double done = double(done_.load());
  const double secs =
      std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = secs > 0 ? done / secs : 0;
  const double frac = total_ ? std::min(1.0, done / double(total_)) : 0;
  const int percent = int(frac * 100 + 0.5);
  std::string of = amount(done, unit_);
  if (total_) {
    of += '/';
    of += amount(double(total_), unit_);
  }
  std::string rateText = amount(rate, unit_);
  rateText += "/s";
  int eta = -1;
  if (!last && total_ && rate > 0 && done < double(total_))
    eta = int((double(total_) - done) / rate + 0.5);
  if (terminal()) {
    std::string bar;
    if (total_) {
      constexpr int kWidth = 24;
      const int filled = int(frac * kWidth + 0.5);
      bar.append("  [");
      bar.append(size_t(filled), '#');
      bar.append(size_t(kWidth - filled), '.');
      bar.append("]  ");
      bar.append(std::to_string(percent));
      bar.push_back('%');
    }
    // \r and clear to the end of the line: the line is redrawn in place.
    std::fprintf(stderr, "\r%s%s  %s  %s", what_.c_str(), bar.c_str(),
                 of.c_str(), rateText.c_str());
    if (eta >= 0)
      std::fprintf(stderr, "  ETA %d s", eta);
    std::fprintf(stderr, "\x1b[K%s", last ? "\n" : "");
  } else if (last) {
    std::fprintf(stderr, "%s: done, %s in %.1f s (%s)\n", what_.c_str(),
                 of.c_str(), secs, rateText.c_str());
  } else {
    std::fprintf(stderr, "%s", what_.c_str());
    if (total_)
      std::fprintf(stderr, " %d%%", percent);
    std::fprintf(stderr, " (%s), %s", of.c_str(), rateText.c_str());
    if (eta >= 0)
      std::fprintf(stderr, ", ETA %d s", eta);
    std::fprintf(stderr, "\n");
  }
  std::fflush(stderr);
  shown_ = true;
}

void ProgressGroup::report(std::string_view task, uint64_t n, uint64_t total) {
  Progress *p = nullptr;
  {
    std::lock_guard lock(mutex_);
    for (auto &[name, progress] : tasks_)
      if (name == task)
        p = progress.get();
    if (!p) {
      // A new task: the ones before it are over (the load's steps run one
      // after another).
      for (auto &entry : tasks_)
        entry.second->finish();
      tasks_.emplace_back(std::string(task),
                          std::make_unique<Progress>(
                              prefix_ + ": " + std::string(task), total));
      p = tasks_.back().second.get();
    }
  }
  p->add(n);
}

void ProgressGroup::finish() {
  std::lock_guard lock(mutex_);
  for (auto &entry : tasks_)
    entry.second->finish();
}

} // namespace birkhoff
