// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Prometheus pull exporter (prometheus-cpp). Scrapes are served by the
// exporter's own threads and call `collect`, which must be cheap and
// thread-safe (it reads counters; it never touches the data path).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/metric_samples.hh"

namespace prometheus {
class Exposer;
}

namespace nsgate::ctl {

class MetricsExporter {
 public:
  using Source = std::function<std::vector<MetricFamilyData>()>;
  // Listens on `listen` ("127.0.0.1:9153"). Null with `error` set on failure.
  static std::unique_ptr<MetricsExporter> start(const std::string& listen, Source source, std::string& error);
  ~MetricsExporter();
  int port() const;

 private:
  MetricsExporter() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<void> collectable_;
};

}  // namespace nsgate::ctl
