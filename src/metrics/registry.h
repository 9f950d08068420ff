// A small Prometheus registry rendering the text exposition format (version 0.0.4).
//
// Only what this project needs: counters, gauges and fixed-bucket histograms, each with a label
// set. Label values are escaped per the format. Thread-safe.
//
// Metrics are declared once: Define* returns a typed handle (Counter, Gauge, Histogram), and the
// code records through the handle, so a metric's name and type are written in one place and a
// counter cannot be set or a histogram added to. A module keeps its handles in one struct built
// from the registry (e.g. replication::ReplicationMetrics), the way Envoy declares its stats.
//
// Defining a name again with the same type returns the existing family (two parts of one role may
// share a metric); with another type it is a programming error (std::logic_error at start-up).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace aha::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry;

// A monotonically increasing count. Add ignores negative or NaN deltas (a counter never goes
// down; Prometheus' rate() would read a decrease as a reset).
class Counter {
 public:
  Counter() = default;  // unbound: records nothing (a role run without a registry)
  void Add(const Labels& labels = {}, double delta = 1.0) const;
  // Sets the series to a total counted elsewhere (e.g. the gate's watch restarts, kept by the
  // watcher). The total must be monotonic where it is kept; a smaller value is ignored.
  void Mirror(const Labels& labels, double total) const;

 private:
  friend class Registry;
  Counter(Registry* r, const std::string* name) : r_(r), name_(name) {}
  Registry* r_ = nullptr;
  const std::string* name_ = nullptr;
};

// A value that goes up and down.
class Gauge {
 public:
  Gauge() = default;
  void Set(const Labels& labels, double value) const;
  void Set(double value) const { Set({}, value); }
  void Add(const Labels& labels, double delta) const;
  // Removes every series (e.g. when the label set of the one live series changes).
  void Clear() const;

 private:
  friend class Registry;
  Gauge(Registry* r, const std::string* name) : r_(r), name_(name) {}
  Registry* r_ = nullptr;
  const std::string* name_ = nullptr;
};

// Fixed buckets chosen at definition.
class Histogram {
 public:
  Histogram() = default;
  void Observe(const Labels& labels, double value) const;
  void Observe(double value) const { Observe({}, value); }

 private:
  friend class Registry;
  Histogram(Registry* r, const std::string* name) : r_(r), name_(name) {}
  Registry* r_ = nullptr;
  const std::string* name_ = nullptr;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;  // handles point into it
  Registry& operator=(const Registry&) = delete;

  Counter DefineCounter(const std::string& name, const std::string& help);
  Gauge DefineGauge(const std::string& name, const std::string& help);
  Histogram DefineHistogram(const std::string& name, const std::string& help,
                            std::vector<double> bounds);

  std::string Render() const;

 private:
  friend class Counter;
  friend class Gauge;
  friend class Histogram;
  enum class Type { kCounter, kGauge, kHistogram };
  struct Hist {
    std::vector<double> counts;  // cumulative on render, per-bucket here
    double sum = 0;
    double count = 0;
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, double> values;  // rendered label string -> value
    std::map<std::string, Hist> hists;
  };
  // Returns the family's name as stored (its address is stable: std::map nodes never move).
  const std::string* Define(const std::string& name, Type type, const std::string& help,
                            std::vector<double> bounds);
  void Add(const std::string& name, const Labels& labels, double delta);
  void Set(const std::string& name, const Labels& labels, double value);
  void Observe(const std::string& name, const Labels& labels, double value);
  void Clear(const std::string& name);
  void Raise(const std::string& name, const Labels& labels, double total);
  static std::string RenderLabels(const Labels& labels, const std::string& extra = "");

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace aha::metrics
