// A small Prometheus registry rendering the text exposition format (version 0.0.4).
//
// Only what this project needs: counters, gauges and fixed-bucket histograms, each with a label
// set. Label values are escaped per the format. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace aha::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry {
 public:
  void DefineCounter(const std::string& name, const std::string& help);
  void DefineGauge(const std::string& name, const std::string& help);
  void DefineHistogram(const std::string& name, const std::string& help,
                       std::vector<double> bounds);

  void Add(const std::string& name, const Labels& labels, double delta = 1.0);
  void Set(const std::string& name, const Labels& labels, double value);
  void Observe(const std::string& name, const Labels& labels, double value);
  // Removes every series of a gauge (e.g. when the set of regions changes).
  void ClearGauge(const std::string& name);

  std::string Render() const;

 private:
  struct Hist {
    std::vector<double> counts;  // cumulative on render, per-bucket here
    double sum = 0;
    double count = 0;
  };
  struct Family {
    std::string type, help;
    std::vector<double> bounds;
    std::map<std::string, double> values;  // rendered label string -> value
    std::map<std::string, Hist> hists;
  };
  static std::string RenderLabels(const Labels& labels, const std::string& extra = "");
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace aha::metrics
