#include "metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace aha::metrics {
namespace {
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}
std::string Num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {  // shortest text that round-trips
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}
}  // namespace

std::string Registry::RenderLabels(const Labels& labels, const std::string& extra) {
  std::string out;
  for (const auto& [k, v] : labels) {
    out += (out.empty() ? "" : ",") + k + "=\"" + Escape(v) + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

const std::string* Registry::Define(const std::string& name, Type type, const std::string& help,
                                    std::vector<double> bounds) {
  std::lock_guard l(mu_);
  auto [it, inserted] = families_.try_emplace(name, Family{type, help, std::move(bounds), {}, {}});
  if (!inserted && it->second.type != type) {
    throw std::logic_error("metric " + name + " is defined twice with different types");
  }
  return &it->first;
}

Counter Registry::DefineCounter(const std::string& name, const std::string& help) {
  return Counter(this, Define(name, Type::kCounter, help, {}));
}
Gauge Registry::DefineGauge(const std::string& name, const std::string& help) {
  return Gauge(this, Define(name, Type::kGauge, help, {}));
}
Histogram Registry::DefineHistogram(const std::string& name, const std::string& help,
                                    std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  return Histogram(this, Define(name, Type::kHistogram, help, std::move(bounds)));
}

void Counter::Add(const Labels& labels, double delta) const {
  if (r_ && delta >= 0) r_->Add(*name_, labels, delta);  // also drops NaN
}
void Counter::Mirror(const Labels& labels, double total) const {
  if (r_) r_->Raise(*name_, labels, total);
}
void Gauge::Set(const Labels& labels, double value) const {
  if (r_) r_->Set(*name_, labels, value);
}
void Gauge::Add(const Labels& labels, double delta) const {
  if (r_) r_->Add(*name_, labels, delta);
}
void Gauge::Clear() const {
  if (r_) r_->Clear(*name_);
}
void Histogram::Observe(const Labels& labels, double value) const {
  if (r_) r_->Observe(*name_, labels, value);
}

// The handles guarantee the family exists and has the right type.
void Registry::Add(const std::string& name, const Labels& labels, double delta) {
  std::lock_guard l(mu_);
  families_.at(name).values[RenderLabels(labels)] += delta;
}
void Registry::Set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard l(mu_);
  families_.at(name).values[RenderLabels(labels)] = value;
}
void Registry::Raise(const std::string& name, const Labels& labels, double total) {
  std::lock_guard l(mu_);
  double& v = families_.at(name).values[RenderLabels(labels)];
  if (total > v) v = total;  // also drops NaN
}
void Registry::Clear(const std::string& name) {
  std::lock_guard l(mu_);
  families_.at(name).values.clear();
}

void Registry::Observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard l(mu_);
  Family& f = families_.at(name);
  // Key holds the raw label list (without le) so buckets can be added at render time.
  std::string key;
  for (const auto& [k, v] : labels)
    key += (key.empty() ? "" : ",") + k + "=\"" + Escape(v) + "\"";
  Hist& h = f.hists[key];
  if (h.counts.size() != f.bounds.size()) h.counts.assign(f.bounds.size(), 0);
  for (size_t i = 0; i < f.bounds.size(); ++i) {
    if (value <= f.bounds[i]) {
      h.counts[i] += 1;
      break;
    }
  }
  h.sum += value;
  h.count += 1;
}

std::string Registry::Render() const {
  std::lock_guard l(mu_);
  std::ostringstream os;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge"
                                                : "histogram";
    os << "# HELP " << name << " " << f.help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto& [labels, v] : f.values)
      os << name << labels << " " << Num(v) << "\n";
    for (const auto& [key, h] : f.hists) {
      const std::string sep = key.empty() ? "" : ",";
      double cum = 0;
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        cum += h.counts[i];
        os << name << "_bucket{" << key << sep << "le=\"" << Num(f.bounds[i]) << "\"} " << Num(cum)
           << "\n";
      }
      os << name << "_bucket{" << key << sep << "le=\"+Inf\"} " << Num(h.count) << "\n";
      const std::string lbl = key.empty() ? "" : "{" + key + "}";
      os << name << "_sum" << lbl << " " << Num(h.sum) << "\n";
      os << name << "_count" << lbl << " " << Num(h.count) << "\n";
    }
  }
  return os.str();
}

}  // namespace aha::metrics
