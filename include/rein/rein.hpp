// The umbrella header: everything a host needs to embed rein.
#pragma once

#include "rein/budget.hpp"
#include "rein/cancellation.hpp"
#include "rein/circuit_breaker.hpp"
#include "rein/env.hpp"
#include "rein/error.hpp"
#include "rein/failure_injector.hpp"
#include "rein/idempotency.hpp"
#include "rein/json_schema.hpp"
#include "rein/logging.hpp"
#include "rein/policy.hpp"
#include "rein/principal.hpp"
#include "rein/tool.hpp"
#include "rein/tool_registry.hpp"
#include "rein/version.hpp"
