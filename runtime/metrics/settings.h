// [metrics] of trainrt.toml (and --metrics-port, which becomes metrics.port):
// port, host, job, checked with their source in errors. Kept out of
// trainrt/metrics.h so that the public header does not need toml++.
#pragma once
#include <toml++/toml.h>

#include "trainrt/metrics.h"

namespace trainrt::metrics {

// A bad value throws config::ConfigError, e.g.
// "--set metrics.port=x: error: metrics.port must be an integer from 0 to 65535, got 'x'".
EndpointSettings endpoint_settings_of(const toml::table& config);

}  // namespace trainrt::metrics
