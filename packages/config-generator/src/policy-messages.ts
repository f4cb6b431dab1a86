// The model's traffic policies as the Envoy messages the default builders put
// in clusters, for host builders that decorate clusters themselves: no
// builder needs to know Envoy's defaults (which enforce outlier detection
// algorithms nobody asked for) to set the same policy the default way.
import { create } from "@bufbuild/protobuf";
import {
  type CircuitBreakers,
  CircuitBreakersSchema,
} from "@xdskit/xds-types/gen/envoy/config/cluster/v3/circuit_breaker_pb";
import {
  type OutlierDetection as OutlierDetectionMessage,
  OutlierDetectionSchema,
} from "@xdskit/xds-types/gen/envoy/config/cluster/v3/outlier_detection_pb";
import { circuitBreakerThresholds, outlierDetection } from "./builders/cluster-policy.js";
import type { CircuitBreaker, OutlierDetection } from "./policy.js";
import { validateCircuitBreaker, validateOutlierDetection } from "./validate-policy.js";

/**
 * A cluster's `circuit_breakers` for a circuit-breaker policy, as the default
 * builders write it (default priority; gRPC clients read `maxRequests`,
 * Envoy all four). Throws with the field and reason when the policy is invalid.
 */
export function circuitBreakersMessage(policy: CircuitBreaker): CircuitBreakers {
  validateCircuitBreaker(policy, "circuitBreaker");
  return create(CircuitBreakersSchema, circuitBreakerThresholds(policy));
}

/**
 * A cluster's `outlier_detection` for an outlier-detection policy, as the
 * default builders write it: every algorithm the policy does not ask for is
 * switched off explicitly (Envoy enforces consecutive 5xx and success rate
 * by default). Throws with the field and reason when the policy is invalid.
 */
export function outlierDetectionMessage(policy: OutlierDetection): OutlierDetectionMessage {
  validateOutlierDetection(policy, "outlierDetection");
  return create(OutlierDetectionSchema, outlierDetection(policy));
}
