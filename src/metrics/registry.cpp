#include "metrics/registry.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

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

void Registry::DefineCounter(const std::string& name, const std::string& help) {
  std::lock_guard l(mu_);
  families_[name] = Family{"counter", help, {}, {}, {}};
}
void Registry::DefineGauge(const std::string& name, const std::string& help) {
  std::lock_guard l(mu_);
  families_[name] = Family{"gauge", help, {}, {}, {}};
}
void Registry::DefineHistogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds) {
  std::lock_guard l(mu_);
  families_[name] = Family{"histogram", help, std::move(bounds), {}, {}};
}

void Registry::Add(const std::string& name, const Labels& labels, double delta) {
  std::lock_guard l(mu_);
  families_[name].values[RenderLabels(labels)] += delta;
}
void Registry::Set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard l(mu_);
  families_[name].values[RenderLabels(labels)] = value;
}
void Registry::ClearGauge(const std::string& name) {
  std::lock_guard l(mu_);
  families_[name].values.clear();
}

void Registry::Observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard l(mu_);
  Family& f = families_[name];
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
    os << "# HELP " << name << " " << f.help << "\n# TYPE " << name << " " << f.type << "\n";
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
