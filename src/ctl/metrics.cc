// SPDX-License-Identifier: BSD-3-Clause
#include "ctl/metrics.hh"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

namespace nsgate::ctl {

namespace {
class Collector : public prometheus::Collectable {
 public:
  explicit Collector(MetricsExporter::Source s) : source_(std::move(s)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    for (const MetricFamilyData& f : source_()) {
      prometheus::MetricFamily fam;
      fam.name = f.name;
      fam.help = f.help;
      fam.type = f.counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      if (f.histogram) {
        fam.type = prometheus::MetricType::Histogram;
        prometheus::ClientMetric m;
        m.histogram.sample_count = f.histogram->count;
        m.histogram.sample_sum = f.histogram->sum;
        for (const auto& [bound, cumulative] : f.histogram->buckets)
          m.histogram.bucket.push_back({cumulative, bound});
        fam.metric.push_back(std::move(m));
      }
      for (const MetricSample& s : f.samples) {
        prometheus::ClientMetric m;
        for (const auto& [k, v] : s.labels) m.label.push_back({k, v});
        if (f.counter)
          m.counter.value = s.value;
        else
          m.gauge.value = s.value;
        fam.metric.push_back(std::move(m));
      }
      out.push_back(std::move(fam));
    }
    return out;
  }

 private:
  MetricsExporter::Source source_;
};
}  // namespace

std::unique_ptr<MetricsExporter> MetricsExporter::start(const std::string& listen, Source source,
                                                        std::string& error) {
  std::unique_ptr<MetricsExporter> e(new MetricsExporter());
  try {
    // Two server threads: a scrape flood cannot take more than that.
    e->exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
  } catch (const std::exception& ex) {
    error = "cannot listen for metrics on " + listen + ": " + ex.what();
    return nullptr;
  }
  auto c = std::make_shared<Collector>(std::move(source));
  e->exposer_->RegisterCollectable(c);
  e->collectable_ = c;
  return e;
}

MetricsExporter::~MetricsExporter() = default;

int MetricsExporter::port() const {
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace nsgate::ctl
